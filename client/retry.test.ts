import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRetryAfter, retryDelayMs, sleep } from './retry.ts';

test('parseRetryAfter: delay-seconds, HTTP-dates (past → 0), junk → undefined', () => {
  const now = Date.parse('2026-03-01T12:00:00Z');
  assert.equal(parseRetryAfter('7', now), 7);
  assert.equal(parseRetryAfter(' 0 ', now), 0);
  assert.equal(parseRetryAfter('Sun, 01 Mar 2026 12:00:30 GMT', now), 30);
  assert.equal(parseRetryAfter('Sun, 01 Mar 2026 11:00:00 GMT', now), 0);
  for (const bad of [null, undefined, '', '-1', '1.5', 'soon', '2026-03-01T12:00:30Z']) assert.equal(parseRetryAfter(bad, now), undefined, String(bad));
});

test('retryDelayMs: never earlier than Retry-After, at most 20 % (≤ 1 s) later', () => {
  assert.equal(retryDelayMs(0, 2, { random: () => 0 }), 2000);
  assert.equal(retryDelayMs(0, 2, { random: () => 0.999999 }), 2399);
  assert.equal(retryDelayMs(0, 20, { random: () => 0.999999 }), 20_999, 'jitter capped at 1 s');
  assert.equal(retryDelayMs(0, 0, { random: () => 0.5 }), 0);
});

test('retryDelayMs: exponential with equal jitter without Retry-After, capped', () => {
  assert.equal(retryDelayMs(0, undefined, { random: () => 0, baseDelayMs: 100 }), 50);
  assert.equal(retryDelayMs(0, undefined, { random: () => 0.999999, baseDelayMs: 100 }), 99);
  assert.equal(retryDelayMs(2, undefined, { random: () => 0, baseDelayMs: 100 }), 200);
  assert.equal(retryDelayMs(2, undefined, { random: () => 0, baseDelayMs: 100, maxDelayMs: 300, maxRetries: 5 }), 150);
});

test('retryDelayMs: gives up after maxRetries and when the server asks for more than maxDelayMs', () => {
  assert.equal(retryDelayMs(3, 1), null, 'default 3 retries');
  assert.notEqual(retryDelayMs(2, 1), null);
  assert.equal(retryDelayMs(0, 1, { maxRetries: 0 }), null);
  assert.equal(retryDelayMs(0, 31), null, 'default maxDelayMs 30 s');
  assert.equal(retryDelayMs(0, 86_400, { maxDelayMs: 3_600_000 }), null);
});

test('sleep rejects with the reason when aborted before or during the wait', async () => {
  const before = new AbortController();
  before.abort(new Error('already'));
  await assert.rejects(sleep(10, before.signal), /already/);
  const during = new AbortController();
  const p = sleep(60_000, during.signal);
  during.abort(new Error('later'));
  await assert.rejects(p, /later/);
  await sleep(1);
});
