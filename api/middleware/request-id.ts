/**
 * Assigns each request a server-generated id (never taken from the client), exposes it as
 * `X-Request-Id`, and initialises the audit facts.
 *
 * Owns: request identity. Never: trusts an incoming request id header.
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './context.ts';

/** Middleware factory; `newRequestId` defaults to `crypto.randomUUID`. */
export function requestId(newRequestId: () => string = () => crypto.randomUUID()): MiddlewareHandler<AppEnv> {
  return async function requestIdMiddleware(c, next) {
    const id = newRequestId();
    c.set('requestId', id);
    c.set('principal', undefined);
    c.set('audit', { dataset: null, query: null, rows: null, errorCode: null, errorReason: null });
    c.header('X-Request-Id', id);
    await next();
  };
}
