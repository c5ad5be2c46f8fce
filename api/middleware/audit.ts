/**
 * Writes one audit entry per request after it completes (success or error): time, request id,
 * subject, method, path, dataset, the validated query, status, rows returned, duration.
 *
 * Owns: assembling the entry. Never: records the token, headers, or the raw (unvalidated) body.
 * A failing sink is logged, not turned into a failed response.
 */
import type { MiddlewareHandler } from 'hono';
import type { AuditSink, Logger } from '../ports.ts';
import type { AppEnv } from './context.ts';

/** Middleware factory; must run after `requestId()`. */
export function audit(options: { sink: AuditSink; now: () => number; logger: Logger }): MiddlewareHandler<AppEnv> {
  const { sink, now, logger } = options;
  return async function auditMiddleware(c, next) {
    const started = now();
    await next();
    const facts = c.get('audit');
    const principal = c.get('principal');
    try {
      await sink.write({
        time: new Date(started).toISOString(),
        requestId: c.get('requestId'),
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
      logger.error('audit sink failed', { requestId: c.get('requestId'), message: err instanceof Error ? err.message : String(err) });
    }
  };
}
