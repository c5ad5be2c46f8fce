/**
 * Keyed permutation of [0, 2^bits) for bits 1..64, on values held as two u32 words
 * (hi = bits 32..63, lo = bits 0..31), with a 64-bit tweak and optional excluded values: the
 * IPv6 counterpart of small-permutation.ts (IPv6 subnet numbers and interface identifiers
 * are up to 64 bits wide, beyond what a double holds exactly).
 *
 * Construction: a balanced Feistel network over 2·⌈bits/2⌉ bits, 10 rounds; the round
 * function is AES-128 (the 16-byte key) of (tweak hi, bits ‖ round, right half, tweak lo),
 * keeping the low half-width bits. Values outside the domain or excluded are re-encrypted
 * (cycle-walking, Black & Rogaway 2002), so the map is a bijection of the domain minus the
 * excluded set onto itself.
 *
 * Owns: the construction. Never reveals the key, allocates nothing per call, no IO.
 */
import { unsafe } from '@noble/ciphers/aes.js';
import { expandAes128, type AesSchedule } from './aes-block.ts';

const ROUNDS = 10;

/** A keyed permutation of [0, 2^bits), bits 1..64 (see file comment). */
export class WidePermutation {
  readonly bits: number;
  readonly #xk: AesSchedule;
  readonly #half: number;
  readonly #halfMask: number;

  /**
   * @param key 16-byte AES key (one per use: the tweak words are all the separation there is).
   * @param bits domain width, 1..64.
   * @throws TypeError on a bad key or width.
   */
  constructor(key: Uint8Array, bits: number) {
    if (!Number.isInteger(bits) || bits < 1 || bits > 64) throw new TypeError('wide permutation width must be 1..64 bits');
    this.bits = bits;
    this.#xk = expandAes128(key);
    this.#half = Math.ceil(bits / 2);
    this.#halfMask = this.#half === 32 ? 0xffffffff : ((1 << this.#half) - 1) >>> 0;
  }

  /** True when (hi, lo) < 2^bits. */
  inDomain(hi: number, lo: number): boolean {
    const b = this.bits;
    if (b >= 64) return true;
    if (b > 32) return hi >>> 0 < 2 ** (b - 32);
    return hi === 0 && (b === 32 || lo >>> 0 < 2 ** b);
  }

  #feistel(hi: number, lo: number, t2hi: number, t2lo: number, out: Uint32Array): void {
    const h = this.#half;
    const m = this.#halfMask;
    let r = (lo & m) >>> 0;
    let l = h === 32 ? hi >>> 0 : (((lo >>> h) | (hi << (32 - h))) & m) >>> 0;
    const tag = this.bits << 8;
    for (let round = 0; round < ROUNDS; round++) {
      const f = unsafe.encrypt(this.#xk, t2hi, tag | round, r, t2lo).s0 & m;
      const nl = r;
      r = ((l ^ f) & m) >>> 0;
      l = nl;
    }
    if (h === 32) {
      out[0] = l;
      out[1] = r;
    } else {
      out[0] = l >>> (32 - h);
      out[1] = ((l << h) | r) >>> 0;
    }
  }

  /**
   * Permutes (hi, lo), which must be in the domain and not excluded; writes [hi, lo] to `out`.
   * `excluded` values are never produced (the caller maps them to themselves). The tweak
   * (t2hi, t2lo) selects one of a family of independent permutations.
   */
  permute(hi: number, lo: number, out: Uint32Array, excluded?: (hi: number, lo: number) => boolean, t2hi = 0, t2lo = 0): void {
    this.#feistel(hi, lo, t2hi >>> 0, t2lo >>> 0, out);
    // Cycle-walk: terminates because the input's own cycle holds an admissible value.
    while (!this.inDomain(out[0], out[1]) || (excluded !== undefined && excluded(out[0], out[1]))) {
      this.#feistel(out[0], out[1], t2hi >>> 0, t2lo >>> 0, out);
    }
  }
}
