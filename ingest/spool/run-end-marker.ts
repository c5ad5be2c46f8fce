/**
 * Writes the run-end marker (schemas/spool.ts `RunEndMarker`) after a run's final segment.
 * Owns: that one small file, written by temp file + atomic rename. Never: anything secret.
 */
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runEndMarkerName, type RunEndMarker } from '../../schemas/spool.ts';

export async function writeRunEndMarker(spoolDir: string, runId: string, segments: number): Promise<void> {
  const path = join(spoolDir, 'segments', runEndMarkerName(runId));
  const marker: RunEndMarker = { segments };
  await writeFile(`${path}.tmp`, JSON.stringify(marker));
  await rename(`${path}.tmp`, path);
}
