/**
 * A refused token gets one answer whatever the reason, so the response cannot be used to tell
 * a known issuer from an unknown one or a good key from a bad one; the audit log keeps the
 * reason. Driven through `createApp` with a real jose verifier and real signed tokens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { createApp } from '../app.ts';
import { createJoseVerifier } from '../auth/jose-verifier.ts';
import { createMemoryRateLimitStore } from '../rate-limit/memory-store.ts';
import { createMemoryAuditSink } from '../audit/memory-sink.ts';
import type { QueryEngine } from '../ports.ts';
import { ApiConfig } from '../../schemas/api-config.ts';

const ISS = 'https://idp.example';
const AUD = 'flowseal-api';

test('unknown issuer, bad signature and a missing claim get the same 401; the audit log tells them apart', async () => {
  const good = await generateKeyPair('ES256');
  const other = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(good.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const audit = createMemoryAuditSink();
  const engine: QueryEngine = {
    listDatasets: async () => [],
    datasetFiles: () => { throw new Error('not used'); },
    run: () => { throw new Error('not used'); },
  } as unknown as QueryEngine;
  const app = createApp({
    engine,
    verifier: createJoseVerifier({ issuers: [{ issuer: ISS, audience: AUD, algorithms: ['ES256'], jwks: { keys: [jwk] } }] }),
    rateLimit: createMemoryRateLimitStore(),
    audit,
    config: ApiConfig.parse({}),
    logger: { info: () => {}, error: () => {} },
    newRequestId: () => 'req',
  });
  const sign = (claims: Record<string, unknown>, key = good.privateKey) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' }).setIssuedAt().setExpirationTime('5m').sign(key);
  const tokens = {
    'issuer_unknown': await sign({ iss: 'https://elsewhere.example', aud: AUD, sub: 'eve' }),
    'signature_invalid': await sign({ iss: ISS, aud: AUD, sub: 'eve' }, other.privateKey),
    'claim_missing:sub': await sign({ iss: ISS, aud: AUD }),
  };
  const bodies = new Set<string>();
  for (const token of Object.values(tokens)) {
    const res = await app.request('/v1/datasets', { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="flowseal", error="invalid_token"');
    bodies.add(await res.text());
  }
  assert.equal(bodies.size, 1, `one answer for every refusal: ${[...bodies].join(' | ')}`);
  assert.deepEqual(JSON.parse([...bodies][0]!), { error: { code: 'ERR_AUTH_INVALID', message: 'invalid bearer token', requestId: 'req' } });
  assert.deepEqual(audit.entries.map((e) => e.errorReason), Object.keys(tokens));
  assert.ok(audit.entries.every((e) => e.errorCode === 'ERR_AUTH_INVALID'));
  const ok = await app.request('/v1/datasets', { headers: { Authorization: `Bearer ${await sign({ iss: ISS, aud: AUD, sub: 'ann', scope: 'datasets:read' })}` } });
  assert.equal(ok.status, 200, await ok.text());
  assert.equal(audit.entries.at(-1)!.errorReason, null);
});
