/**
 * Admission control for queries: how many run at once (all subjects, per subject, expensive
 * ones), and a bounded, fair wait queue in front of them.
 *
 * - A query asks for a slot with its subject, its lane (`cheap` or `expensive`, from the cost
 *   estimate) and its request deadline. It runs at once when a slot is free, the subject is
 *   under `maxConcurrentPerSubject` and — for the expensive lane — fewer than
 *   `maxExpensiveConcurrent` expensive queries run. Expensive queries never take more than
 *   that many slots, so `maxConcurrent - maxExpensiveConcurrent` slots are always left for
 *   cheap ones: a cheap query never waits behind expensive ones.
 * - Otherwise it waits, unless the subject already has `maxQueuedPerSubject` waiting (429
 *   ERR_RATE_LIMITED: the caller's own backlog), the queue holds `maxQueued` (503
 *   ERR_OVERLOADED), or the queue ahead in its lane would not let it start before its deadline
 *   (503 ERR_OVERLOADED: waiting would only end in a 504 later). The wait is estimated from the
 *   lane's recent run times (a moving average, 1 s before the first run) × the queries ahead
 *   in the lane / the lane's slots. Every refusal is immediate and carries `retryAfterSec`, an
 *   estimate from the same figures.
 * - Fair order: when a slot frees, subjects with waiting queries are served round robin (each
 *   subject's own queries in arrival order, skipping an expensive one the lane limit blocks),
 *   so one subject's ten waiting queries do not sit in front of another subject's one.
 * - A waiting query whose deadline passes leaves the queue at once with 504 ERR_QUERY_TIMEOUT;
 *   one whose `signal` aborts (client gone) leaves it with ERR_BAD_REQUEST "request aborted".
 *
 * Owns: slots, the queue and its order. Never: runs queries, reads the clock except through
 * the injected `now`, or keys anything by what the client sends (the caller passes the
 * verified subject).
 */
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { AdmissionConfig } from '../../schemas/api-config.ts';

export type Lane = 'cheap' | 'expensive';

export interface AdmissionRequest {
  /** Verified issuer + subject. */
  readonly subject: string;
  readonly lane: Lane;
  /** When the whole request must be answered, ms since the epoch (the clock of `now`). */
  readonly deadlineAt: number;
  /** Aborts the wait (e.g. the client went away). */
  readonly signal?: AbortSignal;
}

export interface AdmissionTicket {
  /** Milliseconds the query waited for its slot. */
  readonly waitedMs: number;
  /** Frees the slot. Idempotent; call when the query has really stopped. */
  release(): void;
}

export interface AdmissionStats {
  readonly running: number;
  readonly runningExpensive: number;
  readonly queued: number;
  /** Refusals so far, by code, and waits that ended at their deadline. */
  readonly refused: { readonly overloaded: number; readonly subjectQueueFull: number; readonly timedOutWaiting: number };
}

export interface AdmissionController {
  /**
   * Waits for a slot.
   * @throws AppError ERR_RATE_LIMITED (subject's queue share full), ERR_OVERLOADED (queue
   *   full), ERR_QUERY_TIMEOUT (deadline passed before a slot was free), ERR_BAD_REQUEST when
   *   the signal aborts.
   */
  acquire(request: AdmissionRequest): Promise<AdmissionTicket>;
  stats(): AdmissionStats;
}

interface Waiter {
  readonly request: AdmissionRequest;
  readonly lane: Lane;
  readonly enqueuedAt: number;
  readonly resolve: (t: AdmissionTicket) => void;
  readonly reject: (e: unknown) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  onAbort: (() => void) | undefined;
}

/** Weight of the newest run time in the moving average behind `retryAfterSec`. */
const EWMA_WEIGHT = 0.2;
/** Run time assumed before any query has finished, ms. */
const INITIAL_RUN_MS = 1000;
/** Longest `Retry-After` suggested, seconds. */
const MAX_RETRY_AFTER_SEC = 60;

function clientGone(): AppError {
  return new AppError(ErrorCode.BadRequest, 'request aborted by the client');
}

/** Creates a controller. `now` is ms since the epoch (default `Date.now`). */
export function createAdmissionController(config: AdmissionConfig, now: () => number = Date.now): AdmissionController {
  let running = 0;
  let runningExpensive = 0;
  let queued = 0;
  const runningBySubject = new Map<string, number>();
  /** Subjects with waiting queries, in round-robin order (Map keeps insertion order). */
  const waiting = new Map<string, Waiter[]>();
  /** Moving average of run times per lane, ms. */
  const avgRunMs: Record<Lane, number> = { cheap: INITIAL_RUN_MS, expensive: INITIAL_RUN_MS };
  const queuedInLane: Record<Lane, number> = { cheap: 0, expensive: 0 };
  const refused = { overloaded: 0, subjectQueueFull: 0, timedOutWaiting: 0 };

  const subjectRunning = (s: string) => runningBySubject.get(s) ?? 0;

  function canRun(r: AdmissionRequest): boolean {
    if (running >= config.maxConcurrent) return false;
    if (subjectRunning(r.subject) >= config.maxConcurrentPerSubject) return false;
    return r.lane === 'cheap' || runningExpensive < config.maxExpensiveConcurrent;
  }

  function start(r: AdmissionRequest, waitedMs: number): AdmissionTicket {
    running++;
    if (r.lane === 'expensive') runningExpensive++;
    runningBySubject.set(r.subject, subjectRunning(r.subject) + 1);
    const startedAt = now();
    let released = false;
    return {
      waitedMs,
      release() {
        if (released) return;
        released = true;
        running--;
        if (r.lane === 'expensive') runningExpensive--;
        const left = subjectRunning(r.subject) - 1;
        if (left > 0) runningBySubject.set(r.subject, left);
        else runningBySubject.delete(r.subject);
        avgRunMs[r.lane] += EWMA_WEIGHT * (Math.max(0, now() - startedAt) - avgRunMs[r.lane]);
        dispatch();
      },
    };
  }

  function unlink(w: Waiter): void {
    const list = waiting.get(w.request.subject);
    const i = list ? list.indexOf(w) : -1;
    if (!list || i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) waiting.delete(w.request.subject);
    queued--;
    queuedInLane[w.lane]--;
    clearTimeout(w.timer);
    if (w.onAbort) w.request.signal?.removeEventListener('abort', w.onAbort);
  }

  /** Gives free slots to waiting queries, subjects in round-robin order. */
  function dispatch(): void {
    let progressed = true;
    while (progressed && queued > 0 && running < config.maxConcurrent) {
      progressed = false;
      for (const [subject, list] of waiting) {
        const w = list.find((x) => canRun(x.request));
        if (!w) continue;
        unlink(w);
        // Served: the subject goes to the back of the rotation.
        const rest = waiting.get(subject);
        if (rest) {
          waiting.delete(subject);
          waiting.set(subject, rest);
        }
        w.resolve(start(w.request, Math.max(0, now() - w.enqueuedAt)));
        progressed = true;
        break;
      }
    }
  }

  /** Slots a lane can use: the expensive lane its own; cheap queries every slot not running an expensive one. */
  function laneSlots(lane: Lane): number {
    return lane === 'expensive' ? config.maxExpensiveConcurrent : Math.max(1, config.maxConcurrent - runningExpensive);
  }

  /** Expected wait, ms, for a query of `lane` with `ahead` queries of its lane before it. */
  function expectedWaitMs(lane: Lane, ahead: number): number {
    return ((ahead + 1) * avgRunMs[lane]) / laneSlots(lane);
  }

  function retryAfterSec(waitMs: number): number {
    return Math.min(MAX_RETRY_AFTER_SEC, Math.max(1, Math.ceil(waitMs / 1000)));
  }

  return {
    acquire(request) {
      const t = now();
      if (request.signal?.aborted) return Promise.reject(clientGone());
      if (request.deadlineAt <= t) {
        refused.timedOutWaiting++;
        return Promise.reject(new AppError(ErrorCode.QueryTimeout, 'query exceeded its deadline before it could start'));
      }
      if (canRun(request)) return Promise.resolve(start(request, 0));
      const own = waiting.get(request.subject)?.length ?? 0;
      if (own >= config.maxQueuedPerSubject) {
        refused.subjectQueueFull++;
        const waitMs = ((own + 1) * avgRunMs[request.lane]) / config.maxConcurrentPerSubject;
        return Promise.reject(
          new AppError(ErrorCode.RateLimited, 'too many of your queries are running or waiting; retry later', {
            details: { retryAfterSec: retryAfterSec(waitMs), queuedForSubject: own },
          }),
        );
      }
      const waitMs = expectedWaitMs(request.lane, queuedInLane[request.lane]);
      if (queued >= config.maxQueued || t + waitMs > request.deadlineAt) {
        refused.overloaded++;
        const why = queued >= config.maxQueued ? 'the server is busy with other queries' : 'the queries ahead would not leave this one time to run';
        return Promise.reject(new AppError(ErrorCode.Overloaded, `${why}; retry later`, { details: { retryAfterSec: retryAfterSec(waitMs) } }));
      }
      return new Promise<AdmissionTicket>((resolve, reject) => {
        const w: Waiter = { request, lane: request.lane, enqueuedAt: t, resolve, reject, timer: undefined, onAbort: undefined };
        w.timer = setTimeout(() => {
          unlink(w);
          refused.timedOutWaiting++;
          reject(new AppError(ErrorCode.QueryTimeout, 'query waited past its deadline for a free slot', { details: { waitedMs: Math.max(0, now() - t) } }));
        }, request.deadlineAt - t);
        if (request.signal) {
          w.onAbort = () => {
            unlink(w);
            reject(clientGone());
          };
          request.signal.addEventListener('abort', w.onAbort, { once: true });
        }
        const list = waiting.get(request.subject);
        if (list) list.push(w);
        else waiting.set(request.subject, [w]);
        queued++;
        queuedInLane[w.lane]++;
      });
    },
    stats() {
      return { running, runningExpensive, queued, refused: { ...refused } };
    },
  };
}
