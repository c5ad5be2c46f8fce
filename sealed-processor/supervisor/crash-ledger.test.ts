/**
 * The evidence rules (crash-ledger.ts) and the death classification (worker-death.ts) on their
 * own: what a death may and may not prove about a record.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode } from '../../schemas/errors.ts';
import { CrashLedger, MAX_INCONCLUSIVE_ROUNDS, MAX_POISON_PER_SEGMENT, type DeathSite, type Lesson, type ProbeOutcome } from './crash-ledger.ts';
import { classifyDeath, DeathCause, type DeathFacts } from './worker-death.ts';

const rec = (seq: number, index: number, careful = true): DeathSite => ({ kind: 'record', seq, index, careful });

describe('crash ledger: only a reproduced crash makes a record poison', () => {
  test('two outside kills in a row — after a lone death in the segment, then at the first record — mark nothing', () => {
    // The old rule: an unexplained death marks the segment, a second one poisons "the record after the last ack".
    const l = new CrashLedger();
    assert.deepEqual(l.died(DeathCause.Killed, { kind: 'segment', seq: 3 }), { kind: 'careful', seq: 3 });
    assert.deepEqual(l.died(DeathCause.Killed, { kind: 'none' }), { kind: 'nothing' });
    assert.deepEqual(l.died(DeathCause.Killed, rec(3, 0)), { kind: 'nothing' });
    assert.deepEqual(l.poisonOf(3), new Set());
    assert.equal(l.counts().poison_records, undefined);
  });

  test('no sequence of kills, out-of-memory aborts, timeouts and inconclusive or passing probes ever marks a record', () => {
    const cause = fc.constantFrom(DeathCause.Killed, DeathCause.Oom, DeathCause.Timeout, DeathCause.Stopped, DeathCause.Failed);
    const site = fc.oneof(
      fc.constant<DeathSite>({ kind: 'none' }),
      fc.constant<DeathSite>({ kind: 'finish' }),
      fc.record({ kind: fc.constant('segment' as const), seq: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ kind: fc.constant('record' as const), seq: fc.integer({ min: 0, max: 3 }), index: fc.integer({ min: 0, max: 4 }), careful: fc.boolean() }),
    );
    const probe = fc.constantFrom<ProbeOutcome>('ok', DeathCause.Killed, DeathCause.Stopped, DeathCause.Failed);
    fc.assert(
      fc.property(fc.array(fc.tuple(cause, site, fc.array(probe, { maxLength: 3 })), { maxLength: 60 }), (deaths) => {
        const l = new CrashLedger();
        const lessons: Lesson[] = [];
        for (const [c, s, probes] of deaths) {
          lessons.push(l.died(c, s));
          for (let next = l.nextIsolation(), i = 0; next; next = l.nextIsolation(), i++) lessons.push(l.probed(next.seq, next.index, probes[i % Math.max(1, probes.length)] ?? 'ok'));
        }
        // At most a segment where probes alone kept being killed is given up — no record is marked.
        assert.ok(!lessons.some((x) => x.kind === 'poison' || (x.kind === 'quarantine' && x.reason !== 'unprocessable')), JSON.stringify(lessons));
        for (let seq = 0; seq < 4; seq++) assert.equal(l.poisonOf(seq).size, 0);
      }),
      { numRuns: 500 },
    );
  });

  test('a reported parser exception is a suspect; the same record crashing again in careful mode is poison', () => {
    const l = new CrashLedger();
    assert.deepEqual(l.died(DeathCause.Crash, rec(1, 4, false)), { kind: 'suspect', seq: 1, index: 4 });
    assert.ok(l.isCareful(1));
    assert.deepEqual(l.poisonOf(1), new Set());
    assert.deepEqual(l.died(DeathCause.Crash, rec(1, 4)), { kind: 'poison', seq: 1, index: 4, cause: DeathCause.Crash });
    assert.deepEqual(l.poisonOf(1), new Set([4]));
    assert.deepEqual(l.counts(), { poison_records: 1, poison_records_crash: 1 });
  });

  test('a hard crash is located segment, then record, then reproduced', () => {
    const l = new CrashLedger();
    assert.deepEqual(l.died(DeathCause.Crash, { kind: 'segment', seq: 0 }), { kind: 'careful', seq: 0 });
    assert.deepEqual(l.died(DeathCause.Crash, rec(0, 5)), { kind: 'suspect', seq: 0, index: 5 });
    assert.equal(l.died(DeathCause.Crash, rec(0, 5)).kind, 'poison');
  });

  test('a crash that a careful replay gets past is cleared, and does not count toward a later one', () => {
    const l = new CrashLedger();
    l.died(DeathCause.Crash, rec(2, 7, false));
    assert.deepEqual(l.passed(2, 9), [{ kind: 'cleared', seq: 2, index: 7 }]);
    assert.equal(l.counts().crash_suspects_cleared, 1);
    assert.deepEqual(l.died(DeathCause.Crash, rec(2, 7)), { kind: 'suspect', seq: 2, index: 7 });
    // A crash at another record is no evidence against the first.
    assert.deepEqual(l.died(DeathCause.Crash, rec(2, 8)), { kind: 'suspect', seq: 2, index: 8 });
    assert.deepEqual(l.poisonOf(2), new Set());
  });

  test('a kill between two crashes at the same record does not hide the evidence', () => {
    const l = new CrashLedger();
    l.died(DeathCause.Crash, rec(0, 2, false));
    assert.deepEqual(l.died(DeathCause.Killed, { kind: 'none' }), { kind: 'nothing' });
    assert.equal(l.died(DeathCause.Crash, rec(0, 2)).kind, 'poison');
  });
});

describe('crash ledger: isolation bounds the deaths no record is blamed for', () => {
  test('repeated stalls at one record send it alone to probes; it is poison only if it hangs or exhausts memory alone twice', () => {
    const l = new CrashLedger();
    assert.deepEqual(l.died(DeathCause.Timeout, rec(4, 1)), { kind: 'nothing' });
    assert.deepEqual(l.died(DeathCause.Oom, rec(4, 1)), { kind: 'isolate', seq: 4, index: 1 });
    assert.deepEqual(l.nextIsolation(), { seq: 4, index: 1 });
    assert.deepEqual(l.probed(4, 1, DeathCause.Timeout), { kind: 'isolate', seq: 4, index: 1 });
    assert.deepEqual(l.nextIsolation(), { seq: 4, index: 1 });
    assert.deepEqual(l.probed(4, 1, DeathCause.Oom), { kind: 'poison', seq: 4, index: 1, cause: DeathCause.Oom });
    assert.deepEqual(l.counts(), { isolation_probes: 2, isolation_probes_timeout: 1, isolation_probes_oom: 1, poison_records: 1, poison_records_oom: 1 });
  });

  test('a record that completes alone is cleared; a probe killed from outside proves nothing and the count starts over', () => {
    const l = new CrashLedger();
    l.died(DeathCause.Killed, rec(0, 0));
    assert.equal(l.died(DeathCause.Killed, rec(0, 0)).kind, 'isolate');
    l.nextIsolation();
    assert.deepEqual(l.probed(0, 0, 'ok'), { kind: 'cleared', seq: 0, index: 0 });
    l.died(DeathCause.Timeout, rec(0, 0));
    l.died(DeathCause.Timeout, rec(0, 0));
    l.nextIsolation();
    assert.equal(l.probed(0, 0, DeathCause.Timeout).kind, 'isolate');
    l.nextIsolation();
    assert.deepEqual(l.probed(0, 0, DeathCause.Killed), { kind: 'nothing' });
    assert.equal(l.nextIsolation(), null);
    // Starting over: one more timeout alone is not enough.
    l.died(DeathCause.Timeout, rec(0, 0));
    assert.equal(l.died(DeathCause.Timeout, rec(0, 0)).kind, 'isolate');
    l.nextIsolation();
    assert.equal(l.probed(0, 0, DeathCause.Timeout).kind, 'isolate');
    assert.deepEqual(l.poisonOf(0), new Set());
  });

  test('a record at which fresh workers are killed even alone, round after round, gives up its segment but is never marked', () => {
    const l = new CrashLedger();
    const lessons: Lesson[] = [];
    for (let round = 0; round < MAX_INCONCLUSIVE_ROUNDS; round++) {
      lessons.push(l.died(DeathCause.Killed, rec(2, 3)), l.died(DeathCause.Killed, rec(2, 3)));
      assert.deepEqual(l.nextIsolation(), { seq: 2, index: 3 });
      lessons.push(l.probed(2, 3, DeathCause.Killed));
    }
    assert.deepEqual(lessons.at(-1), { kind: 'quarantine', seq: 2, reason: 'unprocessable' });
    assert.equal(lessons.filter((x) => x.kind === 'quarantine').length, 1);
    assert.deepEqual(l.poisonOf(2), new Set());
    assert.equal(l.counts().poison_records, undefined);
  });

  test('a segment with more than MAX_POISON_PER_SEGMENT poison records is quarantined', () => {
    const l = new CrashLedger();
    const lessons: Lesson[] = [];
    for (let i = 0; i <= MAX_POISON_PER_SEGMENT; i++) {
      l.died(DeathCause.Crash, rec(6, i));
      lessons.push(l.died(DeathCause.Crash, rec(6, i)));
    }
    assert.equal(lessons.filter((x) => x.kind === 'poison').length, MAX_POISON_PER_SEGMENT);
    assert.deepEqual(lessons.at(-1), { kind: 'quarantine', seq: 6, reason: 'poisoned' });
    l.dropSegment(6);
    assert.ok(!l.isCareful(6));
  });
});

describe('worker death classification', () => {
  const facts = (f: Partial<DeathFacts>): DeathFacts => ({ code: null, signal: null, killedBy: null, reportedPoison: false, failedCode: null, stderrTail: '', ...f });
  const cases: Array<[string, Partial<DeathFacts>, DeathCause]> = [
    ['SIGKILL from outside (OOM killer, operator)', { signal: 'SIGKILL' }, DeathCause.Killed],
    ['SIGTERM from outside', { signal: 'SIGTERM' }, DeathCause.Killed],
    ['killed by the supervisor for stalling', { signal: 'SIGKILL', killedBy: 'timeout' }, DeathCause.Timeout],
    ['killed by the supervisor on purpose', { signal: 'SIGKILL', killedBy: 'supervisor' }, DeathCause.Stopped],
    ['V8 heap exhaustion', { signal: 'SIGABRT', stderrTail: 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory' }, DeathCause.Oom],
    ['a native abort', { signal: 'SIGABRT' }, DeathCause.Crash],
    ['a segfault', { signal: 'SIGSEGV' }, DeathCause.Crash],
    ['a reported parser exception', { code: 70, reportedPoison: true }, DeathCause.Crash],
    ['a non-zero exit without a word', { code: 137 }, DeathCause.Crash],
    ['a worker-level error', { code: 1, failedCode: ErrorCode.ProcessorWorkerFailed }, DeathCause.Crash],
    ['the archive disk full', { code: 1, failedCode: ErrorCode.ArchiveWriteFailed }, DeathCause.Failed],
    ['orphaned (its input closed)', { code: 75 }, DeathCause.Killed],
  ];
  for (const [name, f, cause] of cases) test(`${name} → ${cause}`, () => assert.equal(classifyDeath(facts(f)), cause));
});
