import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QueryRequest } from '../../schemas/query.ts';
import { compileBody } from '../query/query-shape.test-util.ts';
import { AppError } from '../../schemas/errors.ts';

const LIMITS = { recordRows: 100, groupRows: 1000, minGroupSize: 1, maxTimeRangeDays: 7, maxFilterNodes: 8 };
const FILES = ["/arch/lab/date=2026-01-01/hour=10/run1-0000.parquet", "/arch/lab/date=2026-01-01/hour=11/run1-0001.parquet"];
const base = { dataset: 'lab', timeRange: { from: '2026-01-01T10:30:00Z', to: '2026-01-01T12:00:00Z' } };

function compile(extra: Record<string, unknown>) {
  return compileBody({ ...base, ...extra }, LIMITS, FILES);
}

test('values never appear in SQL text; they are bound parameters', () => {
  const c = compile({ filter: { srcNet: ['10.0.0.0/8', '2001:db8::/48'], dstPort: [443, 8443], endReason: 'fin' }, groupBy: ['dst_port'] });
  assert.ok(!c.sql.includes('443') && !c.sql.includes('fin') && !c.sql.includes('/arch') && !c.sql.includes('2001'));
  assert.deepEqual(c.params.filter((v) => Array.isArray(v)).flat().sort(), [...FILES].sort(), 'the file lists (hours covered whole, and the edges) are bound');
  assert.ok(c.params.includes('fin'));
  assert.ok(c.params.includes(0xffff_0a00_0000n) && c.params.includes(0xffff_0aff_ffffn));
  assert.ok(c.params.includes(0x2001_0db8_0000_0000n) && c.params.includes(0x2001_0db8_0000_ffffn));
  // every placeholder has a value and vice versa
  const used = new Set([...c.sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  assert.equal(Math.max(...used), c.params.length);
});

test('time range becomes a time_start predicate plus date/hour partition pruning', () => {
  const c = compile({ groupBy: ['protocol'] });
  assert.match(c.sql, /time_start >= make_timestamp\(\$\d+\) AND time_start < make_timestamp\(\$\d+\)/);
  assert.match(c.sql, /date BETWEEN CAST\(\$\d+ AS DATE\)/);
  assert.ok(c.params.includes(Date.parse(base.timeRange.from) * 1000));
  assert.ok(c.params.includes('2026-01-01'));
  assert.ok(c.params.includes(10) && c.params.includes(11), 'hours 10 and 11 (12:00 is exclusive)');
});

test('records are capped at recordRows, asking for one extra row to detect truncation', () => {
  const c = compile({ limit: 5000 });
  assert.equal(c.kind, 'records');
  assert.equal(c.limit, 100);
  assert.equal(c.params.at(-1), 101);
  assert.ok(!c.sql.slice(0, c.sql.indexOf(' FROM ')).includes('src_addr_hi'), 'address halves are not record output');
});

test('errors: inverted/too long time range, unknown orderBy, filter too large, bad CIDR', () => {
  const code = (fn: () => unknown, expected: string) => assert.throws(fn, (e: unknown) => e instanceof AppError && e.code === expected);
  code(() => compileBody({ ...base, timeRange: { from: base.timeRange.to, to: base.timeRange.from } }, LIMITS, FILES), 'ERR_QUERY_INVALID');
  code(() => compileBody({ ...base, timeRange: { from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z' } }, LIMITS, FILES), 'ERR_QUERY_TOO_LARGE');
  code(() => compile({ groupBy: ['protocol'], orderBy: [{ by: 'bytes' }], metrics: ['flows'] }), 'ERR_QUERY_INVALID');
  code(() => compile({ filter: { or: Array.from({ length: 9 }, (_, i) => ({ dstPort: i })) } }), 'ERR_QUERY_FILTER_INVALID');
  code(() => compile({ filter: { srcNet: '10.0.0.0/40' } }), 'ERR_QUERY_FILTER_INVALID');
  code(() => compile({ filter: { dstPort: { min: 10, max: 1 } } }), 'ERR_QUERY_FILTER_INVALID');
  code(() => compile({ groupBy: ['protocol', 'protocol'] }), 'ERR_QUERY_INVALID');
  code(() => compile({ metrics: ['flows'] }), 'ERR_QUERY_INVALID');
});

test('schema rejects identifiers outside the allow-list', () => {
  for (const extra of [{ groupBy: ['src_addr_lo'] }, { groupBy: ['protocol); DROP'] }, { select: ['*'] }, { metrics: ['count(*)'] }, { filter: { col: 1 } }]) {
    assert.equal(QueryRequest.safeParse({ ...base, ...extra }).success, false, JSON.stringify(extra));
  }
});

test('a metric named like a group key is refused (the engine would rename one and the key would be returned twice)', () => {
  for (const name of ['packets_fwd', 'packets_rev', 'bytes_fwd', 'bytes_rev'] as const) {
    assert.throws(() => compile({ groupBy: [name], metrics: ['flows', name] }), (e: unknown) => e instanceof AppError && e.code === 'ERR_QUERY_INVALID', name);
    assert.equal(compile({ groupBy: [name], metrics: ['flows'] }).kind, 'aggregate');
  }
});

test('protocol names compile exactly as their numbers; unknown names are refused naming the allowed ones', () => {
  const same = (a: unknown, b: unknown) => {
    const x = compile({ filter: { protocol: a }, groupBy: ['protocol'] });
    const y = compile({ filter: { protocol: b }, groupBy: ['protocol'] });
    assert.equal(x.sql, y.sql);
    assert.deepEqual(x.params, y.params);
  };
  same('tcp', 6);
  same('udp', 17);
  assert.equal(QueryRequest.safeParse({ ...base, filter: { protocol: 'TCP' } }).success, false, 'names are lower-case, as the enum says');
  same(['tcp', 'udp', 'icmp6'], [6, 17, 58]);
  same(['ipv6-icmp', 1], [58, 1]);
  const bad = QueryRequest.safeParse({ ...base, filter: { protocol: 'tcpp' } });
  assert.equal(bad.success, false);
  assert.match(JSON.stringify(bad.error?.issues), /tcp, udp/);
  assert.equal(QueryRequest.safeParse({ ...base, filter: { protocol: { min: 'tcp', max: 17 } } }).success, false, 'ranges stay numeric');
});
