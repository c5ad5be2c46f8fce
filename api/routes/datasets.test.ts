/**
 * The dataset listing and detail give exact first/last flow times only to callers with the
 * `records` scope; everyone else sees the range widened to whole minutes (so it still covers
 * every flow), since exact times single out individual flows.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../app.ts';
import { createDuckDbEngine } from '../engine/duckdb-engine.ts';
import type { DuckDbEngine } from '../engine/duckdb-engine.ts';
import { createMemoryRateLimitStore } from '../rate-limit/memory-store.ts';
import { createMemoryAuditSink } from '../audit/memory-sink.ts';
import type { TokenVerifier } from '../ports.ts';
import { ApiConfig } from '../../schemas/api-config.ts';
import { makeArchive } from '../../test/support/make-archive.ts';

let dir: string;
let engine: DuckDbEngine;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flowseal-datasets-'));
  await makeArchive(dir, {
    dataset: 'lab',
    rows: [
      { time_start: '2026-02-01T10:00:12.345Z', time_end: '2026-02-01T10:00:13.000Z', src_addr: '10.0.0.1', dst_addr: '10.0.0.2' },
      { time_start: '2026-02-01T10:05:00.000Z', time_end: '2026-02-01T10:07:41.250Z', src_addr: '10.0.0.3', dst_addr: '10.0.0.2' },
    ],
  });
  engine = await createDuckDbEngine({ archiveDir: dir, threads: 1, memoryLimit: '256MB' });
});
after(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The bearer token is the `+`-separated scope list; `none:` in front gives an empty dataset allow-list. */
const verifier: TokenVerifier = {
  verify: async (token) => ({
    issuer: 'https://idp.test',
    subject: 'ann',
    scopes: new Set(token.replace(/^none:/, '').split('+')),
    groups: [],
    datasets: token.startsWith('none:') ? new Set<string>() : null,
    expiresAt: 0,
  }),
};

test('an empty dataset allow-list sees no dataset: empty listing, 404 on detail and query', async () => {
  const app = createApp({ engine, verifier, rateLimit: createMemoryRateLimitStore(), audit: createMemoryAuditSink(), config: ApiConfig.parse({}), logger: { info: () => {}, error: () => {} } });
  const auth = { Authorization: 'Bearer none:query+records+datasets:read' };
  const list = await app.request('/v1/datasets', { headers: auth });
  assert.deepEqual(((await list.json()) as { datasets: unknown[] }).datasets, []);
  const detail = await app.request('/v1/datasets/lab', { headers: auth });
  assert.equal(detail.status, 404);
  const query = await app.request('/v1/query', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ dataset: 'lab', timeRange: { from: '2026-02-01T00:00:00Z', to: '2026-02-02T00:00:00Z' } }) });
  assert.equal(query.status, 404);
  assert.equal(((await query.json()) as { error: { code: string } }).error.code, 'ERR_DATASET_NOT_FOUND');
});

test('exact first/last flow times with the records scope, whole minutes covering them without it', async () => {
  const app = createApp({ engine, verifier, rateLimit: createMemoryRateLimitStore(), audit: createMemoryAuditSink(), config: ApiConfig.parse({}), logger: { info: () => {}, error: () => {} } });
  const get = async (path: string, scopes: string) => (await (await app.request(path, { headers: { Authorization: `Bearer ${scopes}` } })).json()) as { timeRange: { from: string; to: string }; datasets?: { timeRange: unknown }[] };
  const exact = await get('/v1/datasets/lab', 'query+records');
  assert.equal(Date.parse(exact.timeRange.from), Date.parse('2026-02-01T10:00:12.345Z'));
  const coarse = await get('/v1/datasets/lab', 'query');
  assert.deepEqual(coarse.timeRange, { from: '2026-02-01T10:00:00.000Z', to: '2026-02-01T10:08:00.000Z' });
  const listed = await get('/v1/datasets', 'datasets:read');
  assert.deepEqual(listed.datasets!.map((d) => d.timeRange), [coarse.timeRange]);
  const listedExact = await get('/v1/datasets', 'datasets:read+records');
  assert.notDeepEqual(listedExact.datasets![0]!.timeRange, coarse.timeRange);
});

test('a CIDR the schema lets through but the compiler refuses is not echoed (POST and GET)', async () => {
  const app = createApp({ engine, verifier, rateLimit: createMemoryRateLimitStore(), audit: createMemoryAuditSink(), config: ApiConfig.parse({}), logger: { info: () => {}, error: () => {} } });
  const auth = { Authorization: 'Bearer query+records' };
  const range = { from: '2026-02-01T00:00:00Z', to: '2026-02-02T00:00:00Z' };
  for (const cidr of ['203.0.113.77/40', '2001:db8::77:1234/200', '1.2.3.4.5', 'fe80:::77']) {
    const post = await app.request('/v1/query', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ dataset: 'lab', timeRange: range, filter: { srcNet: cidr } }) });
    const get = await app.request(`/v1/datasets/lab/records?from=${range.from}&to=${range.to}&filter=${encodeURIComponent(JSON.stringify({ dstNet: [cidr] }))}`, { headers: auth });
    for (const res of [post, get]) {
      assert.equal(res.status, 400, cidr);
      const text = await res.text();
      assert.match(JSON.parse(text).error.code, /^ERR_QUERY_(FILTER_)?INVALID$/);
      assert.ok(!text.includes(cidr) && !text.includes(cidr.split('/')[0]!), `${cidr} is not echoed: ${text}`);
    }
  }
});
