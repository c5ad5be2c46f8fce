/**
 * Per-subject token-bucket rate limiting with the IETF draft `RateLimit-Limit`,
 * `RateLimit-Remaining`, `RateLimit-Reset` headers on every authenticated response, and
 * `details.retryAfterSec` on 429 ERR_RATE_LIMITED (the error handler turns it into `Retry-After`,
 * for this limit and for the record budget alike).
 *
 * Owns: request cost (queries cost more) and the headers. Never: keys buckets by anything but
 * the verified issuer + subject (no client-controlled keys).
 */
import type { MiddlewareHandler } from 'hono';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { retryAfterSeconds } from '../rate-limit/wait-time.ts';
import type { RateLimitConfig } from '../../schemas/api-config.ts';
import type { RateLimitStore } from '../ports.ts';
import type { AppEnv } from './context.ts';
import { principalOf } from './auth.ts';

const QUERY_PATH = /^\/v1\/(query$|plan$|datasets\/[^/]+\/(records|top|timeseries)$)/;

/** Middleware factory; must run after `auth()`. */
export function rateLimit(options: { store: RateLimitStore; config: RateLimitConfig; now: () => number }): MiddlewareHandler<AppEnv> {
  const { store, config, now } = options;
  const spec = { capacity: config.burst, refillPerMs: config.perMinute / 60_000 };
  return async function rateLimitMiddleware(c, next) {
    const p = principalOf(c);
    const cost = QUERY_PATH.test(c.req.path) ? config.queryCost : 1;
    const state = await store.take(`rl|${p.issuer}|${p.subject}`, cost, spec, now());
    c.header('RateLimit-Limit', String(config.burst));
    c.header('RateLimit-Remaining', String(Math.max(0, Math.floor(state.remaining))));
    c.header('RateLimit-Reset', String(Math.ceil(state.resetMs / 1000)));
    if (!state.allowed) {
      throw new AppError(ErrorCode.RateLimited, 'rate limit exceeded', { details: { retryAfterSec: retryAfterSeconds(state.retryAfterMs) } });
    }
    await next();
  };
}
