/**
 * ipcrypt-pfx (draft-denis-ipcrypt §6): deterministic, prefix-preserving encryption of IPv4
 * (native 32 bits) and IPv6 (128 bits) addresses with a 32-byte key.
 *
 * For each bit position i (from the most significant), the output bit is the input bit XOR
 * one PRF bit; the PRF input is the "padded prefix": a separator 1 bit followed by the i
 * input bits that precede position i (for IPv4 the 96-bit ::ffff prefix comes first). The
 * PRF is AES-128(K1, P) ⊕ AES-128(K2, P) (a sum of two PRPs), of which the least
 * significant bit of the last byte is used. Because the PRF input encodes the prefix length
 * (the separator bit position), prefixes of different lengths never share a PRF input.
 *
 * Owns: the primitive on u32 / four-word inputs. Never allocates per bit beyond noble's
 * block result, never logs, no IO.
 */
import { expandKeyBE, pfxPrfBit } from './aes-prf.ts';
import { maskV4 } from '../../schemas/ip-address.ts';

/** Expanded ipcrypt-pfx key (two independent AES-128 schedules, big-endian words; aes-prf.ts). */
export interface PfxKey {
  readonly k1: Uint32Array;
  readonly k2: Uint32Array;
}

/**
 * Prepares a 32-byte ipcrypt-pfx key (K1 = bytes 0..15, K2 = bytes 16..31).
 * @throws TypeError when the key is not 32 bytes or its halves are equal (draft §6.2.3).
 */
export function pfxKey(key: Uint8Array): PfxKey {
  if (key.length !== 32) throw new TypeError(`ipcrypt-pfx key must be 32 bytes, got ${key.length}`);
  let same = true;
  for (let i = 0; i < 16; i++) if (key[i] !== key[16 + i]) same = false;
  if (same) throw new TypeError('ipcrypt-pfx key halves must differ');
  return { k1: expandKeyBE(key.subarray(0, 16)), k2: expandKeyBE(key.subarray(16, 32)) };
}

/** PRF bit for a block given as big-endian words: LSB of byte 15 of AES(K1,P) ⊕ AES(K2,P). */
function prfBit(k: PfxKey, w0: number, w1: number, w2: number, w3: number): number {
  return pfxPrfBit(k.k1, k.k2, w0 >>> 0, w1 >>> 0, w2 >>> 0, w3 >>> 0);
}

/**
 * The IPv4 PRF bit at `level` (0..31) for the `level` leading input bits `prefix`
 * (prefix < 2^level). Padded prefix = 1 ‖ 0^80 ‖ 1^16 ‖ prefix, right-aligned in 128 bits.
 */
export function pfxBitV4(k: PfxKey, level: number, prefix: number): number {
  // Low 64 bits: 0xffff followed by `level` prefix bits (at most 47 bits). Integer shifts, no
  // float division: this runs once per prefix-tree node on every cache miss.
  const w3 = ((0xffff << level) | prefix) >>> 0;
  const w2 = level > 16 ? 0xffff >>> (32 - level) : 0;
  return pfxPrfBit(k.k1, k.k2, (1 << level) >>> 0, 0, w2, w3);
}

/** ipcrypt-pfx of an IPv4 address (u32 in, u32 out). */
export function ipcryptPfxV4(k: PfxKey, addr: number): number {
  let out = 0;
  for (let level = 0; level < 32; level++) {
    const prefix = level === 0 ? 0 : addr >>> (32 - level);
    const inBit = (addr >>> (31 - level)) & 1;
    out = out * 2 + (inBit ^ pfxBitV4(k, level, prefix));
  }
  return out >>> 0;
}

/**
 * ipcrypt-pfx of a 16-byte address given as four big-endian words; writes `out`.
 * IPv4-mapped inputs (::ffff:a.b.c.d) take the IPv4 path and stay IPv4-mapped (draft §6.2).
 * `fromLevel` lets a caller resume after a cached output prefix: when `fromLevel` > 0,
 * `out` must already hold the first `fromLevel` output bits. `pinned` (default 0) forces the
 * flip of levels below it to 0 (reserved-outputs.ts); 0 gives the draft's function.
 */
export function ipcryptPfxV6(k: PfxKey, w: ArrayLike<number>, out: Uint32Array, fromLevel = 0, pinned = 0): void {
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) {
    out[0] = 0;
    out[1] = 0;
    out[2] = 0xffff;
    out[3] = ipcryptPfxV4(k, w[3] >>> 0);
    return;
  }
  // Padded prefix state p = 1 ‖ (first `level` input bits), right-aligned.
  let p0 = 0, p1 = 0, p2 = 0, p3 = 1;
  if (fromLevel > 0) {
    [p0, p1, p2, p3] = shiftRight128(w, 128 - fromLevel);
    setBit(fromLevel);
  }
  function setBit(pos: number): void {
    const word = 3 - (pos >>> 5);
    const m = (1 << (pos & 31)) >>> 0;
    if (word === 0) p0 = (p0 | m) >>> 0;
    else if (word === 1) p1 = (p1 | m) >>> 0;
    else if (word === 2) p2 = (p2 | m) >>> 0;
    else p3 = (p3 | m) >>> 0;
  }
  // Keep only the already-known output prefix (bits before `fromLevel`).
  let o0 = (out[0] & maskV4(fromLevel)) >>> 0, o1 = (out[1] & maskV4(fromLevel - 32)) >>> 0;
  let o2 = (out[2] & maskV4(fromLevel - 64)) >>> 0, o3 = (out[3] & maskV4(fromLevel - 96)) >>> 0;
  for (let level = fromLevel; level < 128; level++) {
    const wi = level >>> 5;
    const sh = 31 - (level & 31);
    const inBit = (w[wi] >>> sh) & 1;
    const ob = level < pinned ? inBit : inBit ^ prfBit(k, p0, p1, p2, p3);
    if (ob) {
      const m = (1 << sh) >>> 0;
      if (wi === 0) o0 = (o0 | m) >>> 0;
      else if (wi === 1) o1 = (o1 | m) >>> 0;
      else if (wi === 2) o2 = (o2 | m) >>> 0;
      else o3 = (o3 | m) >>> 0;
    }
    // Shift the padded prefix left by one and append the input bit.
    p0 = ((p0 << 1) | (p1 >>> 31)) >>> 0;
    p1 = ((p1 << 1) | (p2 >>> 31)) >>> 0;
    p2 = ((p2 << 1) | (p3 >>> 31)) >>> 0;
    p3 = ((p3 << 1) | inBit) >>> 0;
  }
  out[0] = o0;
  out[1] = o1;
  out[2] = o2;
  out[3] = o3;
}

/** 128-bit logical right shift of four big-endian words by `n` (0..128). */
export function shiftRight128(w: ArrayLike<number>, n: number): [number, number, number, number] {
  const r: [number, number, number, number] = [0, 0, 0, 0];
  const words = n >>> 5;
  const bits = n & 31;
  for (let i = 3; i >= 0; i--) {
    const src = i - words;
    if (src < 0) continue;
    const hi = w[src] >>> 0;
    const lo = bits === 0 ? hi >>> 0 : (hi >>> bits) | (src > 0 ? (w[src - 1] << (32 - bits)) >>> 0 : 0);
    r[i] = lo >>> 0;
  }
  return r;
}
