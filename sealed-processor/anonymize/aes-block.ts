/**
 * Raw AES-128 single-block access for the address primitives, on 32-bit big-endian words.
 *
 * Owns: the bridge to @noble/ciphers' `unsafe` block API (key expansion, one-block encrypt)
 * and the byte-order conversion between our big-endian words and noble's little-endian
 * state. Never implements AES itself, never holds a key beyond the expanded schedule the
 * caller keeps, and does no IO.
 */
import { unsafe } from '@noble/ciphers/aes.js';

/** An expanded AES-128 key schedule (44 little-endian words, noble layout). */
export type AesSchedule = Uint32Array;

/**
 * Expands a 16-byte AES-128 key.
 * @throws TypeError when the key is not 16 bytes (a programmer error: callers validate).
 */
export function expandAes128(key: Uint8Array): AesSchedule {
  if (key.length !== 16) throw new TypeError(`AES-128 key must be 16 bytes, got ${key.length}`);
  return unsafe.expandKeyLE(key.slice());
}

/** Byte-swaps a 32-bit word (big-endian word <-> noble's little-endian word). */
export function bswap32(x: number): number {
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}

/**
 * Encrypts one block given as four big-endian words (w0 = bytes 0..3) and writes the
 * ciphertext as big-endian words into `out[0..3]`.
 */
export function aesEncryptWords(xk: AesSchedule, w0: number, w1: number, w2: number, w3: number, out: Uint32Array): void {
  const r = unsafe.encrypt(xk, bswap32(w0), bswap32(w1), bswap32(w2), bswap32(w3));
  out[0] = bswap32(r.s0);
  out[1] = bswap32(r.s1);
  out[2] = bswap32(r.s2);
  out[3] = bswap32(r.s3);
}

/** Reads 16 bytes as four big-endian words. */
export function bytesToWords(b: Uint8Array, offset: number, out: Uint32Array): void {
  for (let i = 0; i < 4; i++) {
    const o = offset + i * 4;
    out[i] = ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  }
}

/** Writes four big-endian words as 16 bytes. */
export function wordsToBytes(w: ArrayLike<number>, out: Uint8Array, offset: number): void {
  for (let i = 0; i < 4; i++) {
    const o = offset + i * 4;
    const x = w[i];
    out[o] = x >>> 24;
    out[o + 1] = (x >>> 16) & 0xff;
    out[o + 2] = (x >>> 8) & 0xff;
    out[o + 3] = x & 0xff;
  }
}

/** Lowercase hex of bytes. */
export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16);
  return s;
}

/**
 * Parses lowercase/uppercase hex into bytes.
 * @returns null when the text is not an even-length hex string.
 */
export function fromHex(text: string): Uint8Array | null {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return null;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}
