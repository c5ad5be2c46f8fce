/**
 * Test helper: what a dataset in an archive holds, read with DuckDB straight from the Parquet
 * files (independently of the API).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { runManifests } from '../../sealed-processor/sinks/committed-parts.ts';

/** Flow rows, packets in them (both directions) and Parquet files of `<archive>/<dataset>`. */
export async function archiveTotals(archive: string, dataset: string): Promise<{ flows: number; packets: number; files: number }> {
  const files = (await readdir(join(archive, dataset), { recursive: true }).catch(() => [] as string[])).filter((f) => f.endsWith('.parquet'));
  if (!files.length) return { flows: 0, packets: 0, files: 0 };
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const r = await c.runAndReadAll(`SELECT count(*)::BIGINT, sum(packets_fwd + packets_rev)::BIGINT FROM read_parquet('${join(archive, dataset, '**', '*.parquet')}')`);
  const [f, p] = r.getRows()[0] as [bigint, bigint];
  c.closeSync();
  db.closeSync();
  return { flows: Number(f), packets: Number(p), files: files.length };
}

/** Absolute paths of the Parquet files run `run`'s committed part manifests list (by part, in manifest order). */
export async function committedFiles(archive: string, dataset: string, run: string): Promise<string[]> {
  return (await runManifests(archive, dataset, run)).flatMap((s) => s.manifest.files.map((f) => join(archive, dataset, f.path)));
}
