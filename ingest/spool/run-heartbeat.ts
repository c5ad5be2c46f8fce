/**
 * The run heartbeat (schemas/spool.ts `runHeartbeatName`): a small file ingest touches while a
 * run is open, so the processor can tell a quiet live capture from a capture side that died.
 * Owns: that file only. Never: anything secret.
 */
import { unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RUN_HEARTBEAT_INTERVAL_MS, runHeartbeatName } from '../../schemas/spool.ts';

/** Starts the heartbeat; the returned function stops it and removes the file. */
export async function startRunHeartbeat(spoolDir: string, runId: string): Promise<() => Promise<void>> {
  const path = join(spoolDir, 'segments', runHeartbeatName(runId));
  await writeFile(path, '');
  const timer = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => undefined);
  }, RUN_HEARTBEAT_INTERVAL_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await unlink(path).catch(() => undefined);
  };
}
