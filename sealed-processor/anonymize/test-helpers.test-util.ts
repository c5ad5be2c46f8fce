/**
 * Shared helpers for this folder's tests (not a test file itself): hex/address parsing and
 * reference common-prefix lengths. Test-only; never imported by production code.
 *
 * The common-prefix helpers here are deliberately *not* the production ones
 * (reserved-outputs.ts `commonPrefix32`/`commonPrefix128`): a prefix-preservation property
 * that measured both sides with a broken production helper would still pass. These spell
 * each value out as a string of '0'/'1' characters and count equal leading characters, so
 * they share no code or trick (xor, `Math.clz32`, `>>> 0` word handling) with production.
 */
import { fromHex } from './aes-block.ts';
import { parseAddress } from '../../schemas/ip-address.ts';

export function hex(s: string): Uint8Array {
  const b = fromHex(s);
  if (b === null) throw new TypeError('bad hex in test');
  return b;
}

/** 16-byte form as four words (IPv4 → ::ffff:a.b.c.d). */
export function words(ip: string): Uint32Array {
  const a = parseAddress(ip);
  if (a === null) throw new TypeError(`bad address in test: ${ip}`);
  return a.version === 4 ? new Uint32Array([0, 0, 0xffff, a.v4]) : a.v6;
}

export function v4(ip: string): number {
  const a = parseAddress(ip);
  if (a === null || a.version !== 4) throw new TypeError(`bad IPv4 in test: ${ip}`);
  return a.v4;
}

/** `x` as exactly 32 '0'/'1' characters, most significant bit first. Throws for a non-u32. */
export function bitString32(x: number): string {
  if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new TypeError(`not a u32 in test: ${x}`);
  let s = '';
  for (let bit = 31; bit >= 0; bit--) s += Math.floor(x / 2 ** bit) % 2 === 1 ? '1' : '0';
  return s;
}

/** Four big-endian u32 words as exactly 128 '0'/'1' characters. */
export function bitString128(w: ArrayLike<number>): string {
  if (w.length !== 4) throw new TypeError('not four words in test');
  return bitString32(w[0]!) + bitString32(w[1]!) + bitString32(w[2]!) + bitString32(w[3]!);
}

function equalLeadingChars(a: string, b: string): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/** Reference: number of leading equal bits of two u32s (0..32), counted character by character. */
export function referenceCommonPrefix32(a: number, b: number): number {
  return equalLeadingChars(bitString32(a), bitString32(b));
}

/** Reference: number of leading equal bits of two four-word values (0..128). */
export function referenceCommonPrefix128(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return equalLeadingChars(bitString128(a), bitString128(b));
}
