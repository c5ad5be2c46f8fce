/**
 * ipcrypt-deterministic, ipcrypt-nd (KIASU-BC) and ipcrypt-ndx (single-block AES-XTS) from
 * draft-denis-ipcrypt §5 and §7, on the 16-byte address form (IPv4 as ::ffff:a.b.c.d).
 *
 * Owns: these three constructions on top of noble's raw AES block. The non-deterministic
 * modes take their tweak from the caller (an injected random source in production, the
 * draft's tweaks in tests). Never draws randomness itself, never logs, no IO.
 */
import { unsafe } from '@noble/ciphers/aes.js';
import { bswap32, expandAes128, type AesSchedule } from './aes-block.ts';

/**
 * Prepares a 16-byte ipcrypt-deterministic / ipcrypt-nd key.
 * @throws TypeError when the key is not 16 bytes.
 */
export function ipcryptKey16(key: Uint8Array): AesSchedule {
  return expandAes128(key);
}

/** ipcrypt-ndx key: K1 encrypts the block, K2 the tweak. */
export interface NdxKey {
  readonly k1: AesSchedule;
  readonly k2: AesSchedule;
}

/**
 * Prepares a 32-byte ipcrypt-ndx key (K1 = bytes 0..15, K2 = bytes 16..31).
 * @throws TypeError when the key is not 32 bytes.
 */
export function ndxKey(key: Uint8Array): NdxKey {
  if (key.length !== 32) throw new TypeError(`ipcrypt-ndx key must be 32 bytes, got ${key.length}`);
  return { k1: expandAes128(key.subarray(0, 16)), k2: expandAes128(key.subarray(16, 32)) };
}

/**
 * ipcrypt-deterministic: AES-128 of the 16-byte form. `w` and `out` are four big-endian
 * words (they may alias). The result is rendered with draft §3.2 (usually IPv6 text).
 */
export function ipcryptDeterministic(xk: AesSchedule, w: ArrayLike<number>, out: Uint32Array): void {
  const r = unsafe.encrypt(xk, bswap32(w[0]), bswap32(w[1]), bswap32(w[2]), bswap32(w[3]));
  out[0] = bswap32(r.s0);
  out[1] = bswap32(r.s1);
  out[2] = bswap32(r.s2);
  out[3] = bswap32(r.s3);
}

function writeLeWords(out: Uint8Array, offset: number, s0: number, s1: number, s2: number, s3: number): void {
  const s = [s0, s1, s2, s3];
  for (let i = 0; i < 4; i++) {
    const x = s[i];
    out[offset + 4 * i] = x & 0xff;
    out[offset + 4 * i + 1] = (x >>> 8) & 0xff;
    out[offset + 4 * i + 2] = (x >>> 16) & 0xff;
    out[offset + 4 * i + 3] = x >>> 24;
  }
}

function leWord(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

/**
 * ipcrypt-nd: KIASU-BC = AES-128 with the 8-byte tweak, padded to 16 bytes by placing each
 * 2-byte pair at the start of a 4-byte group (t0 t1 0 0 t2 t3 0 0 …, draft §9.9.2), XORed
 * into every round key. Built from noble's expanded schedule: XOR the padded tweak into each
 * of the 11 round keys, then run the ordinary cipher.
 * @returns 24 bytes: tweak ‖ ciphertext.
 * @throws TypeError when the tweak is not 8 bytes.
 */
export function ipcryptNd(xk: AesSchedule, w: ArrayLike<number>, tweak: Uint8Array): Uint8Array {
  if (tweak.length !== 8) throw new TypeError('ipcrypt-nd tweak must be 8 bytes');
  const tk = new Uint32Array(xk.length);
  for (let j = 0; j < 4; j++) {
    // noble words are little-endian: bytes (t[2j], t[2j+1], 0, 0) → t[2j] | t[2j+1] << 8.
    const tw = tweak[2 * j] | (tweak[2 * j + 1] << 8);
    for (let i = j; i < xk.length; i += 4) tk[i] = xk[i] ^ tw;
  }
  const r = unsafe.encrypt(tk, bswap32(w[0]), bswap32(w[1]), bswap32(w[2]), bswap32(w[3]));
  const out = new Uint8Array(24);
  out.set(tweak, 0);
  writeLeWords(out, 8, r.s0, r.s1, r.s2, r.s3);
  return out;
}

/**
 * ipcrypt-ndx: single-block AES-XTS. ET = AES(K2, tweak); C = AES(K1, P ⊕ ET) ⊕ ET.
 * @returns 32 bytes: tweak ‖ ciphertext.
 * @throws TypeError when the tweak is not 16 bytes.
 */
export function ipcryptNdx(k: NdxKey, w: ArrayLike<number>, tweak: Uint8Array): Uint8Array {
  if (tweak.length !== 16) throw new TypeError('ipcrypt-ndx tweak must be 16 bytes');
  const et = unsafe.encrypt(k.k2, leWord(tweak, 0), leWord(tweak, 4), leWord(tweak, 8), leWord(tweak, 12));
  const r = unsafe.encrypt(
    k.k1,
    bswap32(w[0]) ^ et.s0,
    bswap32(w[1]) ^ et.s1,
    bswap32(w[2]) ^ et.s2,
    bswap32(w[3]) ^ et.s3,
  );
  const out = new Uint8Array(32);
  out.set(tweak, 0);
  writeLeWords(out, 16, r.s0 ^ et.s0, r.s1 ^ et.s1, r.s2 ^ et.s2, r.s3 ^ et.s3);
  return out;
}
