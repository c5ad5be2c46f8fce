/**
 * The ingest side's view of the processor's public key: reads `<spool>/processor-key.json`,
 * validates it and re-reads it when the file changes (a restarted processor publishes a new
 * key; later segments must be sealed to it).
 *
 * Owns: parsing and checking the key file (schema, key length, key id = SHA-256 prefix of the
 * key). Never: holds anything that can decrypt — only a public key.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { base64UrlDecode, computeKeyId, ProcessorPublicKeyFile, PUBLIC_KEY_FILE_NAME } from '../../schemas/spool.ts';
import { createSealingSuite } from './segment-sealer.ts';

export interface RecipientKey {
  /** The processor's X25519 public key, imported for HPKE. */
  publicKey: CryptoKey;
  /** Hex key id (first 16 bytes of SHA-256 of the raw key). */
  keyId: string;
}

function noKey(): AppError {
  return new AppError(
    ErrorCode.SpoolNoPublicKey,
    `no ${PUBLIC_KEY_FILE_NAME} in the spool directory: start the sealed processor first (it publishes its public key there)`,
  );
}

/** Reads and validates the key file once. Throws ERR_SPOOL_NO_PUBLIC_KEY (missing) or ERR_KEY_INVALID. */
export async function readRecipientKey(spoolDir: string): Promise<RecipientKey> {
  let text: string;
  try {
    text = await readFile(join(spoolDir, PUBLIC_KEY_FILE_NAME), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw noKey();
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new AppError(ErrorCode.KeyInvalid, `${PUBLIC_KEY_FILE_NAME} is not valid JSON`);
  }
  const parsed = ProcessorPublicKeyFile.safeParse(json);
  if (!parsed.success) throw new AppError(ErrorCode.KeyInvalid, `${PUBLIC_KEY_FILE_NAME} does not match the expected schema`);
  const raw = base64UrlDecode(parsed.data.publicKey);
  if (raw.length !== 32 || (await computeKeyId(raw)) !== parsed.data.keyId) {
    throw new AppError(ErrorCode.KeyInvalid, `${PUBLIC_KEY_FILE_NAME}: key id does not match the public key`);
  }
  const publicKey = await createSealingSuite().kem.deserializePublicKey(raw);
  return { publicKey, keyId: parsed.data.keyId };
}

/** Caches the key and re-reads the file when its identity (inode, size, mtime) changes. */
export class RecipientKeySource {
  readonly #spoolDir: string;
  #key: RecipientKey | null = null;
  #stamp = '';

  constructor(spoolDir: string) {
    this.#spoolDir = spoolDir;
  }

  /**
   * The current key. If the file disappeared after a key was loaded, keeps the last one
   * (segments sealed to a dead processor are shredded by design). Throws like readRecipientKey
   * when no key was ever loaded.
   */
  async current(): Promise<RecipientKey> {
    let stamp: string;
    try {
      const st = await stat(join(this.#spoolDir, PUBLIC_KEY_FILE_NAME), { bigint: true });
      stamp = `${st.ino}:${st.size}:${st.mtimeNs}`;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      if (this.#key) return this.#key;
      throw noKey();
    }
    if (!this.#key || stamp !== this.#stamp) {
      this.#key = await readRecipientKey(this.#spoolDir);
      this.#stamp = stamp;
    }
    return this.#key;
  }
}
