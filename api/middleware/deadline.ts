/**
 * The request's deadline: arrival time plus the query timeout. Everything a query does counts
 * against it — token verification, waiting for an admission slot, running in DuckDB — so a
 * request is answered (504 ERR_QUERY_TIMEOUT at worst) close to `queryTimeoutMs` after it
 * arrived, however busy the server is.
 *
 * Owns: `deadlineAt`. Never: enforces it (admission and the query runner do).
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './context.ts';

/** Middleware factory; put it first, so the deadline counts from arrival. */
export function requestDeadline(options: { timeoutMs: number; now: () => number }): MiddlewareHandler<AppEnv> {
  const { timeoutMs, now } = options;
  return async function deadlineMiddleware(c, next) {
    c.set('deadlineAt', now() + timeoutMs);
    await next();
  };
}
