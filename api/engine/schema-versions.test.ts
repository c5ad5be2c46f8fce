/**
 * Runs of different schema versions in one dataset: files of the current version are read as
 * they are; older ones are unified by column name — a column an older run lacks reads as null
 * there (also when a query reads only older files, as a listing's first hour does here), and
 * every query shape (listing, aggregate, distinct count) sees every row.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDuckDbEngine } from './duckdb-engine.ts';
import type { DuckDbEngine } from './duckdb-engine.ts';
import { compilePlan } from './duckdb-plan-sql.ts';
import { makeArchive } from '../../test/support/make-archive.ts';
import { planQuery, type QueryPlan } from '../query/plan.ts';
import { QueryRequest } from '../../schemas/query.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import { batchCells } from '../ports.ts';
import type { Cell } from '../ports.ts';

let root: string;
let engine: DuckDbEngine;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'flowseal-schemas-'));
  const archive = join(root, 'archive');
  const at = (h: number, s: number) => new Date(Date.UTC(2026, 2, 10, h, 0, s)).toISOString();
  const host = (name: string | null) => ({ src_addr: '10.0.0.1', dst_addr: '10.0.0.2', dst_port: 80, http_host: name });
  // The newer run (host names) first in manifest order, so DuckDB's first file has the column.
  await makeArchive(archive, { dataset: 'mixed', runId: 'r2', rows: [0, 1, 2].map((s) => ({ time_start: at(9, s), ...host('new.example') })) });
  await makeArchive(archive, { dataset: 'mixed', runId: 'r1', schemaVersion: SCHEMA_VERSION - 1, omitColumns: ['http_host'], rows: [0, 1].map((s) => ({ time_start: at(8, s), ...host(null) })) });
  await makeArchive(archive, { dataset: 'same', runId: 'r1', rows: [0, 1].map((s) => ({ time_start: at(8, s), ...host('a.example') })) });
  await makeArchive(archive, { dataset: 'same', runId: 'r2', rows: [0, 1, 2].map((s) => ({ time_start: at(9, s), ...host('b.example') })) });
  engine = await createDuckDbEngine({ archiveDir: archive, threads: 1 });
  await engine.listDatasets();
});
after(async () => {
  await engine.close();
  rmSync(root, { recursive: true, force: true });
});

function plan(dataset: string, extra: Record<string, unknown>): QueryPlan {
  const req = QueryRequest.parse({ dataset, timeRange: { from: '2026-03-10T08:00:00Z', to: '2026-03-10T10:00:00Z' }, ...extra });
  return planQuery(req, { now: Date.parse('2026-04-01T00:00:00Z'), limits: { maxRecordRows: 100, maxGroupRows: 100, minGroupSize: 1, maxTimeRangeDays: 31 }, filter: null }).plan;
}

async function rows(p: QueryPlan): Promise<Cell[][]> {
  const s = await engine.execute(p, { timeoutMs: 10_000 });
  const out: Cell[][] = [];
  for await (const b of s.batches) out.push(...batchCells(b).map((r) => [...r]));
  return out;
}

test('current-version files: no name unification; otherwise unified by name', () => {
  const p = plan('same', { groupBy: ['http_host'], metrics: ['flows'] });
  assert.doesNotMatch(compilePlan(p, ['/a'], { currentSchema: true }).sql, /union_by_name/);
  assert.match(compilePlan(p, ['/a']).sql, /union_by_name = true/, 'without the manifests\' word, files are unified');
});

test('a dataset of one version answers as before', async () => {
  assert.deepEqual(await rows(plan('same', { groupBy: ['http_host'], metrics: ['flows'], orderBy: [{ by: 'http_host', dir: 'asc' }] })), [['a.example', 2], ['b.example', 3]]);
});

test('mixed versions: the older run\'s missing column is null, every row counted, in listings, aggregates and distinct counts', async () => {
  assert.deepEqual(await rows(plan('mixed', { select: ['time_start', 'http_host'] })), [
    ['2026-03-10T08:00:00.000000Z', null],
    ['2026-03-10T08:00:01.000000Z', null],
    ['2026-03-10T09:00:00.000000Z', 'new.example'],
    ['2026-03-10T09:00:01.000000Z', 'new.example'],
    ['2026-03-10T09:00:02.000000Z', 'new.example'],
  ]);
  assert.deepEqual(await rows(plan('mixed', { groupBy: ['http_host'], metrics: ['flows'], orderBy: [{ by: 'flows', dir: 'desc' }] })), [['new.example', 3], [null, 2]]);
  assert.deepEqual(await rows(plan('mixed', { groupBy: [], metrics: ['flows', 'distinct_http_host'] })), [[5, 1]]);
});
