/**
 * One test per verification rule of the jose verifier. Each builds a token that differs from a
 * known-good one in that rule alone and asserts the refusal's own `details.reason`, so removing
 * any single check (or letting it fall through to another) fails exactly its test. Tokens are
 * signed here with jose directly, so any claim or header can be left out or bent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, UnsecuredJWT, exportJWK, generateKeyPair } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import { MAX_TOKEN_CHARS, TokenRejection, createJoseVerifier } from './jose-verifier.ts';
import type { ResolvedIssuer } from './jose-verifier.ts';
import { createDevIssuer } from './dev-issuer.ts';
import type { DevKeyStore } from './dev-issuer.ts';
import { AppError } from '../../schemas/errors.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const sec = NOW / 1000;
const ISS = 'https://idp.test';
const AUD = 'flowseal-api';

type Fields = Record<string, unknown>;
/** `base` with `over` applied; an `undefined` value removes the field. */
function merge(base: Fields, over: Fields): Fields {
  const out: Fields = { ...base, ...over };
  for (const [k, v] of Object.entries(over)) if (v === undefined) delete out[k];
  return out;
}

const es256 = await generateKeyPair('ES256', { extractable: true });
const es384 = await generateKeyPair('ES384', { extractable: true });
const foreign = await generateKeyPair('ES256', { extractable: true });
const pub256: JWK = { ...(await exportJWK(es256.publicKey)), kid: 'k1', alg: 'ES256' };
const pub384: JWK = { ...(await exportJWK(es384.publicKey)), kid: 'k2', alg: 'ES384' };

const GOOD_CLAIMS: Fields = { iss: ISS, aud: AUD, sub: 'alice', iat: sec, exp: sec + 600, scope: 'query records' };
const GOOD_HEADER: Fields = { alg: 'ES256', typ: 'at+jwt', kid: 'k1' };

/** Signs GOOD_CLAIMS/GOOD_HEADER changed by `claims`/`header` (undefined removes a field). */
function sign(claims: Fields = {}, header: Fields = {}, key: CryptoKey = es256.privateKey): Promise<string> {
  return new SignJWT(merge(GOOD_CLAIMS, claims)).setProtectedHeader(merge(GOOD_HEADER, header) as { alg: string }).sign(key);
}

function issuer(over: Partial<ResolvedIssuer> = {}): ResolvedIssuer {
  return { issuer: ISS, audience: AUD, algorithms: ['ES256'], jwks: { keys: [pub256, pub384] }, ...over };
}

function verifierFor(issuers: ResolvedIssuer[] = [issuer()], opts: { clockToleranceSec?: number; now?: () => number; maxLifetimeSec?: number } = { now: () => NOW }) {
  return createJoseVerifier({ issuers, ...opts });
}
const verifier = verifierFor();

/** Asserts the refusal's code, reason (and claim), and that it reveals no token or claim value. */
async function refused(p: Promise<unknown>, reason: TokenRejection, opts: { claim?: string; code?: string; token?: string } = {}): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof AppError, `an AppError, got ${String(err)}`);
    assert.equal(err.code, opts.code ?? 'ERR_AUTH_INVALID');
    assert.equal(err.details?.reason, reason, err.message);
    if (opts.claim !== undefined) assert.equal(err.details?.claim, opts.claim);
    const shown = JSON.stringify({ message: err.message, details: err.details });
    assert.ok(!shown.includes('alice') && !shown.includes(ISS), `no claim values in ${shown}`);
    if (opts.token) assert.ok(!shown.includes(opts.token.slice(0, 20)), 'no token in the error');
    return true;
  });
}

async function accepted(token: string, v = verifier): Promise<void> {
  assert.equal((await v.verify(token)).subject, 'alice');
}

test('a good token yields the principal with scopes, groups and dataset allow-list', async () => {
  const p = await verifier.verify(await sign({ datasets: ['lab'], groups: ['uni'] }));
  assert.equal(p.subject, 'alice');
  assert.equal(p.issuer, ISS);
  assert.equal(p.expiresAt, sec + 600);
  assert.deepEqual([...p.scopes].sort(), ['query', 'records']);
  assert.deepEqual([...(p.datasets ?? [])], ['lab']);
  assert.deepEqual(p.groups, ['uni']);
});

/**
 * A good token of exactly `length` characters: a `pad` claim sets the length, and dropping `kid`
 * (one ES256 key in the set, so it is still found) reaches lengths base64url cannot with it.
 */
async function tokenOfLength(length: number): Promise<string> {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url').length;
  for (const kid of ['k1', undefined]) {
    const header = merge(GOOD_HEADER, { kid });
    const payloadChars = length - b64(header) - 2 - 86; // ES256 signature: 64 bytes, 86 chars
    const guess = Math.floor((payloadChars * 3) / 4) - JSON.stringify(merge(GOOD_CLAIMS, { pad: '' })).length;
    for (let n = guess - 3; n <= guess + 3; n += 1) {
      const claims = merge(GOOD_CLAIMS, { pad: 'x'.repeat(n) });
      if (b64(claims) !== payloadChars) continue;
      const token = await new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(es256.privateKey);
      assert.equal(token.length, length);
      return token;
    }
  }
  throw new TypeError(`no token of length ${length}`);
}

test('size: a token of 16 384 characters verifies, one character more is too_large', async () => {
  assert.equal(MAX_TOKEN_CHARS, 16_384);
  await accepted(await tokenOfLength(16_384));
  const big = await tokenOfLength(16_385);
  await refused(verifier.verify(big), TokenRejection.TooLarge, { token: big });
});

test('shape: padded or spaced base64url that jose would decode is malformed; so is undecodable JSON', async () => {
  const good = await sign();
  await accepted(good);
  await refused(verifier.verify(`${good}==`), TokenRejection.Malformed);
  await refused(verifier.verify(good.replace(/\.([^.]*)$/, '. $1')), TokenRejection.Malformed);
  await refused(verifier.verify('not.a.jwt!'), TokenRejection.Malformed);
  await refused(verifier.verify(`${good}.x.y`), TokenRejection.Malformed);
  // Passes the shape check, but the parts are not JSON: jose's decode error is wrapped.
  await assert.rejects(verifier.verify('abc.def.ghi'), (err: unknown) => err instanceof AppError && err.details?.reason === TokenRejection.Malformed && err.cause !== undefined);
});

test('alg none and HS256 (HMAC keyed with the public JWK) are alg_forbidden, before issuer and key lookup', async () => {
  const none = new UnsecuredJWT(GOOD_CLAIMS).encode();
  await refused(verifier.verify(none), TokenRejection.AlgorithmForbidden);
  const secret = new TextEncoder().encode(JSON.stringify(pub256));
  const hs = await new SignJWT(GOOD_CLAIMS).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(secret);
  await refused(verifier.verify(hs), TokenRejection.AlgorithmForbidden);
  // Not even an issuer that lists every asymmetric algorithm changes that.
  const wide = verifierFor([issuer({ algorithms: ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'] })]);
  await refused(wide.verify(hs), TokenRejection.AlgorithmForbidden);
  await refused(wide.verify(none), TokenRejection.AlgorithmForbidden);
});

test('an algorithm allowed globally but not for this issuer is alg_not_allowed_for_issuer', async () => {
  const t384 = await sign({}, { alg: 'ES384', kid: 'k2' }, es384.privateKey);
  await refused(verifier.verify(t384), TokenRejection.AlgorithmNotAllowedForIssuer);
  await accepted(t384, verifierFor([issuer({ algorithms: ['ES256', 'ES384'] })]));
});

test('typ: at+jwt and JWT in any case, or absent, are accepted; dpop+jwt is typ_not_accepted', async () => {
  for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt', 'JWT', 'jwt', undefined]) await accepted(await sign({}, { typ }));
  await refused(verifier.verify(await sign({}, { typ: 'dpop+jwt' })), TokenRejection.TypeNotAccepted);
});

test('crit: even the one extension jose understands (b64) is crit_unsupported', async () => {
  await refused(verifier.verify(await sign({}, { crit: ['b64'], b64: true })), TokenRejection.CriticalHeader);
  await accepted(await sign({}, { b64: true }));
});

test('issuer: unknown, absent or non-string iss is issuer_unknown; each issuer verifies with its own keys only', async () => {
  await refused(verifier.verify(await sign({ iss: 'https://evil.test' })), TokenRejection.IssuerUnknown);
  await refused(verifier.verify(await sign({ iss: undefined })), TokenRejection.IssuerUnknown);
  await refused(verifier.verify(await sign({ iss: [ISS] })), TokenRejection.IssuerUnknown);
  const other = { ...(await exportJWK(foreign.publicKey)), kid: 'k1', alg: 'ES256' };
  const two = verifierFor([issuer(), issuer({ issuer: 'https://other.test', jwks: { keys: [other] } })]);
  await accepted(await sign({ iss: 'https://other.test' }, {}, foreign.privateKey), two);
  // Same kid at both issuers: a token claiming ISS but signed with the other issuer's key fails.
  await refused(two.verify(await sign({}, {}, foreign.privateKey)), TokenRejection.SignatureInvalid);
});

test('keys: an unknown kid is key_not_found even with the right key; a wrong key is signature_invalid', async () => {
  await refused(verifier.verify(await sign({}, { kid: 'k9' })), TokenRejection.KeyNotFound);
  await refused(verifier.verify(await sign({}, {}, foreign.privateKey)), TokenRejection.SignatureInvalid);
});

test('keys: without kid, each of several matching keys is tried (rotation); none matching is signature_invalid', async () => {
  const { kid: _a, ...old } = { ...(await exportJWK(foreign.publicKey)), alg: 'ES256' };
  const { kid: _b, ...current } = pub256;
  const rotating = verifierFor([issuer({ jwks: { keys: [old, current] } })]);
  await accepted(await sign({}, { kid: undefined }), rotating);
  await accepted(await sign({}, { kid: undefined }, foreign.privateKey), rotating);
  const stranger = await generateKeyPair('ES256');
  await refused(rotating.verify(await sign({}, { kid: undefined }, stranger.privateKey)), TokenRejection.SignatureInvalid);
  // A key that verifies still has its claims checked: no fall-through to the next key.
  await refused(rotating.verify(await sign({ exp: sec - 600 }, { kid: undefined }, foreign.privateKey)), TokenRejection.Expired, { code: 'ERR_AUTH_EXPIRED' });
});

test('audience: a string or an array token aud matching one of several configured is accepted; none matching is refused', async () => {
  const multi = verifierFor([issuer({ audience: ['api-a', 'api-b'] })]);
  await accepted(await sign({ aud: 'api-a' }), multi);
  await accepted(await sign({ aud: 'api-b' }), multi);
  await accepted(await sign({ aud: ['other', 'api-b'] }), multi);
  await refused(multi.verify(await sign({ aud: ['other', 'api-c'] })), TokenRejection.ClaimMismatch, { claim: 'aud' });
  await refused(multi.verify(await sign({ aud: undefined })), TokenRejection.ClaimMissing, { claim: 'aud' });
  await refused(verifier.verify(await sign({ aud: `${AUD}-v2` })), TokenRejection.ClaimMismatch, { claim: 'aud' });
});

test('exp: required — a token without it is claim_missing exp; a non-number is claim_invalid exp', async () => {
  await refused(verifier.verify(await sign({ exp: undefined })), TokenRejection.ClaimMissing, { claim: 'exp' });
  await refused(verifier.verify(await sign({ exp: String(sec + 600) })), TokenRejection.ClaimInvalid, { claim: 'exp' });
});

test('iat: required; exp − iat over the lifetime cap (default 24 h, configurable) is lifetime_too_long; iat in the future is issued_in_future', async () => {
  await refused(verifier.verify(await sign({ iat: undefined })), TokenRejection.ClaimMissing, { claim: 'iat' });
  await accepted(await sign({ iat: sec - 3600, exp: sec - 3600 + 86_400 }));
  await refused(verifier.verify(await sign({ iat: sec - 3600, exp: sec - 3600 + 86_401 })), TokenRejection.LifetimeTooLong, { claim: 'exp' });
  const hourCap = verifierFor([issuer()], { now: () => NOW, maxLifetimeSec: 3600 });
  await accepted(await sign({ exp: sec + 3600 }), hourCap);
  await refused(hourCap.verify(await sign({ exp: sec + 3601 })), TokenRejection.LifetimeTooLong);
  // A future iat would let a short nominal lifetime stay valid for long: refused past the tolerance.
  await accepted(await sign({ iat: sec + 30, exp: sec + 600 }));
  await refused(verifier.verify(await sign({ iat: sec + 31, exp: sec + 600 })), TokenRejection.IssuedInFuture, { claim: 'iat' });
});

test('sub: required — absent is claim_missing sub; empty or over 256 chars is claims_malformed sub', async () => {
  await refused(verifier.verify(await sign({ sub: undefined })), TokenRejection.ClaimMissing, { claim: 'sub' });
  await refused(verifier.verify(await sign({ sub: '' })), TokenRejection.ClaimsMalformed, { claim: 'sub' });
  await refused(verifier.verify(await sign({ sub: 'b'.repeat(257) })), TokenRejection.ClaimsMalformed, { claim: 'sub' });
});

test('claims: shapes the API relies on are checked after the signature (datasets ids, scope string)', async () => {
  await refused(verifier.verify(await sign({ datasets: ['../etc'] })), TokenRejection.ClaimsMalformed, { claim: 'datasets' });
  await refused(verifier.verify(await sign({ scope: 7 })), TokenRejection.ClaimsMalformed, { claim: 'scope' });
});

test('requireNbf: that issuer refuses a token without nbf (claim_missing nbf); other issuers do not', async () => {
  const strict = verifierFor([issuer({ requireNbf: true }), issuer({ issuer: 'https://lax.test' })]);
  await refused(strict.verify(await sign()), TokenRejection.ClaimMissing, { claim: 'nbf' });
  await accepted(await sign({ nbf: sec - 60 }), strict);
  await accepted(await sign({ iss: 'https://lax.test' }), strict);
});

test('expired: exp at now − tolerance is ERR_AUTH_EXPIRED, one second later still valid', async () => {
  await refused(verifier.verify(await sign({ exp: sec - 30 })), TokenRejection.Expired, { code: 'ERR_AUTH_EXPIRED', claim: 'exp' });
  await accepted(await sign({ exp: sec - 29 }));
});

test('not yet valid: nbf past now + tolerance is not_yet_valid; at the edge it is accepted; a non-number is claim_invalid', async () => {
  await refused(verifier.verify(await sign({ nbf: sec + 31 })), TokenRejection.NotYetValid, { claim: 'nbf' });
  await accepted(await sign({ nbf: sec + 30 }));
  await refused(verifier.verify(await sign({ nbf: 'soon' })), TokenRejection.ClaimInvalid, { claim: 'nbf' });
});

test('clock tolerance: default 30 s; an explicit 0 is honoured for exp and nbf', async () => {
  const byDefault = createJoseVerifier({ issuers: [issuer()], now: () => NOW });
  await accepted(await sign({ exp: sec - 29, nbf: sec + 29 }), byDefault);
  await refused(byDefault.verify(await sign({ exp: sec - 30 })), TokenRejection.Expired, { code: 'ERR_AUTH_EXPIRED' });
  const exact = verifierFor([issuer()], { clockToleranceSec: 0, now: () => NOW });
  await refused(exact.verify(await sign({ exp: sec })), TokenRejection.Expired, { code: 'ERR_AUTH_EXPIRED' });
  await accepted(await sign({ exp: sec + 1, nbf: sec }), exact);
  await refused(exact.verify(await sign({ nbf: sec + 1 })), TokenRejection.NotYetValid);
});

test('clock: exp/nbf are judged by the injected clock, and by Date.now without one', async () => {
  const past = Date.parse('2001-01-01T00:00:00Z') / 1000;
  const then = verifierFor([issuer()], { now: () => past * 1000 });
  await accepted(await sign({ iat: past, exp: past + 60 }), then);
  await refused(then.verify(await sign({ nbf: past + 3600 })), TokenRejection.NotYetValid);
  const real = createJoseVerifier({ issuers: [issuer()] });
  const wall = Math.floor(Date.now() / 1000);
  await accepted(await sign({ iat: wall, exp: wall + 600 }), real);
  await refused(real.verify(await sign({ iat: wall - 1200, exp: wall - 600 })), TokenRejection.Expired, { code: 'ERR_AUTH_EXPIRED' });
});

test('construction refuses HS256 and none, and an issuer configured twice', () => {
  for (const alg of ['HS256', 'none']) {
    assert.throws(() => createJoseVerifier({ issuers: [issuer({ algorithms: [alg as never] })] }), { name: 'TypeError', message: `algorithm ${alg} is not allowed` });
  }
  assert.throws(() => createJoseVerifier({ issuers: [issuer(), issuer()] }), { name: 'TypeError', message: /configured twice/ });
});

test('dev issuer persists its key through the store and its tokens verify', async () => {
  const files = new Map<string, string>();
  const store: DevKeyStore = { read: async (n) => files.get(n) ?? null, write: async (n, t) => void files.set(n, t) };
  const dev = await createDevIssuer(store, () => NOW);
  const again = await createDevIssuer(store, () => NOW);
  assert.deepEqual(again.jwks, dev.jwks);
  assert.ok(!JSON.stringify(dev.jwks).includes('"d"'), 'public JWKS must not contain the private scalar');
  const v = createJoseVerifier({ issuers: [{ issuer: dev.issuer, audience: dev.audience, algorithms: ['ES256'], jwks: dev.jwks }], now: () => NOW });
  const p = await v.verify(await dev.signToken('bob', ['datasets:read'], 60));
  assert.equal(p.subject, 'bob');
  assert.ok(p.scopes.has('datasets:read'));
  const expired = await createDevIssuer(store, () => NOW - 3_600_000);
  await assert.rejects(v.verify(await expired.signToken('bob', ['query'], 60)), (err: unknown) => err instanceof AppError && err.code === 'ERR_AUTH_EXPIRED');
});
