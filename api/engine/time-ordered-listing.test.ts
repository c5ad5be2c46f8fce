/**
 * A record listing in time order is read an hour of files at a time (duckdb-engine.ts
 * `timeOrderedHours`): for every limit — inside the first hour, exactly an hour's rows, across
 * hours, the whole range and beyond — and with a cursor position, the rows, their order and the
 * truncation flag equal the JS reference (the archive's rows sorted by time), over two runs
 * whose files share hours; a listing in another order reads every file in one statement and
 * agrees too.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDuckDbEngine, timeOrderedHours } from './duckdb-engine.ts';
import type { DuckDbEngine } from './duckdb-engine.ts';
import { makeArchive } from '../../test/support/make-archive.ts';
import type { FlowRowInput } from '../../test/support/make-archive.ts';
import { planQuery, type QueryPlan } from '../query/plan.ts';
import { QueryRequest } from '../../schemas/query.ts';
import { batchCells } from '../ports.ts';
import type { Cell } from '../ports.ts';

let root: string;
let engine: DuckDbEngine;
const rows: FlowRowInput[] = [];

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'flowseal-listing-'));
  const archive = join(root, 'archive');
  // Hours 08, 09 (empty), 10 and 11; run a and run b both write hours 08 and 10.
  const at = (h: number, s: number) => new Date(Date.UTC(2026, 2, 10, h, 0, s)).toISOString();
  const a: FlowRowInput[] = [];
  const b: FlowRowInput[] = [];
  for (let s = 0; s < 7; s++) a.push({ time_start: at(8, s * 2), bytes_fwd: 100 + s, src_addr: '10.0.0.1', dst_addr: '10.0.0.2' });
  for (let s = 0; s < 5; s++) b.push({ time_start: at(8, s * 2 + 1), bytes_fwd: 200 + s, src_addr: '10.0.0.1', dst_addr: '10.0.0.2' });
  for (let s = 0; s < 4; s++) a.push({ time_start: at(10, s), bytes_fwd: 300 + s, src_addr: '10.0.0.1', dst_addr: '10.0.0.2' });
  for (let s = 0; s < 3; s++) b.push({ time_start: at(10, 30 + s), bytes_fwd: 400 + s, src_addr: '10.0.0.1', dst_addr: '10.0.0.2' });
  for (let s = 0; s < 6; s++) a.push({ time_start: at(11, s), bytes_fwd: 500 + s, src_addr: '10.0.0.1', dst_addr: '10.0.0.2' });
  await makeArchive(archive, { dataset: 'lab', rows: a, runId: 'runa' });
  await makeArchive(archive, { dataset: 'lab', rows: b, runId: 'runb' });
  rows.push(...a, ...b);
  rows.sort((x, y) => Date.parse(x.time_start) - Date.parse(y.time_start));
  engine = await createDuckDbEngine({ archiveDir: archive, threads: 1 });
  await engine.listDatasets();
});
after(async () => {
  await engine.close();
  rmSync(root, { recursive: true, force: true });
});

function plan(limit: number, extra: Record<string, unknown> = {}, after?: Cell[]): QueryPlan {
  const req = QueryRequest.parse({ dataset: 'lab', timeRange: { from: '2026-03-10T08:00:00Z', to: '2026-03-10T12:00:00Z' }, select: ['time_start', 'bytes_fwd'], limit, ...extra });
  return planQuery(req, { now: Date.parse('2026-04-01T00:00:00Z'), limits: { maxRecordRows: 1000, maxGroupRows: 1000, minGroupSize: 1, maxTimeRangeDays: 31 }, filter: null, ...(after ? { after } : {}) }).plan;
}

async function list(p: QueryPlan): Promise<{ bytes: number[]; truncated: boolean; last: readonly Cell[] | undefined }> {
  const stream = await engine.execute(p, { timeoutMs: 10_000 });
  const bytes: number[] = [];
  for await (const batch of stream.batches) for (const r of batchCells(batch)) bytes.push(r[1] as number);
  const st = stream.stats();
  return { bytes, truncated: st.truncated, last: st.lastSortKey };
}

test('the files of a listing in time order are taken an hour at a time, in hour order', () => {
  const files = engine.datasetFiles('lab');
  const hours = timeOrderedHours(plan(5), files);
  assert.ok(hours !== null);
  assert.deepEqual(hours.map((g) => g.length), [2, 2, 1]);
  assert.ok(hours.every((g) => new Set(g.map((f) => /hour=(\d\d)/.exec(f)![1])).size === 1));
  assert.equal(timeOrderedHours(plan(5, { orderBy: [{ by: 'bytes_fwd', dir: 'desc' }] }), files), null);
  assert.equal(timeOrderedHours(plan(5, { orderBy: [{ by: 'time_start', dir: 'desc' }] }), files), null);
  assert.ok(timeOrderedHours(plan(5, { orderBy: [{ by: 'time_start', dir: 'asc' }, { by: 'bytes_fwd', dir: 'desc' }] }), files) !== null);
  assert.equal(timeOrderedHours(plan(5), [...files, '/archive/lab/legacy.parquet']), null, 'a file without an hour: one statement');
});

test('every limit gives the reference rows in time order, truncation marked when more rows exist', async () => {
  const all = rows.map((r) => r.bytes_fwd);
  for (const limit of [1, 3, 12, 13, 19, 24, rows.length - 1, rows.length, rows.length + 5]) {
    const got = await list(plan(limit));
    assert.deepEqual(got.bytes, all.slice(0, limit), `limit ${limit}`);
    assert.equal(got.truncated, limit < rows.length, `limit ${limit}: truncated`);
  }
});

test('pages from the last sort key cover every row once, across hour boundaries', async () => {
  const seen: number[] = [];
  let after: Cell[] | undefined;
  for (let page = 0; page < 20; page++) {
    const got = await list(plan(4, {}, after));
    seen.push(...got.bytes);
    if (!got.truncated) break;
    after = [...got.last!];
  }
  assert.deepEqual(seen, rows.map((r) => r.bytes_fwd));
});

test('a listing in another order reads all files at once and agrees with the reference', async () => {
  const got = await list(plan(10, { orderBy: [{ by: 'bytes_fwd', dir: 'desc' }] }));
  assert.deepEqual(got.bytes, rows.map((r) => r.bytes_fwd!).sort((x, y) => y - x).slice(0, 10));
  assert.equal(got.truncated, true);
});
