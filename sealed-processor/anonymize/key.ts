/**
 * Anonymization key handling: the per-run 256-bit master key, HKDF-SHA256 subkeys with
 * domain separation (`flowseal/v1/<method>/<field>`), the public key id, and reading a key
 * from the sources a policy names.
 *
 * Exposure of each key source (documented for operators):
 * - `random` (default): generated in memory, never leaves the process; the mapping can never
 *   be reproduced or extended later (strongest, but no consistency across runs).
 * - `stdin`: piped in once; exposure is whatever produced the pipe (shell history is safe if
 *   the key comes from a file or a secret manager, not from an echo on the command line).
 * - `env`: visible to the process owner and root via /proc/<pid>/environ for the life of the
 *   process, and inherited by children; prefer stdin or file.
 * - `file`: at rest on disk; protect with permissions (0400) and keep it off the archive host.
 *
 * Owns: key formats and derivation. Never logs or returns key bytes in errors; IO is injected.
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { fromHex, toHex } from './aes-block.ts';

/** Master key length in bytes. */
export const MASTER_KEY_BYTES = 32;

const encoder = new TextEncoder();

/** A fresh random 256-bit master key (Web Crypto CSPRNG). */
export function generateMasterKey(): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(MASTER_KEY_BYTES));
}

/**
 * Derives a subkey: HKDF-SHA256(ikm = master, salt = none, info = label, length).
 * Labels look like `flowseal/v1/ipcrypt-pfx/address`.
 */
export function deriveSubkey(master: Uint8Array, label: string, length: number): Uint8Array {
  return hkdf(sha256, master, undefined, encoder.encode(label), length);
}

/** Public, one-way key id: hex of the first 16 bytes of HKDF(master, "flowseal/v1/key-id"). */
export function keyIdOf(master: Uint8Array): string {
  return toHex(deriveSubkey(master, 'flowseal/v1/key-id', 16));
}

function decodeKeyText(text: string): Uint8Array | null {
  const t = text.trim().replace(/^0x/i, '');
  if (t.length === 0) return null;
  return fromHex(t);
}

/**
 * Parses a CLI key argument: hex (optionally `0x`-prefixed) or `@path` naming a file with
 * hex text or raw key bytes (16 or 32 bytes).
 * @throws AppError(KeyInvalid) when the argument or file holds no usable key.
 */
export async function parseKeyArg(
  hexOrAtFile: string,
  readFile: (path: string) => Promise<string | Uint8Array>,
): Promise<Uint8Array> {
  if (hexOrAtFile.startsWith('@')) {
    let content: string | Uint8Array;
    try {
      content = await readFile(hexOrAtFile.slice(1));
    } catch (cause) {
      throw new AppError(ErrorCode.KeyInvalid, 'cannot read the key file', { cause });
    }
    if (typeof content !== 'string') {
      const asText = new TextDecoder('utf-8', { fatal: false }).decode(content);
      const k = /^\s*(0x)?[0-9a-fA-F]+\s*$/.test(asText) ? decodeKeyText(asText) : null;
      if (k !== null && k.length > 0) return k;
      if (content.length === 16 || content.length === 32) return content.slice();
      throw new AppError(ErrorCode.KeyInvalid, 'key file holds neither hex nor 16/32 raw bytes');
    }
    const k = decodeKeyText(content);
    if (k === null) throw new AppError(ErrorCode.KeyInvalid, 'key file does not hold hex');
    return k;
  }
  const k = decodeKeyText(hexOrAtFile);
  if (k === null) throw new AppError(ErrorCode.KeyInvalid, 'key must be hex (e.g. 64 hex digits) or @file');
  return k;
}

/** Where the master key comes from (mirrors schemas/policy.ts `keySource`). */
export type KeySource =
  | { type: 'random' }
  | { type: 'stdin' }
  | { type: 'env'; name: string }
  | { type: 'file'; path: string };

/** IO needed to resolve a key source; only the members the source uses are called. */
export interface KeySourceIo {
  readStdin?: () => Promise<string | Uint8Array>;
  getEnv?: (name: string) => string | undefined;
  readFile?: (path: string) => Promise<string | Uint8Array>;
  random?: () => Uint8Array;
}

function toMaster(content: string | Uint8Array, what: string): Uint8Array {
  if (typeof content !== 'string' && content.length === MASTER_KEY_BYTES) return content.slice();
  const text = typeof content === 'string' ? content : new TextDecoder().decode(content);
  const k = decodeKeyText(text);
  if (k === null || k.length !== MASTER_KEY_BYTES) {
    throw new AppError(ErrorCode.KeyInvalid, `${what} must hold a 256-bit key as 64 hex digits or 32 raw bytes`);
  }
  return k;
}

/**
 * Resolves the master key from a policy key source.
 * @throws AppError(KeyInvalid) when the source is missing or malformed.
 */
export async function resolveMasterKey(source: KeySource, io: KeySourceIo): Promise<Uint8Array> {
  switch (source.type) {
    case 'random':
      return io.random ? io.random() : generateMasterKey();
    case 'stdin':
      if (!io.readStdin) throw new AppError(ErrorCode.KeyInvalid, 'no stdin available for the key');
      return toMaster(await io.readStdin(), 'stdin');
    case 'env': {
      const v = io.getEnv?.(source.name);
      if (v === undefined || v === '') throw new AppError(ErrorCode.KeyInvalid, `environment variable ${source.name} is not set`);
      return toMaster(v, `environment variable ${source.name}`);
    }
    case 'file': {
      if (!io.readFile) throw new AppError(ErrorCode.KeyInvalid, 'no file access for the key');
      let c: string | Uint8Array;
      try {
        c = await io.readFile(source.path);
      } catch (cause) {
        throw new AppError(ErrorCode.KeyInvalid, 'cannot read the key file', { cause });
      }
      return toMaster(c, 'key file');
    }
  }
}
