/**
 * `TokenVerifier` on jose: bearer JWTs from configured issuers, each with its own key set,
 * audience and algorithm allow-list (RFC 8725 best practices, RFC 9068 access-token profile).
 *
 * Checks: issuer known (selected by the unverified `iss`, then verified exactly), signature
 * with an allowed asymmetric algorithm (never `none` or HS*: an HMAC token "signed" with a
 * public key is refused before any key is used), `aud`, `exp` (required), `nbf` (when present,
 * or required per issuer), small clock tolerance, `typ` absent or `at+jwt`/`JWT`, `sub` present.
 *
 * Owns: the mapping of jose failures to ERR_AUTH_INVALID / ERR_AUTH_EXPIRED. Never: logs or
 * returns the token or its claims in error messages. Web Crypto only (runtime-agnostic).
 */
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import type { JSONWebKeySet, JWTVerifyGetKey } from 'jose';
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
}

const ASYMMETRIC = new Set<string>(['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256']);
const ACCEPTED_TYP = new Set(['at+jwt', 'application/at+jwt', 'jwt', 'application/jwt']);

function invalid(message: string, cause?: unknown): AppError {
  return new AppError(ErrorCode.AuthInvalid, message, cause === undefined ? undefined : { cause });
}

/**
 * Builds the verifier.
 * @throws TypeError when an issuer lists a non-asymmetric algorithm or issuers repeat.
 */
export function createJoseVerifier(options: JoseVerifierOptions): TokenVerifier {
  const tolerance = options.clockToleranceSec ?? 30;
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
      if (token.length > 16_384 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) throw invalid('malformed token');
      let header: ReturnType<typeof decodeProtectedHeader>;
      let iss: unknown;
      try {
        header = decodeProtectedHeader(token);
        iss = decodeJwt(token).iss;
      } catch (cause) {
        throw invalid('malformed token', cause);
      }
      if (typeof header.alg !== 'string' || !ASYMMETRIC.has(header.alg)) throw invalid('token algorithm not allowed');
      if (header.typ !== undefined && !ACCEPTED_TYP.has(String(header.typ).toLowerCase())) throw invalid('token type not accepted');
      if (typeof header.crit !== 'undefined') throw invalid('token has unsupported critical header parameters');
      const entry = typeof iss === 'string' ? byIssuer.get(iss) : undefined;
      if (!entry) throw invalid('token issuer not trusted');
      const { cfg, keys } = entry;
      let payload: unknown;
      try {
        const res = await jwtVerify(token, keys, {
          issuer: cfg.issuer,
          audience: typeof cfg.audience === 'string' ? cfg.audience : [...cfg.audience],
          algorithms: [...cfg.algorithms],
          clockTolerance: tolerance,
          currentDate: new Date(now()),
          requiredClaims: ['exp', 'sub', ...(cfg.requireNbf ? ['nbf'] : [])],
        });
        payload = res.payload;
      } catch (cause) {
        if (cause instanceof errors.JWTExpired) throw new AppError(ErrorCode.AuthExpired, 'token expired', { cause });
        if (cause instanceof errors.JWTClaimValidationFailed) {
          throw invalid(cause.claim === 'nbf' ? 'token not yet valid' : `token claim check failed: ${cause.claim}`, cause);
        }
        throw invalid('token signature or key not valid', cause);
      }
      const claims = AccessTokenClaims.safeParse(payload);
      if (!claims.success) throw invalid('token claims malformed');
      return principalFromClaims(claims.data);
    },
  };
}
