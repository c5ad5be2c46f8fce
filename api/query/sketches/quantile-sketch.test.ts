import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DDSKETCH_ALPHA,
  DDSKETCH_GAMMA,
  DDSKETCH_LN_GAMMA,
  DDSketch,
  ddsketchBucketValue,
  ddsketchIndex,
  quantileRank,
} from './quantile-sketch.ts';
import { AppError } from '../../../schemas/errors.ts';

/** Seeded xorshift32 in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** Heavy-tailed non-negative integers (bytes-like): 3 % zeros, else log-uniform over 1..1e12. */
function values(seed: number, n: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => (r() < 0.03 ? 0 : Math.floor(Math.exp(r() * Math.log(1e12)))));
}

function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[quantileRank(q, sorted.length)]!;
}

function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof AppError && e.code === 'ERR_UPSTREAM_UNAVAILABLE' && pattern.test(e.message));
}

test('ln gamma literal is the double nearest ln((1 + 0.01)/(1 - 0.01))', () => {
  assert.equal(DDSKETCH_LN_GAMMA, Math.log(DDSKETCH_GAMMA));
  assert.ok(Math.abs(DDSKETCH_LN_GAMMA - 0.0200006667066694) < 1e-16);
});

test('bucket i holds (gamma^(i-1), gamma^i] and its value is within alpha of everything in it', () => {
  fc.assert(
    fc.property(fc.double({ min: 1e-300, max: 1e300, noNaN: true }), (x) => {
      const i = ddsketchIndex(x);
      const lo = Math.exp((i - 1) * DDSKETCH_LN_GAMMA);
      const hi = Math.exp(i * DDSKETCH_LN_GAMMA);
      assert.ok(x > lo * (1 - 1e-12) && x <= hi * (1 + 1e-12), `${x} in bucket ${i}`);
      assert.ok(Math.abs(ddsketchBucketValue(i) - x) <= DDSKETCH_ALPHA * x * (1 + 1e-12));
    }),
    { numRuns: 2000 },
  );
  assert.equal(ddsketchIndex(1), 0);
  assert.equal(ddsketchIndex(DDSKETCH_GAMMA * 1.000001), 2);
  assert.equal(ddsketchIndex(2 ** 64), 2218);
});

test('rank convention is max(0, ceil(q n) - 1), exact in decimal (as DuckDB quantile_disc)', () => {
  assert.equal(quantileRank(0.95, 20), 18, '0.95 * 20 is 19 exactly, not 19.000000000000004');
  assert.equal(quantileRank(0.3, 10), 2, '0.3 * 10 = 3.0000000000000004 in binary');
  assert.equal(quantileRank(0.5, 4), 1);
  assert.equal(quantileRank(0.9, 4), 3);
  assert.equal(quantileRank(0.7, 10), 6);
  assert.equal(quantileRank(0, 7), 0);
  assert.equal(quantileRank(1, 7), 6);
  assert.equal(quantileRank(1e-7, 10_000_000), 0);
  assert.equal(quantileRank(0.999, 1001), 999);
  assert.throws(() => quantileRank(1.5, 3), TypeError);
  assert.throws(() => quantileRank(Number.NaN, 3), TypeError);
});

test('quantiles are within alpha (1 %) of the sample quantile of that rank; 0 and extremes exact', () => {
  const xs = values(7, 20_000);
  const sorted = [...xs].sort((a, b) => a - b);
  const s = DDSketch.fromValues(xs);
  assert.equal(s.count, xs.length);
  for (const q of [0, 0.001, 0.01, 0.03, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1]) {
    const exact = exactQuantile(sorted, q);
    const est = s.quantile(q)!;
    assert.ok(Math.abs(est - exact) <= DDSKETCH_ALPHA * exact, `q=${q}: ${est} vs ${exact}`);
  }
  assert.equal(s.quantile(0), 0);
  assert.equal(s.quantile(1), sorted.at(-1), 'clamped to the exact maximum');
  assert.equal(DDSketch.empty().quantile(0.5), null);
  assert.equal(DDSketch.fromValues([12345]).quantile(0.5), 12345, 'a single value is exact through clamping');
});

test('values: negatives count as 0, bigint accepted, NaN and Infinity refused', () => {
  const s = DDSketch.fromValues([-5, 0, 3n, null, 2n ** 63n]);
  assert.equal(s.count, 4);
  assert.equal(s.zeroCount, 2);
  assert.equal(s.min, 0);
  assert.equal(s.max, 2 ** 63);
  assert.throws(() => DDSketch.empty().add(Number.NaN), TypeError);
  assert.throws(() => DDSketch.empty().add(Infinity), TypeError);
});

test('merge adds bucket counts: the sketch of the union, commutative and associative, inputs unchanged', () => {
  const arb = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 ** 40 }), fc.double({ min: 0.001, max: 1e6, noNaN: true })), { maxLength: 300 });
  fc.assert(
    fc.property(arb, arb, arb, (a, b, c) => {
      const [A, B, C] = [DDSketch.fromValues(a), DDSketch.fromValues(b), DDSketch.fromValues(c)];
      const before = JSON.stringify(A.toJSON());
      assert.ok(A.merge(B).equals(DDSketch.fromValues([...a, ...b])));
      assert.ok(A.merge(B).equals(B.merge(A)));
      assert.ok(A.merge(B).merge(C).equals(A.merge(B.merge(C))));
      assert.equal(JSON.stringify(A.toJSON()), before);
    }),
    { numRuns: 100 },
  );
});

test('collapse keeps the highest maxBins buckets whatever the merge order; ranks above the fold keep the bound', () => {
  const maxBins = 8;
  const arb = fc.array(fc.integer({ min: 1, max: 10_000_000 }), { minLength: 1, maxLength: 120 });
  fc.assert(
    fc.property(arb, fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 120, maxLength: 120 }), (xs, parts) => {
      const split = [0, 1, 2].map((p) => DDSketch.fromValues(xs.filter((_, i) => parts[i] === p), maxBins));
      const whole = DDSketch.fromValues(xs, maxBins);
      const m1 = split[0]!.merge(split[1]!).merge(split[2]!);
      const m2 = split[2]!.merge(split[0]!.merge(split[1]!));
      assert.ok(m1.equals(whole) && m2.equals(whole), JSON.stringify([m1.toJSON(), whole.toJSON()]));
      assert.ok(whole.bins().length <= maxBins);
      const distinctBuckets = new Set(xs.map(ddsketchIndex)).size;
      assert.equal(whole.collapsed, distinctBuckets > maxBins);
      // ranks above the folded mass are within alpha; the fold itself over-estimates
      const sorted = [...xs].sort((a, b) => a - b);
      const lowest = whole.bins()[0]![0];
      const folded = sorted.filter((x) => ddsketchIndex(x) <= lowest).length;
      for (const q of [0, 0.1, 0.5, 0.9, 1]) {
        const r = quantileRank(q, sorted.length);
        const exact = sorted[r]!;
        const est = whole.quantile(q)!;
        if (r >= folded || !whole.collapsed) assert.ok(Math.abs(est - exact) <= DDSKETCH_ALPHA * exact, `q=${q}`);
        else assert.ok(est >= exact * (1 - DDSKETCH_ALPHA));
      }
    }),
    { numRuns: 200 },
  );
});

test('JSON round-trips; fromBuckets reads what the SQL returns', () => {
  const s = DDSketch.fromValues(values(3, 5000));
  const back = DDSketch.fromJSON(JSON.parse(JSON.stringify(s.toJSON())));
  assert.ok(back.equals(s));
  assert.equal(back.quantile(0.99), s.quantile(0.99));
  assert.ok(DDSketch.fromJSON(DDSketch.empty().toJSON()).equals(DDSketch.empty()));
  const fromSql = DDSketch.fromBuckets({ zeroCount: 2, bins: [[5, 3], [0, 1]], min: 0, max: 1.1 });
  assert.deepEqual(fromSql.bins(), [[0, 1], [5, 3]]);
  assert.equal(fromSql.count, 6);
});

test('untrusted states: version, alpha, bucket limit, fields, order, ranges and totals are checked', () => {
  const good = DDSketch.fromValues([0, 1, 2, 300]).toJSON();
  rejects(() => DDSketch.fromJSON({ ...good, v: 2 }), /expected/);
  rejects(() => DDSketch.fromJSON({ ...good, alpha: 0.02 }), /alpha must be 0\.01/);
  rejects(() => DDSketch.fromJSON({ ...good, maxBins: 4096 }), /maxBins must be 2048/);
  rejects(() => DDSketch.fromJSON({ ...good, extra: true }), /no other fields/);
  rejects(() => DDSketch.fromJSON({ ...good, zero: -1 }), /integer counts/);
  rejects(() => DDSketch.fromJSON({ ...good, zero: 1.5 }), /integer counts/);
  rejects(() => DDSketch.fromJSON({ ...good, bins: [[35, 1], [0, 1]] }), /strictly increasing/);
  rejects(() => DDSketch.fromJSON({ ...good, bins: [[0, 1], [0, 1]] }), /strictly increasing/);
  rejects(() => DDSketch.fromJSON({ ...good, bins: [[0, 0]] }), /positive integer/);
  rejects(() => DDSketch.fromJSON({ ...good, bins: [[40_001, 1]] }), /within ±40000/);
  rejects(() => DDSketch.fromJSON({ ...good, bins: Array.from({ length: 2049 }, (_, i) => [i, 1]) }), /expected/);
  rejects(() => DDSketch.fromJSON({ ...good, bins: [[0, Number.MAX_SAFE_INTEGER], [1, Number.MAX_SAFE_INTEGER]] }), /exceeds 2\^53/);
  rejects(() => DDSketch.fromJSON({ ...good, min: 5, max: 1 }), /0 ≤ min ≤ max/);
  rejects(() => DDSketch.fromJSON({ ...good, min: null }), /finite numbers/);
  rejects(() => DDSketch.fromJSON({ ...good, min: 1 }), /min must be 0 exactly when/);
  rejects(() => DDSketch.fromJSON({ ...DDSketch.empty().toJSON(), min: 0 }), /null for an empty sketch/);
  rejects(() => DDSketch.fromBuckets({ zeroCount: 0, bins: [[1, 1], [1, 2]], min: 1, max: 1 }), /listed twice/);
  rejects(() => DDSketch.fromBuckets({ zeroCount: 0, bins: [[0.5, 1]], min: 1, max: 1 }), /integer within/);
});
