/**
 * HyperLogLog distinct-count sketch (Flajolet, Fusy, Gandouet, Meunier 2007) with a 64-bit hash
 * and Ertl's improved estimator ("New cardinality estimation algorithms for HyperLogLog
 * sketches", arXiv:1702.01284, 2017), which needs neither HLL++'s empirical bias tables nor a
 * switch to linear counting: it is unbiased across the whole range, small cardinalities
 * included. Precision p = 14: m = 16384 registers, relative standard error 1.04/√m ≈ 0.81 %.
 *
 * The hash is defined here, independently of any DuckDB version, so that every node produces
 * mergeable registers: h = the first 8 bytes of MD5(canonical bytes of the value), read as a
 * little-endian unsigned 64-bit integer (DuckDB 1.5: the low 64 bits of `md5_number(text)`;
 * api/engine/duckdb-sketch-sql.ts builds that SQL and its test pins both sides to the same
 * vectors). Register index = the top p bits of h; ρ = 1 + the number of trailing zero bits of
 * the low q = 64 − p bits, q + 1 when they are all zero (so 1 ≤ ρ ≤ 64 − p + 1).
 *
 * Canonical bytes per value type (HLL_TEXT_ENCODING, one entry per type, compiler-checked):
 * integers as decimal digits, timestamps as decimal microseconds since the epoch, strings as
 * their UTF-8 bytes (addresses are stored as RFC 5952 text, so one address has one text),
 * booleans as `true`/`false`. NULL is never added (like `count(DISTINCT x)`).
 *
 * Owns: the hash definition, registers, merge, the estimator and the JSON wire form. Never:
 * trusts a state from outside — `fromJSON`/`fromSparse`/`fromCodes` validate every field and
 * throw AppError. Pure: no IO, no DuckDB.
 */
import { md5 } from '@noble/hashes/legacy.js';
import { z } from 'zod';
import type { ColumnKind } from '../../../schemas/columns.ts';
import { AppError, ErrorCode } from '../../../schemas/errors.ts';

/** Default precision (number of index bits). */
export const HLL_PRECISION = 14;
/** Precisions this implementation accepts (p > 18 would not fit the 3-byte sparse entry). */
export const HLL_MIN_PRECISION = 4;
export const HLL_MAX_PRECISION = 18;
/** Wire-format version of `toJSON`. */
export const HLL_JSON_VERSION = 1;

/**
 * A partner's state that does not validate. ERR_UPSTREAM_UNAVAILABLE (502): the home node got a
 * malformed answer from another node; the message says which field and why, never a value.
 */
function invalidState(message: string): AppError {
  return new AppError(ErrorCode.UpstreamUnavailable, `invalid distinct-count state: ${message}`);
}

/** Value types a distinct count can be taken over: every ColumnKind, plus booleans. */
export type HllValueType = ColumnKind | 'boolean';

/** The JS value each type takes (timestamps as bigint microseconds since the epoch). */
export interface HllValueOf {
  u8: number;
  u16: number;
  u32: number;
  u64: bigint | number;
  timestamp: bigint;
  string: string;
  boolean: boolean;
}

function unsignedText(max: bigint) {
  return (v: bigint | number): string => {
    const b = typeof v === 'bigint' ? v : Number.isSafeInteger(v) ? BigInt(v) : null;
    if (b === null || b < 0n || b > max) throw new TypeError(`not an integer in 0..${max}`);
    return b.toString();
  };
}

/**
 * Canonical text of a value, per type; its UTF-8 bytes are what MD5 hashes. Exhaustive over
 * HllValueType (a new ColumnKind fails to compile until it has an entry here and in the SQL
 * table of api/engine/duckdb-sketch-sql.ts).
 */
export const HLL_TEXT_ENCODING = {
  u8: unsignedText(0xffn),
  u16: unsignedText(0xffffn),
  u32: unsignedText(0xffff_ffffn),
  u64: unsignedText(0xffff_ffff_ffff_ffffn),
  timestamp: (v: bigint): string => v.toString(),
  string: (v: string): string => v,
  boolean: (v: boolean): string => (v ? 'true' : 'false'),
} as const satisfies { readonly [K in HllValueType]: (v: HllValueOf[K]) => string };

const UTF8 = new TextEncoder();

/** The 64-bit hash as two 32-bit halves (little-endian bytes 0–3 and 4–7 of the MD5 digest). */
function hashParts(bytes: Uint8Array): [lo: number, hi: number] {
  const d = md5(bytes);
  const lo = (d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24)) >>> 0;
  const hi = (d[4]! | (d[5]! << 8) | (d[6]! << 16) | (d[7]! << 24)) >>> 0;
  return [lo, hi];
}

/** h(value) as defined above, as a bigint (for tests and diagnostics). */
export function hllHash<T extends HllValueType>(type: T, value: HllValueOf[T]): bigint {
  const [lo, hi] = hashParts(UTF8.encode((HLL_TEXT_ENCODING[type] as (v: HllValueOf[T]) => string)(value)));
  return (BigInt(hi) << 32n) | BigInt(lo);
}

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

// Ertl's σ and τ (arXiv:1702.01284, section 4), iterated until the sum stops changing.
function sigma(x: number): number {
  if (x === 1) return Infinity;
  let y = 1;
  let z = x;
  for (;;) {
    x *= x;
    const next = z + x * y;
    if (next === z) return z;
    z = next;
    y += y;
  }
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  for (;;) {
    x = Math.sqrt(x);
    y *= 0.5;
    const next = z - (1 - x) ** 2 * y;
    if (next === z) return z / 3;
    z = next;
  }
}

const ALPHA_INF = 1 / (2 * Math.LN2);

/** The wire form: sparse (few registers set) or dense, whichever is shorter. */
export type HllJson =
  | { readonly v: 1; readonly p: number; readonly sparse: string }
  | { readonly v: 1; readonly p: number; readonly dense: string };

const HllJsonSchema = z.union([
  z.strictObject({ v: z.literal(HLL_JSON_VERSION), p: z.number().int(), sparse: z.string().max(1 << 20) }),
  z.strictObject({ v: z.literal(HLL_JSON_VERSION), p: z.number().int(), dense: z.string().max(1 << 20) }),
]);

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Map([...B64].map((ch, i) => [ch, i]));

function base64Encode(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]!;
    out += i + 1 < bytes.length ? B64[(n >> 6) & 63]! : '=';
    out += i + 2 < bytes.length ? B64[n & 63]! : '=';
  }
  return out;
}

/** Strict base64 (RFC 4648 §4, padded, no whitespace); null when malformed or non-canonical. */
function base64Decode(text: string): Uint8Array | null {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const c = [0, 1, 2, 3].map((j) => B64_INDEX.get(text[i + j]!) ?? 0);
    const n = (c[0]! << 18) | (c[1]! << 12) | (c[2]! << 6) | c[3]!;
    out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return base64Encode(out) === text ? out : null;
}

/**
 * A HyperLogLog sketch. Building (`add`, `addHash`) mutates; `merge` returns a new sketch and
 * leaves both operands unchanged. Small sketches keep their registers in a map and switch to a
 * dense byte array past m/32 set registers, so many small groups stay cheap to hold.
 */
export class Hll {
  readonly p: number;
  #sparse: Map<number, number> | null = new Map();
  #dense: Uint8Array | null = null;

  private constructor(p: number) {
    if (!Number.isInteger(p) || p < HLL_MIN_PRECISION || p > HLL_MAX_PRECISION) {
      throw new TypeError(`HLL precision must be an integer in ${HLL_MIN_PRECISION}..${HLL_MAX_PRECISION}`);
    }
    this.p = p;
  }

  /** Register count m = 2^p. */
  get m(): number {
    return 1 << this.p;
  }

  /** Largest valid register value, 64 − p + 1. */
  get maxRho(): number {
    return 65 - this.p;
  }

  static empty(p: number = HLL_PRECISION): Hll {
    return new Hll(p);
  }

  /**
   * A sketch from (register, ρ) pairs, as a node's SQL returns them; a register listed twice
   * keeps its largest ρ.
   * @throws AppError when a register is outside 0..m−1 or ρ outside 1..64−p+1.
   */
  static fromSparse(pairs: Iterable<readonly [register: number, rho: number]>, p: number = HLL_PRECISION): Hll {
    const h = new Hll(p);
    for (const [register, rho] of pairs) h.#setChecked(register, rho);
    return h;
  }

  /** Like `fromSparse`, from codes `register · 64 + ρ` (the SQL's compact column). */
  static fromCodes(codes: Iterable<number>, p: number = HLL_PRECISION): Hll {
    const h = new Hll(p);
    for (const code of codes) {
      if (!Number.isSafeInteger(code) || code < 0) throw invalidState('register code is not a non-negative integer');
      h.#setChecked(Math.floor(code / 64), code % 64);
    }
    return h;
  }

  /** A sketch of `values` (nulls skipped), hashed as `type`. */
  static fromValues<T extends HllValueType>(type: T, values: Iterable<HllValueOf[T] | null>, p: number = HLL_PRECISION): Hll {
    const h = new Hll(p);
    for (const v of values) if (v !== null) h.add(type, v);
    return h;
  }

  /** Adds one value (hashed with the canonical encoding of `type`). */
  add<T extends HllValueType>(type: T, value: HllValueOf[T]): this {
    const [lo, hi] = hashParts(UTF8.encode((HLL_TEXT_ENCODING[type] as (v: HllValueOf[T]) => string)(value)));
    return this.addHashParts(lo, hi);
  }

  /** Adds a precomputed 64-bit hash. */
  addHash(hash: bigint): this {
    return this.addHashParts(Number(hash & 0xffff_ffffn), Number((hash >> 32n) & 0xffff_ffffn));
  }

  /** Adds a 64-bit hash given as its low and high 32-bit halves (unsigned). */
  addHashParts(lo: number, hi: number): this {
    const p = this.p;
    const register = hi >>> (32 - p);
    // ρ = 1 + trailing zeros of the low 64 − p bits, with a sentinel bit at position 64 − p.
    const hiRest = ((hi & ((1 << (32 - p)) - 1)) | (1 << (32 - p))) >>> 0;
    const rho = lo !== 0 ? ctz32(lo) + 1 : ctz32(hiRest) + 33;
    this.#set(register, rho);
    return this;
  }

  /** Register value (0 = empty). */
  get(register: number): number {
    if (this.#dense) return this.#dense[register] ?? 0;
    return this.#sparse!.get(register) ?? 0;
  }

  /** Non-empty registers as [register, ρ], ascending by register. */
  entries(): Array<[number, number]> {
    if (this.#dense) {
      const out: Array<[number, number]> = [];
      this.#dense.forEach((rho, i) => {
        if (rho !== 0) out.push([i, rho]);
      });
      return out;
    }
    return [...this.#sparse!.entries()].sort((a, b) => a[0] - b[0]);
  }

  /** The union of two sketches of the same precision (register-wise maximum). */
  merge(other: Hll): Hll {
    if (other.p !== this.p) throw new TypeError('cannot merge HyperLogLog sketches of different precision');
    const out = new Hll(this.p);
    for (const src of [this, other]) {
      if (src.#dense) src.#dense.forEach((rho, i) => rho !== 0 && out.#set(i, rho));
      else for (const [i, rho] of src.#sparse!) out.#set(i, rho);
    }
    return out;
  }

  /** Same precision and registers. */
  equals(other: Hll): boolean {
    if (other.p !== this.p) return false;
    for (let i = 0; i < this.m; i++) if (this.get(i) !== other.get(i)) return false;
    return true;
  }

  /** Estimated number of distinct values (Ertl's improved estimator; 0 for an empty sketch). */
  estimate(): number {
    const m = this.m;
    const q = 64 - this.p;
    const c = new Array<number>(q + 2).fill(0);
    const entries = this.entries();
    for (const [, rho] of entries) c[rho]! += 1;
    c[0] = m - entries.length;
    let z = m * tau(1 - c[q + 1]! / m);
    for (let k = q; k >= 1; k--) z = 0.5 * (z + c[k]!);
    z += m * sigma(c[0] / m);
    return (ALPHA_INF * m * m) / z;
  }

  /** The wire form (see HllJson): sparse 3-byte entries or 6-bit packed dense registers. */
  toJSON(): HllJson {
    const entries = this.entries();
    const denseBytes = (this.m * 6) / 8;
    if (entries.length * 3 < denseBytes) {
      const bytes = new Uint8Array(entries.length * 3);
      entries.forEach(([i, rho], k) => {
        const e = i * 64 + rho;
        bytes[3 * k] = (e >>> 16) & 255;
        bytes[3 * k + 1] = (e >>> 8) & 255;
        bytes[3 * k + 2] = e & 255;
      });
      return { v: 1, p: this.p, sparse: base64Encode(bytes) };
    }
    const bytes = new Uint8Array(denseBytes);
    for (const [i, rho] of entries) {
      const bit = i * 6;
      const word = (rho << 10) >>> (bit % 8); // 6 bits placed at the top of a 16-bit window
      bytes[bit >> 3]! |= word >>> 8;
      if ((bit >> 3) + 1 < bytes.length) bytes[(bit >> 3) + 1]! |= word & 255;
    }
    return { v: 1, p: this.p, dense: base64Encode(bytes) };
  }

  /**
   * Parses and validates a wire form from another node.
   * @throws AppError (ERR_UPSTREAM_UNAVAILABLE) on an unknown version or field, a precision
   *   other than `expectedP`, malformed base64, a wrong length, registers out of order or range,
   *   or ρ > 64 − p + 1.
   */
  static fromJSON(json: unknown, expectedP: number = HLL_PRECISION): Hll {
    const parsed = HllJsonSchema.safeParse(json);
    if (!parsed.success) throw invalidState('expected {v: 1, p, sparse | dense} with no other fields');
    const { p } = parsed.data;
    if (p !== expectedP) throw invalidState(`precision p must be ${expectedP}`);
    const h = new Hll(p);
    const m = h.m;
    if ('sparse' in parsed.data) {
      const bytes = base64Decode(parsed.data.sparse);
      if (!bytes || bytes.length % 3 !== 0) throw invalidState('sparse is not base64 of 3-byte entries');
      let last = -1;
      for (let k = 0; k < bytes.length; k += 3) {
        const e = (bytes[k]! << 16) | (bytes[k + 1]! << 8) | bytes[k + 2]!;
        const register = e >>> 6;
        if (register <= last) throw invalidState(`sparse entry ${k / 3}: registers must be strictly increasing`);
        if (register >= m) throw invalidState(`sparse entry ${k / 3}: register out of range 0..${m - 1}`);
        last = register;
        h.#setChecked(register, e & 63);
      }
      return h;
    }
    const bytes = base64Decode(parsed.data.dense);
    if (!bytes || bytes.length !== (m * 6) / 8) throw invalidState(`dense must be base64 of ${(m * 6) / 8} bytes`);
    for (let i = 0; i < m; i++) {
      const bit = i * 6;
      const word = (bytes[bit >> 3]! << 8) | (bytes[(bit >> 3) + 1] ?? 0);
      const rho = (word >>> (10 - (bit % 8))) & 63;
      if (rho > h.maxRho) throw invalidState(`dense register ${i}: value above ${h.maxRho}`);
      if (rho !== 0) h.#set(i, rho);
    }
    return h;
  }

  #setChecked(register: number, rho: number): void {
    if (!Number.isInteger(register) || register < 0 || register >= this.m) throw invalidState(`register out of range 0..${this.m - 1}`);
    if (!Number.isInteger(rho) || rho < 1 || rho > this.maxRho) throw invalidState(`register value out of range 1..${this.maxRho}`);
    this.#set(register, rho);
  }

  #set(register: number, rho: number): void {
    if (this.#dense) {
      if (rho > this.#dense[register]!) this.#dense[register] = rho;
      return;
    }
    const sparse = this.#sparse!;
    if (rho > (sparse.get(register) ?? 0)) sparse.set(register, rho);
    if (sparse.size > this.m / 32) {
      const dense = new Uint8Array(this.m);
      for (const [i, r] of sparse) dense[i] = r;
      this.#dense = dense;
      this.#sparse = null;
    }
  }
}
