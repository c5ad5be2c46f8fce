import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HLL_PRECISION, HLL_TEXT_ENCODING, Hll, hllHash } from './hll.ts';
import { AppError } from '../../../schemas/errors.ts';

const SIGMA = 1.04 / Math.sqrt(1 << HLL_PRECISION);

/** splitmix64: seeded, uniform 64-bit hashes for estimator tests (no MD5 cost). */
function hashes(seed: bigint, n: number): bigint[] {
  let s = seed;
  const out: bigint[] = [];
  const M = (1n << 64n) - 1n;
  for (let i = 0; i < n; i++) {
    s = (s + 0x9e3779b97f4a7c15n) & M;
    let z = s;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
    out.push(z ^ (z >> 31n));
  }
  return out;
}

function fromHashes(hs: Iterable<bigint>): Hll {
  const h = Hll.empty();
  for (const x of hs) h.addHash(x);
  return h;
}

function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof AppError && e.code === 'ERR_UPSTREAM_UNAVAILABLE' && pattern.test(e.message));
}

test('the hash is MD5 bytes 0-7 little-endian, pinned to what DuckDB md5_number gives', () => {
  // DuckDB 1.5.6: md5('abc') = 900150983cd24fb0..., md5_number('abc') & (2^64-1) = 0xb04fd23c98500190
  assert.equal(hllHash('string', 'abc'), 0xb04fd23c98500190n);
  // md5_number('ü😀') = 18637963012712168300489212012464950166 (UTF-8 bytes are hashed)
  assert.equal(hllHash('string', 'ü😀'), 18637963012712168300489212012464950166n & ((1n << 64n) - 1n));
});

test('canonical text per type: decimal integers, epoch microseconds, booleans as words', () => {
  assert.equal(HLL_TEXT_ENCODING.u16(443), '443');
  assert.equal(HLL_TEXT_ENCODING.u64(18446744073709551615n), '18446744073709551615');
  assert.equal(HLL_TEXT_ENCODING.u64(7), '7');
  assert.equal(HLL_TEXT_ENCODING.timestamp(-315619200000000n), '-315619200000000');
  assert.equal(HLL_TEXT_ENCODING.boolean(true), 'true');
  assert.equal(hllHash('u8', 6), hllHash('u64', 6n), 'the same integer hashes the same whatever its width');
  assert.throws(() => HLL_TEXT_ENCODING.u8(256), TypeError);
  assert.throws(() => HLL_TEXT_ENCODING.u16(1.5), TypeError);
  assert.throws(() => HLL_TEXT_ENCODING.u64(-1n), TypeError);
});

test('register = top 14 bits, rho = 1 + trailing zeros of the low 50 bits (51 when all zero)', () => {
  const h = Hll.empty();
  h.addHash(1n); // register 0, rho 1
  h.addHash(1n << 49n); // register 0, rho 50 (max kept)
  h.addHash(1n << 50n); // register 1, low bits zero: rho 51
  h.addHash(0xffffffffffffffffn); // register 16383, rho 1
  h.addHash((5n << 50n) | (1n << 32n)); // register 5, rho 33 (crosses the 32-bit halves)
  assert.deepEqual(h.entries(), [[0, 50], [1, 51], [5, 33], [16383, 1]]);
});

test('estimate: 0 when empty, within 3 sigma (2.44 %) from 1 to 10^6 distinct, exact after rounding for 1 and 10', () => {
  assert.equal(Hll.empty().estimate(), 0);
  for (const n of [1, 10, 100, 1000, 10_000, 100_000, 1_000_000]) {
    const est = fromHashes(hashes(BigInt(n), n)).estimate();
    assert.ok(Math.abs(est - n) <= 3 * SIGMA * n, `n=${n} est=${est}`);
    if (n <= 10) assert.equal(Math.round(est), n);
  }
});

test('estimate over MD5-hashed values (the real hash): 50,000 ports-and-addresses within 3 sigma', () => {
  const h = Hll.fromValues('string', Array.from({ length: 50_000 }, (_, i) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`));
  assert.ok(Math.abs(h.estimate() - 50_000) <= 3 * SIGMA * 50_000, String(h.estimate()));
  const dup = Hll.fromValues('u64', [5n, 5, 5n, null, 7]);
  assert.equal(Math.round(dup.estimate()), 2, 'duplicates and nulls do not count');
});

test('merge is the sketch of the union; commutative, associative, idempotent; inputs unchanged', () => {
  const arb = fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { maxLength: 700 });
  fc.assert(
    fc.property(arb, arb, arb, (a, b, c) => {
      const [A, B, C] = [fromHashes(a), fromHashes(b), fromHashes(c)];
      const before = JSON.stringify(A.toJSON());
      assert.ok(A.merge(B).equals(fromHashes([...a, ...b])));
      assert.ok(A.merge(B).equals(B.merge(A)));
      assert.ok(A.merge(B).merge(C).equals(A.merge(B.merge(C))));
      assert.ok(A.merge(A).equals(A));
      assert.equal(JSON.stringify(A.toJSON()), before);
    }),
    { numRuns: 60 },
  );
});

test('JSON: sparse below m/4 registers, dense (6-bit packed) above; both round-trip exactly', () => {
  const small = fromHashes(hashes(1n, 100));
  const j = small.toJSON();
  assert.ok('sparse' in j && j.p === 14 && j.v === 1);
  assert.equal(j.sparse.length, (100 * 3 * 4) / 3, 'three bytes per register');
  assert.ok(Hll.fromJSON(JSON.parse(JSON.stringify(j))).equals(small));
  const big = fromHashes(hashes(2n, 200_000));
  const d = big.toJSON();
  assert.ok('dense' in d);
  assert.equal(d.dense.length, 16384, '12 KiB of registers as base64');
  const back = Hll.fromJSON(JSON.parse(JSON.stringify(d)));
  assert.ok(back.equals(big));
  assert.equal(back.estimate(), big.estimate());
  assert.ok(Hll.fromJSON(Hll.empty().toJSON()).equals(Hll.empty()));
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 16383 }), fc.integer({ min: 1, max: 51 })), { maxLength: 6000 }), (pairs) => {
      const h = Hll.fromSparse(pairs);
      assert.ok(Hll.fromJSON(h.toJSON()).equals(h));
    }),
    { numRuns: 40 },
  );
});

test('fromSparse keeps the largest rho per register; fromCodes reads register*64+rho', () => {
  const h = Hll.fromSparse([[3, 2], [3, 9], [3, 4], [16383, 51]]);
  assert.deepEqual(h.entries(), [[3, 9], [16383, 51]]);
  assert.ok(Hll.fromCodes([3 * 64 + 9, 3 * 64 + 1, 16383 * 64 + 51]).equals(h));
});

test('untrusted states: wrong version, precision, fields, base64, order, register or rho out of range are refused', () => {
  const good = fromHashes(hashes(3n, 10)).toJSON() as { sparse: string };
  rejects(() => Hll.fromJSON({ ...good, v: 2 }), /v: 1/);
  rejects(() => Hll.fromJSON({ ...good, p: 12 }), /precision p must be 14/);
  rejects(() => Hll.fromJSON({ ...good, extra: 1 }), /no other fields/);
  rejects(() => Hll.fromJSON({ v: 1, p: 14 }), /sparse \| dense/);
  rejects(() => Hll.fromJSON({ v: 1, p: 14, sparse: good.sparse, dense: '' }), /no other fields/);
  rejects(() => Hll.fromJSON(null), /expected/);
  rejects(() => Hll.fromJSON({ v: 1, p: 14, sparse: `${good.sparse} ` }), /base64/);
  rejects(() => Hll.fromJSON({ v: 1, p: 14, sparse: 'AAAB' + 'A' }), /base64/);
  rejects(() => Hll.fromJSON({ v: 1, p: 14, sparse: 'AAE=' }), /3-byte entries/);
  rejects(() => Hll.fromJSON({ v: 1, p: 14, sparse: 'AAF=' }), /base64/); // non-zero padding bits: not canonical
  const entry = (register: number, rho: number) => [(register * 64 + rho) >> 16, ((register * 64 + rho) >> 8) & 255, (register * 64 + rho) & 255];
  const b64 = (bytes: number[]) => btoa(String.fromCharCode(...bytes));
  rejects(() => Hll.fromJSON({ v: 1, p: 14, sparse: b64([...entry(5, 1), ...entry(5, 2)]) }), /strictly increasing/);
  rejects(() => Hll.fromJSON({ v: 1, p: 14, sparse: b64([...entry(9, 1), ...entry(5, 2)]) }), /strictly increasing/);
  rejects(() => Hll.fromJSON({ v: 1, p: 14, sparse: b64(entry(20000, 1)) }), /register out of range 0\.\.16383/);
  rejects(() => Hll.fromJSON({ v: 1, p: 14, sparse: b64(entry(7, 0)) }), /value out of range 1\.\.51/);
  rejects(() => Hll.fromJSON({ v: 1, p: 14, sparse: b64(entry(7, 52)) }), /value out of range 1\.\.51/);
  rejects(() => Hll.fromJSON({ v: 1, p: 14, dense: b64([0, 0, 0]) }), /12288 bytes/);
  const dense = new Array<number>(12288).fill(0);
  dense[0] = 52 << 2; // register 0 = 52
  rejects(() => Hll.fromJSON({ v: 1, p: 14, dense: b64(dense) }), /dense register 0: value above 51/);
  dense[0] = 51 << 2;
  assert.equal(Hll.fromJSON({ v: 1, p: 14, dense: b64(dense) }).get(0), 51);
  rejects(() => Hll.fromSparse([[16384, 1]]), /register out of range/);
  rejects(() => Hll.fromSparse([[1.5, 1]]), /register out of range/);
  rejects(() => Hll.fromSparse([[0, 52]]), /value out of range/);
  rejects(() => Hll.fromCodes([-1]), /non-negative integer/);
  rejects(() => Hll.fromCodes([Number.NaN]), /non-negative integer/);
  // messages name the field and the allowed range, never the offending value
  assert.throws(() => Hll.fromSparse([[99999, 1]]), (e: unknown) => e instanceof AppError && !e.message.includes('99999'));
});

test('different precisions do not merge; precision is range-checked', () => {
  assert.throws(() => Hll.empty(12).merge(Hll.empty(14)), TypeError);
  assert.throws(() => Hll.empty(3), TypeError);
  assert.throws(() => Hll.empty(19), TypeError);
  const h12 = Hll.empty(12);
  for (const x of hashes(4n, 5000)) h12.addHash(x);
  assert.equal(h12.maxRho, 53);
  assert.ok(Math.abs(h12.estimate() - 5000) <= 3 * (1.04 / 64) * 5000, String(h12.estimate()));
  assert.ok(Hll.fromJSON(h12.toJSON(), 12).equals(h12));
});
