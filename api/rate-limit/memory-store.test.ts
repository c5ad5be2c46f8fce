import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryRateLimitStore } from './memory-store.ts';

const BUDGET = { capacity: 1000, refillPerMs: 0 };
const REQUESTS = { capacity: 1, refillPerMs: 0 };

test('eviction judges each bucket by its own capacity: a depleted budget is never taken for full', async () => {
  const store = createMemoryRateLimitStore(2);
  await store.take('budget', 999, BUDGET, 0); // 1 of 1000 left: far from full
  await store.take('requests-a', 0, REQUESTS, 0); // full (1 of 1)
  await store.take('requests-b', 0, REQUESTS, 0); // store at capacity: evicts only the full bucket
  const budget = await store.take('budget', 0, BUDGET, 0);
  assert.equal(budget.remaining, 1, 'the depleted budget survived eviction');
  const a = await store.take('requests-a', 1, REQUESTS, 0);
  assert.equal(a.allowed, true, 'the full bucket was evicted and recreated full');
});

test('under pressure the fullest buckets go first', async () => {
  const store = createMemoryRateLimitStore(3);
  const spec = { capacity: 10, refillPerMs: 0 };
  await store.take('empty', 10, spec, 0);
  await store.take('half', 5, spec, 0);
  await store.take('nearly', 1, spec, 0);
  await store.take('new', 0, spec, 0); // nothing is full: drops the fullest ('nearly')
  assert.equal((await store.take('empty', 0, spec, 0)).remaining, 0);
  assert.equal((await store.take('half', 0, spec, 0)).remaining, 5);
});

test('a negative cost refunds, never beyond capacity; force goes into debt', async () => {
  const store = createMemoryRateLimitStore();
  const spec = { capacity: 100, refillPerMs: 0 };
  assert.equal((await store.take('k', 60, spec, 0)).remaining, 40);
  assert.equal((await store.take('k', 60, spec, 0)).allowed, false);
  assert.equal((await store.take('k', -20, spec, 0, { force: true })).remaining, 60);
  assert.equal((await store.take('k', -500, spec, 0, { force: true })).remaining, 100);
  assert.equal((await store.take('k', 150, spec, 0, { force: true })).remaining, -50);
});
