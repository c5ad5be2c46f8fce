import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DOUBLE, DuckDBInstance, LIST, VARCHAR, listValue, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api';
import {
  FLOW_RATE_INPUTS,
  FLOW_VALUE_SQL,
  ddsketchIndexSql,
  ddsketchValueSql,
  distinctInput,
  hllHashSql,
  hllRegisterSql,
  hllRhoSql,
  partialAggregateSql,
  readPartialRows,
  type StateMetricSql,
} from './duckdb-sketch-sql.ts';
import { createDuckDbEngine } from './duckdb-engine.ts';
import { toJsonValue } from './json-value.ts';
import { Hll, hllHash, type HllValueType } from '../query/sketches/hll.ts';
import { DDSKETCH_ALPHA, DDSketch, ddsketchIndex } from '../query/sketches/quantile-sketch.ts';
import {
  finalizeRowSet,
  mergeRowSets,
  rowSetFromJson,
  rowSetToJson,
  type MetricSpec,
  type PartialRowSet,
} from '../query/sketches/partial-state.ts';
import { FLOW_COLUMNS } from '../../schemas/columns.ts';
import { makeArchive } from '../../test/support/make-archive.ts';

let root: string;
let instance: DuckDBInstance;
let conn: DuckDBConnection;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'flowseal-sketch-'));
  instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  conn = await instance.connect();
});
after(() => {
  conn.closeSync();
  instance.closeSync();
  rmSync(root, { recursive: true, force: true });
});

/** Runs SQL and returns rows as the engine does (api/engine/json-value.ts conversion). */
async function rows(sql: string, params: ReadonlyArray<readonly string[] | readonly number[]> = []): Promise<unknown[][]> {
  const types: DuckDBType[] = params.map((p) => (typeof p[0] === 'number' ? LIST(DOUBLE) : LIST(VARCHAR)));
  const r = await conn.runAndReadAll(sql, params.map((p) => listValue([...p])), types);
  return r.getRows().map((row) => row.map(toJsonValue));
}

const SQL_TYPE: Record<HllValueType, string> = { u8: 'UTINYINT', u16: 'USMALLINT', u32: 'UINTEGER', u64: 'UBIGINT', timestamp: 'TIMESTAMP', string: 'VARCHAR', boolean: 'BOOLEAN' };

test('SQL hash = TS hash for every value type, through the canonical encoding table', async () => {
  const cases: { [K in HllValueType]: { sql: string[]; ts: unknown[] } } = {
    u8: { sql: ['0', '6', '255'], ts: [0, 6, 255] },
    u16: { sql: ['0', '443', '65535'], ts: [0, 443, 65535] },
    u32: { sql: ['0', '64512', '4294967295'], ts: [0, 64512, 4294967295] },
    u64: { sql: ['0', '9007199254740993', '18446744073709551615'], ts: [0n, 9007199254740993n, 18446744073709551615n] },
    timestamp: { sql: ["'1970-01-01 00:00:00'", "'1960-01-01 00:00:00.5'", "'2026-03-04 05:06:07.123456'"], ts: [0n, -315619199500000n, 1772600767123456n] },
    string: { sql: ["''", "'10.0.0.1'", "'2001:db8::1'", "'ü😀'"], ts: ['', '10.0.0.1', '2001:db8::1', 'ü😀'] },
    boolean: { sql: ['true', 'false'], ts: [true, false] },
  };
  for (const [type, c] of Object.entries(cases) as [HllValueType, { sql: string[]; ts: unknown[] }][]) {
    const values = c.sql.map((v) => `(CAST(${v} AS ${SQL_TYPE[type]}))`).join(', ');
    const got = await rows(`SELECT ${hllHashSql('x', type)} FROM (VALUES ${values}, (NULL)) t(x)`);
    assert.deepEqual(
      got.map((r) => (r[0] === null ? null : BigInt(r[0] as string | number))),
      [...c.ts.map((v) => hllHash(type, v as never)), null],
      type,
    );
  }
});

test('SQL register and rho = TS register and rho, on edge hashes and 20,000 real ones', async () => {
  const edge = [0n, 1n, 1n << 49n, 1n << 50n, (1n << 64n) - 1n, (5n << 50n) | (1n << 32n), 0x8000000000000000n];
  const got = await rows(
    `SELECT ${hllRegisterSql('h')}, ${hllRhoSql('h')} FROM (SELECT CAST(x AS UBIGINT) AS h FROM (VALUES ${edge.map((e) => `(${e})`).join(', ')}) t(x))`,
  );
  const expected = edge.map((e) => Hll.empty().addHash(e).entries()[0]);
  assert.deepEqual(got, expected);
  const sketchSql = await rows(
    `SELECT string_agg(CAST(r * 64 + m AS VARCHAR), ',') FROM (SELECT ${hllRegisterSql('h')} AS r, max(${hllRhoSql('h')}) AS m ` +
      `FROM (SELECT ${hllHashSql('i', 'u64')} AS h FROM range(20000) t(i)) GROUP BY r)`,
  );
  const fromSql = Hll.fromCodes(String(sketchSql[0]![0]).split(',').map(Number));
  assert.ok(fromSql.equals(Hll.fromValues('u64', Array.from({ length: 20000 }, (_, i) => BigInt(i)))));
});

test('SQL bucket index = TS bucket index; zero, NULL and negatives have no bucket', async () => {
  const xs = [1, 2, 3, 1.0202, 1.0203, 0.001, 0.5, 1460, 65535, 2 ** 53 + 2, 1e19, 2 ** 63, 123456789.125];
  for (let i = 0; i < 2000; i++) xs.push(Math.floor(Math.exp((i / 2000) * 40)));
  const got = await rows(`SELECT ${ddsketchIndexSql(ddsketchValueSql('x'))} FROM (SELECT unnest($1::DOUBLE[]) AS x)`, [xs]);
  assert.deepEqual(got.map((r) => r[0]), xs.map(ddsketchIndex));
  assert.deepEqual(await rows(`SELECT ${ddsketchValueSql('x')}, ${ddsketchIndexSql(ddsketchValueSql('x'))} FROM (VALUES (0), (-7), (NULL)) t(x)`), [
    [0, null],
    [0, null],
    [null, null],
  ]);
});

test('names must be lower-case identifiers and unique', () => {
  const base = { keys: [], from: 't' };
  assert.throws(() => partialAggregateSql({ ...base, metrics: [{ name: 'Flows', kind: 'count' }] }), TypeError);
  assert.throws(() => partialAggregateSql({ ...base, metrics: [{ name: 'a b', kind: 'count' }] }), TypeError);
  assert.throws(() => partialAggregateSql({ ...base, metrics: [{ name: '__c', kind: 'count' }] }), TypeError);
  assert.throws(() => partialAggregateSql({ keys: [{ name: 'n', sql: 'x' }], metrics: [{ name: 'n', kind: 'count' }], from: 't' }), TypeError);
  assert.throws(() => distinctInput('src_addr_hi'), TypeError);
  assert.deepEqual(distinctInput('time_start'), { valueSql: 'time_start', valueType: 'timestamp' });
});

// A full worked example: the statement for "per protocol: flows, distinct src_addr, p95 of bytes"
// over bound files and a bound port, as the lead's compiler would splice it.
const EXAMPLE = partialAggregateSql({
  keys: [{ name: 'protocol', sql: 'protocol' }],
  metrics: [
    { name: 'flows', kind: 'count' },
    { name: 'distinct_src_addr', kind: 'distinct', ...distinctInput('src_addr') },
    { name: 'bytes_p95', kind: 'quantile', valueSql: FLOW_VALUE_SQL.bytes },
  ],
  from: 'read_parquet($1, hive_partitioning = true)',
  where: 'dst_port = $2',
});
const EXAMPLE_SQL =
  'WITH __src AS (SELECT protocol AS __k0, ' +
  'CAST(md5_number(CAST(src_addr AS VARCHAR)) & CAST(18446744073709551615 AS UHUGEINT) AS UBIGINT) AS __h1, ' +
  'CASE WHEN CAST(CAST(bytes_fwd AS HUGEINT) + bytes_rev AS DOUBLE) < 0 THEN CAST(0 AS DOUBLE) ELSE CAST(CAST(bytes_fwd AS HUGEINT) + bytes_rev AS DOUBLE) END AS __x2 ' +
  'FROM read_parquet($1, hive_partitioning = true) WHERE dst_port = $2), ' +
  '__rows AS (SELECT *, CAST(__h1 >> 50 AS INTEGER) AS __s0, ' +
  'CAST(bit_count(xor(((__h1 & CAST(1125899906842623 AS UBIGINT)) | CAST(1125899906842624 AS UBIGINT)), ((__h1 & CAST(1125899906842623 AS UBIGINT)) | CAST(1125899906842624 AS UBIGINT)) - CAST(1 AS UBIGINT))) AS UTINYINT) AS __r1, ' +
  "CASE WHEN __x2 > 0 THEN CAST(ceil(ln(__x2) / CAST('0.020000666706669435' AS DOUBLE)) AS INTEGER) END AS __s1 FROM __src), " +
  '__part AS (SELECT __k0, __s0, __s1, GROUPING(__s0, __s1) AS __g, count(*) AS __c, max(__r1) AS __m1, ' +
  'min(__x2) AS __a2, max(__x2) AS __b2, count(*) FILTER (WHERE __x2 = 0) AS __z2 ' +
  'FROM __rows GROUP BY GROUPING SETS ((__k0), (__k0, __s0), (__k0, __s1))) ' +
  'SELECT __k0 AS protocol, any_value(__c) FILTER (WHERE __g = 3) AS flows, ' +
  "string_agg(CAST(__s0 * 64 + __m1 AS VARCHAR), ',') FILTER (WHERE __g = 1 AND __s0 IS NOT NULL) AS distinct_src_addr, " +
  "CAST(coalesce(any_value(__z2) FILTER (WHERE __g = 3), 0) AS VARCHAR) || ';' || " +
  "coalesce(CAST(any_value(__a2) FILTER (WHERE __g = 3) AS VARCHAR), '') || ';' || " +
  "coalesce(CAST(any_value(__b2) FILTER (WHERE __g = 3) AS VARCHAR), '') || ';' || " +
  "coalesce(string_agg(CAST(__s1 AS VARCHAR) || ':' || CAST(__c AS VARCHAR), ',') FILTER (WHERE __g = 2 AND __s1 IS NOT NULL), '') AS bytes_p95 " +
  'FROM __part GROUP BY __k0';

test('worked example: the exact statement, run through the sandboxed engine on a real archive', async () => {
  assert.equal(EXAMPLE.sql, EXAMPLE_SQL);
  assert.deepEqual(EXAMPLE.columns, ['protocol', 'flows', 'distinct_src_addr', 'bytes_p95']);
  assert.deepEqual(EXAMPLE.kinds, ['count', 'distinct', 'quantile']);
  const archive = join(root, 'archive');
  const flows = Array.from({ length: 60 }, (_, i) => ({
    time_start: `2026-01-01T10:${String(i % 60).padStart(2, '0')}:00Z`,
    protocol: i % 3 === 0 ? 17 : 6,
    src_addr: i % 2 ? `10.0.0.${i % 7}` : `2001:db8::${i % 5}`,
    dst_addr: '10.9.9.9',
    dst_port: i % 4 === 0 ? 53 : 443,
    bytes_fwd: i * 100,
    bytes_rev: i % 5 === 0 ? 0 : 40,
  }));
  await makeArchive(archive, { dataset: 'lab', rows: flows });
  const engine = await createDuckDbEngine({ archiveDir: archive, threads: 1 });
  try {
    await engine.listDatasets();
    const files = engine.datasetFiles('lab');
    const result = await engine.runSqlRaw(EXAMPLE.sql, [files, 443], { maxRows: 100, timeoutMs: 10_000 });
    assert.deepEqual(result.columns.map((c) => c.name), EXAMPLE.columns);
    const set = readPartialRows(EXAMPLE.kinds, 1, result.rows);
    const final = finalizeRowSet([{ kind: 'count' }, { kind: 'distinct' }, { kind: 'quantile', q: 0.95 }], set).sort((a, b) => Number(a.keys[0]) - Number(b.keys[0]));
    const exact = await engine.runSql(
      'SELECT protocol, count(*), count(DISTINCT src_addr), quantile_disc(bytes_fwd + bytes_rev, 0.95) FROM read_parquet($1) WHERE dst_port = $2 GROUP BY protocol ORDER BY protocol',
      [files, 443],
      { maxRows: 100, timeoutMs: 10_000 },
    );
    assert.equal(final.length, exact.rows.length);
    final.forEach((f, i) => {
      const [protocol, n, distinct, p95] = exact.rows[i] as number[];
      assert.deepEqual(f.keys, [protocol]);
      assert.equal(f.values[0], BigInt(n!));
      assert.equal(f.values[1], distinct);
      assert.ok(Math.abs((f.values[2] as number) - p95!) <= DDSKETCH_ALPHA * p95!);
    });
    // the TS sketches of the same values equal the SQL-built states
    for (const row of set.rows) {
      const mine = flows.filter((r) => r.protocol === row.keys[0] && r.dst_port === 443);
      assert.ok((row.states[1] as Hll).equals(Hll.fromValues('string', mine.map((r) => r.src_addr))));
      assert.ok((row.states[2] as DDSketch).equals(DDSketch.fromValues(mine.map((r) => r.bytes_fwd + r.bytes_rev))));
    }
  } finally {
    await engine.close();
  }
});

test('every queryable column: the SQL distinct state equals the TS sketch of the values read back', async () => {
  const archive = join(root, 'columns');
  const flows = Array.from({ length: 300 }, (_, i) => ({
    time_start: new Date(Date.UTC(2026, 0, 1, 10) + i * 1_234_567).toISOString(),
    time_end: new Date(Date.UTC(2026, 0, 1, 10) + i * 1_234_567 + (i % 9) * 1000).toISOString(),
    protocol: [6, 17, 1][i % 3],
    src_addr: i % 2 ? `10.1.${i % 40}.1` : `2001:db8:${i % 30}::1`,
    dst_addr: `192.0.2.${i % 200}`,
    src_port: 1024 + ((i * 7919) % 60000),
    dst_port: [53, 80, 443, 8443][i % 4],
    icmp_type: i % 3 === 2 ? i % 11 : null,
    icmp_code: i % 3 === 2 ? i % 4 : null,
    vlan_id: i % 5 === 0 ? null : i % 17,
    src_mac: i % 4 === 0 ? null : `02:00:00:00:00:${(i % 50).toString(16).padStart(2, '0')}`,
    dst_mac: null,
    packets_fwd: i * 3,
    bytes_fwd: i * 977,
    packets_rev: i,
    bytes_rev: (i * 31) % 1000,
    tcp_flags_fwd: i % 64,
    tcp_flags_rev: (i * 3) % 32,
    end_reason: ['idle', 'active', 'fin', 'rst', 'eof'][i % 5],
    dns_qname: i % 3 === 0 ? `q${i % 23}.exämple` : null,
    tls_sni: i % 6 === 0 ? `sni${i % 13}.test` : null,
    http_host: null,
  }));
  const files = await makeArchive(archive, { dataset: 'cols', rows: flows, manifest: false });
  const queryable = FLOW_COLUMNS.filter((c) => c.queryable);
  assert.ok(queryable.length >= 20);
  // one statement, one distinct state per column (as many grouping sets)
  const q = partialAggregateSql({ keys: [], metrics: queryable.map((c) => ({ name: c.name, kind: 'distinct' as const, ...distinctInput(c.name) })), from: 'read_parquet($1)' });
  const states = readPartialRows(q.kinds, 0, await rows(q.sql, [files])).rows[0]!.states as Hll[];
  const reads = queryable.map((c) => (c.kind === 'timestamp' ? `epoch_us(${c.name})` : c.name));
  const values = (await conn.runAndReadAll(`SELECT ${reads.join(', ')} FROM read_parquet($1)`, [listValue(files)], [LIST(VARCHAR)])).getRowsJS();
  const exact = (await rows(`SELECT ${queryable.map((c) => `count(DISTINCT ${c.name})`).join(', ')} FROM read_parquet($1)`, [files]))[0] as number[];
  queryable.forEach((col, i) => {
    assert.ok(states[i]!.equals(Hll.fromValues(col.kind, values.map((r) => r[i]) as never)), col.name);
    // within 3 sigma, or one value off below ~120 distinct (a register collision costs one)
    const est = Math.round(states[i]!.estimate());
    assert.ok(Math.abs(est - exact[i]!) <= Math.max(1, (3 * 1.04 * exact[i]!) / 128), `${col.name}: ${est} vs ${exact[i]}`);
  });
});

test('no keys: one total row, also over no input rows', async () => {
  const q = partialAggregateSql({
    keys: [],
    metrics: [
      { name: 'n', kind: 'count' },
      { name: 's', kind: 'sum', valueSql: 'x' },
      { name: 'lo', kind: 'min', valueSql: 'x' },
      { name: 'm', kind: 'avg', valueSql: 'x' },
      { name: 'd', kind: 'distinct', valueSql: 'x', valueType: 'u64' },
      { name: 'p', kind: 'quantile', valueSql: 'x' },
    ],
    from: '(SELECT CAST(1 AS UBIGINT) AS x WHERE false)',
  });
  const set = readPartialRows(q.kinds, 0, await rows(q.sql));
  assert.equal(set.rows.length, 1);
  const specs: MetricSpec[] = [{ kind: 'count' }, { kind: 'sum' }, { kind: 'min' }, { kind: 'avg' }, { kind: 'distinct' }, { kind: 'quantile', q: 0.5 }];
  assert.deepEqual(finalizeRowSet(specs, set), [{ keys: [], values: [0n, 0n, null, null, 0, null] }]);
  const plain = partialAggregateSql({ keys: [], metrics: [{ name: 'n', kind: 'count' }], from: 'range(5)' });
  assert.deepEqual(readPartialRows(plain.kinds, 0, await rows(plain.sql)).rows[0]!.states, [5n]);
});

// ---------------------------------------------------------------------------------------------
// merge(split(data)) = whole(data) on ~100k flows in real Parquet files

/** Seeded xorshift32 in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** Groups (dst_port, vlan_id) with 1, 10, 1000, 50,000 and 5,000 distinct source addresses. */
const GROUPS = [
  { port: 53, vlan: 10, rows: 2_000, distinct: 1 },
  { port: 80, vlan: null, rows: 3_000, distinct: 10 },
  { port: 443, vlan: 10, rows: 10_000, distinct: 1_000 },
  { port: 443, vlan: 20, rows: 60_000, distinct: 50_000 },
  { port: 8080, vlan: 30, rows: 25_000, distinct: 5_000 },
] as const;
const PARTS = [2, 3, 4, 5] as const;

async function writeDataset(dir: string): Promise<void> {
  const r = rng(20261201);
  await conn.run(
    'CREATE TABLE gen (dst_port USMALLINT, vlan_id USMALLINT, src_addr VARCHAR, src_port USMALLINT, bytes_fwd UBIGINT, bytes_rev UBIGINT, ' +
      'packets_fwd UBIGINT, packets_rev UBIGINT, t0 BIGINT, dur BIGINT, dns_qname VARCHAR, p2 UTINYINT, p3 UTINYINT, p4 UTINYINT, p5 UTINYINT)',
  );
  const a = await conn.createAppender('gen');
  GROUPS.forEach((g, gi) => {
    for (let i = 0; i < g.rows; i++) {
      const v = i < g.distinct ? i : Math.floor(r() * g.distinct);
      a.appendUSmallInt(g.port);
      if (g.vlan === null) a.appendNull();
      else a.appendUSmallInt(g.vlan);
      a.appendVarchar(gi % 2 ? `10.${gi}.${(v >> 8) & 255}.${v & 255}` : `2001:db8:${gi}::${v.toString(16)}`);
      a.appendUSmallInt(1024 + Math.floor(r() * 64512));
      const huge = r() < 0.001;
      a.appendUBigInt(r() < 0.03 ? 0n : huge ? (1n << 62n) + BigInt(Math.floor(r() * 1e9)) : BigInt(Math.floor(Math.exp(r() * Math.log(1e10)))));
      a.appendUBigInt(BigInt(Math.floor(r() * 5000)));
      a.appendUBigInt(BigInt(1 + Math.floor(r() * 1000)));
      a.appendUBigInt(BigInt(Math.floor(r() * 1000)));
      a.appendBigInt(BigInt(Date.UTC(2026, 0, 1)) * 1000n + BigInt(Math.floor(r() * 3.6e9)));
      a.appendBigInt(r() < 0.1 ? 0n : BigInt(Math.floor(r() * 6e8)));
      if (r() < 0.4) a.appendNull();
      else a.appendVarchar(`q${v % 300}.${v % 7 === 0 ? 'exämple' : 'example'}`);
      for (const k of PARTS) a.appendUTinyInt(Math.floor(r() * k));
      a.endRow();
    }
  });
  a.flushSync();
  a.closeSync();
  const defaults: Record<string, string> = {
    time_start: 'make_timestamp(t0)',
    time_end: 'make_timestamp(t0 + dur)',
    ip_version: "CASE WHEN src_addr LIKE '%:%' THEN 6 ELSE 4 END",
    protocol: '6',
    dst_addr: "'192.0.2.1'",
  };
  const cols = FLOW_COLUMNS.map((c) => `CAST(${defaults[c.name] ?? (['dst_port', 'vlan_id', 'src_addr', 'src_port', 'bytes_fwd', 'bytes_rev', 'packets_fwd', 'packets_rev', 'dns_qname'].includes(c.name) ? c.name : 'NULL')} AS ${c.duckdbType}) AS ${c.name}`);
  await conn.run(`CREATE TABLE flows AS SELECT ${cols.join(', ')}, p2, p3, p4, p5 FROM gen`);
  for (const k of PARTS) {
    for (let p = 0; p < k; p++) {
      await conn.run(`COPY (SELECT * EXCLUDE (p2, p3, p4, p5) FROM flows WHERE p${k} = ${p} ORDER BY time_start) TO '${join(dir, `k${k}-part${p}.parquet`)}' (FORMAT parquet, COMPRESSION zstd)`);
    }
  }
}

const METRICS: readonly StateMetricSql[] = [
  { name: 'flows', kind: 'count' },
  { name: 'bytes', kind: 'sum', valueSql: FLOW_VALUE_SQL.bytes },
  { name: 'bytes_min', kind: 'min', valueSql: FLOW_VALUE_SQL.bytes },
  { name: 'bytes_max', kind: 'max', valueSql: FLOW_VALUE_SQL.bytes },
  { name: 'duration_avg', kind: 'avg', valueSql: FLOW_VALUE_SQL.durationUs },
  { name: 'bps', kind: 'ratio', ...FLOW_RATE_INPUTS.bps },
  { name: 'distinct_src_addr', kind: 'distinct', ...distinctInput('src_addr') },
  { name: 'distinct_src_port', kind: 'distinct', ...distinctInput('src_port') },
  { name: 'distinct_dns_qname', kind: 'distinct', ...distinctInput('dns_qname') },
  { name: 'distinct_time_start', kind: 'distinct', ...distinctInput('time_start') },
  { name: 'bytes_q', kind: 'quantile', valueSql: FLOW_VALUE_SQL.bytes },
  { name: 'packets_q', kind: 'quantile', valueSql: FLOW_VALUE_SQL.packets },
  { name: 'duration_ms_q', kind: 'quantile', valueSql: FLOW_VALUE_SQL.durationMs },
];
const KEYS = [
  { name: 'dst_port', sql: 'dst_port' },
  { name: 'vlan_id', sql: 'vlan_id' },
];
const PARTIAL = partialAggregateSql({ keys: KEYS, metrics: METRICS, from: 'read_parquet($1)' });
const EXPECT = { kinds: PARTIAL.kinds, keyCount: 2, maxRows: 1000 };

async function partial(files: string[]): Promise<PartialRowSet> {
  // Each node's answer goes over the wire as JSON and is validated on the way in.
  const set = readPartialRows(PARTIAL.kinds, 2, await rows(PARTIAL.sql, [files]));
  return rowSetFromJson(JSON.parse(JSON.stringify(rowSetToJson(set))), EXPECT);
}

const text = (s: PartialRowSet) => JSON.stringify(rowSetToJson(s));

test('merge(split(data)) = whole(data): 100k flows in k = 2..5 Parquet parts, states and answers', async () => {
  const dir = join(root, 'split');
  mkdirSync(dir);
  await writeDataset(dir);
  const allFiles = Array.from({ length: 2 }, (_, p) => join(dir, `k2-part${p}.parquet`));
  const whole = await partial(allFiles);
  assert.equal(whole.rows.length, GROUPS.length);

  for (const k of PARTS) {
    const parts = await Promise.all(Array.from({ length: k }, (_, p) => partial([join(dir, `k${k}-part${p}.parquet`)])));
    const merged = mergeRowSets(PARTIAL.kinds, parts);
    assert.equal(text(merged), text(mergeRowSets(PARTIAL.kinds, [whole])), `k=${k}: merged states equal the whole's, register for register and bucket for bucket`);
    // other orders and groupings give the identical state
    const reversed = mergeRowSets(PARTIAL.kinds, [...parts].reverse());
    const nested = parts.reduceRight((acc, s) => mergeRowSets(PARTIAL.kinds, [s, acc]));
    assert.equal(text(reversed), text(merged));
    assert.equal(text(nested), text(merged));
  }

  // finalized answers against DuckDB's exact ones over the whole
  const Q = [0.5, 0.95, 0.99] as const;
  const exactSql =
    `SELECT dst_port, vlan_id, count(*), sum(${FLOW_VALUE_SQL.bytes}), min(${FLOW_VALUE_SQL.bytes}), max(${FLOW_VALUE_SQL.bytes}), ` +
    `sum(${FLOW_VALUE_SQL.durationUs}), count(${FLOW_VALUE_SQL.durationUs}), sum(${FLOW_RATE_INPUTS.bps.numeratorSql}), sum(${FLOW_RATE_INPUTS.bps.denominatorSql}), ` +
    `count(DISTINCT src_addr), count(DISTINCT src_port), count(DISTINCT dns_qname), count(DISTINCT time_start), ` +
    Q.map((q) => `quantile_disc(${FLOW_VALUE_SQL.bytes}, ${q}), quantile_disc(${FLOW_VALUE_SQL.packets}, ${q}), quantile_disc(${FLOW_VALUE_SQL.durationMs}, ${q})`).join(', ') +
    ' FROM read_parquet($1) GROUP BY ALL';
  const exact = new Map((await rows(exactSql, [allFiles])).map((r) => [JSON.stringify(r.slice(0, 2)), r.slice(2)]));
  const sigma = 1.04 / Math.sqrt(16384);
  for (const row of whole.rows) {
    const e = exact.get(JSON.stringify(row.keys))!;
    const big = (i: number) => BigInt(e[i] as number | string);
    const [count, sum, min, max, avg, bps] = row.states as [bigint, bigint, bigint, bigint, { sum: bigint; count: bigint }, { numerator: bigint; denominator: bigint }];
    assert.deepEqual([count, sum, min, max], [big(0), big(1), big(2), big(3)], 'count, sum, min, max are exact');
    assert.deepEqual([avg.sum, avg.count, bps.numerator, bps.denominator], [big(4), big(5), big(6), big(7)], 'avg and ratio sums are exact');
    assert.ok(sum > 2n ** 53n || row.keys[0] === 53 || row.keys[0] === 80, 'the big groups exercise sums past 2^53');
    for (let d = 0; d < 4; d++) {
      const n = Number(e[8 + d]);
      const est = (row.states[6 + d] as Hll).estimate();
      assert.ok(Math.abs(est - n) <= 3 * sigma * n, `${METRICS[6 + d]!.name} ${row.keys}: ${est} vs ${n}`);
      if (n <= 10) assert.equal(Math.round(est), n, 'small cardinalities are exact after rounding');
    }
    Q.forEach((q, qi) => {
      for (let m = 0; m < 3; m++) {
        const truth = Number(e[12 + qi * 3 + m]);
        const est = (row.states[10 + m] as DDSketch).quantile(q)!;
        assert.ok(Math.abs(est - truth) <= DDSKETCH_ALPHA * truth * (1 + 1e-12), `${METRICS[10 + m]!.name} q=${q} ${row.keys}: ${est} vs ${truth}`);
      }
    });
  }
  const groupSizes = whole.rows.map((r) => Math.round((r.states[6] as Hll).estimate())).sort((a, b) => a - b);
  assert.equal(groupSizes[0], 1);
  assert.equal(groupSizes[1], 10);

  // the TS sketches built straight from the values equal the DuckDB-built states
  const raw = (await conn.runAndReadAll(`SELECT dst_port, vlan_id, src_addr, src_port, dns_qname, epoch_us(time_start), ${FLOW_VALUE_SQL.bytes}, ${FLOW_VALUE_SQL.durationMs} FROM flows`)).getRowsJS();
  for (const row of whole.rows) {
    const mine = raw.filter((r) => r[0] === row.keys[0] && r[1] === row.keys[1]);
    assert.ok((row.states[6] as Hll).equals(Hll.fromValues('string', mine.map((r) => r[2] as string))));
    assert.ok((row.states[7] as Hll).equals(Hll.fromValues('u16', mine.map((r) => r[3] as number))));
    assert.ok((row.states[8] as Hll).equals(Hll.fromValues('string', mine.map((r) => r[4] as string | null))));
    assert.ok((row.states[9] as Hll).equals(Hll.fromValues('timestamp', mine.map((r) => r[5] as bigint))));
    assert.ok((row.states[10] as DDSketch).equals(DDSketch.fromValues(mine.map((r) => r[6] as bigint))));
    assert.ok((row.states[12] as DDSketch).equals(DDSketch.fromValues(mine.map((r) => r[7] as number))), 'fractional milliseconds too');
  }
});
