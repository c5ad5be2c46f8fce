/**
 * The dataset and error schemas the OpenAPI document shows are what the routes really answer:
 * real answers of `GET /v1/datasets`, `GET /v1/datasets/{id}` (with and without the records
 * scope) and of failing requests parse strictly (no field missing, none extra).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetDetail, DatasetList } from './datasets-response.ts';
import { ErrorEnvelope } from './error-envelope.ts';
import { ApiConfig } from './api-config.ts';
import { createApp } from '../api/app.ts';
import { createDuckDbEngine } from '../api/engine/duckdb-engine.ts';
import type { DuckDbEngine } from '../api/engine/duckdb-engine.ts';
import { createMemoryRateLimitStore } from '../api/rate-limit/memory-store.ts';
import { createMemoryAuditSink } from '../api/audit/memory-sink.ts';
import type { TokenVerifier } from '../api/ports.ts';
import { makeArchive } from '../test/support/make-archive.ts';

let dir: string;
let engine: DuckDbEngine;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flowseal-datasets-response-'));
  await makeArchive(dir, { dataset: 'lab', rows: [{ time_start: '2026-02-01T10:00:12.345Z', time_end: '2026-02-01T10:00:13.000Z', src_addr: '10.0.0.1', dst_addr: '10.0.0.2' }] });
  engine = await createDuckDbEngine({ archiveDir: dir, threads: 1, memoryLimit: '256MB' });
});
after(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The bearer token is the `+`-separated scope list. */
const verifier: TokenVerifier = {
  verify: async (token) => ({ issuer: 'https://idp.test', subject: 'ann', scopes: new Set(token.split('+')), groups: [], datasets: null, expiresAt: 0 }),
};

const get = async (path: string, scopes?: string) => {
  const app = createApp({ engine, verifier, rateLimit: createMemoryRateLimitStore(), audit: createMemoryAuditSink(), config: ApiConfig.parse({}), logger: { info: () => {}, error: () => {} } });
  const res = await app.request(path, scopes === undefined ? {} : { headers: { Authorization: `Bearer ${scopes}` } });
  return { status: res.status, body: (await res.json()) as unknown };
};

test('GET /v1/datasets answers a DatasetList, exact and coarse times alike', async () => {
  for (const scopes of ['datasets:read', 'query+records']) {
    const r = await get('/v1/datasets', scopes);
    assert.equal(r.status, 200);
    const list = DatasetList.parse(r.body);
    assert.deepEqual(list.datasets.map((d) => [d.id, d.flows]), [['lab', 1]], scopes);
  }
});

test('GET /v1/datasets/{id} answers a DatasetDetail with the column schema', async () => {
  for (const scopes of ['query', 'query+records']) {
    const r = await get('/v1/datasets/lab', scopes);
    assert.equal(r.status, 200);
    const detail = DatasetDetail.parse(r.body);
    assert.ok(detail.columns.some((c) => c.name === 'src_addr' && c.queryable));
    assert.ok(!detail.columns.some((c) => (c.name as string).endsWith('_hi')), 'address halves are not published');
  }
});

test('failing requests answer the ErrorEnvelope', async () => {
  for (const [path, scopes, status] of [['/v1/datasets', undefined, 401], ['/v1/datasets/nope', 'query', 404], ['/v1/datasets', 'records', 403], ['/no/such/route', undefined, 404]] as const) {
    const r = await get(path, scopes);
    assert.equal(r.status, status, path);
    ErrorEnvelope.parse(r.body);
  }
});

test('the schemas are strict: an extra or a missing field fails', () => {
  const summary = { id: 'lab', timeRange: { from: null, to: null }, flows: null, files: 0, runs: 0, rejectedRuns: 0, pendingRuns: 0, verified: false, policyHashes: [], keyIds: [] };
  assert.ok(DatasetList.safeParse({ datasets: [summary], requestId: 'r' }).success);
  assert.ok(!DatasetList.safeParse({ datasets: [{ ...summary, path: '/archive/lab' }], requestId: 'r' }).success);
  const { keyIds: _keyIds, ...withoutKeyIds } = summary;
  assert.ok(!DatasetList.safeParse({ datasets: [withoutKeyIds], requestId: 'r' }).success);
  assert.ok(!ErrorEnvelope.safeParse({ error: { code: 'ERR_MADE_UP', message: 'x', requestId: 'r' } }).success);
});
