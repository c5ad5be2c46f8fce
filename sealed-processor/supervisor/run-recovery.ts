/**
 * What a run does when its worker dies: classify the death (worker-death.ts), say where the
 * worker was, let the crash ledger (crash-ledger.ts) decide what that proves, act on it, and
 * say when the next attempt may start.
 *
 * Owns: the run's crash ledger, isolation probes (probe-record.ts) and their worker, the
 * quarantine of segments the ledger gives up on (ERR_PROCESSOR_SEGMENT_POISONED,
 * ERR_PROCESSOR_SEGMENT_UNPROCESSABLE; counted as segments_quarantined and
 * segments_quarantined_<reason>), and restart backoff: the
 * next attempt starts at once after a death that narrowed things down (a segment to feed
 * carefully, a suspect, a verdict), otherwise after `backoffBaseMs`, doubling for each such
 * death in a row up to `backoffMaxMs`; a full archive disk backs off on its own schedule.
 * Never: gives up a run, blames a record the ledger did not convict, or logs anything but
 * causes, positions, counts and codes.
 */
import { ErrorCode } from '../../schemas/errors.ts';
import { quarantineSegment } from '../spool/spool-files.ts';
import type { WorkerConfig } from '../worker/protocol.ts';
import { CrashLedger, type DeathSite, type Lesson } from './crash-ledger.ts';
import type { SegmentRef } from './feed-segment.ts';
import { probeRecord } from './probe-record.ts';
import type { RunEnvironment } from './run.ts';
import { DeathCause } from './worker-death.ts';
import type { WorkerHandle } from './worker-handle.ts';

/** How long a worker whose input pipe closed gets to exit on its own before it counts as hung. */
const EXIT_GRACE_MS = 5_000;

/** What the run lends its recovery. */
export interface RecoveryHost {
  runId: string;
  env: RunEnvironment;
  count: (key: string, n?: number) => void;
  config: () => WorkerConfig;
  /** The run's segments, in order. */
  fed: () => readonly SegmentRef[];
  /** Takes a segment out of the run (quarantined or unreadable). */
  dropFed: (seq: number) => void;
}

export class RunRecovery {
  readonly ledger = new CrashLedger();
  readonly #host: RecoveryHost;
  /** Deaths in a row that taught nothing new. */
  #idleDeaths = 0;
  #transientFailures = 0;
  #probe: WorkerHandle | null = null;

  constructor(host: RecoveryHost) {
    this.#host = host;
  }

  /**
   * Learns from the death of `worker`, which was sent `sent` (in order; `finishing`: and FINISH).
   * A run-level failure (the archive disk is full) is transient: back off, blame no record.
   * @returns when the next attempt may start, or null for at once (also when stopping).
   */
  async afterDeath(worker: WorkerHandle, sent: ReadonlyArray<{ seq: number; careful: boolean }>, finishing: boolean): Promise<number | null> {
    const { env, runId } = this.#host;
    if (worker.alive) await Promise.race([worker.exited, new Promise((r) => setTimeout(r, EXIT_GRACE_MS).unref())]);
    await worker.kill('timeout');
    if (env.isStopping()) return null;
    const { cause } = worker.death();
    if (cause === DeathCause.Failed) {
      this.#transientFailures++;
      this.#host.count('transient_failures');
      env.log({ event: 'worker-failed', run: runId, code: worker.failedCode });
      return env.now() + Math.min(60_000, 500 * 2 ** Math.min(7, this.#transientFailures));
    }
    this.#host.count('worker_restarts');
    this.#host.count(`worker_restarts_${cause}`);
    for (const seq of worker.segmentsDone) this.ledger.passed(seq, Infinity);
    if (worker.lastAck) this.ledger.passed(worker.lastAck.seq, worker.lastAck.index);
    const site = siteOf(worker, sent, finishing);
    const lesson = this.ledger.died(cause, site);
    env.log({ event: 'worker-restart', run: runId, cause, site: site.kind, ...siteFields(site), lesson: lesson.kind });
    await this.#apply(lesson);
    return this.#backoff(lesson);
  }

  /**
   * Runs the next pending isolation probe, if any.
   * @returns null if there was none; else when the next attempt may start (now, or later after an inconclusive probe).
   */
  async isolateNext(): Promise<number | null> {
    const next = this.ledger.nextIsolation();
    if (!next) return null;
    const { env, runId } = this.#host;
    const ref = this.#host.fed().find((f) => f.seq === next.seq);
    if (!ref) return env.now();
    const outcome = await probeRecord(
      {
        spoolDir: env.spoolDir,
        keys: env.keys,
        runId,
        isPublished: env.isPublished,
        count: this.#host.count,
        log: env.log,
        config: this.#host.config(),
        worker: { env: env.workerEnv, stallMs: env.stallMs },
        track: (w) => void (this.#probe = w),
      },
      ref,
      next.index,
    );
    if (env.isStopping()) return env.now();
    if (outcome === 'gone') {
      // The segment could not be read again (rejected and counted by the reader): drop it.
      this.#host.dropFed(next.seq);
      this.ledger.dropSegment(next.seq);
      return env.now();
    }
    const lesson = this.ledger.probed(next.seq, next.index, outcome);
    env.log({ event: 'record-isolated', run: runId, seq: next.seq, index: next.index, outcome, lesson: lesson.kind });
    await this.#apply(lesson);
    return outcome === 'ok' ? env.now() : (this.#backoff(lesson) ?? env.now());
  }

  async stopProbe(): Promise<void> {
    await this.#probe?.kill();
  }

  /** Acts on a lesson: logs verdicts, quarantines hostile segments. */
  async #apply(l: Lesson): Promise<void> {
    const { env, runId } = this.#host;
    if (l.kind === 'poison') env.log({ event: 'poison-record', run: runId, seq: l.seq, index: l.index, cause: l.cause });
    if (l.kind !== 'quarantine') return;
    // A segment given up on (too many poison records, or workers keep dying there): the rest
    // of the run goes on without it.
    const code = l.reason === 'poisoned' ? ErrorCode.ProcessorSegmentPoisoned : ErrorCode.ProcessorSegmentUnprocessable;
    const ref = this.#host.fed().find((f) => f.seq === l.seq);
    this.#host.dropFed(l.seq);
    this.ledger.dropSegment(l.seq);
    const evicted = ref ? await quarantineSegment(env.spoolDir, ref.name, code).catch(() => 0) : 0;
    this.#host.count('segments_quarantined');
    if (evicted > 0) this.#host.count('quarantine_evicted', evicted);
    this.#host.count(`segments_quarantined_${l.reason}`);
    env.log({ event: 'segment-rejected', run: runId, seq: l.seq, code });
  }

  #backoff(lesson: Lesson): number | null {
    if (lesson.kind !== 'nothing' && lesson.kind !== 'cleared') {
      this.#idleDeaths = 0;
      return null;
    }
    this.#idleDeaths++;
    const { env } = this.#host;
    return env.now() + Math.min(env.backoffMaxMs, env.backoffBaseMs * 2 ** Math.min(30, this.#idleDeaths - 1));
  }
}

/** Where the worker was when it died (see DeathSite). */
function siteOf(worker: WorkerHandle, sent: ReadonlyArray<{ seq: number; careful: boolean }>, finishing: boolean): DeathSite {
  if (!worker.ready) return { kind: 'none' };
  const carefulIn = (seq: number) => sent.find((s) => s.seq === seq)?.careful ?? false;
  if (worker.poison) return { kind: 'record', ...worker.poison, careful: carefulIn(worker.poison.seq) };
  if (worker.inFlight) return { kind: 'record', ...worker.inFlight, careful: true };
  // Segments are processed in order: the first one not reported done is the one it was in.
  const open = sent.find((s) => !worker.segmentsDone.includes(s.seq));
  if (open) return { kind: 'segment', seq: open.seq };
  return finishing ? { kind: 'finish' } : { kind: 'none' };
}

function siteFields(site: DeathSite): Record<string, number> {
  if (site.kind === 'record') return { seq: site.seq, index: site.index };
  if (site.kind === 'segment') return { seq: site.seq };
  return {};
}
