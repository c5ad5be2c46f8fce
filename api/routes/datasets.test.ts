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

/** The bearer token is the space-separated scope list. */
const verifier: TokenVerifier = {
  verify: async (token) => ({ issuer: 'https://idp.test', subject: 'ann', scopes: new Set(token.split('+')), groups: [], datasets: null, expiresAt: 0 }),
};

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
