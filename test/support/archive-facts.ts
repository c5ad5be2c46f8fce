/**
 * Test helper: what a dataset in an archive holds, read with DuckDB straight from the Parquet
 * files (independently of the API).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

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
