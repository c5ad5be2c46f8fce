/**
 * The admission controller on its own: slots (global, per subject, expensive lane), immediate
 * refusals with their codes and `retryAfterSec`, fair round-robin order across subjects,
 * cheap queries passing expensive ones, deadlines and aborts while waiting, idempotent release.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAdmissionController } from './admission-controller.ts';
import type { AdmissionTicket, Lane } from './admission-controller.ts';
import { AdmissionConfig } from '../../schemas/api-config.ts';
import { AppError } from '../../schemas/errors.ts';

const FAR = Date.now() + 3_600_000;

function controller(config: Partial<AdmissionConfig>) {
  return createAdmissionController(AdmissionConfig.parse(config));
}

const req = (subject: string, lane: Lane = 'cheap', deadlineAt = FAR, signal?: AbortSignal) => ({ subject, lane, deadlineAt, ...(signal ? { signal } : {}) });

/** Resolves on the next turn with whether `p` has settled (without waiting for it). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => (done = true), () => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
}

function code(err: unknown): string {
  assert.ok(err instanceof AppError, String(err));
  return err.code;
}

test('runs at once within the limits; the per-subject limit makes a second query of the same subject wait', async () => {
  const a = controller({ maxConcurrent: 2, maxExpensiveConcurrent: 1, maxConcurrentPerSubject: 1 });
  const first = await a.acquire(req('alice'));
  assert.equal(first.waitedMs, 0);
  const second = a.acquire(req('alice'));
  assert.equal(await settled(second), false, 'alice already runs one');
  const bob = await a.acquire(req('bob'));
  assert.deepEqual([a.stats().running, a.stats().queued], [2, 1]);
  first.release();
  first.release(); // idempotent: frees one slot only
  const t = await second;
  assert.deepEqual([a.stats().running, a.stats().queued], [2, 0]);
  t.release();
  bob.release();
  assert.equal(a.stats().running, 0);
});

test('a full subject share is 429, a full queue 503, both at once with retryAfterSec', async () => {
  const a = controller({ maxConcurrent: 1, maxExpensiveConcurrent: 1, maxConcurrentPerSubject: 1, maxQueued: 3, maxQueuedPerSubject: 2 });
  const running = await a.acquire(req('alice'));
  const waiting = [a.acquire(req('alice')), a.acquire(req('alice'))];
  await assert.rejects(a.acquire(req('alice')), (e: unknown) => code(e) === 'ERR_RATE_LIMITED' && (e as AppError).details?.retryAfterSec === 3);
  waiting.push(a.acquire(req('bob')));
  await assert.rejects(a.acquire(req('carol')), (e: unknown) => {
    assert.equal(code(e), 'ERR_OVERLOADED');
    const sec = (e as AppError).details?.retryAfterSec as number;
    assert.ok(Number.isInteger(sec) && sec >= 1 && sec <= 60, `retryAfterSec ${sec}`);
    return true;
  });
  assert.deepEqual(a.stats().refused, { overloaded: 1, subjectQueueFull: 1, timedOutWaiting: 0 });
  running.release();
  // Release each as it starts (one slot: they run one after another).
  for (const w of waiting) void w.then((t) => t.release());
  await Promise.all(waiting);
  assert.equal(a.stats().running, 0);
});

test('fair order: one subject waiting with many queries does not sit in front of another subject with one', async () => {
  const a = controller({ maxConcurrent: 1, maxExpensiveConcurrent: 1, maxConcurrentPerSubject: 1, maxQueued: 20, maxQueuedPerSubject: 10 });
  const started: { who: string; ticket: AdmissionTicket }[] = [];
  const hold = await a.acquire(req('zed'));
  const track = (who: string) => void a.acquire(req(who)).then((ticket) => started.push({ who, ticket }));
  for (let i = 0; i < 4; i++) track('alice');
  track('bob');
  track('carol');
  hold.release();
  // One slot: each query runs alone; finishing it lets the next one in.
  for (let served = 1; served <= 6; served++) {
    await new Promise((r) => setImmediate(r));
    assert.equal(started.length, served, 'exactly one more query started');
    started[served - 1].ticket.release();
  }
  const order = started.map((s) => s.who);
  assert.deepEqual(order, ['alice', 'bob', 'carol', 'alice', 'alice', 'alice'], 'round robin: bob and carol before alice\'s second query');
});

test('cheap queries have reserved slots: they run while expensive ones wait for the expensive lane', async () => {
  const a = controller({ maxConcurrent: 2, maxExpensiveConcurrent: 1, maxConcurrentPerSubject: 2, maxQueued: 10, maxQueuedPerSubject: 10 });
  const heavy = await a.acquire(req('alice', 'expensive'));
  const heavy2 = a.acquire(req('bob', 'expensive'));
  assert.equal(await settled(heavy2), false, 'only one expensive query at a time');
  const cheap = a.acquire(req('carol', 'cheap'));
  assert.equal(await settled(cheap), true, 'the cheap query runs in the reserved slot');
  (await cheap).release();
  assert.equal(await settled(heavy2), false, 'a freed cheap slot does not go to the expensive lane');
  heavy.release();
  (await heavy2).release();
});

test('a query the queue ahead would not let start before its deadline is refused at once with 503, from the lane\'s run times', async () => {
  const clock = { t: 1_000_000 };
  const a = createAdmissionController(AdmissionConfig.parse({ maxConcurrent: 2, maxExpensiveConcurrent: 1, maxConcurrentPerSubject: 1 }), () => clock.t);
  const hold = await a.acquire(req('alice', 'expensive', clock.t + 60_000));
  // Before any run has finished a run is taken to last 1 s: a wait for one run fits 1.5 s, not 0.5 s.
  await assert.rejects(a.acquire(req('bob', 'expensive', clock.t + 500)), (e: unknown) => {
    assert.equal(code(e), 'ERR_OVERLOADED');
    assert.match((e as AppError).message, /would not leave this one time/);
    assert.equal((e as AppError).details?.retryAfterSec, 1);
    return true;
  });
  const bob = a.acquire(req('bob', 'expensive', clock.t + 1_500));
  assert.equal(a.stats().queued, 1);
  // Two expensive runs of 4 s move the lane's average from 1 s to 2.08 s.
  clock.t += 4_000;
  hold.release();
  const b = await bob;
  clock.t += 4_000;
  b.release();
  const first = await a.acquire(req('carol', 'expensive', clock.t + 60_000));
  const second = a.acquire(req('dave', 'expensive', clock.t + 60_000));
  // One running and one waiting ahead: about 4.2 s until erin could start.
  await assert.rejects(a.acquire(req('erin', 'expensive', clock.t + 4_000)), (e: unknown) => code(e) === 'ERR_OVERLOADED' && (e as AppError).details?.retryAfterSec === 5);
  assert.equal(await settled(a.acquire(req('fred', 'cheap', clock.t + 4_000)).then((t) => t.release())), true, 'the cheap lane has its own figures and slot');
  first.release();
  (await second).release();
});

test('a waiting query whose deadline passes leaves the queue with 504 ERR_QUERY_TIMEOUT; a past deadline is refused at once', async () => {
  const clock = { t: 1_000_000 };
  const a = createAdmissionController(AdmissionConfig.parse({ maxConcurrent: 1, maxExpensiveConcurrent: 1, maxConcurrentPerSubject: 1 }), () => clock.t);
  // Runs that take no time: the estimated wait is ~0, so a short deadline is queued, not refused.
  for (let i = 0; i < 40; i++) (await a.acquire(req('warm', 'cheap', clock.t + 1_000))).release();
  const hold = await a.acquire(req('alice'));
  await assert.rejects(a.acquire(req('bob', 'cheap', clock.t + 30)), (e: unknown) => code(e) === 'ERR_QUERY_TIMEOUT');
  assert.equal(a.stats().queued, 0, 'it left the queue');
  await assert.rejects(a.acquire(req('bob', 'cheap', clock.t - 1)), (e: unknown) => code(e) === 'ERR_QUERY_TIMEOUT');
  hold.release();
  assert.equal(a.stats().running, 0, 'the timed-out waiter did not take the slot');
});

test('an aborted wait (client gone) leaves the queue and never takes a slot', async () => {
  const a = controller({ maxConcurrent: 1, maxExpensiveConcurrent: 1, maxConcurrentPerSubject: 1 });
  const hold = await a.acquire(req('alice'));
  const ac = new AbortController();
  const gone = a.acquire(req('bob', 'cheap', FAR, ac.signal));
  ac.abort();
  await assert.rejects(gone, (e: unknown) => code(e) === 'ERR_BAD_REQUEST');
  assert.equal(a.stats().queued, 0);
  hold.release();
  assert.equal(a.stats().running, 0);
});
