/**
 * Bearer authentication (RFC 6750) through the injected `TokenVerifier`, and scope checks.
 *
 * Unauthenticated requests are limited per client address (`addressLimit`): the address's
 * bucket is read *before* the bearer token is looked at, and a request whose token is missing
 * or refused takes a token from it afterwards (going into debt when a burst of them was in
 * flight at once, so a parallel flood is paid back in full before the address is heard
 * again). Valid tokens never use the bucket, so many users behind one address do not limit
 * each other; but once the bucket is empty every request from that address is refused with
 * 429 without any signature check — a flood of forged tokens then costs one bucket read each.
 * The price: while an address's bucket is empty, valid tokens from it (e.g. behind the same
 * NAT) wait too. Requests whose address is unknown (a runtime without one) are not limited by
 * address.
 *
 * Owns: extracting the token from `Authorization`, putting the `Principal` on the context,
 * `requireScope`, the per-address limit. Never: accepts tokens from query strings or cookies,
 * logs or stores the token.
 */
import type { MiddlewareHandler } from 'hono';
import { AppError, ErrorCode, isAppError } from '../../schemas/errors.ts';
import type { Principal } from '../../schemas/claims.ts';
import type { BucketSpec, RateLimitStore, TokenVerifier } from '../ports.ts';
import { retryAfterSeconds } from '../rate-limit/wait-time.ts';
import type { AppEnv } from './context.ts';
import { addressBucketKey } from './client-address.ts';

/** The per-address limit on unauthenticated requests. */
export interface AddressLimit {
  readonly store: RateLimitStore;
  /** Requests a minute refilled per address. */
  readonly perMinute: number;
  /** Bucket capacity per address. */
  readonly burst: number;
  readonly now: () => number;
}

/**
 * Middleware factory: 401 ERR_AUTH_MISSING without a bearer token, ERR_AUTH_INVALID /
 * ERR_AUTH_EXPIRED from the verifier; 429 ERR_RATE_LIMITED (with `retryAfterSec`) when the
 * client address has used up its allowance of unauthenticated requests.
 */
export function auth(options: { verifier: TokenVerifier; addressLimit?: AddressLimit }): MiddlewareHandler<AppEnv> {
  const { verifier, addressLimit } = options;
  const spec: BucketSpec | null = addressLimit ? { capacity: addressLimit.burst, refillPerMs: addressLimit.perMinute / 60_000 } : null;
  return async function authMiddleware(c, next) {
    const address = c.get('clientAddress');
    const limit = addressLimit && spec && address ? { ...addressLimit, spec, key: addressBucketKey(address) } : null;
    if (limit) {
      // Cost 0 only reads the bucket.
      const state = await limit.store.take(limit.key, 0, limit.spec, limit.now());
      if (state.remaining < 1) {
        const wait = Math.max(1, (1 - state.remaining) / limit.spec.refillPerMs);
        throw new AppError(ErrorCode.RateLimited, 'too many unauthenticated requests from this address', { details: { retryAfterSec: retryAfterSeconds(wait) } });
      }
    }
    try {
      const header = c.req.header('Authorization');
      if (header === undefined || header.trim() === '') throw new AppError(ErrorCode.AuthMissing, 'bearer token required');
      const match = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header);
      if (!match) throw new AppError(ErrorCode.AuthInvalid, 'Authorization must be "Bearer <token>"');
      c.set('principal', await verifier.verify(match[1]));
    } catch (err) {
      // Refused tokens only: a verifier outage (e.g. JWKS unreachable) is not the client's doing.
      if (limit && isAppError(err) && err.status === 401) await limit.store.take(limit.key, 1, limit.spec, limit.now(), { force: true });
      throw err;
    }
    await next();
  };
}

/**
 * Middleware factory for routes that take no token (unknown paths, `/openapi.json`): each
 * request takes one from its address's public-path bucket (same size as the one for refused
 * tokens, but separate, so browsing the docs never locks out valid tokens), and an empty
 * bucket answers 429 — so nobody can flood the audit log or the server through them.
 */
export function limitByAddress(addressLimit: AddressLimit): MiddlewareHandler<AppEnv> {
  const spec: BucketSpec = { capacity: addressLimit.burst, refillPerMs: addressLimit.perMinute / 60_000 };
  return async function addressLimitMiddleware(c, next) {
    const address = c.get('clientAddress');
    if (address) {
      // Its own bucket: public-path traffic must not use up the allowance that gates /v1.
      const state = await addressLimit.store.take(`${addressBucketKey(address)}:public`, 1, spec, addressLimit.now());
      if (!state.allowed) {
        throw new AppError(ErrorCode.RateLimited, 'too many unauthenticated requests from this address', { details: { retryAfterSec: retryAfterSeconds(state.retryAfterMs) } });
      }
    }
    await next();
  };
}

/** The authenticated principal. @throws TypeError when used on a route without `auth()`. */
export function principalOf(c: { get(key: 'principal'): Principal | undefined }): Principal {
  const p = c.get('principal');
  if (!p) throw new TypeError('route needs the auth middleware');
  return p;
}

/** @throws AppError ERR_FORBIDDEN unless the principal has at least one of `anyOf`. */
export function requireScope(principal: Principal, ...anyOf: string[]): void {
  if (!anyOf.some((s) => principal.scopes.has(s))) {
    throw new AppError(ErrorCode.Forbidden, `requires scope ${anyOf.join(' or ')}`, { details: { requiredAnyOf: anyOf } });
  }
}
