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
