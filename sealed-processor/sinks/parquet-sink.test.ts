import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { FLOW_COLUMNS, type FlowColumnName } from '../../schemas/columns.ts';
import { asAnon, type AnonFlowRow } from '../flows/flow-record.ts';
import { ParquetSink } from './parquet-sink.ts';

function row(timeUs: number, port: number): AnonFlowRow {
  const r = Object.fromEntries(FLOW_COLUMNS.map((c) => [c.name, null])) as Record<FlowColumnName, AnonFlowRow[FlowColumnName]>;
  r.time_start = asAnon(timeUs);
  r.time_end = asAnon(timeUs + 1000);
  r.ip_version = asAnon(4);
  r.protocol = asAnon(6);
  r.src_addr = asAnon('10.0.0.1');
  r.src_addr_hi = asAnon(0n);
  r.src_addr_lo = asAnon(0xffff0a000001n);
  r.dst_port = asAnon(port);
  r.packets_fwd = asAnon(3n);
  r.bytes_fwd = asAnon(2n ** 60n);
  r.end_reason = asAnon('fin');
  return r as AnonFlowRow;
}

test('ParquetSink writes hive-partitioned, time-sorted zstd files with metadata', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fs-sink-'));
  try {
    const sink = await ParquetSink.open({ stagingDir: dir, runId: 'run1', metadata: { 'flowseal.run_id': 'run1' }, flushRows: 3 });
    const h0 = Date.UTC(2026, 0, 2, 3, 0, 0) * 1000;
    const h1 = Date.UTC(2026, 0, 2, 4, 0, 0) * 1000;
    // Out of order on purpose; 5 rows with flushRows 3 → two batches.
    for (const [t, p] of [[h0 + 5e6, 5], [h1 + 1e6, 7], [h0 + 1e6, 1], [h0 + 3e6, 3], [h1, 6]] as const) await sink.append(row(t, p));
    const files = await sink.finish();
    assert.equal(files.reduce((n, f) => n + f.rows, 0), 5);
    assert.ok(files.every((f) => /^date=2026-01-02\/hour=0[34]\/run1-\d{4}\.parquet$/.test(f.relPath)));
    assert.deepEqual((await readdir(join(dir, 'date=2026-01-02'))).sort(), ['hour=03', 'hour=04']);
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const glob = join(dir, '**/*.parquet');
    const r = await c.runAndReadAll(`SELECT dst_port, bytes_fwd, hour FROM read_parquet('${glob}', hive_partitioning=true) ORDER BY time_start`);
    assert.deepEqual(r.getRows().map((x) => Number(x[0])), [1, 3, 5, 6, 7]);
    assert.equal(r.getRows()[0]![1], 2n ** 60n);
    const kv = await c.runAndReadAll(`SELECT DISTINCT key::VARCHAR, value::VARCHAR FROM parquet_kv_metadata('${glob}') WHERE key::VARCHAR LIKE 'flowseal.%'`);
    assert.deepEqual(kv.getRows(), [['flowseal.run_id', 'run1']]);
    const meta = await c.runAndReadAll(`SELECT DISTINCT compression FROM parquet_metadata('${glob}') WHERE path_in_schema = 'dst_port'`);
    assert.deepEqual(meta.getRows(), [['ZSTD']]);
    const cols = await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${files[0] ? join(dir, files[0].relPath) : ''}', hive_partitioning=false)`);
    assert.deepEqual(cols.getRows().map((x) => x[0]), FLOW_COLUMNS.map((x) => x.name));
    // Within each file rows are sorted by time_start.
    for (const f of files) {
      const s = await c.runAndReadAll(`SELECT epoch_us(time_start) FROM read_parquet('${join(dir, f.relPath)}')`);
      const ts = s.getRows().map((x) => Number(x[0]));
      assert.deepEqual(ts, [...ts].sort((a, b) => a - b));
    }
    assert.equal((await readdir(dir, { recursive: true })).filter((n) => n.endsWith('.tmp')).length, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('ParquetSink rejects unsafe run ids and metadata', async () => {
  await assert.rejects(ParquetSink.open({ stagingDir: '/tmp/x', runId: "a'; DROP", metadata: {} }), TypeError);
  await assert.rejects(ParquetSink.open({ stagingDir: '/tmp/x', runId: 'ok', metadata: { k: "v'" } }), TypeError);
});

test('ParquetSink: rows without time_start share 1970-01-01/00 with that hour; every file holds the rows and range it reports', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fs-sink-'));
  try {
    const sink = await ParquetSink.open({ stagingDir: dir, runId: 'run2', metadata: { 'flowseal.run_id': 'run2' } });
    const untimed = (port: number): AnonFlowRow => ({ ...row(0, port), time_start: null });
    const h = Date.UTC(2026, 0, 2, 3, 0, 0) * 1000;
    await sink.appendRows([untimed(1), row(5e6, 2), row(3_599_999_999, 3), row(3_600_000_000, 4), untimed(5), row(h + 7, 6), row(h + 3_599_999_999, 7)]);
    const files = await sink.finish();
    assert.deepEqual(files.map((f) => [f.relPath.split('/').slice(0, 2).join('/'), f.rows, f.timeStart, f.timeEnd]), [
      ['date=1970-01-01/hour=00', 4, '1970-01-01T00:00:05.000000Z', '1970-01-01T00:59:59.999999Z'],
      ['date=1970-01-01/hour=01', 1, '1970-01-01T01:00:00.000000Z', '1970-01-01T01:00:00.000000Z'],
      ['date=2026-01-02/hour=03', 2, '2026-01-02T03:00:00.000007Z', '2026-01-02T03:59:59.999999Z'],
    ]);
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    for (const f of files) {
      const r = await c.runAndReadAll(`SELECT dst_port FROM read_parquet('${join(dir, f.relPath)}')`);
      assert.equal(r.getRows().length, f.rows, f.relPath);
    }
    const first = await c.runAndReadAll(`SELECT dst_port FROM read_parquet('${join(dir, files[0]!.relPath)}') ORDER BY dst_port`);
    assert.deepEqual(first.getRows().map((x) => Number(x[0])), [1, 2, 3, 5]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('ParquetSink.stage + drain make the batches append makes; a row it cannot hold fails at drain and nothing after it is kept', async () => {
  const h = Date.UTC(2026, 0, 2, 3, 0, 0) * 1000;
  const rows = [5, 1, 7, 3, 2, 6, 4].map((p) => row(h + p * 1e6, p));
  const filesOf = async (fill: (s: ParquetSink) => Promise<void>) => {
    const dir = await mkdtemp(join(tmpdir(), 'fs-sink-'));
    try {
      const sink = await ParquetSink.open({ stagingDir: dir, runId: 'run3', metadata: { 'flowseal.run_id': 'run3' }, flushRows: 3 });
      await fill(sink);
      const files = await sink.finish();
      const db = await DuckDBInstance.create(':memory:');
      const c = await db.connect();
      const ports: number[][] = [];
      for (const f of files) ports.push((await c.runAndReadAll(`SELECT dst_port FROM read_parquet('${join(dir, f.relPath)}') ORDER BY time_start`)).getRows().map((x) => Number(x[0])));
      return ports;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  const appended = await filesOf(async (s) => {
    for (const r of rows) await s.append(r);
  });
  assert.deepEqual(appended, [[1, 5, 7], [2, 3, 6], [4]]);
  assert.deepEqual(await filesOf(async (s) => {
    for (const r of rows) s.stage(r);
    await s.drain();
  }), appended);
  assert.deepEqual(await filesOf(async (s) => {
    for (const r of rows.slice(0, 4)) s.stage(r);
    await s.drain();
    for (const r of rows.slice(4)) s.stage(r);
    await s.drain();
  }), appended);

  const dir = await mkdtemp(join(tmpdir(), 'fs-sink-'));
  try {
    const sink = await ParquetSink.open({ stagingDir: dir, runId: 'run4', metadata: { 'flowseal.run_id': 'run4' } });
    sink.stage(rows[0]!);
    sink.stage({ ...rows[1]!, protocol: asAnon(300) });
    sink.stage(rows[2]!);
    await assert.rejects(sink.drain(), RangeError);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
