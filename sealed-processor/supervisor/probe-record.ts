/**
 * Isolation probe: one record of a segment, alone, in a fresh worker — the test that decides
 * whether a record that keeps being in flight when workers die kills a worker on its own.
 *
 * Owns: the probe worker's life (config, the segment frame naming the record's real index, the
 * one record, FINISH) and its scratch staging directory
 * `<archive>/.staging/<run>.probe-<seq>-<index>-<uuid>` (run ids have no dots, so it never
 * collides with a run's; one per probe, so overlapping probes never share one), which is always
 * removed: a probe's output is never published (and a leftover one is discarded at start).
 * Never: sends more than the one record; publishes; decides anything (crash-ledger.ts does).
 */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { partSuffix } from '../../schemas/archive.ts';
import { encodeFrame, encodeJsonFrame, FrameType, type WorkerConfig } from '../worker/protocol.ts';
import type { ProbeOutcome } from './crash-ledger.ts';
import { openForFeeding, type FeedContext, type SegmentRef } from './feed-segment.ts';
import { WorkerHandle, type WorkerHandleOptions } from './worker-handle.ts';

export interface ProbeContext extends Pick<FeedContext, 'spoolDir' | 'keys' | 'runId' | 'isPublished' | 'count' | 'log'> {
  /** The run's worker config; the probe gets its own staging directory. */
  config: WorkerConfig;
  worker: WorkerHandleOptions;
  /** Told about the probe worker while it lives (so a shutdown can kill it). */
  track: (w: WorkerHandle | null) => void;
}

/** Runs record `index` of `seg` alone in a fresh worker and says how that went. */
export async function probeRecord(ctx: ProbeContext, seg: SegmentRef, index: number): Promise<ProbeOutcome> {
  const opened = await openForFeeding(ctx, seg);
  if (!opened) return 'gone';
  if (index + 1 >= opened.bounds.length) return 'gone';
  const record = opened.plaintext.subarray(opened.bounds[index]!, opened.bounds[index + 1]!);
  // One directory per probe: probes of one run may overlap (and must not delete each other's output).
  const stagingDir = `${ctx.config.stagingDir}.probe-${seg.seq}-${index}-${randomUUID()}`;
  const worker = new WorkerHandle(ctx.worker);
  ctx.track(worker);
  ctx.log({ event: 'record-isolation', run: ctx.runId, seq: seg.seq, index, pid: worker.pid });
  try {
    const ok =
      // Alone: no checkpoint restored (the probe tests the record on its own, in its own staging dir).
      (await worker.send(encodeJsonFrame(FrameType.Config, { ...ctx.config, stagingDir, restoreThrough: null }))) &&
      (await worker.send(encodeJsonFrame(FrameType.Segment, { seq: seg.seq, careful: true, skip: [], firstIndex: index }))) &&
      (await worker.sendRecord(seg.seq, index, encodeFrame(FrameType.Records, record))) &&
      (await worker.send(encodeFrame(FrameType.Finish, new Uint8Array(0))));
    const code = ok ? await worker.waitExit() : await worker.exited;
    if (code === 0 && worker.done) return 'ok';
    // Also a death after the record was acknowledged (while flushing its flows): still alone.
    return worker.death().cause;
  } finally {
    await worker.kill();
    ctx.track(null);
    await rm(stagingDir, { recursive: true, force: true });
    await rm(`${stagingDir}${partSuffix(ctx.config.firstPart ?? 1)}`, { recursive: true, force: true });
  }
}

