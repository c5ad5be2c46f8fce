/**
 * The per-subject record budget (`reserveRecordRows`) on the memory store with a clock the test
 * advances: reservation and refund, refill per period in exact rows, `retryAfterSec` when used
 * up, per-subject and per-issuer budgets, and the bounded retry under contention.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reserveRecordRows } from './record-budget.ts';
import { createMemoryRateLimitStore } from '../rate-limit/memory-store.ts';
import type { RateLimitStore } from '../ports.ts';
import { ApiLimits } from '../../schemas/api-config.ts';
import type { Principal } from '../../schemas/claims.ts';
import { AppError } from '../../schemas/errors.ts';

const ISS = 'https://idp.test';
const who = (subject: string, issuer = ISS): Principal => ({ issuer, subject, scopes: new Set(['query', 'records']), groups: [], datasets: null, expiresAt: 0 });
const alice = who('alice');

function budget(maxRowsPerPeriod: number, recordPeriodSec: number, store: RateLimitStore = createMemoryRateLimitStore()) {
  const limits = ApiLimits.parse({ maxRowsPerPeriod, recordPeriodSec });
  const clock = { t: 0 };
  return { clock, store, reserve: (wanted: number, p: Principal = alice) => reserveRecordRows(store, limits, p, wanted, () => clock.t) };
}

async function usedUp(p: Promise<unknown>, retryAfterSec: number): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof AppError);
    assert.equal(err.code, 'ERR_RATE_LIMITED');
    assert.equal(err.details?.retryAfterSec, retryAfterSec);
    return true;
  });
}

test('reserves what is asked while the budget holds it; settle refunds the unused rows and returns what is left', async () => {
  const b = budget(100, 100);
  const r = await b.reserve(30);
  assert.equal(r.rows, 30);
  assert.equal(await r.settle(12), 88);
  const rest = await b.reserve(1000);
  assert.equal(rest.rows, 88, 'only what is left');
  assert.equal(await rest.settle(88), 0);
});

test('settle counts whole used rows within the reservation: more charges nothing extra, negative refunds all', async () => {
  const b = budget(100, 100);
  assert.equal(await (await b.reserve(10)).settle(50), 90);
  assert.equal(await (await b.reserve(10)).settle(-5), 90);
  assert.equal(await (await b.reserve(10)).settle(2.7), 88);
  assert.equal((await b.reserve(0)).rows, 1, 'at least one row is reserved');
  assert.equal((await b.reserve(5.9)).rows, 5);
});

test('per period: a used-up budget refills by maxRowsPerPeriod × the elapsed fraction of the period, never beyond', async () => {
  const b = budget(100, 100); // one row a second
  await (await b.reserve(100)).settle(100);
  for (const [t, rows] of [[25_000, 25], [75_000, 50], [175_000, 100], [10 * 175_000, 100]] as const) {
    b.clock.t = t;
    const r = await b.reserve(1000);
    assert.equal(r.rows, rows, `at ${t} ms`);
    await r.settle(rows);
  }
});

test('per period: a fractional remainder reserves only its whole rows', async () => {
  const b = budget(100, 100);
  await (await b.reserve(100)).settle(100);
  b.clock.t = 2_500;
  const r = await b.reserve(10);
  assert.equal(r.rows, 2, '2.5 rows back: 2 reserved');
  assert.equal(await r.settle(2), 0);
  await usedUp(b.reserve(1), 1); // half a row left: 0.5 s, rounded up
});

test('per period: whole rows refilled are reservable in full even when the float rate does not add up (9 per minute)', async () => {
  const b = budget(9, 60);
  await (await b.reserve(9)).settle(9);
  b.clock.t = 20_000;
  assert.equal((await b.reserve(9)).rows, 3);
});

test('used up: ERR_RATE_LIMITED with retryAfterSec, the wait for one row in whole seconds rounded up', async () => {
  const slow = budget(10, 100); // a row every 10 s
  await (await slow.reserve(10)).settle(10);
  await usedUp(slow.reserve(5), 10);
  slow.clock.t = 2_500; // a quarter row: 7.5 s to go
  await usedUp(slow.reserve(5), 8);
  slow.clock.t = 10_000;
  assert.equal((await slow.reserve(5)).rows, 1, 'after the advertised wait one row is there');
  const hourly = budget(1, 3600);
  await (await hourly.reserve(1)).settle(1);
  await usedUp(hourly.reserve(1), 3600);
  const fast = budget(1000, 1); // a row a millisecond: still at least 1 s
  await (await fast.reserve(1000)).settle(1000);
  await usedUp(fast.reserve(1), 1);
});

test('budgets are per subject and per issuer: one used up leaves the others whole', async () => {
  const b = budget(100, 100);
  await (await b.reserve(100)).settle(100);
  await usedUp(b.reserve(1), 1);
  assert.equal((await b.reserve(1000, who('bob'))).rows, 100);
  assert.equal((await b.reserve(1000, who('alice', 'https://other.test'))).rows, 100);
  await usedUp(b.reserve(1), 1);
});

/** A store where another request takes `steal` rows just before each of the first `times` takes. */
function contended(steal: number, times: number): { store: RateLimitStore; takes: () => number } {
  const inner = createMemoryRateLimitStore();
  let calls = 0;
  return {
    takes: () => calls,
    store: {
      async take(key, cost, spec, nowMs, options) {
        calls += 1;
        if (calls <= times) await inner.take(key, steal, spec, nowMs);
        return inner.take(key, cost, spec, nowMs, options);
      },
    },
  };
}

test('contention: a refused reservation retries with what is left, four attempts at most', async () => {
  const eased = contended(10, 3);
  const r = await budget(100, 100, eased.store).reserve(100);
  assert.equal(r.rows, 70, 'three refusals, then the 70 rows left');
  assert.equal(eased.takes(), 4);
  const persistent = contended(10, 100);
  await usedUp(budget(100, 100, persistent.store).reserve(100), 1); // rows were there all along: retry in 1 s, never 0
  assert.equal(persistent.takes(), 4);
});
