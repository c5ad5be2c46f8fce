import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertFilterDepth } from './filter-depth.ts';
import { QueryFilter, MAX_FILTER_DEPTH } from '../../schemas/query.ts';
import { AppError } from '../../schemas/errors.ts';

function nested(levels: number, key: 'not' | 'and' | 'or'): unknown {
  let f: unknown = { protocol: 6 };
  for (let i = 0; i < levels; i += 1) f = key === 'not' ? { not: f } : { [key]: [{ dstPort: 1 }, f] };
  return f;
}
const tooDeep = (e: unknown) => e instanceof AppError && e.code === 'ERR_QUERY_FILTER_INVALID' && /deeper than 16/.test(e.message);

test('16 levels pass, 17 fail, for not/and/or alike', () => {
  assert.equal(MAX_FILTER_DEPTH, 16);
  for (const key of ['not', 'and', 'or'] as const) {
    assert.doesNotThrow(() => assertFilterDepth(nested(16, key)), key);
    assert.equal(QueryFilter.safeParse(nested(16, key)).success, true, key);
    assert.throws(() => assertFilterDepth(nested(17, key)), tooDeep, key);
  }
});

test('very deep input is rejected without recursion (no stack overflow)', () => {
  assert.throws(() => assertFilterDepth(nested(200_000, 'not')), tooDeep);
  // a deep branch hidden behind a shallow wide one is still found
  assert.throws(() => assertFilterDepth({ or: [{ protocol: 6 }, { and: [{ protocol: 17 }, nested(20, 'not')] }] }), tooDeep);
});

test('non-filter values are left to the schema', () => {
  for (const v of [undefined, null, 1, 'x', [], [[[[1]]]], { not: 5 }, { and: 'x' }]) assert.doesNotThrow(() => assertFilterDepth(v));
});

test('filter size is refused before validation: nodes and listed terms are counted in the same walk', () => {
  const caps = { maxNodes: 64, maxTerms: 1024 };
  const cidrs = (n: number) => Array.from({ length: n }, () => '::/0');
  // The plan bomb an attack used: 50 leaves of 256 CIDRs each, 53 nodes, 12 800 terms.
  const bomb = { or: Array.from({ length: 50 }, () => ({ net: cidrs(256) })) };
  assert.throws(() => assertFilterDepth(bomb, undefined, caps), (e: unknown) => e instanceof AppError && e.code === 'ERR_QUERY_FILTER_INVALID' && (e.details as { maxFilterTerms?: number }).maxFilterTerms === 1024);
  assert.doesNotThrow(() => assertFilterDepth({ or: [{ net: cidrs(1000) }, { dstPort: [1, 2, 3] }, { protocol: 6 }] }, undefined, caps));
  assert.throws(() => assertFilterDepth({ or: [{ net: cidrs(1000) }, { dstPort: cidrs(24) }, { protocol: 6 }] }, undefined, caps), /more than 1024 terms/);
  const wide = { or: Array.from({ length: 64 }, () => ({ protocol: 6 })) };
  assert.throws(() => assertFilterDepth(wide, undefined, caps), (e: unknown) => e instanceof AppError && (e.details as { maxFilterNodes?: number }).maxFilterNodes === 64);
  assert.doesNotThrow(() => assertFilterDepth({ or: wide.or.slice(1) }, undefined, caps));
});
