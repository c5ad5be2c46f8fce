/**
 * Key custody of the sealed processor: one X25519 key pair per processor process, generated
 * in memory at start. The private half is a non-extractable Web Crypto key: it cannot be
 * exported, serialized or written, so when the process ends no key that can decrypt the
 * spool exists anywhere (crypto-shredding of everything not yet processed).
 *
 * Owns: generating the pair, its key id and the public-key file's content.
 * Never: exports, logs, serializes or persists the private key; has no IO (see key-file.ts).
 */
import {
  computeKeyId,
  base64UrlEncode,
  SPOOL_SUITE_NAMES,
  SpoolSuite,
  type ProcessorPublicKeyFile,
} from '../../schemas/spool.ts';

/** The processor's spool keys. `keyPair.privateKey` is non-extractable. */
export interface ProcessorKeys {
  readonly keyPair: CryptoKeyPair;
  /** Raw 32-byte X25519 public key. */
  readonly publicKey: Uint8Array;
  /** Hex of the first 16 bytes of SHA-256(publicKey). */
  readonly keyId: string;
  /** ISO 8601 creation time. */
  readonly createdAt: string;
}

/**
 * Generates a fresh key pair in memory (Web Crypto X25519, private key non-extractable).
 * @param now clock in ms since the epoch (default Date.now), only for `createdAt`.
 */
export async function generateProcessorKeys(now: () => number = Date.now): Promise<ProcessorKeys> {
  const keyPair = (await crypto.subtle.generateKey({ name: 'X25519' }, false, ['deriveBits'])) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', keyPair.publicKey));
  const keyId = await computeKeyId(publicKey);
  return Object.freeze({ keyPair, publicKey, keyId, createdAt: new Date(now()).toISOString() });
}

/** The content of `<spool>/processor-key.json`: public material only. */
export function publicKeyFile(keys: ProcessorKeys): ProcessorPublicKeyFile {
  return {
    version: 1,
    suite: { ...SPOOL_SUITE_NAMES, ...SpoolSuite },
    publicKey: base64UrlEncode(keys.publicKey),
    keyId: keys.keyId,
    createdAt: keys.createdAt,
  };
}
