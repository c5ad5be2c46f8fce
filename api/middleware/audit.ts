/**
 * Writes one audit entry per request after it completes (success or error): time, request id,
 * client address (api/middleware/client-address.ts), subject, method, path, dataset, the
 * validated query, status, rows returned, duration.
 *
 * Fails closed: when the entry cannot be written, the answer is withheld and the caller gets
 * 503 ERR_AUDIT_UNAVAILABLE instead (an unaudited answer is never sent); each such failure is
 * logged with the running count of failures.
 *
 * Refusals of unauthenticated requests by the per-address limit (429, no principal) are
 * written at most once per address per REFUSAL_AUDIT_INTERVAL_MS, the next entry carrying how
 * many were left out (`suppressed`): a refused flood cannot grow the audit log (or fill its
 * disk and so, failing closed, deny everyone) faster than one line a minute per address.
 *
 * Owns: assembling the entry. Never: records the token, headers, or the raw (unvalidated) body.
 */
import type { MiddlewareHandler } from 'hono';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { AuditSink, Logger } from '../ports.ts';
import type { AppEnv } from './context.ts';

/** At most one audited refusal per address per minute. */
export const REFUSAL_AUDIT_INTERVAL_MS = 60_000;
const MAX_TRACKED_ADDRESSES = 10_000;

/**
 * Middleware factory; must run after `requestId()` and inside the error handler.
 * @throws AppError ERR_AUDIT_UNAVAILABLE (to the error handler) when the sink fails.
 */
export function audit(options: { sink: AuditSink; now: () => number; logger: Logger }): MiddlewareHandler<AppEnv> {
  const { sink, now, logger } = options;
  let failures = 0;
  /** Per address: when its last refusal was written, and how many were left out since. */
  const refusals = new Map<string, { writtenAt: number; suppressed: number }>();
  return async function auditMiddleware(c, next) {
    const started = now();
    await next();
    const facts = c.get('audit');
    const principal = c.get('principal');
    const address = c.get('clientAddress') ?? null;
    let suppressed: number | undefined;
    if (c.res.status === 429 && principal === undefined && address !== null) {
      const seen = refusals.get(address);
      if (seen && started - seen.writtenAt < REFUSAL_AUDIT_INTERVAL_MS) {
        seen.suppressed++;
        return;
      }
      if (seen && seen.suppressed > 0) suppressed = seen.suppressed;
      refusals.delete(address);
      refusals.set(address, { writtenAt: started, suppressed: 0 });
      // Bounded: the oldest addresses are forgotten first (their next refusal is written).
      if (refusals.size > MAX_TRACKED_ADDRESSES) refusals.delete(refusals.keys().next().value!);
    }
    const streaming = facts.streamEnd !== undefined && facts.streamEnded !== true && c.res.status < 400;
    const entry = {
      time: new Date(started).toISOString(),
      requestId: c.get('requestId'),
      clientAddress: c.get('clientAddress') ?? null,
      subject: principal?.subject ?? null,
      issuer: principal?.issuer ?? null,
      method: c.req.method,
      path: c.req.path.slice(0, 512),
      status: c.res.status,
      dataset: facts.dataset,
      query: facts.query,
      ...(facts.timeRange ? { timeRange: facts.timeRange } : {}),
    };
    if (streaming) {
      // Written after the stream ends, best effort: the answer has been going out since the
      // first entry was written (fail-closed happened there).
      void facts.streamEnd!.then(async (end) => {
        const failed = end.error !== undefined;
        try {
          await sink.write({
            ...entry,
            rows: end.rows,
            errorCode: failed ? (end.error instanceof AppError ? end.error.code : ErrorCode.Internal) : null,
            errorReason: null,
            durationMs: Math.max(0, now() - started),
            stream: failed ? 'failed' : 'ended',
          });
        } catch (err) {
          failures++;
          logger.error('audit sink failed writing the end of a streamed answer', { requestId: entry.requestId, failures, message: err instanceof Error ? err.message : String(err) });
        }
      });
    }
    try {
      await sink.write({
        ...entry,
        rows: facts.rows,
        errorCode: facts.errorCode,
        errorReason: facts.errorReason,
        durationMs: Math.max(0, now() - started),
        ...(suppressed !== undefined ? { suppressed } : {}),
        ...(streaming ? { stream: 'started' as const } : {}),
      });
    } catch (err) {
      failures++;
      // The answer is withheld: a started one must not keep its query running.
      facts.cancelStream?.();
      logger.error('audit sink failed: answer withheld', { requestId: c.get('requestId'), failures, message: err instanceof Error ? err.message : String(err) });
      throw new AppError(ErrorCode.AuditUnavailable, 'the request was not answered: the audit log cannot be written');
    }
  };
}
