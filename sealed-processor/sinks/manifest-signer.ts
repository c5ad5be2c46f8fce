/**
 * The run-manifest signing key: Ed25519, from a 32-byte seed the operator keeps (key sources
 * as for the anonymization key: `stdin`, `env:NAME`, `file:PATH`), or — when none is given —
 * generated per processor start and never written anywhere. Only a configured key means
 * anything to a reader: the API pins its public key (`manifestKeys` in the API config) and
 * then refuses manifests that do not verify. An ephemeral key only shows that a manifest is
 * internally consistent; the API lists such datasets as `verified: false`.
 *
 * Owns: turning a seed into a signing key and public JWK (with its RFC 7638 thumbprint as
 * `kid`), and signing a manifest (compact JWS over its canonical JSON).
 * Never: writes or logs the seed; flowseal never stores a signing key (operators generate one
 * with `flowseal signing-key generate` and keep it in their secret store).
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { CompactSign, calculateJwkThumbprint, type JWK } from 'jose';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { MANIFEST_JWS_TYPE } from '../../schemas/archive.ts';
import { manifestPayload, type RunManifest, type SignedManifest } from '../../schemas/manifest.ts';
import type { KeySourceSpec } from '../../schemas/policy.ts';
import { generateMasterKey, resolveMasterKey, type KeySourceIo } from '../anonymize/key.ts';

export interface ManifestSigner {
  /** Public JWK (`kty: OKP`, `crv: Ed25519`, `kid` = thumbprint, `alg: EdDSA`). */
  readonly publicJwk: JWK;
  /** Whether the key came from the operator (false: generated for this start only). */
  readonly configured: boolean;
  sign(manifest: RunManifest): Promise<SignedManifest>;
}

/** PKCS#8 DER prefix of an Ed25519 private key (RFC 8410), followed by the 32-byte seed. */
const ED25519_PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

/** A signer from a 32-byte Ed25519 seed. */
export async function signerFromSeed(seed: Uint8Array, configured: boolean): Promise<ManifestSigner> {
  if (seed.length !== 32) throw new AppError(ErrorCode.KeyInvalid, 'a manifest signing key is a 32-byte Ed25519 seed (64 hex digits)');
  const der = new Uint8Array(ED25519_PKCS8_PREFIX.length + 32);
  der.set(ED25519_PKCS8_PREFIX);
  der.set(seed, ED25519_PKCS8_PREFIX.length);
  const privateKey: KeyObject = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  der.fill(0);
  const exported = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK;
  const base: JWK = { kty: 'OKP', crv: 'Ed25519', x: exported.x! };
  const publicJwk: JWK = { ...base, kid: await calculateJwkThumbprint(base, 'sha256'), use: 'sig', alg: 'EdDSA' };
  return {
    publicJwk,
    configured,
    async sign(manifest) {
      const jws = await new CompactSign(manifestPayload(manifest))
        .setProtectedHeader({ alg: 'EdDSA', typ: MANIFEST_JWS_TYPE, kid: publicJwk.kid! })
        .sign(privateKey);
      return { manifest, jws, signer: { ...publicJwk } as Record<string, unknown> };
    },
  };
}

/**
 * Parses `--signing-key`: `stdin`, `env:NAME` or `file:PATH`.
 * @throws AppError ERR_BAD_REQUEST naming the accepted forms.
 */
export function parseSigningKeyArg(arg: string): Exclude<KeySourceSpec, { type: 'random' }> {
  if (arg === 'stdin') return { type: 'stdin' };
  if (arg.startsWith('env:') && /^[A-Za-z_][A-Za-z0-9_]*$/.test(arg.slice(4))) return { type: 'env', name: arg.slice(4) };
  if (arg.startsWith('file:') && arg.length > 5) return { type: 'file', path: arg.slice(5) };
  throw new AppError(ErrorCode.BadRequest, '--signing-key must be stdin, env:NAME or file:PATH (a file or variable holding a 64-hex-digit Ed25519 seed)');
}

/** The configured signer, or an ephemeral one when `source` is undefined. */
export async function loadManifestSigner(source: KeySourceSpec | undefined, io: KeySourceIo): Promise<ManifestSigner> {
  if (source === undefined || source.type === 'random') return signerFromSeed(generateMasterKey(), false);
  const seed = await resolveMasterKey(source, io).catch((e: unknown) => {
    if (e instanceof AppError) throw new AppError(ErrorCode.KeyInvalid, `manifest signing key: ${e.message}`);
    throw e;
  });
  try {
    return await signerFromSeed(seed, true);
  } finally {
    seed.fill(0);
  }
}
