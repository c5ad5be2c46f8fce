import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from './app.ts';
import { createDuckDbEngine } from './engine/duckdb-engine.ts';
import type { DuckDbEngine } from './engine/duckdb-engine.ts';
import { compilePlan } from './engine/duckdb-plan-sql.ts';
import { createJoseVerifier } from './auth/jose-verifier.ts';
import { createDevIssuer } from './auth/dev-issuer.ts';
import type { DevIssuer } from './auth/dev-issuer.ts';
import { createMemoryRateLimitStore } from './rate-limit/memory-store.ts';
import { createMemoryAuditSink } from './audit/memory-sink.ts';
import type { MemoryAuditSink } from './audit/memory-sink.ts';
import type { Logger, QueryEngine } from './ports.ts';
import { ApiConfig } from '../schemas/api-config.ts';
import { makeArchive, addressHalves } from '../test/support/make-archive.ts';
import type { FlowRowInput } from '../test/support/make-archive.ts';

// ---- fixture: deterministic synthetic flows over three hours, IPv4 and IPv6 ----
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}
const rnd = lcg(42);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
const V4_SRC = ['10.0.0.1', '10.0.1.7', '10.1.2.3', '10.1.2.200', '10.200.0.9', '192.168.1.10', '192.168.1.11', '172.16.5.4'];
const V6_SRC = ['2001:db8::1', '2001:db8::2', '2001:db8:0:1::5', '2001:db8:ffff::1', '2001:db9::1', 'fe80::1'];
const V4_DST = ['198.51.100.1', '198.51.100.2', '203.0.113.9'];
const V6_DST = ['2001:db8:aaaa::1', '2001:db8:aaaa:1::2'];
const ROWS: FlowRowInput[] = [];
for (let i = 0; i < 300; i++) {
  const v6 = rnd() < 0.3;
  const t = Date.parse('2026-02-01T10:00:00Z') + Math.floor(rnd() * 3 * 3_600_000);
  ROWS.push({
    time_start: new Date(t).toISOString(),
    time_end: new Date(t + Math.floor(rnd() * 5000)).toISOString(),
    protocol: pick([6, 6, 17, 1]),
    src_addr: v6 ? pick(V6_SRC) : pick(V4_SRC),
    dst_addr: v6 ? pick(V6_DST) : pick(V4_DST),
    src_port: 30000 + Math.floor(rnd() * 1000),
    dst_port: pick([53, 80, 443, 443, 8080]),
    packets_fwd: 1 + Math.floor(rnd() * 20),
    bytes_fwd: 40 + Math.floor(rnd() * 5000),
    packets_rev: Math.floor(rnd() * 20),
    bytes_rev: Math.floor(rnd() * 9000),
    end_reason: pick(['idle', 'fin', 'rst']),
    vlan_id: rnd() < 0.5 ? 100 : null,
  });
}
const FROM = '2026-02-01T00:00:00Z';
const TO = '2026-02-02T00:00:00Z';

// ---- independent membership check (binary strings, no bigint range arithmetic) ----
function bits(addr: string): string {
  const { version, hi, lo } = addressHalves(addr);
  const all = hi.toString(2).padStart(64, '0') + lo.toString(2).padStart(64, '0');
  return version === 4 ? all.slice(96) : all;
}
function inCidr(addr: string, cidr: string): boolean {
  const [net, len] = cidr.split('/');
  const isV4 = !net.includes(':');
  if (isV4 !== !addr.includes(':')) return false;
  return bits(addr).slice(0, Number(len)) === bits(net).slice(0, Number(len));
}

let dir: string;
let engine: DuckDbEngine;
let dev: DevIssuer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flowseal-api-'));
  await makeArchive(dir, { dataset: 'lab', rows: ROWS });
  await makeArchive(dir, { dataset: 'other', rows: ROWS.slice(0, 10), runId: 'r2' });
  // Files without a committing manifest (a processor killed while publishing): never visible.
  await makeArchive(dir, { dataset: 'partial', rows: ROWS.slice(0, 10), runId: 'r3', manifest: false });
  await makeArchive(dir, { dataset: 'other', rows: ROWS.slice(0, 7), runId: 'r4', manifest: false });
  engine = await createDuckDbEngine({ archiveDir: dir, threads: 1, memoryLimit: '256MB' });
  const files = new Map<string, string>();
  dev = await createDevIssuer({ read: async (n) => files.get(n) ?? null, write: async (n, t) => void files.set(n, t) });
});
after(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Harness {
  call(method: string, path: string, opts?: { token?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> }): Promise<{ status: number; headers: Headers; json: any; text: string }>;
  audit: MemoryAuditSink;
  runs: string[];
  /** Bound parameters of each engine run, aligned with `runs`. */
  params: unknown[][];
  logged: unknown[];
  token(scopes: string[], extra?: Record<string, unknown>): Promise<string>;
}

async function harness(config: Record<string, unknown> = {}, engineOverride?: QueryEngine): Promise<Harness> {
  const audit = createMemoryAuditSink();
  const runs: string[] = [];
  const params: unknown[][] = [];
  const logged: unknown[] = [];
  const logger: Logger = { info: () => {}, error: (m, f) => void logged.push({ m, f }) };
  const base = engineOverride ?? engine;
  const spy: QueryEngine = {
    listDatasets: () => base.listDatasets(),
    execute: (plan, o) => {
      // What the adapter will run, for inspection (it compiles the plan itself).
      const files = 'datasetFiles' in base ? (base as DuckDbEngine).datasetFiles(plan.dataset) : [];
      const q = compilePlan(plan, files);
      runs.push(q.sql);
      params.push([...q.params]);
      return base.execute(plan, o);
    },
  };
  const app = createApp({
    engine: spy,
    verifier: createJoseVerifier({ issuers: [{ issuer: dev.issuer, audience: dev.audience, algorithms: ['ES256'], jwks: dev.jwks }] }),
    rateLimit: createMemoryRateLimitStore(),
    audit,
    config: ApiConfig.parse({ rateLimit: { burst: 1000, perMinute: 1000 }, ...config }),
    logger,
  });
  let n = 0;
  return {
    audit,
    runs,
    params,
    logged,
    token: (scopes, extra) => dev.signToken('alice', scopes, 600, extra),
    async call(method, path, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      const token = opts.token === undefined ? await dev.signToken('alice', ['query', 'records', 'datasets:read'], 600) : opts.token;
      if (token !== null) headers.Authorization = `Bearer ${token}`;
      let body: string | undefined = opts.raw;
      if (opts.body !== undefined) {
        body = JSON.stringify(opts.body);
        headers['Content-Type'] ??= 'application/json';
      }
      n += 1;
      const res = await app.request(path, { method, headers, body });
      const text = await res.text();
      let json: any = null;
      try { json = JSON.parse(text); } catch { json = null; }
      return { status: res.status, headers: res.headers, json, text };
    },
  };
}

const q = (extra: Record<string, unknown>) => ({ dataset: 'lab', timeRange: { from: FROM, to: TO }, ...extra });

test('healthz needs no token', async () => {
  const h = await harness();
  const r = await h.call('GET', '/healthz', { token: null });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { ok: true });
});

test('auth failures: missing, malformed header, bad token, expired — with envelope and challenge', async () => {
  const h = await harness();
  const missing = await h.call('GET', '/v1/datasets', { token: null });
  assert.equal(missing.status, 401);
  assert.equal(missing.json.error.code, 'ERR_AUTH_MISSING');
  assert.match(missing.headers.get('WWW-Authenticate') ?? '', /^Bearer/);
  assert.equal(missing.json.error.requestId, missing.headers.get('X-Request-Id'));
  const basic = await h.call('GET', '/v1/datasets', { token: null, headers: { Authorization: 'Basic abc' } });
  assert.equal(basic.json.error.code, 'ERR_AUTH_INVALID');
  const garbage = await h.call('GET', '/v1/datasets', { token: 'abc.def.ghi' });
  assert.equal(garbage.json.error.code, 'ERR_AUTH_INVALID');
  const expired = await dev.signToken('alice', ['query'], -120);
  const exp = await h.call('GET', '/v1/datasets', { token: expired });
  assert.equal(exp.status, 401);
  assert.equal(exp.json.error.code, 'ERR_AUTH_EXPIRED');
  assert.equal(h.audit.entries.length, 4);
  assert.equal(h.audit.entries[0].errorCode, 'ERR_AUTH_MISSING');
  assert.ok(!JSON.stringify(h.audit.entries).includes(expired), 'audit must never contain the token');
});

test('datasets: listing, detail with schema/time range/policy, datasets claim hides others', async () => {
  const h = await harness();
  const list = await h.call('GET', '/v1/datasets', { token: await h.token(['datasets:read']) });
  assert.equal(list.status, 200);
  assert.deepEqual(list.json.datasets.map((d: any) => d.id), ['lab', 'other']);
  const lab = list.json.datasets[0];
  assert.equal(lab.flows, 300);
  assert.deepEqual(lab.policyHashes, ['sha256:test-policy']);
  const times = ROWS.map((r) => Date.parse(r.time_start));
  // Without the records scope the range is widened to whole minutes (api/routes/datasets.test.ts).
  assert.equal(Date.parse(lab.timeRange.from), Math.floor(Math.min(...times) / 60_000) * 60_000);
  // 'other' has one committed run (r2) and the uncommitted files of r4, which count nowhere
  assert.equal(list.json.datasets[1].flows, 10);
  assert.equal(list.json.datasets[1].runs, 1);
  assert.deepEqual(list.json.datasets[1].keyIds, ['kid-test']);
  const detail = await h.call('GET', '/v1/datasets/lab');
  assert.equal(detail.status, 200);
  const names = detail.json.columns.map((c: any) => c.name);
  assert.ok(names.includes('dst_port') && !names.includes('src_addr_hi'));
  assert.equal(detail.json.columns.find((c: any) => c.name === 'protocol').type, 'UTINYINT');
  const limited = await h.token(['query', 'datasets:read'], { datasets: ['other'] });
  const l2 = await h.call('GET', '/v1/datasets', { token: limited });
  assert.deepEqual(l2.json.datasets.map((d: any) => d.id), ['other']);
  const hidden = await h.call('POST', '/v1/query', { token: limited, body: q({ groupBy: ['protocol'] }) });
  assert.equal(hidden.status, 404);
  assert.equal(hidden.json.error.code, 'ERR_DATASET_NOT_FOUND');
  assert.equal((await h.call('GET', '/v1/datasets/nope')).status, 404);
  assert.equal((await h.call('GET', '/v1/datasets/..%2F..%2Fetc')).status, 404);
});

test('scopes: datasets:read cannot query; query without records cannot list records', async () => {
  const h = await harness();
  const r1 = await h.call('POST', '/v1/query', { token: await h.token(['datasets:read']), body: q({ groupBy: ['protocol'] }) });
  assert.equal(r1.status, 403);
  assert.equal(r1.json.error.code, 'ERR_FORBIDDEN');
  const aggOnly = await h.token(['query']);
  assert.equal((await h.call('POST', '/v1/query', { token: aggOnly, body: q({ groupBy: ['protocol'] }) })).status, 200);
  const rec = await h.call('POST', '/v1/query', { token: aggOnly, body: q({}) });
  assert.equal(rec.status, 403);
  assert.equal(h.runs.length, 1, 'forbidden queries must not reach the engine');
});

test('hostile input is rejected with 400 before reaching the engine, without echoing it', async () => {
  const h = await harness();
  const huge = 'x'.repeat(5000);
  const bodies: unknown[] = [
    q({ dataset: "lab'; DROP TABLE flows; --" }),
    q({ dataset: '../etc' }),
    q({ groupBy: ['src_port; DROP TABLE x'] }),
    q({ groupBy: ['src_addr_hi'] }),
    q({ groupBy: ['protocol'], orderBy: [{ by: '1; SELECT 1', dir: 'asc' }] }),
    q({ groupBy: ['protocol'], orderBy: [{ by: 'src_addr_hi' }] }),
    q({ filter: { srcNet: "10.0.0.0/8' OR 1=1 --" } }),
    q({ filter: { srcNet: '10.0.0.256/8' } }),
    q({ filter: { dstPort: '443 OR 1=1' } }),
    q({ filter: { endReason: "idle' OR '1'='1" } }),
    q({ filter: { [huge]: 1 } }),
    q({ groupBy: ['protocol'], metrics: ['sum(bytes)'] }),
    q({ timeRange: { from: "2026-01-01'; --", to: TO } }),
    { ...q({}), extra: 1 },
  ];
  for (const body of bodies) {
    const r = await h.call('POST', '/v1/query', { body });
    assert.equal(r.status, 400, JSON.stringify(body).slice(0, 80));
    assert.match(r.json.error.code, /^ERR_QUERY_(INVALID|FILTER_INVALID)$/);
    assert.ok(r.text.length < 4000 && !r.text.includes(huge.slice(0, 200)), 'error must not echo huge input');
  }
  assert.equal(h.runs.length, 0);
  const r = await h.call('POST', '/v1/query', { body: q({ groupBy: ['protocol', 'ip_version'], orderBy: [{ by: 'nosuch' }] }) });
  assert.equal(r.status, 400);
  assert.ok(r.json.error.message.length < 200);
});

test('request limits: 413 body too large, 415 non-JSON, 400 bad JSON, 400 too long time range', async () => {
  const h = await harness({ limits: { maxBodyBytes: 1024, maxTimeRangeDays: 2 } });
  const big = await h.call('POST', '/v1/query', { raw: JSON.stringify({ pad: 'x'.repeat(4000) }), headers: { 'Content-Type': 'application/json' } });
  assert.equal(big.status, 413);
  assert.equal(big.json.error.code, 'ERR_PAYLOAD_TOO_LARGE');
  const txt = await h.call('POST', '/v1/query', { raw: 'hello', headers: { 'Content-Type': 'text/plain' } });
  assert.equal(txt.status, 415);
  const bad = await h.call('POST', '/v1/query', { raw: '{"dataset":', headers: { 'Content-Type': 'application/json' } });
  assert.equal(bad.status, 400);
  const long = await h.call('POST', '/v1/query', { body: { dataset: 'lab', timeRange: { from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z' }, groupBy: ['protocol'] } });
  assert.equal(long.status, 400);
  assert.equal(long.json.error.code, 'ERR_QUERY_TOO_LARGE');
  const inverted = await h.call('POST', '/v1/query', { body: { dataset: 'lab', timeRange: { from: TO, to: FROM }, groupBy: ['protocol'] } });
  assert.equal(inverted.json.error.code, 'ERR_QUERY_INVALID');
});

async function countWhere(h: Harness, filter: unknown): Promise<number> {
  const r = await h.call('POST', '/v1/query', { body: q({ filter, groupBy: [], metrics: ['flows'] }) });
  assert.equal(r.status, 200, r.text);
  return r.json.rows.length === 0 ? 0 : r.json.rows[0][0];
}

test('CIDR filters (IPv4 and IPv6, src/dst/either) match an independent bit-string computation', async () => {
  const h = await harness();
  const cidrs = ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '10.1.2.200/32', '192.168.1.10/31', '0.0.0.0/0', '172.16.0.0/12',
    '2001:db8::/32', '2001:db8::/48', '2001:db8:0:1::/64', '2001:db8::/126', '2001:db8::2/128', 'fe80::/10', '2001:db8:aaaa::/48'];
  for (const cidr of cidrs) {
    const expectSrc = ROWS.filter((r) => inCidr(r.src_addr, cidr)).length;
    const expectDst = ROWS.filter((r) => inCidr(r.dst_addr, cidr)).length;
    const expectAny = ROWS.filter((r) => inCidr(r.src_addr, cidr) || inCidr(r.dst_addr, cidr)).length;
    assert.equal(await countWhere(h, { srcNet: cidr }), expectSrc, `srcNet ${cidr}`);
    assert.equal(await countWhere(h, { dstNet: cidr }), expectDst, `dstNet ${cidr}`);
    assert.equal(await countWhere(h, { net: cidr }), expectAny, `net ${cidr}`);
  }
  // IPv4-mapped IPv6 notation means the IPv4 network
  assert.equal(await countWhere(h, { srcNet: '::ffff:10.1.0.0/112' }), ROWS.filter((r) => inCidr(r.src_addr, '10.1.0.0/16')).length);
  // combinators: not / or / and, and NOT keeps rows whose vlan is NULL
  const expectNot = ROWS.filter((r) => !(r.dst_port === 443 || inCidr(r.src_addr, '10.0.0.0/8'))).length;
  assert.equal(await countWhere(h, { not: { or: [{ dstPort: 443 }, { srcNet: '10.0.0.0/8' }] } }), expectNot);
  assert.equal(await countWhere(h, { not: { vlanId: 100 } }), ROWS.filter((r) => r.vlan_id !== 100).length);
  const expectAnd = ROWS.filter((r) => r.protocol === 6 && r.dst_port! >= 80 && r.dst_port! <= 443 && (r.bytes_fwd! + r.bytes_rev!) >= 3000).length;
  assert.equal(await countWhere(h, { protocol: [6], dstPort: { min: 80, max: 443 }, bytes: { min: 3000 } }), expectAnd);
});

test('group-by with metrics and prefix masks agrees with JS aggregation', async () => {
  const h = await harness();
  const r = await h.call('POST', '/v1/query', { body: q({ groupBy: ['dst_port'], metrics: ['flows', 'bytes', 'packets_fwd'], orderBy: [{ by: 'dst_port', dir: 'asc' }] }) });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.columns.map((c: any) => c.name), ['dst_port', 'flows', 'bytes', 'packets_fwd']);
  const expected = new Map<number, [number, number, number]>();
  for (const row of ROWS) {
    const e = expected.get(row.dst_port!) ?? [0, 0, 0];
    expected.set(row.dst_port!, [e[0] + 1, e[1] + row.bytes_fwd! + row.bytes_rev!, e[2] + row.packets_fwd!]);
  }
  assert.deepEqual(r.json.rows, [...expected].sort((a, b) => a[0] - b[0]).map(([p, v]) => [p, ...v]));

  const nets = await h.call('POST', '/v1/query', { body: q({ groupBy: [{ column: 'src_addr', prefixV4: 16, prefixV6: 32 }], metrics: ['flows'], limit: 100 }) });
  assert.equal(nets.status, 200, nets.text);
  const got = new Map<string, number>(nets.json.rows.map((x: any) => [x[0], x[1]]));
  const want = new Map<string, number>();
  for (const row of ROWS) {
    let key: string;
    if (row.src_addr.includes(':')) {
      const b = bits(row.src_addr).slice(0, 32).padEnd(128, '0');
      const groups = b.match(/.{16}/g)!.map((g) => parseInt(g, 2).toString(16));
      key = groups[1] === '0' ? `${groups[0]}::/32` : `${groups[0]}:${groups[1]}::/32`;
    } else {
      key = `${row.src_addr.split('.').slice(0, 2).join('.')}.0.0/16`;
    }
    want.set(key, (want.get(key) ?? 0) + 1);
  }
  assert.deepEqual(new Map([...got].sort()), new Map([...want].sort()));

  const ts = await h.call('GET', `/v1/datasets/lab/timeseries?from=${FROM}&to=${TO}&bucket=1h&metric=flows`);
  assert.equal(ts.status, 200, ts.text);
  // Zero-filled: every hour of the range, the flows only in 10–12 h.
  assert.deepEqual(ts.json.rows.map((x: any) => x[0]), Array.from({ length: 24 }, (_, i) => `2026-02-01T${String(i).padStart(2, '0')}:00:00.000000Z`));
  assert.deepEqual(ts.json.rows.filter((x: any) => x[1] > 0).map((x: any) => x[0]), ['2026-02-01T10:00:00.000000Z', '2026-02-01T11:00:00.000000Z', '2026-02-01T12:00:00.000000Z']);
  assert.equal(ts.json.rows.reduce((n: number, x: any) => n + x[1], 0), 300);
  const top = await h.call('GET', `/v1/datasets/lab/top?from=${FROM}&to=${TO}&by=dst_port&metric=bytes&n=2`);
  assert.equal(top.json.rows.length, 2);
  assert.equal(top.json.stats.truncated, true);
  const best = [...expected].sort((a, b) => b[1][1] - a[1][1])[0];
  assert.deepEqual(top.json.rows[0], [best[0], best[1][1]]);
});

test('time range narrows results and prunes partitions', async () => {
  const h = await harness();
  const from = '2026-02-01T11:30:00Z';
  const to = '2026-02-01T12:15:00Z';
  const r = await h.call('POST', '/v1/query', { body: { dataset: 'lab', timeRange: { from, to }, groupBy: [], metrics: ['flows'] } });
  const want = ROWS.filter((x) => Date.parse(x.time_start) >= Date.parse(from) && Date.parse(x.time_start) < Date.parse(to)).length;
  assert.equal(r.json.rows[0][0], want);
  assert.match(h.runs[0], /hour >= \$\d+/);
});

test('record listing: capped, truncated, per-period budget, audit entries', async () => {
  const h = await harness({ limits: { maxRecordRows: 50, maxRowsPerPeriod: 120 } });
  const first = await h.call('POST', '/v1/query', { body: q({ select: ['time_start', 'src_addr', 'dst_port'] }) });
  assert.equal(first.status, 200, first.text);
  assert.equal(first.json.rows.length, 50);
  assert.equal(first.json.stats.truncated, true);
  assert.equal(first.json.stats.recordBudgetRemaining, 70);
  const sorted = [...ROWS].sort((a, b) => Date.parse(a.time_start) - Date.parse(b.time_start));
  assert.equal(Date.parse(first.json.rows[0][0]), Date.parse(sorted[0].time_start));
  const small = await h.call('POST', '/v1/query', { body: q({ limit: 5, filter: { srcNet: '10.1.2.200/32' } }) });
  assert.equal(small.json.rows.length, 5);
  assert.ok(small.json.rows.every((row: any[]) => row[small.json.columns.findIndex((c: any) => c.name === 'src_addr')] === '10.1.2.200'));
  await h.call('POST', '/v1/query', { body: q({}) }); // 50 more → 105 used
  const last = await h.call('GET', `/v1/datasets/lab/records?from=${FROM}&to=${TO}`);
  assert.equal(last.status, 200);
  assert.equal(last.json.rows.length, 15, 'capped by the remaining budget');
  assert.equal(last.json.stats.truncated, true);
  const over = await h.call('POST', '/v1/query', { body: q({}) });
  assert.equal(over.status, 429);
  assert.equal(over.json.error.code, 'ERR_RATE_LIMITED');
  const entry = h.audit.entries.find((e) => e.requestId === first.headers.get('X-Request-Id'))!;
  assert.equal(entry.subject, 'alice');
  assert.equal(entry.dataset, 'lab');
  assert.equal(entry.rows, 50);
  assert.equal(entry.status, 200);
  assert.deepEqual((entry.query as any).select, ['time_start', 'src_addr', 'dst_port']);
  assert.equal(h.audit.entries.at(-1)!.status, 429);
});

test('minGroupSize suppresses small groups and reports how many', async () => {
  const h = await harness({ limits: { minGroupSize: 25 } });
  const r = await h.call('POST', '/v1/query', { body: q({ groupBy: ['src_addr', 'dst_port'], metrics: ['flows'] }) });
  assert.equal(r.status, 200, r.text);
  const counts = new Map<string, number>();
  for (const row of ROWS) counts.set(`${row.src_addr}|${row.dst_port}`, (counts.get(`${row.src_addr}|${row.dst_port}`) ?? 0) + 1);
  const kept = [...counts.values()].filter((n) => n >= 25).length;
  assert.equal(r.json.rows.length, kept);
  assert.equal(r.json.stats.suppressedGroups, counts.size - kept);
  assert.ok(r.json.rows.every((row: any[]) => row[2] >= 25));
  const none = await h.call('POST', '/v1/query', { body: q({ groupBy: ['src_port'], metrics: ['flows'] }) });
  assert.equal(none.json.rows.length, 0);
  assert.ok(none.json.stats.suppressedGroups > 0);
});

test('per-connection group keys need the records scope; groups and totals under 5 flows are withheld by default', async () => {
  const h = await harness({ limits: { maxRowsPerPeriod: 1000 } });
  const aggOnly = await h.token(['query']);
  const perConnection = [
    ['src_addr', 'src_port', 'dst_addr', 'dst_port'],
    [{ timeBucket: '1m' }, { column: 'src_addr', prefixV4: 32, prefixV6: 128 }, 'dst_addr', 'src_port', 'dst_port', 'protocol'],
  ];
  for (const groupBy of perConnection) {
    const r = await h.call('POST', '/v1/query', { token: aggOnly, body: q({ groupBy, metrics: ['flows', 'bytes_fwd'] }) });
    assert.equal(r.status, 403, JSON.stringify(groupBy));
    assert.equal(r.json.error.code, 'ERR_FORBIDDEN');
  }
  assert.equal(h.runs.length, 0);
  // a /24 source prefix is an aggregate: allowed, and no row describes fewer than 5 flows
  const coarse = await h.call('POST', '/v1/query', { token: aggOnly, body: q({ groupBy: [{ column: 'src_addr', prefixV4: 24 }, 'dst_addr', 'dst_port'], metrics: ['flows'] }) });
  assert.equal(coarse.status, 200, coarse.text);
  assert.equal(coarse.json.stats.minGroupSize, 5);
  assert.ok(coarse.json.rows.every((row: any[]) => row[3] >= 5));
  assert.ok(coarse.json.stats.suppressedGroups > 0);
  assert.equal(coarse.json.stats.recordBudgetRemaining, undefined);
  // a total over fewer than 5 flows is withheld too
  const portCounts = new Map<number, number>();
  for (const row of ROWS) portCounts.set(row.src_port!, (portCounts.get(row.src_port!) ?? 0) + 1);
  const rare = [...portCounts].find(([, n]) => n < 5)![0];
  const total = await h.call('POST', '/v1/query', { token: aggOnly, body: q({ filter: { srcPort: rare }, groupBy: [], metrics: ['flows', 'bytes'] }) });
  assert.equal(total.status, 200, total.text);
  assert.deepEqual(total.json.rows, []);
  assert.equal(total.json.stats.suppressedGroups, 0, 'one withheld total is fewer than 5 groups: reported as 0');
  assert.equal(total.json.stats.minGroupSize, 5);
  // with `records`, per-connection groups are served and charged to the record budget
  const listing = await h.call('POST', '/v1/query', { body: q({ groupBy: perConnection[0], metrics: ['flows'] }) });
  assert.equal(listing.status, 200, listing.text);
  assert.equal(listing.json.stats.recordBudgetRemaining, 1000 - listing.json.rows.length);
  const after = await h.call('POST', '/v1/query', { body: q({ limit: 1 }) });
  assert.equal(after.json.stats.recordBudgetRemaining, 1000 - listing.json.rows.length - 1);
  // minGroupSize 1 must be asked for explicitly; then single-flow totals are served
  const open = await harness({ limits: { minGroupSize: 1 } });
  const one = await open.call('POST', '/v1/query', { token: aggOnly, body: q({ filter: { srcPort: rare }, groupBy: [], metrics: ['flows'] }) });
  assert.deepEqual(one.json.rows, [[portCounts.get(rare)]]);
  assert.equal(one.json.stats.minGroupSize, 1);
});

test('record budget: concurrent listings cannot overspend it; failed queries refund their reservation', async () => {
  const h = await harness({ limits: { maxRecordRows: 50, maxRowsPerPeriod: 120 } });
  const results = await Promise.all(Array.from({ length: 8 }, () => h.call('POST', '/v1/query', { body: q({}) })));
  const served = results.filter((r) => r.status === 200).reduce((n, r) => n + r.json.rows.length, 0);
  assert.equal(served, 120, 'exactly the budget, however the requests interleave');
  assert.ok(results.every((r) => r.status === 200 || r.json.error.code === 'ERR_RATE_LIMITED'));

  let fail = true;
  const flaky: QueryEngine = {
    listDatasets: () => engine.listDatasets(),
    execute: async (plan, o) => {
      if (fail) throw new Error('engine down');
      return engine.execute(plan, o);
    },
  };
  const f = await harness({ limits: { maxRecordRows: 50, maxRowsPerPeriod: 120 } }, flaky);
  for (let i = 0; i < 3; i += 1) assert.equal((await f.call('POST', '/v1/query', { body: q({}) })).status, 500);
  fail = false;
  const ok = await f.call('POST', '/v1/query', { body: q({}) });
  assert.equal(ok.json.rows.length, 50);
  assert.equal(ok.json.stats.recordBudgetRemaining, 70);
});

test('a deeply nested filter is a 400 ERR_QUERY_FILTER_INVALID, not a stack overflow', async () => {
  const h = await harness();
  let deep = '{"protocol":6}';
  for (let i = 0; i < 6000; i += 1) deep = `{"not":${deep}}`;
  const raw = JSON.stringify(q({ groupBy: [] })).replace(/}$/, `,"filter":${deep}}`);
  const r = await h.call('POST', '/v1/query', { raw, headers: { 'Content-Type': 'application/json' } });
  assert.equal(r.status, 400, r.text.slice(0, 200));
  assert.equal(r.json.error.code, 'ERR_QUERY_FILTER_INVALID');
  assert.deepEqual(h.logged, []);
  const nest = (levels: number) => {
    let f: unknown = { protocol: 6 };
    for (let i = 0; i < levels; i += 1) f = { not: f };
    return f;
  };
  const get = await h.call('GET', `/v1/datasets/lab/records?from=${FROM}&to=${TO}&filter=${encodeURIComponent(JSON.stringify(nest(17)))}`);
  assert.equal(get.json.error.code, 'ERR_QUERY_FILTER_INVALID');
  assert.equal(h.runs.length, 0);
  const sixteen = await h.call('POST', '/v1/query', { body: q({ filter: nest(16), groupBy: [], metrics: ['flows'] }) });
  assert.equal(sixteen.status, 200, sixteen.text);
  assert.deepEqual(sixteen.json.rows, [[ROWS.filter((x) => x.protocol === 6).length]]);
});

test('no route lets a user path reach the engine: every path is under the archive, never the spill directory', async () => {
  const h = await harness({ limits: { minGroupSize: 1 } });
  const spill = String((await engine.runSql("SELECT current_setting('temp_directory')", [], { maxRows: 1, timeoutMs: 5000 })).rows[0][0]);
  assert.ok(spill.length > 1 && !spill.startsWith(`${dir}/`));
  const spillName = spill.split('/').at(-1)!;
  const hostile = [spill, `..${spill}`, spillName, `../${spillName}`, encodeURIComponent(`../../${spill}`)];
  for (const id of hostile) {
    // 400 (not a dataset id) or 404 (a well-formed id that is no dataset: the mkdtemp name can
    // be all lowercase); either way nothing reaches the engine (checked below).
    assert.ok([400, 404].includes((await h.call('POST', '/v1/query', { body: q({ dataset: id, groupBy: [] }) })).status), id);
    assert.ok([400, 404].includes((await h.call('GET', `/v1/datasets/${encodeURIComponent(id)}/records?from=${FROM}&to=${TO}`)).status), id);
    assert.equal((await h.call('GET', `/v1/datasets/${encodeURIComponent(id)}`)).status, 404, id);
  }
  assert.equal(h.runs.length, 0);
  await h.call('GET', '/v1/datasets');
  await h.call('GET', '/v1/datasets/lab');
  await h.call('POST', '/v1/query', { body: q({ groupBy: ['protocol'] }) });
  await h.call('POST', '/v1/query', { body: q({ limit: 3 }) });
  await h.call('GET', `/v1/datasets/lab/records?from=${FROM}&to=${TO}&limit=2`);
  await h.call('GET', `/v1/datasets/other/top?from=${FROM}&to=${TO}&by=dst_port`);
  await h.call('GET', `/v1/datasets/lab/timeseries?from=${FROM}&to=${TO}`);
  assert.equal(h.runs.length, 5);
  for (const [i, sql] of h.runs.entries()) {
    assert.ok(!sql.includes('/'), 'no path is spliced into SQL text');
    assert.ok(!h.params[i].some((v) => typeof v === 'string' && v.includes('/')), 'paths are bound only as the file list');
    const lists = h.params[i].filter((v): v is string[] => Array.isArray(v));
    assert.equal(lists.length, 1);
    const paths = lists[0]!;
    assert.ok(paths.length > 0);
    assert.ok(paths.every((p) => p.startsWith(`${dir}/`) && !p.includes('..') && !p.startsWith(spill) && p.endsWith(".parquet")), paths.join());
    // Only committed files: never those of the uncommitted run r4.
    assert.ok(!paths.some((p) => p.includes('/r4-')), paths.join());
  }
});

test('rate limit: 429 with Retry-After and RateLimit-* headers on every response', async () => {
  const h = await harness({ rateLimit: { burst: 4, perMinute: 1, queryCost: 2 } });
  const a = await h.call('GET', '/v1/datasets');
  assert.equal(a.headers.get('RateLimit-Limit'), '4');
  assert.equal(a.headers.get('RateLimit-Remaining'), '3');
  const b = await h.call('POST', '/v1/query', { body: q({ groupBy: ['protocol'] }) });
  assert.equal(b.status, 200);
  assert.equal(b.headers.get('RateLimit-Remaining'), '1');
  const c = await h.call('POST', '/v1/query', { body: q({ groupBy: ['protocol'] }) });
  assert.equal(c.status, 429);
  assert.equal(c.json.error.code, 'ERR_RATE_LIMITED');
  assert.ok(Number(c.headers.get('Retry-After')) >= 1);
  assert.equal(c.headers.get('RateLimit-Remaining'), '1');
  assert.ok(Number(c.headers.get('RateLimit-Reset')) > 0);
});

test('unknown errors become a generic 500 and are logged', async () => {
  const broken: QueryEngine = {
    listDatasets: () => engine.listDatasets(),
    execute: async () => { throw new Error('boom at /secret/archive/path'); },
  };
  const h = await harness({}, broken);
  const r = await h.call('POST', '/v1/query', { body: q({ groupBy: ['protocol'] }) });
  assert.equal(r.status, 500);
  assert.deepEqual(Object.keys(r.json.error).sort(), ['code', 'message', 'requestId']);
  assert.equal(r.json.error.code, 'ERR_INTERNAL');
  assert.ok(!r.text.includes('secret'));
  assert.equal(h.logged.length, 1);
});

test('openapi document is generated from the schemas', async () => {
  const h = await harness();
  const r = await h.call('GET', '/openapi.json', { token: null });
  assert.equal(r.status, 200);
  assert.ok(r.json.components.schemas.QueryRequest.properties.timeRange);
  assert.ok(r.json.paths['/v1/query'].post);
  assert.ok(r.json.paths['/v1/query'].post.responses['503'], 'a full queue (ERR_OVERLOADED) is a documented answer');
  for (const [path, method] of [['/v1/query', 'post'], ['/v1/datasets/{id}/records', 'get'], ['/v1/datasets/{id}/top', 'get'], ['/v1/datasets/{id}/timeseries', 'get']] as const) {
    const op = r.json.paths[path][method];
    assert.deepEqual(Object.keys(op.responses['200'].content).sort(), ['application/json', 'application/vnd.apache.arrow.stream', 'application/vnd.apache.parquet', 'application/x-ndjson', 'text/csv'], path);
    assert.deepEqual(op.parameters.find((p: any) => p.name === 'format')?.schema.enum, ['json', 'ndjson', 'csv', 'arrow', 'parquet'], path);
    assert.ok(op.responses['406'], path);
  }
  // The protocol filter documents names as well as numbers (the request schema's input side).
  assert.match(JSON.stringify(r.json.components.schemas.QueryFilter), /"enum":\["icmp","igmp","tcp","udp"/);
});

test('formats: JSON by default, NDJSON and CSV by Accept or ?format=, the same rows exactly; 406 costs no query', async () => {
  const h = await harness({ limits: { minGroupSize: 1 } });
  const body = q({ groupBy: ['dst_port'], metrics: ['flows', 'bytes'], orderBy: [{ by: 'dst_port', dir: 'asc' }] });
  const json = await h.call('POST', '/v1/query', { body });
  assert.equal(json.status, 200);
  assert.match(json.headers.get('Content-Type') ?? '', /^application\/json/);
  const names = json.json.columns.map((c: any) => c.name);
  assert.ok(json.json.rows.length > 1);

  const nd = await h.call('POST', '/v1/query', { body, headers: { Accept: 'application/x-ndjson' } });
  assert.equal(nd.status, 200);
  assert.match(nd.headers.get('Content-Type') ?? '', /^application\/x-ndjson/);
  const objects = nd.text.trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(objects, json.json.rows.map((r: unknown[]) => Object.fromEntries(names.map((n: string, i: number) => [n, r[i]]))));
  assert.equal(JSON.parse(nd.headers.get('Flowseal-Stats')!).rows, json.json.rows.length);

  const csv = await h.call('POST', '/v1/query?format=csv', { body, headers: { Accept: 'application/json' } });
  assert.equal(csv.status, 200, '?format= wins over Accept');
  assert.match(csv.headers.get('Content-Type') ?? '', /^text\/csv/);
  const [header, ...lines] = csv.text.trimEnd().split('\r\n');
  assert.equal(header, names.join(','));
  assert.deepEqual(lines.map((l) => l.split(',')), json.json.rows.map((r: unknown[]) => r.map((v) => (v === null ? '' : String(v)))));

  const gets = await h.call('GET', `/v1/datasets/lab/top?from=${FROM}&to=${TO}&by=dst_port&n=3`, { headers: { Accept: 'text/csv;q=0.9, application/x-ndjson;q=0.5' } });
  assert.match(gets.headers.get('Content-Type') ?? '', /^text\/csv/, 'q-values pick CSV');

  const before = h.runs.length;
  const refused = await h.call('POST', '/v1/query', { body, headers: { Accept: 'image/png' } });
  assert.equal(refused.status, 406);
  assert.equal(refused.json.error.code, 'ERR_NOT_ACCEPTABLE');
  assert.match(refused.json.error.message, /text\/csv/);
  assert.equal((await h.call('POST', '/v1/query?format=xml', { body })).status, 406);
  assert.equal(h.runs.length, before, 'refused formats never reach the engine');
});
