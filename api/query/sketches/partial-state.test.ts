import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  STATE_KINDS,
  emptyState,
  finalizeRowSet,
  finalizeState,
  mergeRowSets,
  mergeStates,
  rowSetFromJson,
  rowSetToJson,
  stateFromJson,
  stateToJson,
  type PartialRowSet,
  type StateKind,
} from './partial-state.ts';
import { Hll } from './hll.ts';
import { DDSketch } from './quantile-sketch.ts';
import { AppError } from '../../../schemas/errors.ts';

function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof AppError && e.code === 'ERR_UPSTREAM_UNAVAILABLE' && pattern.test(e.message));
}

test('count and sum merge exactly past 2^53; min/max ignore empty sides', () => {
  const big = 2n ** 63n;
  assert.equal(mergeStates('sum', big, big), 2n ** 64n);
  assert.equal(finalizeState({ kind: 'sum' }, mergeStates('sum', big + 1n, big)), 2n ** 64n + 1n);
  assert.equal(mergeStates('count', 3n, 4n), 7n);
  assert.equal(mergeStates('min', null, 5n), 5n);
  assert.equal(mergeStates('min', -2n, 5n), -2n);
  assert.equal(mergeStates('max', 5n, null), 5n);
  assert.equal(mergeStates('max', 2n ** 64n, 5n), 2n ** 64n);
  assert.equal(finalizeState({ kind: 'min' }, emptyState('min')), null);
});

test('avg is sum/count and ratio is scale * num/den, both null over nothing', () => {
  const a = mergeStates('avg', { sum: 10n, count: 2n }, { sum: 20n, count: 3n });
  assert.deepEqual(a, { sum: 30n, count: 5n });
  assert.equal(finalizeState({ kind: 'avg' }, a), 6);
  assert.equal(finalizeState({ kind: 'avg' }, emptyState('avg')), null);
  const bps = mergeStates('ratio', { numerator: 8000n, denominator: 1_000_000n }, { numerator: 8000n, denominator: 1_000_000n });
  assert.equal(finalizeState({ kind: 'ratio', scale: 1e6 }, bps), 8000);
  assert.equal(finalizeState({ kind: 'ratio', scale: 1e6 }, emptyState('ratio')), null);
});

test('distinct and quantile finalize through their sketches', () => {
  const h = Hll.fromValues('u16', [1, 2, 3]).merge(Hll.fromValues('u16', [3, 4]));
  assert.equal(finalizeState({ kind: 'distinct' }, h), 4);
  const d = mergeStates('quantile', DDSketch.fromValues([100, 200]), DDSketch.fromValues([300]));
  assert.ok(Math.abs(finalizeState({ kind: 'quantile', q: 0.5 }, d)! - 200) <= 2);
  assert.equal(finalizeState({ kind: 'distinct' }, emptyState('distinct')), 0);
  assert.equal(finalizeState({ kind: 'quantile', q: 0.5 }, emptyState('quantile')), null);
});

const SAMPLE = {
  count: 12n,
  sum: 2n ** 70n,
  min: -4n,
  max: null,
  avg: { sum: 7n, count: 2n },
  ratio: { numerator: 0n, denominator: 9n },
  distinct: Hll.fromValues('string', ['a', 'b']),
  quantile: DDSketch.fromValues([0, 1.5, 1e9]),
} as const;

test('every state kind round-trips through JSON text', () => {
  for (const kind of STATE_KINDS) {
    const json = JSON.parse(JSON.stringify(stateToJson(kind, SAMPLE[kind] as never)));
    const back = stateFromJson(kind, json);
    assert.deepEqual(stateToJson(kind, back as never), stateToJson(kind, SAMPLE[kind] as never), kind);
  }
  assert.equal(stateToJson('sum', 2n ** 70n), '1180591620717411303424');
});

test('untrusted scalar states: only canonical decimal strings of at most 40 digits', () => {
  rejects(() => stateFromJson('count', 5), /count state must be a non-negative decimal integer string/);
  rejects(() => stateFromJson('count', '-1'), /non-negative/);
  rejects(() => stateFromJson('count', '01'), /decimal/);
  rejects(() => stateFromJson('sum', '1e3'), /decimal/);
  rejects(() => stateFromJson('sum', '9'.repeat(41)), /decimal/);
  assert.equal(stateFromJson('sum', '-' + '9'.repeat(40)), -(10n ** 40n - 1n));
  rejects(() => stateFromJson('min', ''), /decimal/);
  rejects(() => stateFromJson('avg', ['1']), /pair/);
  rejects(() => stateFromJson('avg', ['1', '-2']), /non-negative/);
  rejects(() => stateFromJson('ratio', { numerator: '1', denominator: '2' }), /pair/);
  rejects(() => stateFromJson('distinct', { v: 1, p: 12, sparse: '' }), /precision/);
  rejects(() => stateFromJson('quantile', {}), /quantile state/);
});

const KINDS: StateKind[] = ['count', 'sum', 'distinct', 'quantile'];
const expectation = { kinds: KINDS, keyCount: 2, maxRows: 100 };

function row(keys: (string | number | null)[], n: number, values: number[]) {
  return { keys, states: [BigInt(n), BigInt(values.reduce((a, b) => a + b, 0)), Hll.fromValues('u64', values), DDSketch.fromValues(values)] };
}

test('row sets: JSON round-trip, merge by key tuple (nulls are a key), rows sorted by key', () => {
  const a: PartialRowSet = { kinds: KINDS, rows: [row([443, 'tcp'], 2, [10, 20]), row([null, 'udp'], 1, [5])] };
  const b: PartialRowSet = { kinds: KINDS, rows: [row([443, 'tcp'], 1, [20]), row([53, 'udp'], 3, [1, 2, 3])] };
  const wire = rowSetFromJson(JSON.parse(JSON.stringify(rowSetToJson(a))), expectation);
  assert.deepEqual(rowSetToJson(wire), rowSetToJson(a));
  const merged = mergeRowSets(KINDS, [wire, b]);
  const final = finalizeRowSet([{ kind: 'count' }, { kind: 'sum' }, { kind: 'distinct' }, { kind: 'quantile', q: 1 }], merged);
  assert.deepEqual(final, [
    { keys: [443, 'tcp'], values: [3n, 50n, 2, 20] },
    { keys: [53, 'udp'], values: [3n, 6n, 3, 3] },
    { keys: [null, 'udp'], values: [1n, 5n, 1, 5] },
  ]);
  assert.throws(() => finalizeRowSet([{ kind: 'count' }], merged), TypeError);
  assert.throws(() => mergeRowSets(['count'], [a]), TypeError);
});

test('merging row sets is commutative and associative (identical JSON whatever the order)', () => {
  const keyArb = fc.tuple(fc.constantFrom(53, 80, 443, null), fc.constantFrom('tcp', 'udp'));
  const setArb = fc.uniqueArray(fc.tuple(keyArb, fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 20 })), {
    selector: ([k]) => JSON.stringify(k),
    maxLength: 8,
  }).map((rows): PartialRowSet => ({ kinds: KINDS, rows: rows.map(([k, vs]) => row(k, vs.length, vs)) }));
  fc.assert(
    fc.property(setArb, setArb, setArb, (a, b, c) => {
      const text = (s: PartialRowSet) => JSON.stringify(rowSetToJson(s));
      const abc = text(mergeRowSets(KINDS, [a, b, c]));
      assert.equal(text(mergeRowSets(KINDS, [c, a, b])), abc);
      assert.equal(text(mergeRowSets(KINDS, [mergeRowSets(KINDS, [a, b]), c])), abc);
      assert.equal(text(mergeRowSets(KINDS, [a, mergeRowSets(KINDS, [c, b])])), abc);
    }),
    { numRuns: 50 },
  );
});

test('untrusted row sets: shape, kinds, sizes, keys and every state are validated, naming row and column', () => {
  const good = rowSetToJson({ kinds: KINDS, rows: [row([443, 'tcp'], 1, [1])] });
  const goodRow = good.rows[0]!;
  rejects(() => rowSetFromJson({ ...good, v: 2 }, expectation), /expected \{v: 1/);
  rejects(() => rowSetFromJson({ ...good, extra: 1 }, expectation), /no other fields/);
  rejects(() => rowSetFromJson({ ...good, kinds: ['count', 'sum', 'distinct', 'max'] }, expectation), /kinds must be \[count, sum, distinct, quantile\]/);
  rejects(() => rowSetFromJson({ ...good, kinds: ['count', 'bogus'] }, expectation), /expected/);
  rejects(() => rowSetFromJson({ ...good, rows: Array.from({ length: 101 }, () => goodRow) }, expectation), /more than 100 rows/);
  rejects(() => rowSetFromJson({ ...good, rows: [{ ...goodRow, keys: [443] }] }, expectation), /row 0: expected 2 keys/);
  rejects(() => rowSetFromJson({ ...good, rows: [{ ...goodRow, keys: [{}, 'tcp'] }] }, expectation), /scalar keys/);
  rejects(() => rowSetFromJson({ ...good, rows: [{ ...goodRow, keys: ['x'.repeat(1025), 'tcp'] }] }, expectation), /row 0 key 0: longer than 1024/);
  rejects(() => rowSetFromJson({ ...good, rows: [goodRow, goodRow] }, expectation), /row 1: key tuple listed twice/);
  rejects(() => rowSetFromJson({ ...good, rows: [{ ...goodRow, states: goodRow.states.slice(1) }] }, expectation), /row 0: expected 4 states/);
  rejects(
    () => rowSetFromJson({ ...good, rows: [{ ...goodRow, states: ['1', '1', { v: 1, p: 14, sparse: 'AAAA' }, goodRow.states[3]] }] }, expectation),
    /row 0 state 2 \(distinct\): invalid distinct-count state: register value out of range/,
  );
  rejects(() => rowSetFromJson({ ...good, rows: [{ ...goodRow, states: ['x', ...goodRow.states.slice(1)] }] }, expectation), /row 0 state 0 \(count\)/);
});
