import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { createManifestCatalog } from '../api/engine/manifest-catalog.ts';
import { FLOW_COLUMNS } from '../schemas/columns.ts';
import { hourlyCounts, planFiles, resolveOptions, writeFlowArchive } from './gen-flow-archive.ts';
import { v4PrefixLoRange } from './query.bench.ts';

test('hourlyCounts sums exactly to the flows and peaks at 15:00 UTC', () => {
  const c = hourlyCounts(1_000_003, 48);
  assert.equal(c.reduce((a, b) => a + b, 0), 1_000_003);
  assert.equal(c.indexOf(Math.max(...c)) % 24, 15);
  assert.ok(Math.min(...c) > 0);
});

test('planFiles: every row in exactly one file, files inside one hour and one flush batch, runs per part', () => {
  for (const o of [resolveOptions({ flows: 100_000, days: 2, flushRows: 7_000 }), resolveOptions({ flows: 50_000, days: 1, partMinutes: 5, flushRows: 1000 })]) {
    const { runs, counts, hourFirst } = planFiles(o);
    const files = runs.flatMap((r) => r.files);
    files.sort((x, y) => x.first - y.first);
    let next = 0;
    for (const f of files) {
      assert.equal(f.first, next, 'no gap, no overlap');
      assert.ok(f.last - f.first <= o.flushRows);
      assert.ok(f.first >= hourFirst[f.hour]! && f.last <= hourFirst[f.hour]! + counts[f.hour]!, 'inside its hour');
      next = f.last;
    }
    assert.equal(next, o.flows);
    assert.equal(runs.length, (o.days * 1440) / o.partMinutes);
    for (const r of runs) assert.deepEqual(r.files.map((f) => f.seq), r.files.map((_, i) => i), 'seq counts up through the run');
  }
});

test('a generated archive is accepted whole by the manifest catalog under the pinned bench key, and holds what it says', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowseal-genarchive-'));
  try {
    const a = await writeFlowArchive(dir, { flows: 30_000, days: 1, flushRows: 4_000 });
    const catalog = await createManifestCatalog({ root: realpathSync(a.archiveDir), pinnedKeys: [a.manifestKey] }).build();
    assert.deepEqual(catalog.rejections, []);
    const ds = catalog.datasets.get('bench');
    assert.ok(ds, 'the dataset is listed');
    assert.equal(ds.info.verified, true);
    assert.equal(ds.info.flows, 30_000);
    assert.equal(ds.files.length, a.files.length);
    assert.ok(a.files.length > 24, 'flush batches split some hours into two files');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const list = `[${a.files.map((f) => `'${f.path}'`).join(', ')}]`;
    const cols = (await c.runAndReadAll(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(${list}, hive_partitioning = false))`)).getRows();
    assert.deepEqual(cols, FLOW_COLUMNS.map((col) => [col.name, col.duckdbType]), 'columns and types exactly FLOW_COLUMNS');
    const [[rows, v6, unsorted, badHalves]] = (await c.runAndReadAll(
      `SELECT count(*)::INTEGER, avg((ip_version = 6)::INTEGER), ` +
        `(SELECT count(*)::INTEGER FROM (SELECT time_start < lag(time_start) OVER (PARTITION BY filename ORDER BY file_row_number) AS back FROM read_parquet(${list}, filename = true, file_row_number = true)) WHERE back), ` +
        `count(*) FILTER (WHERE ip_version = 4 AND (src_addr_hi <> 0 OR src_addr_lo - 281470681743360 <> (TRY_CAST(split_part(src_addr, '.', 1) AS UBIGINT) << 24) + (TRY_CAST(split_part(src_addr, '.', 2) AS UBIGINT) << 16) + (TRY_CAST(split_part(src_addr, '.', 3) AS UBIGINT) << 8) + TRY_CAST(split_part(src_addr, '.', 4) AS UBIGINT)))::INTEGER ` +
        `FROM read_parquet(${list})`,
    )).getRows() as [number, number, number, number][];
    assert.equal(rows, 30_000);
    assert.ok(v6! > 0.05 && v6! < 0.15, `IPv6 share ${v6}`);
    assert.equal(unsorted, 0, 'rows sorted by time_start within each file');
    assert.equal(badHalves, 0, 'IPv4 halves match the text');
    const [lo, hi] = v4PrefixLoRange(a.probePrefix);
    const [[probe]] = (await c.runAndReadAll(`SELECT count(*)::INTEGER FROM read_parquet(${list}) WHERE src_addr_hi = 0 AND src_addr_lo BETWEEN ${lo} AND ${hi}`)).getRows() as [number][];
    assert.ok(probe! > 0, 'the probe prefix has flows');
    c.closeSync();
    db.closeSync();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
