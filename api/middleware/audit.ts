/**
 * Writes one audit entry per request after it completes (success or error): time, request id,
 * client address (api/middleware/client-address.ts), subject, method, path, dataset, the
 * validated query, status, rows returned, duration.
 *
 * Fails closed: when the entry cannot be written, the answer is withheld and the caller gets
 * 503 ERR_AUDIT_UNAVAILABLE instead (an unaudited answer is never sent); each such failure is
 * logged with the running count of failures.
 *
 * Owns: assembling the entry. Never: records the token, headers, or the raw (unvalidated) body.
 */
import type { MiddlewareHandler } from 'hono';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { AuditSink, Logger } from '../ports.ts';
import type { AppEnv } from './context.ts';

/**
 * Middleware factory; must run after `requestId()` and inside the error handler.
 * @throws AppError ERR_AUDIT_UNAVAILABLE (to the error handler) when the sink fails.
 */
export function audit(options: { sink: AuditSink; now: () => number; logger: Logger }): MiddlewareHandler<AppEnv> {
  const { sink, now, logger } = options;
  let failures = 0;
  return async function auditMiddleware(c, next) {
    const started = now();
    await next();
    const facts = c.get('audit');
    const principal = c.get('principal');
    try {
      await sink.write({
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
        rows: facts.rows,
        errorCode: facts.errorCode,
        errorReason: facts.errorReason,
        durationMs: Math.max(0, now() - started),
      });
    } catch (err) {
      failures++;
      logger.error('audit sink failed: answer withheld', { requestId: c.get('requestId'), failures, message: err instanceof Error ? err.message : String(err) });
      throw new AppError(ErrorCode.AuditUnavailable, 'the request was not answered: the audit log cannot be written');
    }
  };
}
