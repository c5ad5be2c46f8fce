/**
 * The memory store's bucket arithmetic against a clock the test advances: exact token counts
 * after fractions of the refill period, exact `retryAfterMs`/`resetMs`, refusals that take
 * nothing, per-key buckets, and a clock stepping back. The rates are the ones the API derives
 * from its config (`perMinute / 60 000` tokens per ms), including ones whose floats do not add
 * up to whole numbers on their own (9 per minute).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryRateLimitStore } from './memory-store.ts';

/** A bucket of `capacity` refilled at `perMinute` tokens a minute, as the middleware builds it. */
const perMinute = (capacity: number, rate: number) => ({ capacity, refillPerMs: rate / 60_000 });
const MINUTE = 60_000;

test('refill: a drained bucket holds exactly capacity × the elapsed fraction of the period, then stays full', async () => {
  const store = createMemoryRateLimitStore();
  const spec = perMinute(60, 60);
  assert.equal((await store.take('k', 60, spec, 0)).remaining, 0);
  for (const [at, tokens] of [[MINUTE / 4, 15], [MINUTE / 3, 20], [MINUTE / 2, 30], [MINUTE, 60], [10 * MINUTE, 60]] as const) {
    assert.equal((await store.take('k', 0, spec, at)).remaining, tokens, `at ${at} ms`);
  }
});

test('refill: whole-token levels read whole even when the float rate does not add up (9 per minute for 20 s is 3)', async () => {
  const store = createMemoryRateLimitStore();
  const spec = perMinute(9, 9);
  await store.take('k', 9, spec, 0);
  assert.equal((await store.take('k', 0, spec, 20_000)).remaining, 3);
  const take = await store.take('k', 3, spec, 20_000);
  assert.equal(take.allowed, true, 'the three tokens that refilled can be taken');
  assert.equal(take.remaining, 0);
  assert.equal((await store.take('k', 0, spec, 20_000 + MINUTE / 3)).remaining, 3);
});

test('retryAfterMs: exactly the wait for the missing tokens, in whole ms rounded up; waiting it is enough', async () => {
  const store = createMemoryRateLimitStore();
  const spec = perMinute(10, 60); // one token a second
  await store.take('k', 10, spec, 0);
  const early = await store.take('k', 3, spec, 600);
  assert.equal(early.allowed, false);
  assert.equal(early.remaining, 0.6);
  assert.equal(early.retryAfterMs, 2400);
  const almost = await store.take('k', 3, spec, 2999);
  assert.equal(almost.allowed, false);
  assert.equal(almost.retryAfterMs, 1);
  const onTime = await store.take('k', 3, spec, 3000);
  assert.equal(onTime.allowed, true);
  assert.equal(onTime.retryAfterMs, 0);
  // 7 per minute: one token takes 8571.43 ms, reported as 8572.
  const slow = perMinute(1, 7);
  await store.take('s', 1, slow, 0);
  assert.equal((await store.take('s', 1, slow, 0)).retryAfterMs, 8572);
  assert.equal((await store.take('s', 1, slow, 8571)).allowed, false);
  assert.equal((await store.take('s', 1, slow, 8572)).allowed, true);
});

test('retryAfterMs: a wait of a whole number of seconds is not pushed over by float noise (9 tokens at 9 per minute is 60 000 ms)', async () => {
  const store = createMemoryRateLimitStore();
  const spec = perMinute(9, 9);
  await store.take('k', 9, spec, 0);
  const refused = await store.take('k', 9, spec, 0);
  assert.equal(refused.retryAfterMs, 60_000);
  assert.equal(refused.resetMs, 60_000);
  assert.equal((await store.take('k', 9, spec, refused.retryAfterMs)).allowed, true);
});

test('retryAfterMs: a refusal always reports a wait of at least 1 ms, however small the shortfall', async () => {
  const store = createMemoryRateLimitStore();
  const spec = { capacity: 1, refillPerMs: 1 };
  await store.take('k', 1, spec, 0);
  const short = await store.take('k', 1, spec, 0.999_999_99); // 1e-8 tokens short: 1e-8 ms
  assert.equal(short.allowed, false);
  assert.equal(short.retryAfterMs, 1);
});

test('resetMs: the time until the bucket is full again, in whole ms rounded up; 0 when full', async () => {
  const store = createMemoryRateLimitStore();
  const spec = perMinute(10, 60);
  assert.equal((await store.take('k', 0, spec, 0)).resetMs, 0);
  assert.equal((await store.take('k', 4, spec, 0)).resetMs, 4000);
  assert.equal((await store.take('k', 0, spec, 1500)).resetMs, 2500);
  assert.equal((await store.take('k', 0, spec, 1500.25)).resetMs, 2500, '2499.75 ms rounds up');
});

test('a refused take consumes nothing; a take of exactly the tokens held is allowed', async () => {
  const store = createMemoryRateLimitStore();
  const spec = perMinute(5, 60);
  await store.take('k', 3, spec, 0);
  const refused = await store.take('k', 3, spec, 0);
  assert.equal(refused.allowed, false);
  assert.equal(refused.remaining, 2);
  const exact = await store.take('k', 2, spec, 0);
  assert.equal(exact.allowed, true);
  assert.equal(exact.remaining, 0);
});

test('buckets are per key: draining one leaves every other key full', async () => {
  const store = createMemoryRateLimitStore();
  const spec = perMinute(4, 60);
  await store.take('rl|iss|alice', 4, spec, 0);
  assert.equal((await store.take('rl|iss|alice', 1, spec, 0)).allowed, false);
  for (const key of ['rl|iss|bob', 'rl|other|alice', 'records|iss|alice']) {
    const s = await store.take(key, 1, spec, 0);
    assert.equal(s.allowed, true, key);
    assert.equal(s.remaining, 3, key);
  }
});

test('a clock stepping back neither refills nor moves the bucket back in time', async () => {
  const store = createMemoryRateLimitStore();
  const spec = perMinute(10, 60);
  await store.take('k', 10, spec, 10_000);
  assert.equal((await store.take('k', 0, spec, 0)).remaining, 0);
  assert.equal((await store.take('k', 0, spec, 10_000)).remaining, 0, 'the step back did not rewind the refill clock');
  assert.equal((await store.take('k', 0, spec, 12_000)).remaining, 2);
});
