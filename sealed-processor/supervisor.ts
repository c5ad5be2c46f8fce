/**
 * The sealed processor's supervisor: key custody and the scan loop over the spool.
 *
 * Owns: the spool private key (generated at start in memory only; only the public key is
 * written, for ingest to seal to), the roll-forward of interrupted publications at start, and
 * scanning the spool: each run found gets a `Run` (supervisor/run.ts) that feeds its segments
 * to its own worker process as they appear, so runs never block each other. Segments of runs
 * already finished (in this process, or whose final part is in the archive's manifests) are
 * replays and go to quarantine; a run with committed parts but no final one is resumed after
 * its last part (supervisor/run.ts); so do segments that arrive after their run moved past them. A run is never
 * given up because its worker keeps dying (supervisor/run.ts, supervisor/crash-ledger.ts).
 * Never: writes a key or plaintext to disk, logs anything but counts and error codes.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, ErrorCode } from '../schemas/errors.ts';
import { RUN_HEARTBEAT_INTERVAL_MS, runHeartbeatName } from '../schemas/spool.ts';
import { generateProcessorKeys } from './spool/keys.ts';
import { writePublicKey } from './spool/key-file.ts';
import { listSegments, removeRunEndMarker, type SegmentEntry } from './spool/spool-files.ts';
import { rollForwardStaging } from './sinks/publish.ts';
import { committedRun } from './sinks/committed-parts.ts';
import { rejectSegment } from './supervisor/feed-segment.ts';
import { Run, type ProcessorSettings, type RunEnvironment, type RunStatus } from './supervisor/run.ts';

export interface SupervisorOptions extends ProcessorSettings {
  /** Exit once all these run ids are finished (published, or discarded as unreadable). Without: run until stopped. */
  untilRuns?: readonly string[] | undefined;
  /** One-way diagnostics sink (counts and codes only). */
  log: (event: Record<string, unknown>) => void;
  pollMs?: number;
  /** A worker with work and no sign of life for this long hangs and is killed (cause timeout). Default 120 s. */
  workerStallMs?: number;
  /**
   * Restart delay after a worker death that taught nothing new (e.g. a kill from outside);
   * doubles for each such death in a row, up to `maxRestartBackoffMs`. Defaults 250 ms, 30 s.
   */
  restartBackoffMs?: number;
  maxRestartBackoffMs?: number;
  /** How long a missing segment is waited for before the run goes on without it. Default 10 s. */
  gapTimeoutMs?: number;
  /**
   * A run with no new segment for this long, whose ingest heartbeat has also stopped, is
   * published as it is. Default 60 s. (A quiet live capture keeps its heartbeat fresh.)
   */
  idleTimeoutMs?: number;
  /** Extra environment for the worker (tests inject faults with it). */
  workerEnv?: Record<string, string>;
}

/** How often a live run publishes a part by default (nfcapd's default rotation: 5 minutes). */
export const DEFAULT_PUBLISH_EVERY_MS = 5 * 60_000;

/** Runs until every `untilRuns` id is finished (or until SIGTERM/SIGINT). Resolves to an exit code. */
export async function runSupervisor(opts: SupervisorOptions): Promise<number> {
  const keys = await generateProcessorKeys();
  const rolled = await rollForwardStaging(join(opts.archiveDir, '.staging'), opts.archiveDir, opts.log);
  if (rolled.completed || rolled.discarded || rolled.rejected) opts.log({ event: 'staging-recovered', ...rolled });
  await writePublicKey(opts.spoolDir, keys);
  opts.log({ event: 'started', spoolKeyId: keys.keyId });
  const finished = new Set<string>();
  const runs = new Map<string, Run>();
  const env: RunEnvironment = {
    spoolDir: opts.spoolDir,
    archiveDir: opts.archiveDir,
    dataset: opts.dataset,
    policy: opts.policy,
    masterKey: opts.masterKey,
    processorVersion: opts.processorVersion,
    ...(opts.manifestSigner ? { manifestSigner: opts.manifestSigner } : {}),
    publishEveryMs: opts.publishEveryMs ?? DEFAULT_PUBLISH_EVERY_MS,
    keys,
    isPublished: (runId) => finished.has(runId),
    log: opts.log,
    workerEnv: opts.workerEnv ?? {},
    stallMs: opts.workerStallMs ?? 120_000,
    backoffBaseMs: opts.restartBackoffMs ?? 250,
    backoffMaxMs: opts.maxRestartBackoffMs ?? 30_000,
    gapTimeoutMs: opts.gapTimeoutMs ?? 10_000,
    idleTimeoutMs: opts.idleTimeoutMs ?? 60_000,
    ingestAlive: (runId) => heartbeatFresh(opts.spoolDir, runId),
    isStopping: () => stopping,
    now: Date.now,
  };
  let stopping = false;
  const stop = () => {
    stopping = true;
    // Kill the workers now: a write waiting on a busy worker resolves at once.
    for (const run of runs.values()) void run.stop();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    while (!stopping) {
      const byRun = new Map<string, SegmentEntry[]>();
      for (const s of await listSegments(opts.spoolDir)) {
        const list = byRun.get(s.runId) ?? [];
        list.push(s);
        byRun.set(s.runId, list);
      }
      for (const [runId, segments] of byRun) {
        let resume = null;
        if (!runs.has(runId) && !finished.has(runId)) {
          // A run this process has not seen: finished (final part committed), or resumed after its last committed part.
          resume = await committedRun(opts.archiveDir, opts.dataset, runId);
          if (resume.finished) finished.add(runId);
        }
        if (finished.has(runId)) {
          // A run that was already published: these segments are replays (or late arrivals).
          for (const s of segments) await rejectSegment({ spoolDir: opts.spoolDir, runId, count: () => undefined, log: opts.log }, s, ErrorCode.SpoolReplayed);
          await removeRunEndMarker(opts.spoolDir, runId);
          continue;
        }
        let run = runs.get(runId);
        if (!run) runs.set(runId, (run = new Run(runId, env, resume ?? undefined)));
        if ((await advanceSafely(run, segments, opts.log)) !== 'pending') {
          runs.delete(runId);
          finished.add(runId);
        }
      }
      // Runs whose segments are all consumed but not yet complete still need a step (timeouts).
      for (const [runId, run] of runs) {
        if (byRun.has(runId)) continue;
        if ((await advanceSafely(run, [], opts.log)) !== 'pending') {
          runs.delete(runId);
          finished.add(runId);
        }
      }
      if (opts.untilRuns?.length && opts.untilRuns.every((r) => finished.has(r))) return 0;
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 100));
    }
    return 0;
  } finally {
    for (const run of runs.values()) await run.stop();
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}

/**
 * One run's step, isolated: an unexpected error is logged (its code) and the run is retried
 * later (backing off); it never stops the processor or the other runs, and never costs the run
 * its segments.
 */
async function advanceSafely(run: Run, segments: readonly SegmentEntry[], log: (e: Record<string, unknown>) => void): Promise<RunStatus> {
  try {
    return await run.advance(segments);
  } catch (e) {
    log({ event: 'run-error', run: run.runId, code: e instanceof AppError ? e.code : ErrorCode.Internal });
    return run.recover().catch(() => 'pending' as const);
  }
}

/** The run's ingest heartbeat (`<runId>.alive`, touched every few seconds) is recent. */
async function heartbeatFresh(spoolDir: string, runId: string): Promise<boolean> {
  try {
    const st = await stat(join(spoolDir, 'segments', runHeartbeatName(runId)));
    return Date.now() - st.mtimeMs < 3 * RUN_HEARTBEAT_INTERVAL_MS;
  } catch {
    return false;
  }
}
