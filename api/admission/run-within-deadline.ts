/**
 * Runs one admitted query against the request's deadline: the engine gets the time *left*
 * (not the full timeout — the queue wait has used some), and the answer waits at most
 * DEADLINE_GRACE_MS past the deadline for the engine to stop. The admission slot is released
 * only when the engine call has really settled, so a query the engine is slow to interrupt
 * keeps its slot (and its DuckDB connection) counted, even after the client got its 504.
 *
 * Owns: the deadline race and the slot's release. Never: releases a slot twice or before the
 * engine is done with it.
 */
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { CompiledSql, EngineResult, QueryEngine } from '../ports.ts';
import type { AdmissionTicket } from './admission-controller.ts';

/** How long past the deadline an answer waits for the engine to stop (DuckDB's interrupt takes ~5–50 ms). */
export const DEADLINE_GRACE_MS = 250;

export interface DeadlineRun {
  readonly engine: QueryEngine;
  readonly query: CompiledSql;
  readonly maxRows: number;
  readonly deadlineAt: number;
  readonly now: () => number;
  readonly ticket: AdmissionTicket;
  readonly signal?: AbortSignal;
}

/**
 * @throws AppError ERR_QUERY_TIMEOUT when the deadline (plus the grace) passes first; the
 *   engine's errors otherwise.
 */
export function runWithinDeadline(run: DeadlineRun): Promise<EngineResult> {
  const remaining = run.deadlineAt - run.now();
  const options = { maxRows: run.maxRows, timeoutMs: remaining, ...(run.signal ? { signal: run.signal } : {}) };
  const work = Promise.resolve().then(() => run.engine.run(run.query, options));
  const release = (): void => run.ticket.release();
  work.then(release, release);
  return new Promise<EngineResult>((resolve, reject) => {
    const guard = setTimeout(() => reject(new AppError(ErrorCode.QueryTimeout, 'query exceeded its deadline')), Math.max(0, remaining) + DEADLINE_GRACE_MS);
    work.then(
      (result) => {
        clearTimeout(guard);
        resolve(result);
      },
      (err: unknown) => {
        clearTimeout(guard);
        reject(err);
      },
    );
  });
}
