import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, exportJWK, generateKeyPair, UnsecuredJWT } from 'jose';
import type { JWK } from 'jose';
import { createJoseVerifier } from './jose-verifier.ts';
import { createDevIssuer } from './dev-issuer.ts';
import type { DevKeyStore } from './dev-issuer.ts';
import { AppError } from '../../schemas/errors.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const sec = Math.floor(NOW / 1000);

async function setup() {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const pub: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  const verifier = createJoseVerifier({
    issuers: [{ issuer: 'https://idp.test', audience: 'flowseal-api', algorithms: ['ES256'], jwks: { keys: [pub] } }],
    clockToleranceSec: 30,
    now: () => NOW,
  });
  const sign = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}, key = privateKey) =>
    new SignJWT({ scope: 'query records', ...claims })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1', ...header })
      .setIssuer((claims.iss as string) ?? 'https://idp.test')
      .setAudience((claims.aud as string) ?? 'flowseal-api')
      .setSubject('alice')
      .setIssuedAt(sec)
      .setExpirationTime((claims.exp as number) ?? sec + 600)
      .sign(key);
  return { verifier, sign, pub };
}

async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof AppError && err.code === code);
}

test('valid token yields the principal with scopes and dataset allow-list', async () => {
  const { verifier, sign } = await setup();
  const p = await verifier.verify(await sign({ datasets: ['lab'], groups: ['uni'] }));
  assert.equal(p.subject, 'alice');
  assert.deepEqual([...p.scopes].sort(), ['query', 'records']);
  assert.deepEqual([...(p.datasets ?? [])], ['lab']);
  assert.deepEqual(p.groups, ['uni']);
});

test('rejects bad signature, wrong issuer, wrong audience, expiry, nbf in the future', async () => {
  const { verifier, sign } = await setup();
  const other = await generateKeyPair('ES256');
  await rejects(verifier.verify(await sign({}, {}, other.privateKey)), 'ERR_AUTH_INVALID');
  await rejects(verifier.verify(await sign({ iss: 'https://evil.test' })), 'ERR_AUTH_INVALID');
  await rejects(verifier.verify(await sign({ aud: 'someone-else' })), 'ERR_AUTH_INVALID');
  await rejects(verifier.verify(await sign({ exp: sec - 120 })), 'ERR_AUTH_EXPIRED');
  await rejects(verifier.verify(await sign({ nbf: sec + 600 })), 'ERR_AUTH_INVALID');
  // within clock tolerance: accepted
  assert.equal((await verifier.verify(await sign({ exp: sec - 10 }))).subject, 'alice');
});

test('rejects alg none, HS256 signed with the public key, wrong typ, missing exp', async () => {
  const { verifier, sign, pub } = await setup();
  const none = new UnsecuredJWT({ scope: 'query' }).setIssuer('https://idp.test').setAudience('flowseal-api').setSubject('alice').setExpirationTime(sec + 600).encode();
  await rejects(verifier.verify(none), 'ERR_AUTH_INVALID');
  // Key-confusion: HMAC with the public key's JSON as the secret.
  const secret = new TextEncoder().encode(JSON.stringify(pub));
  const hs = await new SignJWT({ scope: 'query' }).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).setIssuer('https://idp.test').setAudience('flowseal-api').setSubject('alice').setExpirationTime(sec + 600).sign(secret);
  await rejects(verifier.verify(hs), 'ERR_AUTH_INVALID');
  await rejects(verifier.verify(await sign({}, { typ: 'dpop+jwt' })), 'ERR_AUTH_INVALID');
  await rejects(verifier.verify('not.a.jwt!'), 'ERR_AUTH_INVALID');
});

test('configuring HS256 is refused at construction', () => {
  assert.throws(() => createJoseVerifier({ issuers: [{ issuer: 'x', audience: 'a', algorithms: ['HS256' as never], jwks: { keys: [] } }] }), TypeError);
});

test('dev issuer persists its key through the store and its tokens verify', async () => {
  const files = new Map<string, string>();
  const store: DevKeyStore = { read: async (n) => files.get(n) ?? null, write: async (n, t) => void files.set(n, t) };
  const dev = await createDevIssuer(store, () => NOW);
  const again = await createDevIssuer(store, () => NOW);
  assert.deepEqual(again.jwks, dev.jwks);
  assert.ok(!JSON.stringify(dev.jwks).includes('"d"'), 'public JWKS must not contain the private scalar');
  const verifier = createJoseVerifier({ issuers: [{ issuer: dev.issuer, audience: dev.audience, algorithms: ['ES256'], jwks: dev.jwks }], now: () => NOW });
  const p = await verifier.verify(await dev.signToken('bob', ['datasets:read'], 60));
  assert.equal(p.subject, 'bob');
  assert.ok(p.scopes.has('datasets:read'));
  const expired = await createDevIssuer(store, () => NOW - 3_600_000);
  await rejects(verifier.verify(await expired.signToken('bob', ['query'], 60)), 'ERR_AUTH_EXPIRED');
});
