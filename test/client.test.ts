/**
 * The TS client (client/index.ts) against the real API over HTTP: every method, the answer
 * formats, errors as FlowsealApiError, the 429 back-off against a rate limit configured low
 * (no mock server), and record pages followed over `stats.nextCursor`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowsealApiError, FlowsealClient, statsFromHeaders } from '../client/index.ts';
import type { RetryInfo } from '../client/index.ts';
import { SAMPLE_FROM, SAMPLE_TO, sampleRows, skipUnlessContract, startTestApi } from './support/api-server.ts';
import type { TestApi } from './support/api-server.ts';

const ROWS = sampleRows();
const ALL = ['datasets:read', 'query', 'records'];

/** flows and bytes per dst_port, computed from the fixture rows (independent of the server). */
function byPort(): Map<number, { flows: number; bytes: number }> {
  const m = new Map<number, { flows: number; bytes: number }>();
  for (const r of ROWS) {
    const e = m.get(r.dst_port!) ?? { flows: 0, bytes: 0 };
    e.flows += 1;
    e.bytes += r.bytes_fwd! + r.bytes_rev!;
    m.set(r.dst_port!, e);
  }
  return m;
}

describe('FlowsealClient against the real API', () => {
  let api: TestApi;
  let client: FlowsealClient;
  before(async () => {
    // Small record pages so a listing needs several of them.
    api = await startTestApi({ config: { limits: { maxRecordRows: 7 }, rateLimit: { burst: 1000, perMinute: 1000 } } });
    client = new FlowsealClient({ baseUrl: api.url, token: await api.token(ALL) });
  });
  after(async () => {
    await api?.close();
  });

  test('datasets() and dataset(id)', async () => {
    const list = await client.datasets();
    assert.deepEqual(list.datasets.map((d) => d.id), ['lab']);
    assert.equal(list.datasets[0]!.flows, ROWS.length);
    assert.ok(list.requestId.length > 0);
    const d = await client.dataset('lab');
    assert.equal(d.id, 'lab');
    assert.equal(d.flows, ROWS.length);
    const first = Math.min(...ROWS.map((r) => Date.parse(r.time_start)));
    assert.equal(Date.parse(d.timeRange.from!), first, 'exact first flow with the records scope');
    assert.ok(d.columns.some((c) => c.name === 'dst_port' && c.queryable));
  });

  test('query(): JSON rows as arrays and as objects agree with the fixture', async () => {
    const req = { dataset: 'lab', timeRange: { from: SAMPLE_FROM, to: SAMPLE_TO }, groupBy: ['dst_port' as const], metrics: ['flows' as const, 'bytes' as const], orderBy: [{ by: 'dst_port', dir: 'asc' as const }] };
    const res = await client.query(req);
    assert.deepEqual(res.columns.map((c) => c.name), ['dst_port', 'flows', 'bytes']);
    const want = [...byPort()].sort((a, b) => a[0] - b[0]).map(([port, e]) => [port, e.flows, e.bytes]);
    assert.deepEqual(res.rows, want);
    assert.equal(res.stats.rows, want.length);
    assert.equal(res.stats.truncated, false);
    const objects = await client.query(req, { shape: 'objects' });
    assert.deepEqual(objects.rows, want.map(([dst_port, flows, bytes]) => ({ dst_port, flows, bytes })));
  });

  test('query(): CSV and NDJSON come back as the Response, stats in Flowseal-Stats', async () => {
    const req = { dataset: 'lab', timeRange: { from: SAMPLE_FROM, to: SAMPLE_TO }, groupBy: [], metrics: ['flows' as const] };
    const csv = await client.query(req, { format: 'csv' });
    assert.match(csv.headers.get('Content-Type') ?? '', /^text\/csv/);
    assert.equal(await csv.text(), `flows\r\n${ROWS.length}\r\n`);
    assert.equal(statsFromHeaders(csv)?.rows, 1);
    const nd = await client.query(req, { format: 'ndjson' });
    assert.deepEqual(JSON.parse((await nd.text()).trim()), { flows: ROWS.length });
  });

  test('top() and timeseries() (the convenience GETs)', async () => {
    const top = await client.top({ dataset: 'lab', from: SAMPLE_FROM, to: SAMPLE_TO, by: 'dst_port', metric: 'bytes', n: 2 });
    const want = [...byPort()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 2).map(([port, e]) => [port, e.bytes]);
    assert.deepEqual(top.rows, want);
    const filtered = await client.top({ dataset: 'lab', from: SAMPLE_FROM, to: SAMPLE_TO, by: 'protocol', metric: 'flows', filter: { protocol: 'udp' } });
    assert.deepEqual(filtered.rows, [[17, ROWS.filter((r) => r.protocol === 17).length]]);
    const ts = await client.timeseries({ dataset: 'lab', from: SAMPLE_FROM, to: SAMPLE_TO, bucket: '1h', metric: 'flows' }, { shape: 'objects' });
    const perHour = new Map<string, number>();
    for (const r of ROWS) {
      const h = new Date(Math.floor(Date.parse(r.time_start) / 3_600_000) * 3_600_000).toISOString();
      perHour.set(h, (perHour.get(h) ?? 0) + 1);
    }
    const got = new Map(ts.rows.filter((r) => r.flows !== 0).map((r) => [new Date(String(r.time_bucket)).toISOString(), r.flows]));
    assert.deepEqual(got, perHour);
  });

  test('errors are FlowsealApiError with code, status, message, details and requestId', async () => {
    const missing = await client.dataset('nope').then(() => null, (e: unknown) => e);
    assert.ok(missing instanceof FlowsealApiError);
    assert.equal(missing.code, 'ERR_DATASET_NOT_FOUND');
    assert.equal(missing.status, 404);
    assert.ok(missing.requestId.length > 0);
    const invalid = await client.query({ dataset: 'lab', timeRange: { from: 'yesterday', to: SAMPLE_TO } }).then(() => null, (e: unknown) => e);
    assert.ok(invalid instanceof FlowsealApiError);
    assert.equal(invalid.code, 'ERR_QUERY_INVALID');
    assert.equal(invalid.status, 400);
    assert.ok(Array.isArray(invalid.details?.issues));
    const anonymous = new FlowsealClient({ baseUrl: api.url });
    const refused = await anonymous.datasets().then(() => null, (e: unknown) => e);
    assert.ok(refused instanceof FlowsealApiError);
    assert.equal(refused.code, 'ERR_AUTH_MISSING');
    assert.equal(refused.status, 401);
    const aggregateOnly = new FlowsealClient({ baseUrl: api.url, token: async () => api.token(['query']) });
    const forbidden = await aggregateOnly.query({ dataset: 'lab', timeRange: { from: SAMPLE_FROM, to: SAMPLE_TO } }).then(() => null, (e: unknown) => e);
    assert.ok(forbidden instanceof FlowsealApiError);
    assert.equal(forbidden.code, 'ERR_FORBIDDEN');
    assert.equal(forbidden.status, 403);
  });

  test('an aborted call rejects with the abort reason', async () => {
    const ac = new AbortController();
    const reason = new Error('stop');
    ac.abort(reason);
    await assert.rejects(client.datasets({ signal: ac.signal }), (e: unknown) => e === reason || (e as Error).name === 'AbortError');
  });

  test('records(): one page when the listing fits, cut to maxRows', async () => {
    const req = { dataset: 'lab', timeRange: { from: SAMPLE_FROM, to: SAMPLE_TO }, select: ['time_start' as const, 'dst_port' as const, 'src_port' as const], orderBy: [{ by: 'time_start', dir: 'asc' as const }, { by: 'src_port', dir: 'asc' as const }] };
    const pages = [];
    for await (const page of client.records(req, { maxRows: 5 })) pages.push(page);
    assert.equal(pages.length, 1);
    assert.equal(pages[0]!.rows.length, 5);
    const firstFive = [...ROWS].sort((a, b) => Date.parse(a.time_start) - Date.parse(b.time_start) || a.src_port! - b.src_port!).slice(0, 5);
    assert.deepEqual(pages[0]!.rows.map((r) => r[1]), firstFive.map((r) => r.dst_port));
    await assert.rejects(client.records({ ...req, groupBy: [] }, { maxRows: 1 }).next(), TypeError);
    await assert.rejects(client.records(req, { maxRows: 0 }).next(), TypeError);
  });

  test('records(): follows stats.nextCursor over pages up to maxRows', { skip: skipUnlessContract('cursor', 'record cursors (stats.nextCursor)') }, async () => {
    const req = { dataset: 'lab', timeRange: { from: SAMPLE_FROM, to: SAMPLE_TO }, select: ['time_start' as const, 'src_port' as const, 'dst_port' as const], orderBy: [{ by: 'time_start', dir: 'asc' as const }, { by: 'src_port', dir: 'asc' as const }] };
    const sizes: number[] = [];
    const seen: unknown[][] = [];
    for await (const page of client.records(req, { maxRows: 20 })) {
      sizes.push(page.rows.length);
      seen.push(...page.rows);
    }
    assert.deepEqual(sizes, [7, 7, 6], 'pages of the server cap (7), the last cut to maxRows');
    const sorted = [...ROWS].sort((a, b) => Date.parse(a.time_start) - Date.parse(b.time_start) || a.src_port! - b.src_port!).slice(0, 20);
    assert.deepEqual(seen.map((r) => [r[1], r[2]]), sorted.map((r) => [r.src_port, r.dst_port]), 'no row lost or repeated between pages');
    // All of it: the pages end when the server sends no cursor.
    let total = 0;
    for await (const page of client.records(req, { maxRows: 10_000 })) total += page.rows.length;
    assert.equal(total, ROWS.length);
  });

  test('query(): arrow and parquet come back as bytes', async (t) => {
    const probe = await fetch(`${api.url}/v1/query?format=arrow`, { method: 'POST', headers: { Authorization: `Bearer ${await api.token(ALL)}`, 'Content-Type': 'application/json' }, body: '{}' });
    await probe.body?.cancel();
    if (probe.status === 406) {
      t.skip('the server in this checkout offers no arrow/parquet format yet (406): the format work of issue 7');
      return;
    }
    const req = { dataset: 'lab', timeRange: { from: SAMPLE_FROM, to: SAMPLE_TO }, groupBy: ['dst_port' as const] };
    const arrow = new Uint8Array(await (await client.query(req, { format: 'arrow' })).arrayBuffer());
    assert.ok(arrow.length > 8);
    const parquet = new Uint8Array(await (await client.query(req, { format: 'parquet' })).arrayBuffer());
    assert.equal(new TextDecoder().decode(parquet.subarray(0, 4)), 'PAR1');
    assert.equal(new TextDecoder().decode(parquet.subarray(-4)), 'PAR1');
  });
});

describe('FlowsealClient back-off against a real rate limit', () => {
  let api: TestApi;
  before(async () => {
    // Two requests of burst, then one token a second: the third request in a row gets 429 with Retry-After: 1.
    api = await startTestApi({ config: { rateLimit: { burst: 2, perMinute: 60, queryCost: 1 } } });
  });
  after(async () => {
    await api?.close();
  });

  test('429 is retried after Retry-After and the calls succeed', async () => {
    const retries: RetryInfo[] = [];
    const client = new FlowsealClient({ baseUrl: api.url, token: await api.token(ALL), onRetry: (i) => void retries.push(i) });
    for (let i = 0; i < 4; i++) assert.deepEqual((await client.datasets()).datasets.map((d) => d.id), ['lab']);
    assert.ok(retries.length >= 1, 'at least one call was rate limited and retried');
    for (const r of retries) {
      assert.equal(r.status, 429);
      assert.equal(r.code, 'ERR_RATE_LIMITED');
      assert.ok(r.delayMs >= 1000 && r.delayMs <= 1200, `waits Retry-After (1 s) plus at most 20 % jitter, got ${r.delayMs}`);
    }
  });

  test('without retries the 429 surfaces as FlowsealApiError with retryAfterSec', async () => {
    const client = new FlowsealClient({ baseUrl: api.url, token: await api.token(ALL), retry: { maxRetries: 0 } });
    const errors: unknown[] = [];
    for (let i = 0; i < 4; i++) await client.datasets().catch((e: unknown) => void errors.push(e));
    assert.ok(errors.length >= 1);
    const e = errors[0];
    assert.ok(e instanceof FlowsealApiError);
    assert.equal(e.status, 429);
    assert.equal(e.code, 'ERR_RATE_LIMITED');
    assert.ok(e.retryAfterSec !== undefined && e.retryAfterSec >= 1);
  });

  test('a Retry-After longer than maxDelayMs is not waited for', async () => {
    const retries: RetryInfo[] = [];
    const client = new FlowsealClient({ baseUrl: api.url, token: await api.token(ALL), retry: { maxDelayMs: 500 }, onRetry: (i) => void retries.push(i) });
    const errors: unknown[] = [];
    for (let i = 0; i < 4; i++) await client.datasets().catch((e: unknown) => void errors.push(e));
    assert.equal(retries.length, 0);
    assert.ok(errors.some((e) => e instanceof FlowsealApiError && e.status === 429));
  });

  test('aborting while backing off rejects with the abort reason', async () => {
    const ac = new AbortController();
    const reason = new Error('user gave up');
    let waited = 0;
    const client = new FlowsealClient({
      baseUrl: api.url,
      token: await api.token(ALL),
      onRetry: () => {
        waited += 1;
        ac.abort(reason);
      },
    });
    const outcome = (async () => {
      for (let i = 0; i < 5; i++) await client.datasets({ signal: ac.signal });
    })();
    await assert.rejects(outcome, (e: unknown) => e === reason);
    assert.equal(waited, 1);
  });
});
