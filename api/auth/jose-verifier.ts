/**
 * `TokenVerifier` on jose: bearer JWTs from configured issuers, each with its own key set,
 * audience and algorithm allow-list (RFC 8725 best practices, RFC 9068 access-token profile).
 *
 * Checks, in order: size (at most `MAX_TOKEN_CHARS`), compact shape, algorithm asymmetric
 * (never `none` or HS*: an HMAC token "signed" with a public key is refused before any key is
 * used), `typ` absent or `at+jwt`/`JWT`, no `crit`, issuer known (selected by the unverified
 * `iss`, then verified exactly), algorithm allowed for that issuer, key found by `kid`,
 * signature, `aud` (one of), `exp` (required), `nbf` (when present, or required per issuer),
 * small clock tolerance, `sub` present, claim shapes.
 *
 * Every refusal is an AppError whose `details.reason` (a `TokenRejection` value, plus
 * `details.claim` for claim checks) says which check failed, so callers and tests can tell the
 * reasons apart. Owns: the mapping of jose failures to ERR_AUTH_INVALID / ERR_AUTH_EXPIRED and a
 * reason. Never: logs or returns the token or its claim values in errors (reasons and claim
 * names only). Web Crypto only (runtime-agnostic).
 */
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import type { JSONWebKeySet, JWTVerifyGetKey, JWTVerifyOptions, JWTVerifyResult } from 'jose';
import { AccessTokenClaims, principalFromClaims } from '../../schemas/claims.ts';
import type { Principal } from '../../schemas/claims.ts';
import type { TokenAlgorithm } from '../../schemas/api-config.ts';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { TokenVerifier } from '../ports.ts';

/** One trusted issuer with its keys already resolved (inline/file → JWKS object, URL → URL). */
export interface ResolvedIssuer {
  readonly issuer: string;
  readonly audience: string | readonly string[];
  readonly algorithms: readonly TokenAlgorithm[];
  readonly jwks: JSONWebKeySet | URL;
  readonly requireNbf?: boolean;
}

export interface JoseVerifierOptions {
  readonly issuers: readonly ResolvedIssuer[];
  /** Seconds of tolerance for exp/nbf. Default 30. */
  readonly clockToleranceSec?: number;
  /** Clock for exp/nbf, ms since the epoch. Default Date.now. */
  readonly now?: () => number;
  /** Longest lifetime accepted, `exp - iat` in seconds. Default 86 400 (24 h). */
  readonly maxLifetimeSec?: number;
}

/** Longest token accepted, characters. Longer ones are refused before any decoding. */
export const MAX_TOKEN_CHARS = 16_384;

/** Why a token was refused: `details.reason` of the thrown AppError. Stable, safe to show. */
export const TokenRejection = {
  /** Longer than `MAX_TOKEN_CHARS`. */
  TooLarge: 'too_large',
  /** Not three base64url parts, or a header/payload that is not a JSON object. */
  Malformed: 'malformed',
  /** `alg` is `none`, HS*, or anything not asymmetric: never accepted from any issuer. */
  AlgorithmForbidden: 'alg_forbidden',
  TypeNotAccepted: 'typ_not_accepted',
  CriticalHeader: 'crit_unsupported',
  IssuerUnknown: 'issuer_unknown',
  /** An asymmetric `alg` this issuer is not configured for. */
  AlgorithmNotAllowedForIssuer: 'alg_not_allowed_for_issuer',
  /** No key of the issuer matches the header (`kid`, key type). */
  KeyNotFound: 'key_not_found',
  SignatureInvalid: 'signature_invalid',
  Expired: 'expired',
  NotYetValid: 'not_yet_valid',
  /** A required claim is absent (`details.claim`: exp, sub, nbf, aud…). */
  ClaimMissing: 'claim_missing',
  /** A claim does not have the expected value (`details.claim`: aud, iss). */
  ClaimMismatch: 'claim_mismatch',
  /** A date claim is not a number (`details.claim`). */
  ClaimInvalid: 'claim_invalid',
  /** Verified claims do not fit `AccessTokenClaims` (`details.claim`: the first bad one). */
  ClaimsMalformed: 'claims_malformed',
  /** `exp - iat` exceeds the configured maximum lifetime. */
  LifetimeTooLong: 'lifetime_too_long',
  /** `iat` lies in the future (beyond the clock tolerance): the lifetime cap could be dodged. */
  IssuedInFuture: 'issued_in_future',
  /** Anything else (e.g. a remote key set that could not be fetched). */
  VerificationFailed: 'verification_failed',
} as const;
export type TokenRejection = (typeof TokenRejection)[keyof typeof TokenRejection];

const ASYMMETRIC = new Set<string>(['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256']);
const ACCEPTED_TYP = new Set(['at+jwt', 'application/at+jwt', 'jwt', 'application/jwt']);
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** Claim names jose reports that may be echoed in `details.claim`. */
const CLAIM_NAMES = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'typ']);

function refuse(reason: TokenRejection, message: string, extra?: { cause?: unknown; claim?: string; code?: ErrorCode }): AppError {
  const details: Record<string, unknown> = { reason };
  if (extra?.claim !== undefined) details.claim = extra.claim;
  return new AppError(extra?.code ?? ErrorCode.AuthInvalid, message, { cause: extra?.cause, details });
}

/** The refusal for an error thrown by `jwtVerify`. */
function refusalFor(cause: unknown): AppError {
  if (cause instanceof errors.JWTExpired) return refuse(TokenRejection.Expired, 'token expired', { cause, claim: 'exp', code: ErrorCode.AuthExpired });
  if (cause instanceof errors.JWTClaimValidationFailed) {
    const claim = CLAIM_NAMES.has(cause.claim) ? cause.claim : 'unspecified';
    if (cause.reason === 'missing') return refuse(TokenRejection.ClaimMissing, `token lacks required claim ${claim}`, { cause, claim });
    if (cause.reason === 'invalid') return refuse(TokenRejection.ClaimInvalid, `token claim ${claim} malformed`, { cause, claim });
    if (claim === 'nbf') return refuse(TokenRejection.NotYetValid, 'token not yet valid', { cause, claim });
    return refuse(TokenRejection.ClaimMismatch, `token claim check failed: ${claim}`, { cause, claim });
  }
  if (cause instanceof errors.JOSEAlgNotAllowed) return refuse(TokenRejection.AlgorithmNotAllowedForIssuer, 'token algorithm not allowed for this issuer', { cause });
  if (cause instanceof errors.JWKSNoMatchingKey) return refuse(TokenRejection.KeyNotFound, 'no key of the issuer matches the token', { cause });
  if (cause instanceof errors.JWSSignatureVerificationFailed) return refuse(TokenRejection.SignatureInvalid, 'token signature not valid', { cause });
  if (cause instanceof errors.JWSInvalid || cause instanceof errors.JWTInvalid) return refuse(TokenRejection.Malformed, 'malformed token', { cause });
  return refuse(TokenRejection.VerificationFailed, 'token could not be verified', { cause });
}

/**
 * `jwtVerify`, trying each candidate key when several of the issuer's keys match the header
 * (a token without `kid` during key rotation). Only a failed signature moves on to the next key.
 */
async function verifyWithKeys(token: string, keys: JWTVerifyGetKey, options: JWTVerifyOptions): Promise<JWTVerifyResult> {
  try {
    return await jwtVerify(token, keys, options);
  } catch (err) {
    if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
    let last: unknown = err;
    for await (const key of err) {
      try {
        return await jwtVerify(token, key, options);
      } catch (next) {
        if (!(next instanceof errors.JWSSignatureVerificationFailed)) throw next;
        last = next;
      }
    }
    throw last;
  }
}

/** Header and unverified `iss`, after the checks that need no key. */
function precheck(token: string): { alg: string; iss: unknown } {
  if (token.length > MAX_TOKEN_CHARS) throw refuse(TokenRejection.TooLarge, 'token too large');
  if (!COMPACT_JWS.test(token)) throw refuse(TokenRejection.Malformed, 'malformed token');
  let header: ReturnType<typeof decodeProtectedHeader>;
  let iss: unknown;
  try {
    header = decodeProtectedHeader(token);
    iss = decodeJwt(token).iss;
  } catch (cause) {
    throw refuse(TokenRejection.Malformed, 'malformed token', { cause });
  }
  if (typeof header.alg !== 'string' || !ASYMMETRIC.has(header.alg)) throw refuse(TokenRejection.AlgorithmForbidden, 'token algorithm not allowed');
  if (header.typ !== undefined && !ACCEPTED_TYP.has(String(header.typ).toLowerCase())) throw refuse(TokenRejection.TypeNotAccepted, 'token type not accepted');
  if (typeof header.crit !== 'undefined') throw refuse(TokenRejection.CriticalHeader, 'token has unsupported critical header parameters');
  return { alg: header.alg, iss };
}

/**
 * Builds the verifier. `verify` throws AppError ERR_AUTH_EXPIRED (reason `expired`) or
 * ERR_AUTH_INVALID with `details.reason` from `TokenRejection`.
 * @throws TypeError when an issuer lists a non-asymmetric algorithm or issuers repeat.
 */
export function createJoseVerifier(options: JoseVerifierOptions): TokenVerifier {
  const tolerance = options.clockToleranceSec ?? 30;
  const maxLifetime = options.maxLifetimeSec ?? 86_400;
  const now = options.now ?? Date.now;
  const byIssuer = new Map<string, { cfg: ResolvedIssuer; keys: JWTVerifyGetKey }>();
  for (const cfg of options.issuers) {
    for (const alg of cfg.algorithms) if (!ASYMMETRIC.has(alg)) throw new TypeError(`algorithm ${alg} is not allowed`);
    if (byIssuer.has(cfg.issuer)) throw new TypeError(`issuer ${cfg.issuer} configured twice`);
    const keys = cfg.jwks instanceof URL ? createRemoteJWKSet(cfg.jwks) : createLocalJWKSet(cfg.jwks);
    byIssuer.set(cfg.issuer, { cfg, keys });
  }

  return {
    async verify(token: string): Promise<Principal> {
      const { iss } = precheck(token);
      const entry = typeof iss === 'string' ? byIssuer.get(iss) : undefined;
      if (!entry) throw refuse(TokenRejection.IssuerUnknown, 'token issuer not trusted');
      const { cfg, keys } = entry;
      let payload: unknown;
      try {
        const res = await verifyWithKeys(token, keys, {
          issuer: cfg.issuer,
          audience: typeof cfg.audience === 'string' ? cfg.audience : [...cfg.audience],
          algorithms: [...cfg.algorithms],
          clockTolerance: tolerance,
          currentDate: new Date(now()),
          requiredClaims: ['exp', 'iat', 'sub', ...(cfg.requireNbf ? ['nbf'] : [])],
        });
        payload = res.payload;
      } catch (cause) {
        throw refusalFor(cause);
      }
      const { exp, iat } = payload as { exp: number; iat: number };
      if (iat > now() / 1000 + tolerance) throw refuse(TokenRejection.IssuedInFuture, 'token issued in the future', { claim: 'iat' });
      if (exp - iat > maxLifetime) throw refuse(TokenRejection.LifetimeTooLong, 'token lifetime too long', { claim: 'exp' });
      const claims = AccessTokenClaims.safeParse(payload);
      if (!claims.success) {
        const first = claims.error.issues[0]?.path[0];
        throw refuse(TokenRejection.ClaimsMalformed, 'token claims malformed', { claim: typeof first === 'string' ? first : 'unspecified' });
      }
      return principalFromClaims(claims.data);
    },
  };
}
