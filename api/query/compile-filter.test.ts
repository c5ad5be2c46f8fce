import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QueryFilter } from '../../schemas/query.ts';
import type { QueryFilterInput } from '../../schemas/query.ts';
import { AppError } from '../../schemas/errors.ts';
import { ParamList, compileFilter } from './compile-filter.ts';
import { assertFilterDepth } from './filter-depth.ts';

const compile = (f: QueryFilterInput, maxNodes = 100) => {
  const p = new ParamList();
  const sql = compileFilter(QueryFilter.parse(f), p, maxNodes);
  return { sql, params: p.values };
};
const invalid = (e: unknown) => e instanceof AppError && e.code === 'ERR_QUERY_FILTER_INVALID';

test('tcpFlags, duration, bps, pps and bpp compile to fixed SQL with every value bound', () => {
  const { sql, params } = compile({ tcpFlags: { all: 'SA', any: 'RF' }, duration: { gt: 77777.25 }, bps: { min: 12345.5, lt: 98765 }, pps: { max: 4321 }, bpp: { min: 654, max: 655 } });
  for (const v of ['77777', '12345', '98765', '4321', '654', '655']) assert.ok(!sql.includes(v), `${v} is not in the SQL text`);
  for (const v of [18, 5, 77777.25, 12345.5, 98765, 4321, 654, 655, 6]) assert.ok(params.includes(v), `${v} is bound`);
  const used = new Set([...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  assert.equal(Math.max(...used), params.length);
  assert.match(sql, /protocol = \$\d+ AND \(\(tcp_flags_fwd \| tcp_flags_rev\) & \$\d+\) = \$\d+ AND \(\(tcp_flags_fwd \| tcp_flags_rev\) & \$\d+\) <> 0/);
  // Division only under a guard: a zero duration or packet count yields 0, never NULL or an error.
  assert.match(sql, /CASE WHEN date_diff\('microsecond', time_start, time_end\) > 0 THEN .* ELSE 0\.0 END/);
  assert.match(sql, /CASE WHEN packets_fwd \+ packets_rev > 0 THEN .* ELSE 0\.0 END/);
});

test('each new key is one term of the filter budget, in the compiler and in the pre-validation walk', () => {
  const f = { tcpFlags: 2, duration: {}, bps: { gt: 1 }, pps: {}, bpp: {} };
  assert.doesNotThrow(() => compile(f, 5));
  assert.throws(() => compile(f, 4), invalid);
  assert.doesNotThrow(() => assertFilterDepth(f, 16, { maxNodes: 1, maxTerms: 5 }));
  assert.throws(() => assertFilterDepth(f, 16, { maxNodes: 1, maxTerms: 4 }), (e: unknown) => invalid(e) && (e as AppError).details?.maxFilterTerms === 4);
});

test('inverted real ranges are refused like inverted byte ranges', () => {
  assert.throws(() => compile({ bps: { min: 10, max: 1 } }), (e: unknown) => invalid(e) && /bps has min > max/.test((e as Error).message));
  assert.throws(() => compile({ bytes: { min: 10, max: 1 } }), invalid);
  assert.doesNotThrow(() => compile({ bps: { gt: 10, lt: 1 } }), 'an empty open interval simply matches nothing');
});

test('schema: flag masks as numbers or letters, real bounds non-negative and finite, existing keys unchanged', () => {
  assert.deepEqual(QueryFilter.parse({ tcpFlags: 'SA' }), { tcpFlags: 18 });
  assert.deepEqual(QueryFilter.parse({ tcpFlags: { all: 'sa', any: 192 } }), { tcpFlags: { all: 18, any: 192 } });
  for (const bad of [0, 256, 1.5, 'SQ', '', 'X', { all: 0 }, { none: 2 }]) assert.equal(QueryFilter.safeParse({ tcpFlags: bad }).success, false, JSON.stringify(bad));
  assert.equal(QueryFilter.safeParse({ duration: { gt: 0.25, lt: 1e20 } }).success, true);
  for (const bad of [{ gt: -1 }, { min: 1e21 }, { ge: 1 }, { gt: Number.NaN }, { lt: Number.POSITIVE_INFINITY }, 5]) {
    assert.equal(QueryFilter.safeParse({ bps: bad }).success, false, JSON.stringify(bad));
  }
  assert.equal(QueryFilter.safeParse({ bytes: { min: 1.5 } }).success, false, 'byte counts stay whole');
  assert.equal(QueryFilter.safeParse({ bytes: { gt: 1 } }).success, false, 'byte ranges keep their inclusive form');
  assert.equal(QueryFilter.safeParse({ dstPort: { min: 1 } }).success, false, 'port ranges keep both bounds');
});
