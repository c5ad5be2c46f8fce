/**
 * Keyed permutation of a small integer domain [0, 2^bits), bits 1..32, with optional
 * excluded values (fixed points), for MAC halves and internal subnet/host numbers.
 *
 * Construction: a balanced Feistel network over 2·⌈bits/2⌉ bits, 10 rounds, whose round
 * function is AES-128 (key = the 16-byte subkey) of (tweak, bits, round, right half), keeping
 * the low half-width bits. Outputs outside the domain, or in the excluded set, are re-
 * encrypted (cycle-walking, Black & Rogaway 2002), which keeps the map a bijection of the
 * domain minus the excluded set onto itself.
 *
 * Owns: the construction. Never reveals the key, no IO.
 */
import { unsafe } from '@noble/ciphers/aes.js';
import { expandAes128, type AesSchedule } from './aes-block.ts';

const ROUNDS = 10;

/** A keyed permutation of [0, 2^bits) (see file comment). */
export class SmallPermutation {
  readonly bits: number;
  readonly #xk: AesSchedule;
  readonly #tweak: number;
  readonly #half: number;
  readonly #halfMask: number;
  readonly #size: number;

  /**
   * @param key 16-byte AES key.
   * @param bits domain width, 1..32.
   * @param tweak a u32 separating uses of one key.
   * @throws TypeError on a bad key or width.
   */
  constructor(key: Uint8Array, bits: number, tweak = 0) {
    if (!Number.isInteger(bits) || bits < 1 || bits > 32) throw new TypeError('permutation width must be 1..32 bits');
    this.bits = bits;
    this.#xk = expandAes128(key);
    this.#tweak = tweak >>> 0;
    this.#half = Math.ceil(bits / 2);
    this.#halfMask = this.#half === 16 ? 0xffff : (1 << this.#half) - 1;
    this.#size = 2 ** bits;
  }

  #feistel(x: number, t2: number): number {
    const h = this.#half;
    let l = Math.floor(x / 2 ** h) & this.#halfMask;
    let r = x & this.#halfMask;
    for (let round = 0; round < ROUNDS; round++) {
      const f = unsafe.encrypt(this.#xk, this.#tweak, (this.bits << 8) | round, r, t2).s0 & this.#halfMask;
      const nl = r;
      r = (l ^ f) & this.#halfMask;
      l = nl;
    }
    return l * 2 ** h + r;
  }

  /**
   * Permutes `x` (must be in the domain and not excluded). `excluded` values are never
   * produced; they should be mapped to themselves by the caller. `tweak2` (u32) selects one
   * of a family of independent permutations (e.g. one host permutation per subnet).
   */
  permute(x: number, excluded?: (v: number) => boolean, tweak2 = 0): number {
    const t2 = (tweak2 ^ 0x666c6f77) >>> 0;
    let y = this.#feistel(x, t2);
    // Cycle-walk: terminates because x's own cycle contains an admissible value (x itself).
    while (y >= this.#size || (excluded !== undefined && excluded(y))) y = this.#feistel(y, t2);
    return y;
  }
}
