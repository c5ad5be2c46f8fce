/**
 * The engine's deadline really stops DuckDB, promptly, on a query that is really expensive (a
 * /32 grouping with two quantiles over a 1 M-flow day), also when more queries run than the
 * runtime has worker threads (Node's pool is 4): a statement still waiting for a worker when
 * its deadline passes must not run to completion afterwards (DuckDB clears the interrupt flag
 * when a statement starts, so the engine interrupts again until the statement stops).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDuckDbEngine } from './duckdb-engine.ts';
import type { DuckDbEngine } from './duckdb-engine.ts';
import { planQuery } from '../query/plan.ts';
import { batchRowCount } from '../ports.ts';
import type { EngineRunOptions } from '../ports.ts';
import { QueryRequest } from '../../schemas/query.ts';
import { AppError } from '../../schemas/errors.ts';
import { makeVolumeArchive } from '../../test/support/make-volume-archive.ts';

let root: string;
let engine: DuckDbEngine;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'flowseal-interrupt-'));
  await makeVolumeArchive(join(root, 'archive'), { dataset: 'vol', flows: 1_000_000, start: '2026-04-01T00:00:00Z', hours: 24 });
  engine = await createDuckDbEngine({ archiveDir: join(root, 'archive'), threads: 2, memoryLimit: '512MB' });
  await engine.listDatasets();
});
after(async () => {
  await engine?.close();
  rmSync(root, { recursive: true, force: true });
});

const expensive = () =>
  planQuery(QueryRequest.parse({ dataset: 'vol', timeRange: { from: '2026-04-01T00:00:00Z', to: '2026-04-02T00:00:00Z' }, groupBy: [{ column: 'src_addr', prefixV4: 32 }], metrics: ['bytes_p50', 'bytes_p95'] }), {
    now: Date.parse('2026-05-01T00:00:00Z'),
    limits: { maxRecordRows: 1000, maxGroupRows: 10_000, minGroupSize: 1, maxTimeRangeDays: 31 },
    filter: null,
  }).plan;

/** Runs a plan to the end of its answer. */
async function drain(plan: ReturnType<typeof expensive>, o: EngineRunOptions): Promise<number> {
  const s = await engine.execute(plan, o);
  let n = 0;
  for await (const b of s.batches) n += batchRowCount(b);
  return n;
}

async function timed(p: Promise<unknown>): Promise<{ ms: number; code: string }> {
  const started = performance.now();
  try {
    await p;
    return { ms: performance.now() - started, code: 'completed' };
  } catch (err) {
    return { ms: performance.now() - started, code: err instanceof AppError ? err.code : String(err) };
  }
}

test('eight expensive queries at once, 300 ms deadline each: all stop with ERR_QUERY_TIMEOUT within 1.5 s of it', async () => {
  const q = expensive();
  const outcomes = await Promise.all(Array.from({ length: 8 }, () => timed(drain(q, { timeoutMs: 300 }))));
  const text = JSON.stringify(outcomes.map((o) => [o.code, Math.round(o.ms)]));
  assert.ok(outcomes.every((o) => o.code === 'ERR_QUERY_TIMEOUT'), `every query was stopped: ${text}`);
  assert.ok(outcomes.every((o) => o.ms < 300 + 1_500), `promptly: ${text}`);
  const after = await engine.runSql('SELECT 42 AS x', [], { maxRows: 2, timeoutMs: 5_000 });
  assert.deepEqual(after.rows, [[42]], 'the engine stays usable');
});

test('an aborted signal stops a running query (the client went away); a deadline already passed fails at once', async () => {
  const q = expensive();
  const ac = new AbortController();
  const run = timed(drain(q, { timeoutMs: 30_000, signal: ac.signal }));
  setTimeout(() => ac.abort(), 200);
  const out = await run;
  assert.equal(out.code, 'ERR_BAD_REQUEST');
  assert.ok(out.ms < 200 + 1_500, `stopped promptly: ${Math.round(out.ms)} ms`);
  assert.equal((await timed(drain(q, { timeoutMs: 0 }))).code, 'ERR_QUERY_TIMEOUT');
});
