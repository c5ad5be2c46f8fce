/**
 * Turns every thrown error into the API's envelope `{ error: { code, message, requestId } }`
 * (plus non-sensitive `details`), with the status from schemas/errors.ts and the RFC 6750
 * `WWW-Authenticate` challenge on 401/403. A refused token gets one generic answer whatever
 * the reason (unknown issuer, bad signature, missing claim…), so the response cannot be used
 * to probe issuers or keys; the reason goes to the audit log.
 *
 * Owns: error responses. Never: reveals an unknown error's message, stack, SQL or paths to the
 * client — those go to the injected logger and the client gets a generic 500.
 */
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { AppError, ErrorCode, errorStatus, isAppError } from '../../schemas/errors.ts';
import type { Logger } from '../ports.ts';
import type { AppEnv } from './context.ts';

const CHALLENGE: Partial<Record<ErrorCode, string>> = {
  ERR_AUTH_MISSING: 'Bearer realm="flowseal"',
  ERR_AUTH_INVALID: 'Bearer realm="flowseal", error="invalid_token"',
  ERR_AUTH_EXPIRED: 'Bearer realm="flowseal", error="invalid_token", error_description="token expired"',
  ERR_FORBIDDEN: 'Bearer realm="flowseal", error="insufficient_scope"',
};

function respond(c: Context<AppEnv>, err: AppError): Response {
  const status = errorStatus[err.code] as 400;
  const challenge = CHALLENGE[err.code];
  if (challenge) c.header('WWW-Authenticate', challenge);
  // Every rate limit, budget and full queue says its wait in details; the header comes from there alone.
  const retry = err.details?.retryAfterSec;
  const retriable = err.code === ErrorCode.RateLimited || err.code === ErrorCode.Overloaded;
  if (retriable && typeof retry === 'number' && Number.isInteger(retry) && retry > 0) c.header('Retry-After', String(retry));
  const facts = c.get('audit');
  if (facts) facts.errorCode = err.code;
  if (err.code === ErrorCode.AuthInvalid) {
    if (facts && typeof err.details?.reason === 'string') facts.errorReason = [err.details.reason, err.details.claim].filter((x) => typeof x === 'string').join(':');
    return c.json({ error: { code: err.code, message: 'invalid bearer token', requestId: c.get('requestId') ?? '' } }, status);
  }
  const body: { code: string; message: string; requestId: string; details?: Record<string, unknown> } = {
    code: err.code,
    message: err.message,
    requestId: c.get('requestId') ?? '',
  };
  if (err.details) body.details = err.details;
  return c.json({ error: body }, status);
}

/** `app.onError` handler. Internal errors (and AppErrors with status ≥ 500) are logged. */
export function errorHandler(logger: Logger): ErrorHandler<AppEnv> {
  return function onError(err, c) {
    const requestId = c.get('requestId');
    if (isAppError(err)) {
      if (err.status >= 500) {
        const cause = err.cause instanceof Error ? err.cause.message : undefined;
        logger.error('request failed', { requestId, code: err.code, message: err.message, cause });
      }
      if (err.code === ErrorCode.Internal) return respond(c, new AppError(ErrorCode.Internal, 'internal error'));
      return respond(c, err);
    }
    logger.error('unhandled error', { requestId, name: err instanceof Error ? err.name : typeof err, message: err instanceof Error ? err.message : String(err) });
    return respond(c, new AppError(ErrorCode.Internal, 'internal error'));
  };
}

/** `app.notFound` handler. */
export function notFound(): NotFoundHandler<AppEnv> {
  return function onNotFound(c) {
    return respond(c, new AppError(ErrorCode.NotFound, 'no such route'));
  };
}
