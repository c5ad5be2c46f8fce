import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { microsToIso, bigintToJson } from '../../engine/json-value.ts';
import { dateDaysCell, floatCell, int128Cell, int64Cell, smallIntCell, timestampMicrosCell, unscaledDecimalCell } from './column-kinds.ts';

test('timestamps: what json-value writes parses back to the same microseconds (property), and TIMESTAMPTZ text with offsets', () => {
  const min = -62135596800000000n; // 0001-01-01
  const max = 253402300799999999n; // 9999-12-31T23:59:59.999999
  fc.assert(fc.property(fc.bigInt({ min, max }), (us) => timestampMicrosCell(microsToIso(us), 'c') === us), { numRuns: 2000 });
  assert.equal(timestampMicrosCell('2024-01-02 03:04:05.123456+00', 'c'), timestampMicrosCell('2024-01-02T03:04:05.123456Z', 'c'));
  assert.equal(timestampMicrosCell('2024-01-02 05:04:05.5+02:00', 'c'), timestampMicrosCell('2024-01-02T03:04:05.500000Z', 'c'));
  assert.equal(timestampMicrosCell('2024-01-02 00:00:00-0130', 'c'), timestampMicrosCell('2024-01-02T01:30:00.000000Z', 'c'));
  const y50 = new Date(0);
  y50.setUTCFullYear(50, 5, 1);
  assert.equal(timestampMicrosCell('0050-06-01T00:00:00Z', 'c'), BigInt(y50.getTime()) * 1000n, 'years below 100 are not 19xx');
  for (const bad of ['2024-01-02', 'yesterday', 5, true]) assert.throws(() => timestampMicrosCell(bad, 'c'), TypeError);
});

test('dates: YYYY-MM-DD as days since the epoch, years below 100 included', () => {
  assert.equal(dateDaysCell('1970-01-01', 'c'), 0);
  assert.equal(dateDaysCell('1969-12-31', 'c'), -1);
  assert.equal(dateDaysCell('2026-02-01', 'c'), Date.UTC(2026, 1, 1) / 86_400_000);
  const d = new Date(0);
  d.setUTCFullYear(12, 0, 1);
  assert.equal(dateDaysCell('0012-01-01', 'c'), d.getTime() / 86_400_000);
  assert.throws(() => dateDaysCell('2026-02-01T00:00:00Z', 'c'), TypeError);
});

test('64-bit integers: what json-value writes (number or exact string) comes back as the same BigInt, range-checked (property)', () => {
  fc.assert(fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (v) => int64Cell(bigintToJson(v), true, 'c') === v));
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (v) => int64Cell(bigintToJson(v), false, 'c') === v));
  assert.throws(() => int64Cell('18446744073709551616', false, 'c'), TypeError);
  assert.throws(() => int64Cell('-1', false, 'c'), TypeError);
  assert.throws(() => int64Cell('9223372036854775808', true, 'c'), TypeError);
  assert.throws(() => int64Cell(1.5, true, 'c'), TypeError);
  assert.throws(() => int64Cell(2 ** 60, true, 'c'), TypeError, 'an unsafe number may already be rounded: refuse it');
  assert.equal(int128Cell('-99999999999999999999999999999999999999', 'c'), -(10n ** 38n - 1n));
  assert.throws(() => int128Cell('100000000000000000000000000000000000000', 'c'), TypeError);
});

test('small integers and floats are range- and type-checked', () => {
  assert.equal(smallIntCell(255, 8, false, 'c'), 255);
  assert.equal(smallIntCell('-128', 8, true, 'c'), -128);
  for (const [v, bits, signed] of [[256, 8, false], [-1, 16, false], [2 ** 31, 32, true], [1.5, 32, true], ['x', 8, true], [true, 8, true]] as const) {
    assert.throws(() => smallIntCell(v, bits, signed, 'c'), TypeError, `${v}`);
  }
  assert.equal(floatCell('-Infinity', 'c'), -Infinity);
  assert.ok(Number.isNaN(floatCell('NaN', 'c')));
  assert.throws(() => floatCell('1.5', 'c'), TypeError);
});

test('decimals: the shortest text of the double, scaled and rounded half away from zero, precision enforced', () => {
  const cases: Array<[number | string, number, number, bigint]> = [
    [1.5, 18, 3, 1500n],
    [0.1, 18, 3, 100n],
    [-0.001, 18, 3, -1n],
    [-1e-7, 18, 3, 0n],
    [0.0005, 18, 3, 1n],
    [-0.0005, 18, 3, -1n],
    [0.00049, 18, 3, 0n],
    [1e21, 38, 0, 10n ** 21n],
    ['123456789012345.678', 18, 3, 123456789012345678n],
    [12, 4, 2, 1200n],
  ];
  for (const [v, p, s, want] of cases) assert.equal(unscaledDecimalCell(v, p, s, 'c'), want, `${v} at (${p},${s})`);
  assert.throws(() => unscaledDecimalCell(100, 4, 2, 'c'), TypeError, '10000 needs 5 digits');
  assert.throws(() => unscaledDecimalCell(Infinity, 18, 3, 'c'), TypeError);
  assert.throws(() => unscaledDecimalCell('1,5', 18, 3, 'c'), TypeError);
  // Property: for decimals that fit, text → unscaled → text is the identity.
  fc.assert(
    fc.property(fc.bigInt({ min: -(10n ** 18n) + 1n, max: 10n ** 18n - 1n }), fc.integer({ min: 0, max: 18 }), (unscaled, scale) => {
      const abs = (unscaled < 0n ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
      const txt = `${unscaled < 0n ? '-' : ''}${scale === 0 ? abs : `${abs.slice(0, -scale)}.${abs.slice(-scale)}`}`;
      return unscaledDecimalCell(txt, 18, scale, 'c') === unscaled;
    }),
  );
});
