/**
 * The per-column timestamp formatter (json-value.ts `microsFormatter`) caches the text up to
 * the second: runs of times within a second, across second boundaries, before the epoch and
 * beyond 2^53 µs format exactly as the uncached reference does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { microsFormatter } from './json-value.ts';

function reference(us: bigint): string {
  let ms = us / 1000n;
  let rest = us % 1000n;
  if (rest < 0n) {
    rest += 1000n;
    ms -= 1n;
  }
  return `${new Date(Number(ms)).toISOString().slice(0, -1)}${rest.toString().padStart(3, '0')}Z`;
}

test('cached formatting equals the reference on runs of nearby times, either side of the epoch and past 2^53 µs', () => {
  const base = fc.bigInt({ min: -62_000_000_000_000_000n, max: 253_000_000_000_000_000n });
  const steps = fc.array(fc.bigInt({ min: -2_000_000n, max: 2_000_000n }), { minLength: 1, maxLength: 40 });
  fc.assert(fc.property(base, steps, (b, ds) => {
    const format = microsFormatter();
    let t = b;
    for (const d of ds) {
      t += d;
      assert.equal(format(t), reference(t));
    }
  }), { numRuns: 500 });
  const format = microsFormatter();
  for (const us of [0n, -1n, -999_999n, -1_000_000n, -1_000_001n, 1n, 999_999n, 1_000_000n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) - 1n]) {
    assert.equal(format(us), reference(us), String(us));
  }
});
