/**
 * Why a worker process died, as far as the supervisor can tell. This is the first question the
 * crash rules (crash-ledger.ts) ask, because only one kind of death says anything about a record.
 *
 * Owns: the cause taxonomy and the classification of a death from what the supervisor saw (exit
 * code, signal, whether it killed the worker itself and why, the worker's own last report, the
 * tail of its stderr).
 * Never: calls a kill from outside, an out-of-memory abort or a hang a crash. Those say that the
 * worker died, not why; a record is blamed only for deaths of the `crash` kind (and, for the
 * others, only when it causes them alone in a fresh worker, see crash-ledger.ts).
 */
import { ErrorCode } from '../../schemas/errors.ts';

export const DeathCause = {
  /**
   * The worker failed while working: a parser exception it reported, a non-zero exit, a fault
   * signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT without an out-of-memory banner, SIGTRAP,
   * SIGSYS), or a worker-level error other than a full archive disk.
   */
  Crash: 'crash',
  /** V8 ran out of heap: it prints its "heap out of memory" banner and aborts (SIGABRT). */
  Oom: 'oom',
  /** The supervisor killed it: no sign of life for the stall timeout while it had work. */
  Timeout: 'timeout',
  /** A signal from outside (SIGKILL from the kernel OOM killer or an operator, SIGTERM, ...). */
  Killed: 'killed',
  /** It reported that the archive could not be written (e.g. disk full): the run's problem, not a record's. */
  Failed: 'failed',
  /** The supervisor ended it on purpose (shutdown, or done with it). */
  Stopped: 'stopped',
} as const;
export type DeathCause = (typeof DeathCause)[keyof typeof DeathCause];

/** Signals a process gets from its own faults (as opposed to ones sent to it). */
const FAULT_SIGNALS: ReadonlySet<string> = new Set(['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT', 'SIGTRAP', 'SIGSYS']);

/** What V8 prints before aborting on heap exhaustion ("FATAL ERROR: Reached heap limit ... JavaScript heap out of memory"). */
const OOM_BANNER = /JavaScript heap out of memory|Reached heap limit|<--- Last few GCs --->/;

/** The worker's exit code when its stdin closed before FINISH: the supervisor went away. */
export const WORKER_EXIT_ORPHANED = 75;

export interface DeathFacts {
  code: number | null;
  signal: string | null;
  /** Set when the supervisor killed the worker: on purpose, or because it stalled. */
  killedBy: 'supervisor' | 'timeout' | null;
  /** The worker reported a parser exception on a record before exiting. */
  reportedPoison: boolean;
  /** Error code of a worker-level failure it reported (the `failed` event), if any. */
  failedCode: string | null;
  /** The last few KiB the worker wrote to stderr. */
  stderrTail: string;
}

/** Classifies a death (see `DeathCause`). A worker that exited 0 but never reported its result counts as a crash. */
export function classifyDeath(f: DeathFacts): DeathCause {
  if (f.killedBy === 'timeout') return DeathCause.Timeout;
  if (f.killedBy === 'supervisor') return DeathCause.Stopped;
  if (f.failedCode === ErrorCode.ArchiveWriteFailed) return DeathCause.Failed;
  if (f.reportedPoison) return DeathCause.Crash;
  if (f.signal === 'SIGABRT' && OOM_BANNER.test(f.stderrTail)) return DeathCause.Oom;
  if (f.signal !== null) return FAULT_SIGNALS.has(f.signal) ? DeathCause.Crash : DeathCause.Killed;
  if (f.code === WORKER_EXIT_ORPHANED && f.failedCode === null) return DeathCause.Killed;
  return DeathCause.Crash;
}
