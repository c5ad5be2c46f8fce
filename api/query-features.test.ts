/**
 * The query features of the plan layer through the whole app over a real archive, each
 * compared with an independent computation over the same rows in plain JS: totals, new time
 * buckets, value statistics and rates, distinct counts, the top-N `other` row, zero-filled
 * series, `having`, relative times, cursor pagination (every row exactly once, cursors bound to
 * their query and tamper-proof), `limitCapped`, and plans forwarded to `/v1/plan`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from './app.ts';
import { createDuckDbEngine } from './engine/duckdb-engine.ts';
import type { DuckDbEngine } from './engine/duckdb-engine.ts';
import { createJoseVerifier } from './auth/jose-verifier.ts';
import { createDevIssuer } from './auth/dev-issuer.ts';
import type { DevIssuer } from './auth/dev-issuer.ts';
import { createMemoryRateLimitStore } from './rate-limit/memory-store.ts';
import { createMemoryAuditSink } from './audit/memory-sink.ts';
import { ApiConfig } from '../schemas/api-config.ts';
import { makeArchive } from '../test/support/make-archive.ts';
import type { FlowRowInput } from '../test/support/make-archive.ts';
import { planQuery } from './query/plan.ts';
import { QueryRequest } from '../schemas/query.ts';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}
const rnd = lcg(7);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
const T0 = Date.parse('2026-03-10T08:00:00Z');
interface Row extends FlowRowInput {
  time_start: string;
  time_end: string;
  protocol: number;
  src_addr: string;
  dst_addr: string;
  src_port: number;
  dst_port: number;
  packets_fwd: number;
  bytes_fwd: number;
  packets_rev: number;
  bytes_rev: number;
}
const ROWS: Row[] = [];
for (let i = 0; i < 400; i++) {
  // Two busy hours (8 and 10 h), nothing at 9 h: the series must fill that hour with zeros.
  const hour = pick([0, 0, 2]);
  const t = T0 + hour * 3_600_000 + Math.floor(rnd() * 3_600_000);
  ROWS.push({
    time_start: new Date(t).toISOString(),
    time_end: new Date(t + pick([0, 250, 1000, 4000])).toISOString(),
    protocol: pick([6, 6, 17]),
    src_addr: `10.0.${Math.floor(rnd() * 4)}.${1 + Math.floor(rnd() * 20)}`,
    dst_addr: pick(['198.51.100.1', '198.51.100.2', '203.0.113.9']),
    src_port: 40000 + Math.floor(rnd() * 500),
    // A long tail of ports so top-N leaves something over, some of them single flows.
    dst_port: rnd() < 0.7 ? pick([80, 443, 443, 53]) : 1000 + Math.floor(rnd() * 60),
    packets_fwd: 1 + Math.floor(rnd() * 30),
    bytes_fwd: 60 + Math.floor(rnd() * 4000),
    packets_rev: Math.floor(rnd() * 30),
    bytes_rev: Math.floor(rnd() * 8000),
  });
}
const FROM = '2026-03-10T08:00:00Z';
const TO = '2026-03-10T11:00:00Z';
const ms = (r: Row) => Date.parse(r.time_end) - Date.parse(r.time_start);
const bytes = (r: Row) => r.bytes_fwd + r.bytes_rev;
const packets = (r: Row) => r.packets_fwd + r.packets_rev;

/** Continuous quantile with linear interpolation (DuckDB quantile_cont). */
function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

let dir: string;
let engine: DuckDbEngine;
let dev: DevIssuer;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flowseal-features-'));
  await makeArchive(dir, { dataset: 'lab', rows: ROWS });
  engine = await createDuckDbEngine({ archiveDir: dir, threads: 1, memoryLimit: '256MB' });
  const files = new Map<string, string>();
  dev = await createDevIssuer({ read: async (n) => files.get(n) ?? null, write: async (n, t) => void files.set(n, t) });
});
after(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

function app(config: Record<string, unknown> = {}, now: () => number = Date.now, cursorKey?: Uint8Array, audit = createMemoryAuditSink()) {
  const a = createApp({
    engine,
    ...(cursorKey ? { cursorKey } : {}),
    verifier: createJoseVerifier({ issuers: [{ issuer: dev.issuer, audience: dev.audience, algorithms: ['ES256'], jwks: dev.jwks }] }),
    rateLimit: createMemoryRateLimitStore(),
    audit,
    config: ApiConfig.parse({ rateLimit: { burst: 1000, perMinute: 1000 }, ...config }),
    logger: { info: () => {}, error: () => {} },
    now,
  });
  return async (path: string, body?: unknown, scopes = ['query', 'records'], headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string; headers: Headers }> => {
    const token = await dev.signToken('alice', scopes, 600);
    const res = await a.request(path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    return { status: res.status, json, text, headers: res.headers };
  };
}
const q = (extra: Record<string, unknown>) => ({ dataset: 'lab', timeRange: { from: FROM, to: TO }, ...extra });
const col = (r: { json: any }, name: string): number => r.json.columns.findIndex((c: { name: string }) => c.name === name);

test('a total (groupBy []) with every value statistic and rate equals the JS computation', async () => {
  const call = app({ limits: { minGroupSize: 1 } });
  const metrics = ['flows', 'bytes', 'packets', 'bytes_min', 'bytes_max', 'bytes_avg', 'bytes_p50', 'bytes_p99', 'packets_p95', 'duration_max', 'duration_avg', 'duration_p50', 'bps', 'pps', 'bpp', 'distinct_src_addr', 'distinct_dst_port'];
  const r = await call('/v1/query', q({ groupBy: [], metrics }));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.rows.length, 1);
  const row = r.json.rows[0];
  const get = (m: string) => Number(row[col(r, m)]);
  const sumMs = ROWS.reduce((n, x) => n + ms(x), 0);
  const totalBytes = ROWS.reduce((n, x) => n + bytes(x), 0);
  const totalPackets = ROWS.reduce((n, x) => n + packets(x), 0);
  const want: Record<string, number> = {
    flows: ROWS.length,
    bytes: totalBytes,
    packets: totalPackets,
    bytes_min: Math.min(...ROWS.map(bytes)),
    bytes_max: Math.max(...ROWS.map(bytes)),
    bytes_avg: totalBytes / ROWS.length,
    bytes_p50: quantile(ROWS.map(bytes), 0.5),
    bytes_p99: quantile(ROWS.map(bytes), 0.99),
    packets_p95: quantile(ROWS.map(packets), 0.95),
    duration_max: Math.max(...ROWS.map(ms)),
    duration_avg: sumMs / ROWS.length,
    duration_p50: quantile(ROWS.map(ms), 0.5),
    // Rates over the flows that last (a zero-duration flow adds bytes but no time).
    bps: (8 * ROWS.filter((x) => ms(x) > 0).reduce((n, x) => n + bytes(x), 0)) / (sumMs / 1000),
    pps: ROWS.filter((x) => ms(x) > 0).reduce((n, x) => n + packets(x), 0) / (sumMs / 1000),
    bpp: totalBytes / totalPackets,
    distinct_src_addr: new Set(ROWS.map((x) => x.src_addr)).size,
    distinct_dst_port: new Set(ROWS.map((x) => x.dst_port)).size,
  };
  for (const [m, v] of Object.entries(want)) assert.ok(Math.abs(get(m) - v) <= 1e-9 * Math.max(1, Math.abs(v)), `${m}: ${get(m)} vs ${v}`);
});

test('top-N with other: the shown groups are the N largest, the other row holds the rest, everything adds up', async () => {
  const call = app({ limits: { minGroupSize: 3 } });
  const r = await call('/v1/query', q({ groupBy: ['dst_port'], metrics: ['flows', 'bytes'], limit: 3, other: true }));
  assert.equal(r.status, 200, r.text);
  const byPort = new Map<number, { flows: number; bytes: number }>();
  for (const x of ROWS) {
    const e = byPort.get(x.dst_port) ?? { flows: 0, bytes: 0 };
    e.flows += 1;
    e.bytes += bytes(x);
    byPort.set(x.dst_port, e);
  }
  const visible = [...byPort].filter(([, e]) => e.flows >= 3).sort((a, b) => b[1].flows - a[1].flows || a[0] - b[0]);
  const top = visible.slice(0, 3);
  assert.deepEqual(r.json.columns.map((c: { name: string }) => c.name), ['dst_port', 'flows', 'bytes', 'other']);
  assert.deepEqual(r.json.rows.slice(0, 3), top.map(([p, e]) => [p, e.flows, e.bytes, false]));
  const other = r.json.rows[3];
  const shown = new Set(top.map(([p]) => p));
  const rest = ROWS.filter((x) => !shown.has(x.dst_port));
  assert.deepEqual(other, [null, rest.length, rest.reduce((n, x) => n + bytes(x), 0), true]);
  assert.equal(r.json.rows.reduce((n: number, row: number[]) => n + row[1], 0), ROWS.length, 'rows add up to the total');
  assert.equal(r.json.stats.truncated, true);
  const small = [...byPort.values()].filter((e) => e.flows < 3).length;
  assert.equal(r.json.stats.suppressedGroups, small >= 3 ? small : 0);
  // The other row is itself withheld when it covers fewer flows than the minimum.
  const few = await call('/v1/query', q({ filter: { dstPort: [80, 443, 1000] }, groupBy: ['dst_port'], metrics: ['flows'], limit: 2, other: true }));
  const tail = ROWS.filter((x) => x.dst_port === 1000).length;
  if (tail > 0 && tail < 3) assert.equal(few.json.rows.some((row: unknown[]) => row.at(-1) === true), false);
  // A distinct count in the other row is over the remaining flows, not a sum of the groups'.
  const d = await call('/v1/query', q({ groupBy: ['protocol'], metrics: ['flows', 'distinct_src_addr'], limit: 1, other: true }));
  const firstProto = d.json.rows[0][0];
  const restSrc = new Set(ROWS.filter((x) => x.protocol !== firstProto).map((x) => x.src_addr)).size;
  assert.equal(d.json.rows[1][2], restSrc);
});

test('time series: zero-filled buckets over the whole range (15m), 1s buckets, and the fill can be turned off', async () => {
  const call = app({ limits: { minGroupSize: 1 } });
  const r = await call('/v1/query', q({ groupBy: [{ timeBucket: '15m' }], metrics: ['flows', 'bytes', 'bytes_max'] }));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.rows.length, 12, 'three hours of 15-minute buckets');
  const want = new Map<number, number>();
  for (const x of ROWS) {
    const b = Math.floor(Date.parse(x.time_start) / 900_000) * 900_000;
    want.set(b, (want.get(b) ?? 0) + 1);
  }
  for (const [i, row] of r.json.rows.entries()) {
    const b = T0 + i * 900_000;
    assert.equal(Date.parse(row[0]), b);
    assert.equal(row[1], want.get(b) ?? 0);
    if (!want.has(b)) assert.deepEqual([row[2], row[3]], [0, null], 'empty bucket: sums 0, maxima null');
  }
  assert.ok(r.json.rows.some((row: number[]) => row[1] === 0), 'the idle hour is there, as zeros');
  const sparse = await call('/v1/query', q({ groupBy: [{ timeBucket: '15m' }], metrics: ['flows'], fill: false }));
  assert.equal(sparse.json.rows.length, want.size);
  const secs = await call('/v1/query', q({ timeRange: { from: FROM, to: '2026-03-10T08:01:00Z' }, groupBy: [{ timeBucket: '1s' }], metrics: ['flows'] }));
  assert.equal(secs.json.rows.length, 60);
  assert.equal(secs.json.rows.reduce((n: number, row: number[]) => n + row[1], 0), ROWS.filter((x) => Date.parse(x.time_start) < T0 + 60_000).length);
  // Stacked by a second key: every bucket for every protocol seen.
  const stacked = await call('/v1/query', q({ groupBy: [{ timeBucket: '1h' }, 'protocol'], metrics: ['flows'], fill: true }));
  assert.equal(stacked.json.rows.length, 3 * new Set(ROWS.map((x) => x.protocol)).size);
});

test('having keeps only groups whose metrics fall in range', async () => {
  const call = app({ limits: { minGroupSize: 1 } });
  const r = await call('/v1/query', q({ groupBy: ['dst_port'], metrics: ['flows'], having: { flows: { min: 10, max: 200 } } }));
  assert.equal(r.status, 200, r.text);
  const counts = new Map<number, number>();
  for (const x of ROWS) counts.set(x.dst_port, (counts.get(x.dst_port) ?? 0) + 1);
  const want = [...counts].filter(([, n]) => n >= 10 && n <= 200).map(([p]) => p).sort((a, b) => a - b);
  assert.deepEqual(r.json.rows.map((row: number[]) => row[0]).sort((a: number, b: number) => a - b), want);
  const bad = await call('/v1/query', q({ groupBy: ['dst_port'], metrics: ['flows'], having: { bytes: { min: 1 } } }));
  assert.equal(bad.json.error.code, 'ERR_QUERY_INVALID');
});

test('relative times resolve against the server clock and are reported in stats.timeRange', async () => {
  const now = Date.parse(TO);
  const call = app({ limits: { minGroupSize: 1 } }, () => now);
  const r = await call('/v1/query', { dataset: 'lab', timeRange: { from: '-3h', to: 'now' }, groupBy: [], metrics: ['flows'] });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.stats.timeRange, { from: '2026-03-10T08:00:00.000Z', to: '2026-03-10T11:00:00.000Z' });
  assert.equal(r.json.rows[0][0], ROWS.length);
  const hour = await call(`/v1/datasets/lab/top?from=-1h&to=now&by=dst_port`);
  assert.equal(hour.status, 200, hour.text);
  assert.equal(hour.json.stats.timeRange.from, '2026-03-10T10:00:00.000Z');
  for (const bad of ['-1y', 'now-1h', '-0h', 'yesterday']) {
    const b = await call('/v1/query', { dataset: 'lab', timeRange: { from: bad, to: 'now' }, groupBy: [] });
    assert.equal(b.json.error.code, 'ERR_QUERY_INVALID', bad);
  }
});

test('cursor pagination returns every record exactly once, in order; cursors are bound to their query and tamper-proof', async () => {
  const call = app({ limits: { maxRecordRows: 70, maxRowsPerPeriod: 100_000 } });
  const body = q({ select: ['time_start', 'src_addr', 'dst_port', 'bytes_fwd'], orderBy: [{ by: 'bytes_fwd', dir: 'desc' }], limit: 1000 });
  const seen: unknown[][] = [];
  let cursor: string | undefined;
  let pages = 0;
  let first: any;
  do {
    const r = await call('/v1/query', { ...body, ...(cursor ? { cursor } : {}) });
    assert.equal(r.status, 200, r.text);
    if (pages === 0) first = r.json;
    seen.push(...r.json.rows);
    cursor = r.json.stats.nextCursor;
    pages += 1;
  } while (cursor !== undefined && pages < 20);
  assert.equal(pages, Math.ceil(ROWS.length / 70));
  assert.equal(seen.length, ROWS.length);
  assert.deepEqual(first.stats.limitCapped, { requested: 1000, applied: 70, reason: 'maxRecordRows' });
  const bytesSeen = seen.map((r) => r[3] as number);
  assert.deepEqual(bytesSeen, [...ROWS.map((x) => x.bytes_fwd)].sort((a, b) => b - a), 'ordered by bytes_fwd desc across pages');
  const key = (r: unknown[]) => JSON.stringify(r);
  assert.equal(new Set(seen.map(key)).size, new Set(ROWS.map((x) => key([`${x.time_start.slice(0, -1)}000Z`, x.src_addr, x.dst_port, x.bytes_fwd]))).size);
  // Bound to the query: another filter, another order or an aggregate refuse it; so does a flipped bit.
  const page1 = await call('/v1/query', body);
  const c = page1.json.stats.nextCursor as string;
  for (const other of [{ ...body, filter: { protocol: 6 } }, { ...body, orderBy: [{ by: 'bytes_fwd', dir: 'asc' }] }, { ...body, select: ['time_start'], orderBy: undefined }]) {
    const r = await call('/v1/query', { ...other, cursor: c });
    assert.equal(r.json.error.code, 'ERR_QUERY_CURSOR_INVALID', JSON.stringify(other));
  }
  const flipped = c.slice(0, 20) + (c[20] === 'A' ? 'B' : 'A') + c.slice(21);
  assert.equal((await call('/v1/query', { ...body, cursor: flipped })).json.error.code, 'ERR_QUERY_CURSOR_INVALID');
  assert.equal((await call('/v1/query', q({ groupBy: [], cursor: c }))).json.error.code, 'ERR_QUERY_INVALID');
  // Another server (another key) does not honour it.
  const other = app({ limits: { maxRecordRows: 70 } });
  assert.equal((await other('/v1/query', { ...body, cursor: c })).json.error.code, 'ERR_QUERY_CURSOR_INVALID');
  assert.ok(!c.includes('parquet') && !Buffer.from(c, 'base64url').toString('latin1').includes('parquet'), 'opaque: no file names');
});

test('the audit records the time range a query read: relative times resolved, and a cursor\'s pinned range, not the request\'s', async () => {
  const audit = createMemoryAuditSink();
  let clock = Date.parse('2026-03-10T11:00:00Z');
  const call = app({ limits: { maxRecordRows: 70, maxRowsPerPeriod: 100_000 } }, () => clock, new Uint8Array(32).fill(7), audit);
  const body = q({ timeRange: { from: '-3h', to: 'now' }, select: ['time_start'] });
  const first = await call('/v1/query', body);
  assert.equal(first.status, 200, first.text);
  clock += 3_600_000; // an hour later, "-3h" would mean 09:00–12:00; the cursor pins 08:00–11:00
  const second = await call('/v1/query', { ...body, cursor: first.json.stats.nextCursor });
  assert.equal(second.status, 200, second.text);
  const ranges = audit.entries.filter((e) => e.path === '/v1/query').map((e) => e.timeRange);
  assert.deepEqual(ranges, [{ from: '2026-03-10T08:00:00.000Z', to: '2026-03-10T11:00:00.000Z' }, { from: '2026-03-10T08:00:00.000Z', to: '2026-03-10T11:00:00.000Z' }]);
});

test('a plan forwarded to /v1/plan is re-based on the receiving node: its limit and minimum group size win', async () => {
  const call = app({ limits: { minGroupSize: 50, maxGroupRows: 2 } });
  const req = QueryRequest.parse(q({ groupBy: ['dst_port'], metrics: ['flows'] }));
  const { plan } = planQuery(req, { now: Date.now(), limits: { maxRecordRows: 1000, maxGroupRows: 1000, minGroupSize: 1, maxTimeRangeDays: 31 }, filter: null });
  const r = await call('/v1/plan', { plan });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.stats.minGroupSize, 50);
  assert.ok(r.json.rows.length <= 2);
  assert.ok(r.json.rows.every((row: number[]) => row[1] >= 50));
  // A records plan still needs the records scope; a malformed plan is a 400.
  const rec = planQuery(QueryRequest.parse(q({})), { now: Date.now(), limits: { maxRecordRows: 10, maxGroupRows: 10, minGroupSize: 1, maxTimeRangeDays: 31 }, filter: null }).plan;
  assert.equal((await call('/v1/plan', { plan: rec }, ['query'])).json.error.code, 'ERR_FORBIDDEN');
  assert.equal((await call('/v1/plan', { plan: { ...plan, version: 2 } })).json.error.code, 'ERR_QUERY_INVALID');
  assert.equal((await call('/v1/plan', { plan: { ...plan, metrics: ['count(*)'] } })).json.error.code, 'ERR_QUERY_INVALID');
});

test('replicas sharing a cursor key continue each other\'s cursors; CORS answers only allowed origins', async () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const a = app({ limits: { maxRecordRows: 100 } }, Date.now, key);
  const b = app({ limits: { maxRecordRows: 100 } }, Date.now, key);
  const body = q({ select: ['time_start', 'bytes_fwd'] });
  const p1 = await a('/v1/query', body);
  const p2 = await b('/v1/query', { ...body, cursor: p1.json.stats.nextCursor });
  assert.equal(p2.status, 200, p2.text);
  assert.equal(p2.json.rows.length, 100);
  assert.notDeepEqual(p2.json.rows[0], p1.json.rows[0]);

  const open = app({ cors: { origins: ['https://nb.example.org'] } });
  const ok = await open('/v1/datasets', undefined, ['query'], { Origin: 'https://nb.example.org' });
  assert.equal(ok.headers.get('Access-Control-Allow-Origin'), 'https://nb.example.org');
  assert.match(ok.headers.get('Access-Control-Expose-Headers') ?? '', /Flowseal-Stats/);
  assert.equal(ok.headers.get('Access-Control-Allow-Credentials'), null);
  const denied = await open('/v1/datasets', undefined, ['query'], { Origin: 'https://evil.example' });
  assert.equal(denied.headers.get('Access-Control-Allow-Origin'), null);
  const closed = app();
  assert.equal((await closed('/v1/datasets', undefined, ['query'], { Origin: 'https://nb.example.org' })).headers.get('Access-Control-Allow-Origin'), null, 'default: no CORS');
  assert.equal(ApiConfig.safeParse({ cors: { origins: ['https://nb.example.org/path'] } }).success, false);
});

test('formats through the app: Arrow and Parquet carry the same values as JSON; gzip and br on request; a streamed answer is audited when it starts and when it ends', async () => {
  const { tableFromIPC } = await import('apache-arrow');
  const { parquetReadObjects } = await import('hyparquet');
  const { gunzipSync, brotliDecompressSync } = await import('node:zlib');
  const audit = createMemoryAuditSink();
  const a = createApp({
    engine,
    verifier: createJoseVerifier({ issuers: [{ issuer: dev.issuer, audience: dev.audience, algorithms: ['ES256'], jwks: dev.jwks }] }),
    rateLimit: createMemoryRateLimitStore(),
    audit,
    config: ApiConfig.parse({ rateLimit: { burst: 1000, perMinute: 1000 }, limits: { minGroupSize: 1, streamBufferBytes: 1024, maxRecordRows: 400, maxRowsPerPeriod: 100_000 } }),
    logger: { info: () => {}, error: () => {} },
    brotli: (await import('./adapters/node-brotli.ts')).nodeBrotliCompressor(),
  });
  const token = await dev.signToken('alice', ['query', 'records'], 600);
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    a.request('/v1/query', { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const body = q({ groupBy: ['dst_port'], metrics: ['flows', 'bytes', 'bytes_avg'], limit: 5 });
  const json = await (await post(body)).json();
  const arrow = await post(body, { Accept: 'application/vnd.apache.arrow.stream' });
  assert.equal(arrow.headers.get('Content-Type'), 'application/vnd.apache.arrow.stream');
  const table = tableFromIPC(new Uint8Array(await arrow.arrayBuffer()));
  assert.deepEqual(table.toArray().map((r: any) => [Number(r.dst_port), Number(r.flows), Number(r.bytes), r.bytes_avg]), json.rows);
  const parquet = await post(body, { Accept: 'application/vnd.apache.parquet' });
  const buf = await parquet.arrayBuffer();
  const objects = await parquetReadObjects({ file: buf });
  assert.deepEqual(objects.map((r: any) => [Number(r.dst_port), Number(r.flows), Number(r.bytes), r.bytes_avg]), json.rows);
  // Compression: the bodies decompress to the plain bytes.
  const plain = await (await post(body, { Accept: 'text/csv' })).text();
  const gz = await post(body, { Accept: 'text/csv', 'Accept-Encoding': 'gzip' });
  const br = await post(body, { Accept: 'text/csv', 'Accept-Encoding': 'br;q=1, gzip;q=0.5' });
  // Small answers (< 1 KiB) are sent plain; this one is above it only with a larger listing.
  const big = q({ select: ['time_start', 'src_addr', 'dst_addr', 'bytes_fwd'], limit: 400 });
  const bigPlain = await (await post(big, { Accept: 'text/csv' })).text();
  const bigGz = await post(big, { Accept: 'text/csv', 'Accept-Encoding': 'gzip' });
  assert.equal(bigGz.headers.get('Content-Encoding'), 'gzip');
  assert.equal(gunzipSync(Buffer.from(await bigGz.arrayBuffer())).toString(), bigPlain);
  const bigBr = await post(big, { Accept: 'text/csv', 'Accept-Encoding': 'br' });
  assert.equal(bigBr.headers.get('Content-Encoding'), 'br');
  assert.equal(brotliDecompressSync(Buffer.from(await bigBr.arrayBuffer())).toString(), bigPlain);
  for (const r of [gz, br]) {
    const enc = r.headers.get('Content-Encoding');
    const bytes = Buffer.from(await r.arrayBuffer());
    const text = enc === 'gzip' ? gunzipSync(bytes).toString() : enc === 'br' ? brotliDecompressSync(bytes).toString() : bytes.toString();
    assert.equal(text, plain);
  }
  // The listing is larger than the 1 KiB render buffer: it streamed, audited at start and end.
  const streamed = await post(big, { Accept: 'application/x-ndjson' });
  const id = streamed.headers.get('X-Request-Id');
  const lines = (await streamed.text()).trim().split('\n');
  assert.equal(lines.length, 400);
  assert.equal(JSON.parse(streamed.headers.get('Flowseal-Stats') ?? '{}').streamed, true);
  await new Promise((r) => setTimeout(r, 50));
  const entries = audit.entries.filter((e) => e.requestId === id);
  assert.deepEqual(entries.map((e) => [e.stream, e.rows]), [['started', null], ['ended', 400]]);
});

test('nfdump filter text in the POST body and on GETs selects what the structured filter does; syntax errors give the position', async () => {
  const call = app({ limits: { minGroupSize: 1 } });
  const text = await call('/v1/query', q({ filter: 'proto tcp and dst port in [ 80 443 ] and not src net 10.0.3.0/24', groupBy: [], metrics: ['flows'] }));
  assert.equal(text.status, 200, text.text);
  const want = ROWS.filter((x) => x.protocol === 6 && [80, 443].includes(x.dst_port) && !x.src_addr.startsWith('10.0.3.')).length;
  assert.equal(text.json.rows[0][0], want);
  const structured = await call('/v1/query', q({ filter: { protocol: 'tcp', dstPort: [80, 443], not: { srcNet: '10.0.3.0/24' } }, groupBy: [], metrics: ['flows'] }));
  assert.deepEqual(structured.json.rows, text.json.rows);
  const get = await call(`/v1/datasets/lab/top?from=${FROM}&to=${TO}&by=dst_port&filter=${encodeURIComponent('proto udp or bytes > 5k')}`);
  assert.equal(get.status, 200, get.text);
  const bad = await call('/v1/query', q({ filter: 'proto tcp and port >', groupBy: [] }));
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.code, 'ERR_QUERY_FILTER_SYNTAX');
  assert.equal(bad.json.error.details.position, 'proto tcp and port >'.length);
  const secret = await call('/v1/query', q({ filter: 'host 10.0.3.77 and and', groupBy: [] }));
  assert.equal(secret.json.error.code, 'ERR_QUERY_FILTER_SYNTAX');
  assert.ok(!secret.text.includes('10.0.3.77'), 'addresses are not echoed');
});

test('forwarded plans get the limits requests get: filter size, no caller-chosen position, 400 for nonsense; HEAD is refused; a reader that stops cannot hold its slot past the deadline', async () => {
  const call = app({ limits: { minGroupSize: 1, maxFilterNodes: 8 } });
  const req = QueryRequest.parse(q({ groupBy: ['dst_port'], metrics: ['flows'] }));
  const { plan } = planQuery(req, { now: Date.now(), limits: { maxRecordRows: 1000, maxGroupRows: 1000, minGroupSize: 1, maxTimeRangeDays: 31 }, filter: null });
  const wide = { ...plan, filter: { or: Array.from({ length: 20 }, (_, i) => ({ dstPort: i })) } };
  assert.equal((await call('/v1/plan', { plan: wide })).json.error.code, 'ERR_QUERY_FILTER_INVALID');
  let deep: Record<string, unknown> = { dstPort: 1 };
  for (let i = 0; i < 1500; i++) deep = { not: deep };
  assert.equal((await call('/v1/plan', { plan: { ...plan, filter: deep } })).json.error.code, 'ERR_QUERY_FILTER_INVALID');
  const rec = planQuery(QueryRequest.parse(q({ select: ['time_start', 'bytes_fwd'] })), { now: Date.now(), limits: { maxRecordRows: 1000, maxGroupRows: 10, minGroupSize: 1, maxTimeRangeDays: 31 }, filter: null }).plan;
  assert.equal((await call('/v1/plan', { plan: rec })).status, 200);
  const probed = await call('/v1/plan', { plan: { ...rec, after: [0, 0, 0, '/', 0] } });
  assert.equal(probed.json.error.code, 'ERR_QUERY_INVALID', 'a position in the plan is refused: only cursors set one');
  for (const nonsense of [{ ...plan, kind: 'nope' }, { ...plan, groupBy: 'x' }, { ...plan, metrics: [] }, { ...plan, fromMs: 'x' }, { ...rec, select: ['*'] }, { ...rec, order: [{ by: 'x; DROP', dir: 'asc' }] }, null, []]) {
    const r = await call('/v1/plan', { plan: nonsense });
    assert.equal(r.status, 400, `${JSON.stringify(nonsense)?.slice(0, 80)}: ${r.text}`);
  }

  const a = createApp({
    engine,
    verifier: createJoseVerifier({ issuers: [{ issuer: dev.issuer, audience: dev.audience, algorithms: ['ES256'], jwks: dev.jwks }] }),
    rateLimit: createMemoryRateLimitStore(),
    audit: createMemoryAuditSink(),
    config: ApiConfig.parse({
      rateLimit: { burst: 1000, perMinute: 1000 },
      limits: { queryTimeoutMs: 1500, streamBufferBytes: 1024, maxRecordRows: 400, maxRowsPerPeriod: 100_000 },
      admission: { maxConcurrent: 1, maxConcurrentPerSubject: 1, maxExpensiveConcurrent: 1 },
    }),
    logger: { info: () => {}, error: () => {} },
  });
  const token = await dev.signToken('alice', ['query', 'records'], 600);
  const auth = { Authorization: `Bearer ${token}` };
  const head = await a.request(`/v1/datasets/lab/records?from=${FROM}&to=${TO}`, { method: 'HEAD', headers: auth });
  assert.equal(head.status, 400);
  const slow = await a.request(`/v1/datasets/lab/records?from=${FROM}&to=${TO}&limit=400&format=ndjson`, { headers: auth });
  assert.equal(slow.status, 200);
  const reader = slow.body!.getReader();
  await reader.read(); // one chunk, then the client stalls
  await new Promise((r) => setTimeout(r, 2200));
  const next = await a.request(`/v1/datasets/lab/top?from=${FROM}&to=${TO}&by=dst_port`, { headers: auth });
  assert.equal(next.status, 200, `the stalled answer gave its slot back at its deadline: ${await next.clone().text()}`);
  // The stalled answer ends in an error, never as a complete body.
  let failed = false;
  try {
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
  } catch {
    failed = true;
  }
  assert.ok(failed, 'the cut-off answer errors');
});

test('suppressedGroups is no oracle: fewer withheld groups than the minimum read as 0, so a group keyed per flow cannot be counted', async () => {
  const call = app({ limits: { minGroupSize: 5 } });
  // Three flows of one source to port 53 at most: grouped by a per-flow key (src_port) each is its own group.
  const target = ROWS.find((x) => ROWS.filter((y) => y.src_addr === x.src_addr && y.dst_port === x.dst_port).length < 5)!;
  const r = await call('/v1/query', q({ filter: { srcNet: `${target.src_addr}/32`, dstPort: target.dst_port }, groupBy: ['src_port'], metrics: ['flows'] }));
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.rows, []);
  assert.equal(r.json.stats.suppressedGroups, 0);
  const none = await call('/v1/query', q({ filter: { srcNet: '10.255.255.255/32' }, groupBy: ['src_port'], metrics: ['flows'] }));
  assert.deepEqual([none.json.rows, none.json.stats.suppressedGroups], [[], 0], 'no flows and a few flows look the same');
});
