/**
 * Bearer authentication (RFC 6750) through the injected `TokenVerifier`, and scope checks.
 *
 * Owns: extracting the token from `Authorization`, putting the `Principal` on the context,
 * `requireScope`. Never: accepts tokens from query strings or cookies, logs or stores the token.
 */
import type { MiddlewareHandler } from 'hono';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { Principal } from '../../schemas/claims.ts';
import type { TokenVerifier } from '../ports.ts';
import type { AppEnv } from './context.ts';

/**
 * Middleware factory: 401 ERR_AUTH_MISSING without a bearer token, ERR_AUTH_INVALID /
 * ERR_AUTH_EXPIRED from the verifier.
 */
export function auth(options: { verifier: TokenVerifier }): MiddlewareHandler<AppEnv> {
  const { verifier } = options;
  return async function authMiddleware(c, next) {
    const header = c.req.header('Authorization');
    if (header === undefined || header.trim() === '') throw new AppError(ErrorCode.AuthMissing, 'bearer token required');
    const match = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header);
    if (!match) throw new AppError(ErrorCode.AuthInvalid, 'Authorization must be "Bearer <token>"');
    c.set('principal', await verifier.verify(match[1]));
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
