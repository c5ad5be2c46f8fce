/**
 * DEVELOPMENT ONLY token issuer: an ES256 key pair kept as JWK files so `flowseal serve`
 * works out of the box on a laptop and tests can mint tokens. Issuer `flowseal-dev`, audience
 * `flowseal-api`. Anyone who can read the key directory can mint tokens with any scope: never
 * trust this issuer in production (configure real issuers in the API config instead).
 *
 * Owns: key generation, the JWKS it publishes and token signing. Never: touches the file
 * system itself — a `DevKeyStore` is injected (api/adapters/dev-issuer-files.ts for Node).
 */
import { SignJWT, exportJWK, generateKeyPair, importJWK } from 'jose';
import type { JSONWebKeySet, JWK } from 'jose';

export const DEV_ISSUER = 'flowseal-dev';
export const DEV_AUDIENCE = 'flowseal-api';

/** Where the dev key lives. `read` returns null when absent; `write` must create it private (0600). */
export interface DevKeyStore {
  read(name: string): Promise<string | null>;
  write(name: string, text: string): Promise<void>;
}

export interface DevIssuer {
  readonly issuer: string;
  readonly audience: string;
  /** Public keys only. */
  readonly jwks: JSONWebKeySet;
  /**
   * Signs an access token (`typ: at+jwt`) for `sub` with the given scopes, valid `ttlSec`
   * seconds (default 3600). `extra` adds claims (e.g. `datasets`, `groups`) for tests.
   */
  signToken(sub: string, scopes: readonly string[], ttlSec?: number, extra?: Record<string, unknown>): Promise<string>;
}

/** Loads the dev key pair from `store`, creating and saving one on first use. */
export async function createDevIssuer(store: DevKeyStore, now: () => number = Date.now): Promise<DevIssuer> {
  let privateJwk: JWK;
  const saved = await store.read('private.jwk.json');
  if (saved !== null) {
    privateJwk = JSON.parse(saved) as JWK;
  } else {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    privateJwk = await exportJWK(privateKey);
    privateJwk.kid = `dev-${crypto.randomUUID().slice(0, 8)}`;
    privateJwk.alg = 'ES256';
    await store.write('private.jwk.json', JSON.stringify(privateJwk));
  }
  const { d: _d, ...publicJwk } = privateJwk;
  const jwks: JSONWebKeySet = { keys: [{ ...publicJwk, use: 'sig', alg: 'ES256' }] };
  await store.write('jwks.json', JSON.stringify(jwks));
  const key = await importJWK(privateJwk, 'ES256');
  return {
    issuer: DEV_ISSUER,
    audience: DEV_AUDIENCE,
    jwks,
    async signToken(sub, scopes, ttlSec = 3600, extra = {}) {
      const iat = Math.floor(now() / 1000);
      return new SignJWT({ ...extra, scope: scopes.join(' ') })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: privateJwk.kid })
        .setIssuer(DEV_ISSUER)
        .setAudience(DEV_AUDIENCE)
        .setSubject(sub)
        .setIssuedAt(iat)
        .setNotBefore(iat)
        .setExpirationTime(iat + ttlSec)
        .setJti(crypto.randomUUID())
        .sign(key);
    },
  };
}
