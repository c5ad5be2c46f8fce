/**
 * Partial aggregate states: what a node returns per group so that the answers of several nodes
 * can be merged and finalized at the home node (shared/DESIGN.md, "Federation").
 *
 * | kind       | state                          | merge            | finalize                       |
 * |------------|--------------------------------|------------------|--------------------------------|
 * | `count`    | bigint                         | a + b            | the count (exact)              |
 * | `sum`      | bigint (exact past 2^53)       | a + b            | the sum (exact)                |
 * | `min`/`max`| bigint or null (no value)      | smaller/larger   | the value (exact)              |
 * | `avg`      | { sum, count } bigints         | pairwise +       | sum / count, null when count 0 |
 * | `ratio`    | { numerator, denominator }     | pairwise +       | scale · num / den, null if 0   |
 * | `distinct` | Hll (hll.ts)                   | register max     | round(estimate), ±0.81 % (1σ)  |
 * | `quantile` | DDSketch (quantile-sketch.ts)  | bucket counts +  | quantile(q), ±1 % relative     |
 *
 * Every merge is exactly associative and commutative, so merging any split of the data in any
 * order gives the state of the whole. Ratio metrics are a quotient of two sums, e.g. bits per
 * second = 8e6 · Σ bytes / Σ duration_µs over the same flows (see FLOW_RATE_INPUTS in
 * api/engine/duckdb-sketch-sql.ts for which flows), not a mean of per-flow rates.
 *
 * A row set is `{ v: 1, kinds, rows: [{ keys, states }] }`: keys are JSON scalars exactly as the
 * nodes produced them (api/engine/json-value.ts), states follow `kinds`. Merging row sets groups
 * by the key tuple and merges states position by position.
 *
 * Owns: state types, merge, finalize and the JSON form of states and row sets. Never: trusts a
 * row set from another node — `rowSetFromJson` validates shape, sizes and every state and
 * throws AppError (ERR_UPSTREAM_UNAVAILABLE) without echoing values. Pure: no IO, no DuckDB.
 */
import { z } from 'zod';
import { AppError, ErrorCode } from '../../../schemas/errors.ts';
import { DDSketch, type DDSketchJson } from './quantile-sketch.ts';
import { HLL_PRECISION, Hll, type HllJson } from './hll.ts';

export const STATE_KINDS = ['count', 'sum', 'min', 'max', 'avg', 'ratio', 'distinct', 'quantile'] as const;
export type StateKind = (typeof STATE_KINDS)[number];

export interface MeanState {
  readonly sum: bigint;
  readonly count: bigint;
}
export interface RatioState {
  readonly numerator: bigint;
  readonly denominator: bigint;
}

export interface StateByKind {
  count: bigint;
  sum: bigint;
  min: bigint | null;
  max: bigint | null;
  avg: MeanState;
  ratio: RatioState;
  distinct: Hll;
  quantile: DDSketch;
}
export type PartialState = StateByKind[StateKind];

/** What a metric finalizes to. */
export interface FinalByKind {
  count: bigint;
  sum: bigint;
  min: bigint | null;
  max: bigint | null;
  avg: number | null;
  ratio: number | null;
  distinct: number;
  quantile: number | null;
}

/** A metric: its state kind plus what finalizing needs (the quantile, the ratio's scale). */
export type MetricSpec =
  | { readonly kind: 'count' | 'sum' | 'min' | 'max' | 'avg' | 'distinct' }
  | { readonly kind: 'ratio'; readonly scale: number }
  | { readonly kind: 'quantile'; readonly q: number };

/** JSON form of each state: decimal strings for bigints, sketches in their own wire forms. */
export interface StateJsonByKind {
  count: string;
  sum: string;
  min: string | null;
  max: string | null;
  avg: readonly [string, string];
  ratio: readonly [string, string];
  distinct: HllJson;
  quantile: DDSketchJson;
}

function invalid(message: string): AppError {
  return new AppError(ErrorCode.UpstreamUnavailable, `invalid partial result: ${message}`);
}

/** Decimal integers of at most 40 digits (beyond 2^128), so a hostile state cannot make huge bigints. */
const NON_NEGATIVE = /^(0|[1-9]\d{0,39})$/;
const SIGNED = /^(0|-?[1-9]\d{0,39})$/;

function parseDecimal(json: unknown, what: string, signed: boolean): bigint {
  if (typeof json !== 'string' || !(signed ? SIGNED : NON_NEGATIVE).test(json)) {
    throw invalid(`${what} must be a ${signed ? '' : 'non-negative '}decimal integer string`);
  }
  return BigInt(json);
}

function parsePair(json: unknown, what: string, signed: boolean): [bigint, bigint] {
  if (!Array.isArray(json) || json.length !== 2) throw invalid(`${what} must be a pair of decimal integer strings`);
  return [parseDecimal(json[0], what, signed), parseDecimal(json[1], what, false)];
}

function ratioValue(num: bigint, den: bigint, scale: number): number | null {
  return den === 0n ? null : (scale * Number(num)) / Number(den);
}

interface KindOps<K extends StateKind> {
  empty(): StateByKind[K];
  merge(a: StateByKind[K], b: StateByKind[K]): StateByKind[K];
  finalize(s: StateByKind[K], spec: MetricSpec & { readonly kind: K }): FinalByKind[K];
  toJson(s: StateByKind[K]): StateJsonByKind[K];
  fromJson(json: unknown, what: string): StateByKind[K];
}

const pickMin = (a: bigint | null, b: bigint | null): bigint | null => (a === null ? b : b === null ? a : a < b ? a : b);
const pickMax = (a: bigint | null, b: bigint | null): bigint | null => (a === null ? b : b === null ? a : a > b ? a : b);

/** Per-kind behaviour; exhaustive over StateKind (a new kind does not compile without its row). */
const KIND_OPS: { readonly [K in StateKind]: KindOps<K> } = {
  count: {
    empty: () => 0n,
    merge: (a, b) => a + b,
    finalize: (s) => s,
    toJson: (s) => s.toString(),
    fromJson: (j, what) => parseDecimal(j, what, false),
  },
  sum: {
    empty: () => 0n,
    merge: (a, b) => a + b,
    finalize: (s) => s,
    toJson: (s) => s.toString(),
    fromJson: (j, what) => parseDecimal(j, what, true),
  },
  min: {
    empty: () => null,
    merge: pickMin,
    finalize: (s) => s,
    toJson: (s) => (s === null ? null : s.toString()),
    fromJson: (j, what) => (j === null ? null : parseDecimal(j, what, true)),
  },
  max: {
    empty: () => null,
    merge: pickMax,
    finalize: (s) => s,
    toJson: (s) => (s === null ? null : s.toString()),
    fromJson: (j, what) => (j === null ? null : parseDecimal(j, what, true)),
  },
  avg: {
    empty: () => ({ sum: 0n, count: 0n }),
    merge: (a, b) => ({ sum: a.sum + b.sum, count: a.count + b.count }),
    finalize: (s) => ratioValue(s.sum, s.count, 1),
    toJson: (s) => [s.sum.toString(), s.count.toString()],
    fromJson: (j, what) => {
      const [sum, count] = parsePair(j, what, true);
      return { sum, count };
    },
  },
  ratio: {
    empty: () => ({ numerator: 0n, denominator: 0n }),
    merge: (a, b) => ({ numerator: a.numerator + b.numerator, denominator: a.denominator + b.denominator }),
    finalize: (s, spec) => ratioValue(s.numerator, s.denominator, spec.scale),
    toJson: (s) => [s.numerator.toString(), s.denominator.toString()],
    fromJson: (j, what) => {
      const [numerator, denominator] = parsePair(j, what, true);
      return { numerator, denominator };
    },
  },
  distinct: {
    empty: () => Hll.empty(HLL_PRECISION),
    merge: (a, b) => a.merge(b),
    finalize: (s) => Math.round(s.estimate()),
    toJson: (s) => s.toJSON(),
    fromJson: (j) => Hll.fromJSON(j, HLL_PRECISION),
  },
  quantile: {
    empty: () => DDSketch.empty(),
    merge: (a, b) => a.merge(b),
    finalize: (s, spec) => s.quantile(spec.q),
    toJson: (s) => s.toJSON(),
    fromJson: (j) => DDSketch.fromJSON(j),
  },
};

/** The state of no rows (what a node that has no row for a group contributes). */
export function emptyState<K extends StateKind>(kind: K): StateByKind[K] {
  return KIND_OPS[kind].empty();
}

/** Merges two states of one kind; neither input is modified. */
export function mergeStates<K extends StateKind>(kind: K, a: StateByKind[K], b: StateByKind[K]): StateByKind[K] {
  return KIND_OPS[kind].merge(a, b);
}

/** The metric's answer from its merged state. */
export function finalizeState<S extends MetricSpec>(spec: S, state: StateByKind[S['kind']]): FinalByKind[S['kind']] {
  const ops = KIND_OPS[spec.kind] as unknown as KindOps<S['kind']>;
  return ops.finalize(state, spec as never);
}

export function stateToJson<K extends StateKind>(kind: K, state: StateByKind[K]): StateJsonByKind[K] {
  return KIND_OPS[kind].toJson(state);
}

/** @throws AppError (ERR_UPSTREAM_UNAVAILABLE) when `json` is not a valid state of `kind`. */
export function stateFromJson<K extends StateKind>(kind: K, json: unknown): StateByKind[K] {
  return KIND_OPS[kind].fromJson(json, `${kind} state`);
}

/** A group key value as the nodes' JSON answers carry it. */
export type KeyValue = string | number | boolean | null;

export interface PartialRow {
  readonly keys: readonly KeyValue[];
  readonly states: readonly PartialState[];
}

export interface PartialRowSet {
  readonly kinds: readonly StateKind[];
  readonly rows: readonly PartialRow[];
}

export interface PartialRowSetJson {
  readonly v: 1;
  readonly kinds: readonly StateKind[];
  readonly rows: ReadonlyArray<{ readonly keys: readonly KeyValue[]; readonly states: readonly unknown[] }>;
}

export function rowSetToJson(set: PartialRowSet): PartialRowSetJson {
  return {
    v: 1,
    kinds: [...set.kinds],
    rows: set.rows.map((r) => ({ keys: [...r.keys], states: r.states.map((s, i) => stateToJson(set.kinds[i]!, s as never)) })),
  };
}

/** Limits applied when reading another node's row set. */
export interface RowSetExpectation {
  /** The kinds the plan asked for, in order. */
  readonly kinds: readonly StateKind[];
  /** Number of group keys per row. */
  readonly keyCount: number;
  /** Rows accepted at most (the plan's group limit). */
  readonly maxRows: number;
  /** Longest string key accepted (default 1024 characters). */
  readonly maxKeyLength?: number;
}

const RowSetShape = z.strictObject({
  v: z.literal(1),
  kinds: z.array(z.enum(STATE_KINDS)),
  rows: z.array(z.strictObject({ keys: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])), states: z.array(z.unknown()) })),
});

/** Canonical text of a key tuple (the grouping identity when merging). */
function keyId(keys: readonly KeyValue[]): string {
  return JSON.stringify(keys);
}

/**
 * Parses and validates a row set from another node against what the plan expects.
 * @throws AppError (ERR_UPSTREAM_UNAVAILABLE) on a wrong version, different kinds, too many
 *   rows, a key tuple of the wrong length, a key that is too long or not finite, a key tuple
 *   listed twice, or any invalid state (the message names the row and column).
 */
export function rowSetFromJson(json: unknown, expect: RowSetExpectation): PartialRowSet {
  // Count rows before the schema walks them: a hostile answer must not cost a full parse.
  const rawRows = (json as { rows?: unknown } | null)?.rows;
  if (Array.isArray(rawRows) && rawRows.length > expect.maxRows) throw invalid(`more than ${expect.maxRows} rows`);
  const parsed = RowSetShape.safeParse(json);
  if (!parsed.success) throw invalid('expected {v: 1, kinds, rows: [{keys, states}]} with scalar keys and no other fields');
  const { kinds, rows } = parsed.data;
  if (kinds.length !== expect.kinds.length || kinds.some((k, i) => k !== expect.kinds[i])) throw invalid(`kinds must be [${expect.kinds.join(', ')}]`);
  const maxKeyLength = expect.maxKeyLength ?? 1024;
  const seen = new Set<string>();
  const out = rows.map((row, r) => {
    if (row.keys.length !== expect.keyCount) throw invalid(`row ${r}: expected ${expect.keyCount} keys`);
    row.keys.forEach((k, i) => {
      if (typeof k === 'string' && k.length > maxKeyLength) throw invalid(`row ${r} key ${i}: longer than ${maxKeyLength} characters`);
      if (typeof k === 'number' && !Number.isFinite(k)) throw invalid(`row ${r} key ${i}: not a finite number`);
    });
    const id = keyId(row.keys);
    if (seen.has(id)) throw invalid(`row ${r}: key tuple listed twice`);
    seen.add(id);
    if (row.states.length !== kinds.length) throw invalid(`row ${r}: expected ${kinds.length} states`);
    const states = row.states.map((s, i) => {
      try {
        return stateFromJson(kinds[i]!, s);
      } catch (err) {
        if (err instanceof AppError) throw invalid(`row ${r} state ${i} (${kinds[i]}): ${err.message}`);
        throw err;
      }
    });
    return { keys: row.keys, states };
  });
  return { kinds, rows: out };
}

/**
 * Merges row sets of the same kinds: rows with equal key tuples merge state by state; a group
 * missing from a set contributes nothing. Rows come out sorted by their key tuple's canonical
 * JSON text, so the result does not depend on the order of `sets` or of their rows.
 */
export function mergeRowSets(kinds: readonly StateKind[], sets: readonly PartialRowSet[]): PartialRowSet {
  const groups = new Map<string, PartialRow>();
  for (const set of sets) {
    if (set.kinds.length !== kinds.length || set.kinds.some((k, i) => k !== kinds[i])) throw new TypeError('row sets of different metric kinds');
    for (const row of set.rows) {
      const id = keyId(row.keys);
      const prev = groups.get(id);
      groups.set(id, prev ? { keys: prev.keys, states: prev.states.map((s, i) => mergeStates(kinds[i]!, s as never, row.states[i] as never)) } : row);
    }
  }
  const ids = [...groups.keys()].sort();
  return { kinds: [...kinds], rows: ids.map((id) => groups.get(id)!) };
}

/** Finalized rows: the keys followed by one value per metric. */
export function finalizeRowSet(specs: readonly MetricSpec[], set: PartialRowSet): Array<{ keys: readonly KeyValue[]; values: unknown[] }> {
  if (specs.length !== set.kinds.length || specs.some((s, i) => s.kind !== set.kinds[i])) throw new TypeError('metric specs do not match the row set kinds');
  return set.rows.map((row) => ({ keys: row.keys, values: row.states.map((s, i) => finalizeState(specs[i]!, s as never)) }));
}
