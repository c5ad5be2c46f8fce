/**
 * Starts one admitted query against the request's deadline: the engine gets the time *left*
 * (not the full timeout — the queue wait has used some), and the start waits at most
 * DEADLINE_GRACE_MS past the deadline for the engine to stop. The admission slot is released
 * only when the engine is really done with the query — its stream closed, read to the end, or
 * failed — so a query the engine is slow to interrupt, or an answer still streaming to a slow
 * client, keeps its slot (and its DuckDB connection) counted, even after the client got its 504.
 *
 * Owns: the deadline race and the slot's release. Never: releases a slot twice or before the
 * engine is done with it.
 */
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { EngineStream, QueryEngine, RowTextLayout } from '../ports.ts';
import type { QueryPlan } from '../query/plan.ts';
import type { AdmissionTicket } from './admission-controller.ts';

/** How long past the deadline an answer waits for the engine to stop (DuckDB's interrupt takes ~5–50 ms). */
export const DEADLINE_GRACE_MS = 250;

export interface DeadlineRun {
  readonly engine: QueryEngine;
  readonly plan: QueryPlan;
  readonly deadlineAt: number;
  readonly now: () => number;
  readonly ticket: AdmissionTicket;
  readonly signal?: AbortSignal;
  /** Passed on to the engine (api/ports.ts `EngineRunOptions.rowText`). */
  readonly rowText?: RowTextLayout;
}

/**
 * Wraps `s` so that the slot is released once, when the stream is done with — and at the
 * latest at `stopAt` (the deadline plus the grace): a client that stops reading cannot hold
 * the slot and the DuckDB connection beyond it. An answer stopped that way fails with
 * ERR_QUERY_TIMEOUT at its next batch (the body is cut off, never passed off as complete).
 */
function releasing(s: EngineStream, release: () => void, stopAfterMs: number): EngineStream {
  let done = false;
  let expired = false;
  const once = (): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    release();
  };
  const timer = setTimeout(() => {
    expired = true;
    void s.close().catch(() => undefined).finally(once);
  }, Math.max(0, stopAfterMs));
  return {
    columns: s.columns,
    batches: {
      async *[Symbol.asyncIterator]() {
        try {
          for await (const batch of s.batches) {
            if (expired) break;
            yield batch;
            if (expired) break;
          }
          if (expired) throw new AppError(ErrorCode.QueryTimeout, 'query exceeded its deadline while its answer was being sent');
        } finally {
          await s.close().catch(() => undefined);
          once();
        }
      },
    },
    stats: () => s.stats(),
    async close() {
      try {
        await s.close();
      } finally {
        once();
      }
    },
  };
}

/**
 * @throws AppError ERR_QUERY_TIMEOUT when the deadline (plus the grace) passes before the
 *   answer starts; the engine's errors otherwise.
 */
export function openWithinDeadline(run: DeadlineRun): Promise<EngineStream> {
  const remaining = run.deadlineAt - run.now();
  const options = { timeoutMs: remaining, ...(run.signal ? { signal: run.signal } : {}), ...(run.rowText ? { rowText: run.rowText } : {}) };
  const release = (): void => run.ticket.release();
  const work = Promise.resolve().then(() => run.engine.execute(run.plan, options));
  let abandoned = false;
  work.then(
    (stream) => {
      // Too late: the caller got its 504; stop the query and give the slot back then.
      if (abandoned) void stream.close().finally(release);
    },
    release,
  );
  return new Promise<EngineStream>((resolve, reject) => {
    const guard = setTimeout(() => {
      abandoned = true;
      reject(new AppError(ErrorCode.QueryTimeout, 'query exceeded its deadline'));
    }, Math.max(0, remaining) + DEADLINE_GRACE_MS);
    work.then(
      (stream) => {
        clearTimeout(guard);
        if (!abandoned) resolve(releasing(stream, release, run.deadlineAt + DEADLINE_GRACE_MS - run.now()));
      },
      (err: unknown) => {
        clearTimeout(guard);
        reject(err);
      },
    );
  });
}
