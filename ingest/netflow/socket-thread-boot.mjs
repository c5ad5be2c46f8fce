// Bootstrap of the collector's socket thread (socket-thread.ts), in plain JavaScript because a
// worker_thread does not inherit loader hooks registered in code (bin/flowseal.mjs registers
// tsx that way): where TypeScript already loads (`node --import tsx`, Bun, Deno) it imports
// the thread directly, else it registers tsx for this thread first.
// Owns: that choice only. Never: anything else.
import { workerData } from 'node:worker_threads';

try {
  await import(workerData.entry);
} catch (e) {
  if (e?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw e;
  const { register } = await import('tsx/esm/api');
  register();
  // A distinct URL: the failed load above stays cached under the plain one.
  await import(`${workerData.entry}?tsx`);
}
