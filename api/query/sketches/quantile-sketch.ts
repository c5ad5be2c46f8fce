/**
 * DDSketch quantile sketch (Masson, Rim, Lee, "DDSketch: a fast and fully-mergeable quantile
 * sketch with relative-error guarantees", VLDB 2019), for non-negative values: bytes and
 * packets per flow (integers up to 2^64) and durations in milliseconds.
 *
 * Mapping: γ = (1 + α)/(1 − α) with α = 0.01; a value x > 0 goes to bucket
 * i = ⌈ln x / ln γ⌉, which covers (γ^(i−1), γ^i]; x = 0 goes to a separate zero bucket and
 * x < 0 (outside the domain, e.g. a clock step making a duration negative) is counted as 0.
 * The quantile estimate of bucket i is 2γ^i/(γ + 1), clamped to the exact [min, max] seen, so
 * it is within relative error α of every value in the bucket; ranks 0 and n − 1 return the
 * exact min and max. ln γ is fixed as a decimal
 * literal (DDSKETCH_LN_GAMMA) that SQL and TS both parse to the same double, so a node's SQL
 * and any TS build bucket identically (up to the ≤ 1 ulp differences between libm `ln`
 * implementations, which can move a value lying within ~1e-15 of a boundary to the
 * neighbouring bucket; the bound then holds with α + 1e-15).
 *
 * Rank convention: quantile(q) estimates the sample value of 0-based rank max(0, ⌈q·n⌉ − 1)
 * (the lower inverse of the empirical CDF, the value DuckDB's `quantile_disc(x, q)` returns),
 * computed exactly from q's decimal digits.
 *
 * Guarantee: |quantile(q) − x_r| ≤ α·x_r for that sample value x_r, as long as the sketch has
 * not collapsed or rank r lies above the collapsed bucket. Collapse: at most DDSKETCH_MAX_BINS
 * (2048) non-empty buckets are kept; beyond that the lowest buckets are folded into the
 * lowest kept one (§2.2 of the paper), which then over-estimates the values folded into it. At
 * α = 0.01, 2048 buckets span a ratio of γ^2048 ≈ 6·10^17 between the smallest and largest
 * positive value, so collapse needs e.g. both 1-byte and 2^60-byte flows in one group. The
 * fold is merge-order independent: the kept buckets are always the 2048 highest indices of the
 * union, so merge is exactly associative and commutative (bucket counts add).
 *
 * Owns: the bucket mapping, counts, merge, quantile estimation and the JSON wire form. Never:
 * trusts a state from outside — `fromJSON`/`fromBuckets` validate every field and throw
 * AppError. Pure: no IO, no DuckDB.
 */
import { z } from 'zod';
import { AppError, ErrorCode } from '../../../schemas/errors.ts';

/** Relative accuracy α. */
export const DDSKETCH_ALPHA = 0.01;
/** γ = (1 + α)/(1 − α). */
export const DDSKETCH_GAMMA = (1 + DDSKETCH_ALPHA) / (1 - DDSKETCH_ALPHA);
/**
 * ln γ as the decimal literal both sides parse (the double nearest ln(1.01/0.99)); the SQL
 * uses this exact text. A test checks it against Math.log(DDSKETCH_GAMMA).
 */
export const DDSKETCH_LN_GAMMA_TEXT = '0.020000666706669435';
export const DDSKETCH_LN_GAMMA = Number(DDSKETCH_LN_GAMMA_TEXT);
/** Non-empty buckets kept at most. */
export const DDSKETCH_MAX_BINS = 2048;
/**
 * |bucket index| of any finite positive double is below this (ln of the largest double is
 * 709.8, of the smallest subnormal −744.4; divided by ln γ ≈ 0.02 that is under 37,300).
 */
export const DDSKETCH_MAX_INDEX = 40_000;
export const DDSKETCH_JSON_VERSION = 1;

function invalidState(message: string): AppError {
  return new AppError(ErrorCode.UpstreamUnavailable, `invalid quantile state: ${message}`);
}

/** Bucket index of x > 0 (TS side of the SQL in api/engine/duckdb-sketch-sql.ts). */
export function ddsketchIndex(x: number): number {
  return Math.ceil(Math.log(x) / DDSKETCH_LN_GAMMA);
}

/** The value a bucket stands for: 2γ^i/(γ + 1), within α of every value in (γ^(i−1), γ^i]. */
export function ddsketchBucketValue(index: number): number {
  return (2 * Math.exp(index * DDSKETCH_LN_GAMMA)) / (DDSKETCH_GAMMA + 1);
}

/**
 * 0-based rank that quantile(q) estimates among n values: max(0, ⌈q·n⌉ − 1), with q·n computed
 * exactly from the shortest decimal text of q (so q = 0.95, n = 20 gives 18, as DuckDB does).
 */
export function quantileRank(q: number, n: number): number {
  if (!(q >= 0 && q <= 1)) throw new TypeError('quantile must be in [0, 1]');
  if (!Number.isSafeInteger(n) || n < 1) throw new TypeError('count must be a positive integer');
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(q));
  if (!m) throw new TypeError('quantile must be a plain decimal');
  const frac = m[2] ?? '';
  const exp = Number(m[3] ?? 0) - frac.length;
  const digits = BigInt(m[1]! + frac);
  const [num, den] = exp >= 0 ? [digits * 10n ** BigInt(exp), 1n] : [digits, 10n ** BigInt(-exp)];
  const scaled = BigInt(n) * num;
  const ceil = (scaled + den - 1n) / den;
  return Math.max(0, Number(ceil) - 1);
}

/** Buckets as a node's SQL returns them. */
export interface DDSketchBuckets {
  readonly zeroCount: number;
  /** [bucket index, count], any order, each index at most once. */
  readonly bins: Iterable<readonly [index: number, count: number]>;
  /** Exact smallest and largest value (after clamping negatives to 0); null when empty. */
  readonly min: number | null;
  readonly max: number | null;
}

export interface DDSketchJson {
  readonly v: 1;
  readonly alpha: number;
  readonly maxBins: number;
  readonly zero: number;
  readonly min: number | null;
  readonly max: number | null;
  readonly collapsed: boolean;
  /** [index, count] strictly increasing by index, counts ≥ 1. */
  readonly bins: ReadonlyArray<readonly [number, number]>;
}

const Count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const DDSketchJsonSchema = z.strictObject({
  v: z.literal(DDSKETCH_JSON_VERSION),
  alpha: z.number(),
  maxBins: z.number().int(),
  zero: Count,
  min: z.number().nullable(),
  max: z.number().nullable(),
  collapsed: z.boolean(),
  bins: z.array(z.tuple([z.number().int(), Count])).max(DDSKETCH_MAX_BINS),
});

/** A DDSketch. Building (`add`) mutates; `merge` returns a new sketch and leaves both unchanged. */
export class DDSketch {
  readonly maxBins: number;
  #zero = 0;
  #bins = new Map<number, number>();
  #min: number | null = null;
  #max: number | null = null;
  #collapsed = false;

  private constructor(maxBins: number) {
    if (!Number.isInteger(maxBins) || maxBins < 1 || maxBins > DDSKETCH_MAX_BINS) throw new TypeError(`maxBins must be in 1..${DDSKETCH_MAX_BINS}`);
    this.maxBins = maxBins;
  }

  static empty(maxBins: number = DDSKETCH_MAX_BINS): DDSketch {
    return new DDSketch(maxBins);
  }

  /**
   * A sketch from SQL buckets (collapsed to `maxBins` if there are more).
   * @throws AppError when an index is not an integer within ±DDSKETCH_MAX_INDEX or repeats, a
   *   count is not a positive safe integer, or min/max do not fit the counts.
   */
  static fromBuckets(b: DDSketchBuckets, maxBins: number = DDSKETCH_MAX_BINS): DDSketch {
    const s = new DDSketch(maxBins);
    if (!Number.isSafeInteger(b.zeroCount) || b.zeroCount < 0) throw invalidState('zero count must be a non-negative integer');
    s.#zero = b.zeroCount;
    for (const [index, count] of b.bins) {
      if (!Number.isInteger(index) || Math.abs(index) > DDSKETCH_MAX_INDEX) throw invalidState(`bucket index must be an integer within ±${DDSKETCH_MAX_INDEX}`);
      if (!Number.isSafeInteger(count) || count < 1) throw invalidState('bucket count must be a positive integer');
      if (s.#bins.has(index)) throw invalidState('bucket index listed twice');
      s.#bins.set(index, count);
    }
    s.#min = b.min;
    s.#max = b.max;
    s.#checkTotals();
    s.#collapse();
    return s;
  }

  /** A sketch of `values` (nulls skipped; negatives count as 0). */
  static fromValues(values: Iterable<number | bigint | null>, maxBins: number = DDSKETCH_MAX_BINS): DDSketch {
    const s = new DDSketch(maxBins);
    for (const v of values) if (v !== null) s.add(v);
    return s;
  }

  /** Adds one value. @throws TypeError for NaN or ±Infinity. */
  add(value: number | bigint): this {
    const x = Math.max(0, Number(value));
    if (!Number.isFinite(x)) throw new TypeError('quantile sketch values must be finite');
    if (x === 0) this.#zero += 1;
    else {
      const i = ddsketchIndex(x);
      this.#bins.set(i, (this.#bins.get(i) ?? 0) + 1);
    }
    this.#min = this.#min === null ? x : Math.min(this.#min, x);
    this.#max = this.#max === null ? x : Math.max(this.#max, x);
    this.#collapse();
    return this;
  }

  /** Number of values. */
  get count(): number {
    let n = this.#zero;
    for (const c of this.#bins.values()) n += c;
    return n;
  }

  get zeroCount(): number {
    return this.#zero;
  }

  get min(): number | null {
    return this.#min;
  }

  get max(): number | null {
    return this.#max;
  }

  /** Whether buckets were folded (the lowest kept bucket then carries no α guarantee). */
  get collapsed(): boolean {
    return this.#collapsed;
  }

  /** Non-empty buckets as [index, count], ascending. */
  bins(): Array<[number, number]> {
    return [...this.#bins.entries()].sort((a, b) => a[0] - b[0]);
  }

  /** The sketch of both inputs' values (counts add; exact). */
  merge(other: DDSketch): DDSketch {
    if (other.maxBins !== this.maxBins) throw new TypeError('cannot merge quantile sketches with different bucket limits');
    const out = new DDSketch(this.maxBins);
    out.#zero = this.#zero + other.#zero;
    for (const src of [this, other]) for (const [i, c] of src.#bins) out.#bins.set(i, (out.#bins.get(i) ?? 0) + c);
    out.#min = minOf(this.#min, other.#min, Math.min);
    out.#max = minOf(this.#max, other.#max, Math.max);
    out.#collapsed = this.#collapsed || other.#collapsed;
    out.#collapse();
    return out;
  }

  /** Same buckets, counts, extremes and collapse flag. */
  equals(other: DDSketch): boolean {
    return JSON.stringify(this.toJSON()) === JSON.stringify(other.toJSON());
  }

  /** Estimate of the q-quantile (rank convention above); null when the sketch is empty. */
  quantile(q: number): number | null {
    const n = this.count;
    if (n === 0) return null;
    const rank = quantileRank(q, n);
    // The extremes are known exactly.
    if (rank === 0) return this.#min;
    if (rank === n - 1) return this.#max;
    if (rank < this.#zero) return 0;
    let seen = this.#zero;
    let value = this.#max!;
    for (const [i, c] of this.bins()) {
      seen += c;
      if (seen > rank) {
        value = ddsketchBucketValue(i);
        break;
      }
    }
    return Math.min(Math.max(value, this.#min!), this.#max!);
  }

  toJSON(): DDSketchJson {
    return { v: 1, alpha: DDSKETCH_ALPHA, maxBins: this.maxBins, zero: this.#zero, min: this.#min, max: this.#max, collapsed: this.#collapsed, bins: this.bins() };
  }

  /**
   * Parses and validates a wire form from another node.
   * @throws AppError (ERR_UPSTREAM_UNAVAILABLE) on an unknown version or field, α or maxBins
   *   other than this node's, more than maxBins buckets, indices not strictly increasing or out
   *   of range, zero counts, or min/max inconsistent with the counts.
   */
  static fromJSON(json: unknown, maxBins: number = DDSKETCH_MAX_BINS): DDSketch {
    const parsed = DDSketchJsonSchema.safeParse(json);
    if (!parsed.success) throw invalidState('expected {v: 1, alpha, maxBins, zero, min, max, collapsed, bins} with integer counts and no other fields');
    const j = parsed.data;
    if (j.alpha !== DDSKETCH_ALPHA) throw invalidState(`alpha must be ${DDSKETCH_ALPHA}`);
    if (j.maxBins !== maxBins) throw invalidState(`maxBins must be ${maxBins}`);
    if (j.bins.length > maxBins) throw invalidState(`more than ${maxBins} buckets`);
    j.bins.forEach(([i], k) => {
      if (k > 0 && i <= j.bins[k - 1]![0]) throw invalidState(`bucket ${k}: indices must be strictly increasing`);
    });
    const s = DDSketch.fromBuckets({ zeroCount: j.zero, bins: j.bins, min: j.min, max: j.max }, maxBins);
    s.#collapsed = j.collapsed;
    return s;
  }

  #checkTotals(): void {
    let total = this.#zero;
    for (const c of this.#bins.values()) total += c;
    if (!Number.isSafeInteger(total)) throw invalidState('total count exceeds 2^53');
    const [min, max] = [this.#min, this.#max];
    if (total === 0) {
      if (min !== null || max !== null) throw invalidState('min and max must be null for an empty sketch');
      return;
    }
    if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) throw invalidState('min and max must be finite numbers');
    if (min < 0 || min > max) throw invalidState('min and max must satisfy 0 ≤ min ≤ max');
    if ((this.#zero > 0) !== (min === 0)) throw invalidState('min must be 0 exactly when the zero bucket is non-empty');
    if (this.#bins.size === 0 && max !== 0) throw invalidState('max must be 0 when only the zero bucket is non-empty');
  }

  /** Folds the lowest buckets into the lowest of the `maxBins` highest (merge-order independent). */
  #collapse(): void {
    if (this.#bins.size <= this.maxBins) return;
    const keys = [...this.#bins.keys()].sort((a, b) => a - b);
    const keep = keys[keys.length - this.maxBins]!;
    let folded = 0;
    for (const k of keys) {
      if (k >= keep) break;
      folded += this.#bins.get(k)!;
      this.#bins.delete(k);
    }
    this.#bins.set(keep, this.#bins.get(keep)! + folded);
    this.#collapsed = true;
  }
}

function minOf(a: number | null, b: number | null, pick: (x: number, y: number) => number): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return pick(a, b);
}
