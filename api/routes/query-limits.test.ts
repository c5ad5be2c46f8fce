/**
 * Row caps and the record budget through the whole app (`createApp`, a real DuckDB engine over
 * a tiny synthetic archive, a stub verifier, a clock the test advances): `maxGroupRows` on
 * aggregates and the convenience GETs, and per-connection aggregates charged to the per-subject
 * record budget, refilled per period, with `Retry-After` on the 429. Complements api/app.test.ts,
 * which covers record listings.
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
import type { EngineRunOptions, QueryEngine, TokenVerifier } from '../ports.ts';
import { ApiConfig } from '../../schemas/api-config.ts';
import { makeArchive } from '../../test/support/make-archive.ts';
import type { FlowRowInput } from '../../test/support/make-archive.ts';

const FROM = '2026-02-01T00:00:00Z';
const TO = '2026-02-02T00:00:00Z';
// 40 flows, one a minute: 10 destination ports (4 flows each), every flow its own connection.
const ROWS: FlowRowInput[] = Array.from({ length: 40 }, (_, i) => ({
  time_start: new Date(Date.parse('2026-02-01T10:00:00Z') + i * 60_000).toISOString(),
  src_addr: `10.0.0.${i + 1}`,
  dst_addr: '198.51.100.1',
  src_port: 40_000 + i,
  dst_port: 1000 + (i % 10),
  protocol: 6,
}));
const PER_CONNECTION = ['src_addr', 'dst_addr', 'dst_port'];

let dir: string;
let engine: DuckDbEngine;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flowseal-limits-'));
  await makeArchive(dir, { dataset: 'lab', rows: ROWS });
  engine = await createDuckDbEngine({ archiveDir: dir, threads: 1, memoryLimit: '256MB' });
});
after(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The bearer token is the subject's name; every subject may query and list records. */
const verifier: TokenVerifier = {
  verify: async (token) => ({ issuer: 'https://idp.test', subject: token, scopes: new Set(['query', 'records', 'datasets:read']), groups: [], datasets: null, expiresAt: 0 }),
};

function harness(limits: Record<string, unknown>) {
  const clock = { t: Date.parse('2026-03-01T00:00:00Z') };
  /** Per run: what the engine was given, with the rows the statement may yield (the plan's limit + 1). */
  const runs: (EngineRunOptions & { maxRows: number })[] = [];
  const spy: QueryEngine = {
    listDatasets: () => engine.listDatasets(),
    execute: (plan, o) => (runs.push({ ...o, maxRows: plan.limit + 1 }), engine.execute(plan, o)),
  };
  const app = createApp({
    engine: spy,
    verifier,
    rateLimit: createMemoryRateLimitStore(),
    audit: createMemoryAuditSink(),
    config: ApiConfig.parse({ rateLimit: { burst: 1000, perMinute: 1000 }, limits: { minGroupSize: 1, ...limits } }),
    now: () => clock.t,
    logger: { info: () => {}, error: () => {} },
  });
  async function call(path: string, body?: Record<string, unknown>, subject = 'alice') {
    const headers: Record<string, string> = { Authorization: `Bearer ${subject}` };
    if (body) headers['Content-Type'] = 'application/json';
    const res = await app.request(path, { method: body ? 'POST' : 'GET', headers, body: body ? JSON.stringify({ dataset: 'lab', timeRange: { from: FROM, to: TO }, ...body }) : undefined });
    return { status: res.status, headers: res.headers, json: (await res.json()) as any };
  }
  return { clock, runs, call };
}

test('maxGroupRows: an aggregate returns at most maxGroupRows groups, truncated when more exist; the engine is asked for one more', async () => {
  const h = harness({ maxGroupRows: 3 });
  const capped = await h.call('/v1/query', { groupBy: ['dst_port'], metrics: ['flows'] });
  assert.equal(capped.status, 200);
  assert.equal(capped.json.rows.length, 3);
  assert.equal(capped.json.stats.truncated, true);
  assert.equal(h.runs.at(-1)?.maxRows, 4);
  const asked = await h.call('/v1/query', { groupBy: ['dst_port'], metrics: ['flows'], limit: 50 });
  assert.deepEqual([asked.json.rows.length, asked.json.stats.truncated, h.runs.at(-1)?.maxRows], [3, true, 4], 'limit cannot raise the cap');
  const fewer = await h.call('/v1/query', { groupBy: ['dst_port'], metrics: ['flows'], limit: 2 });
  assert.deepEqual([fewer.json.rows.length, fewer.json.stats.truncated], [2, true]);
  const top = await h.call(`/v1/datasets/lab/top?from=${FROM}&to=${TO}&by=dst_port&n=50`);
  assert.deepEqual([top.status, top.json.rows.length, top.json.stats.truncated], [200, 3, true]);
  const series = await h.call(`/v1/datasets/lab/timeseries?from=${FROM}&to=${TO}&bucket=1m`);
  assert.deepEqual([series.status, series.json.rows.length, series.json.stats.truncated], [200, 3, true]);
  assert.equal(capped.json.stats.recordBudgetRemaining, undefined, 'plain aggregates are not charged to the record budget');
});

test('maxGroupRows: exactly as many groups as the cap is not truncated', async () => {
  const h = harness({ maxGroupRows: 10 });
  const all = await h.call('/v1/query', { groupBy: ['dst_port'], metrics: ['flows'] });
  assert.deepEqual([all.json.rows.length, all.json.stats.truncated], [10, false]);
  assert.deepEqual(all.json.rows.map((r: unknown[]) => r[1]), Array(10).fill(4));
});

test('per-connection aggregates: capped by maxGroupRows, charged to the record budget, refilled per period, per subject', async () => {
  // 5 rows per 100 s: a row every 20 s.
  const h = harness({ maxGroupRows: 3, maxRowsPerPeriod: 5, recordPeriodSec: 100 });
  const body = { groupBy: PER_CONNECTION, metrics: ['flows'] };
  const first = await h.call('/v1/query', { ...body, limit: 50 });
  assert.deepEqual([first.status, first.json.rows.length, first.json.stats.recordBudgetRemaining], [200, 3, 2]);
  assert.equal(h.runs.at(-1)?.maxRows, 4);
  const second = await h.call('/v1/query', body);
  assert.deepEqual([second.json.rows.length, second.json.stats.truncated, second.json.stats.recordBudgetRemaining], [2, true, 0], 'what is left of the budget');
  const over = await h.call('/v1/query', body);
  assert.equal(over.status, 429);
  assert.equal(over.json.error.code, 'ERR_RATE_LIMITED');
  assert.equal(over.json.error.details.retryAfterSec, 20);
  assert.equal(over.headers.get('Retry-After'), '20');
  assert.equal((await h.call('/v1/datasets')).status, 200, 'the request rate limit is a separate bucket');
  const bob = await h.call('/v1/query', body, 'bob');
  assert.deepEqual([bob.json.rows.length, bob.json.stats.recordBudgetRemaining], [3, 2], 'another subject has its own budget');
  h.clock.t += 19_000;
  assert.equal((await h.call('/v1/query', body)).headers.get('Retry-After'), '1');
  h.clock.t += 1_000;
  const refilled = await h.call('/v1/query', body);
  assert.deepEqual([refilled.status, refilled.json.rows.length, refilled.json.stats.recordBudgetRemaining], [200, 1, 0]);
  h.clock.t += 100_000;
  const period = await h.call('/v1/query', body);
  assert.deepEqual([period.json.rows.length, period.json.stats.recordBudgetRemaining], [3, 2], 'a whole period restores the whole budget');
});
