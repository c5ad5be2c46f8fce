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

test('router-export keys: one column each (or either of two), every value bound, one budget term each', () => {
  const f: QueryFilterInput = {
    recordSource: ['netflow9', 'ipfix'], srcAs: 64_512, dstAs: [4_200_000_000, 13_335], as: { min: 65_000, max: 65_100 },
    inputInterface: 3, outputInterface: [70_000], interface: { min: 7, max: 9 }, tos: 184, observationDomain: 4_000_000_000,
    exporterNet: '192.0.2.0/24', nextHopNet: ['2001:db8::/32', '198.51.100.7'], bgpNextHopNet: '2001:db8:1::1',
  };
  const { sql, params } = compile(f);
  for (const v of ['64512', '4200000000', '13335', '65000', '70000', '184', '4000000000', 'netflow9', 'ipfix']) assert.ok(!sql.includes(v), `${v} is not in the SQL text`);
  for (const v of [64_512, 4_200_000_000, 13_335, 65_000, 65_100, 3, 70_000, 7, 9, 184, 4_000_000_000, 'netflow9', 'ipfix']) assert.ok(params.includes(v), `${v} is bound`);
  assert.match(sql, /record_source IN \(\$\d+, \$\d+\)/);
  assert.match(sql, /\(src_as BETWEEN \$\d+ AND \$\d+ OR dst_as BETWEEN \$\d+ AND \$\d+\)/);
  assert.match(sql, /\(input_interface BETWEEN \$\d+ AND \$\d+ OR output_interface BETWEEN \$\d+ AND \$\d+\)/);
  for (const c of ['src_as = ', 'dst_as IN', 'input_interface = ', 'output_interface IN', 'tos = ', 'observation_domain = ']) assert.ok(sql.includes(c), c);
  assert.match(sql, /exporter_addr_hi = \$\d+ AND exporter_addr_lo BETWEEN/);
  assert.match(sql, /bgp_next_hop_addr_hi = \$\d+ AND bgp_next_hop_addr_lo BETWEEN/);
  // IPv6 on a router-export column: the address's own family (not the flow's ip_version) rules out IPv4-mapped values.
  assert.match(sql, /NOT \(next_hop_addr_hi = \$\d+ AND next_hop_addr_lo BETWEEN \$\d+ AND \$\d+\) AND next_hop_addr_hi BETWEEN/);
  assert.ok(!/ip_version/.test(sql), 'the flow family plays no part');
  assert.ok(params.includes(0xffff_0000_0000n) && params.includes(0xffff_ffff_ffffn));
  assert.doesNotThrow(() => compile(f, 12));
  assert.throws(() => compile(f, 11), invalid);
});

test('router-export keys: the schema takes u32 / u8 values, ranges and lists, and names the field and the allowed values otherwise', () => {
  assert.equal(QueryFilter.safeParse({ srcAs: 0xffff_ffff, interface: [0, 1], tos: { min: 0, max: 255 }, observationDomain: 0 }).success, true);
  for (const [key, bad] of [['srcAs', 2 ** 32], ['as', -1], ['inputInterface', 1.5], ['tos', 256], ['observationDomain', { min: 1 }], ['dstAs', []], ['exporterNet', 'router-1'], ['nextHopNet', []]] as const) {
    const r = QueryFilter.safeParse({ [key]: bad });
    assert.equal(r.success, false, `${key}: ${JSON.stringify(bad)}`);
    assert.equal(r.error!.issues[0]!.path[0], key);
  }
  const r = QueryFilter.safeParse({ recordSource: 'sflow' });
  assert.equal(r.success, false);
  assert.deepEqual(r.error!.issues.map((i) => [i.path.join('.'), i.message]), [['recordSource', 'expected a record source (packets, netflow5, netflow9, ipfix) or a list of them']]);
  assert.equal(QueryFilter.safeParse({ recordSource: ['packets', 'ipfix'] }).success, true);
});
