/**
 * What each metric is as a mergeable partial state (api/query/sketches/partial-state.ts): its
 * state kind, how it finalizes, and the unit change from state to answer — so that answers of
 * several nodes (or several slices of one archive) merge into what one query over everything
 * would answer: counts, sums, minima and maxima exactly, means and rates from exact sums,
 * distinct counts through HyperLogLog (p = 14: standard error 1.04/√16384 ≈ 0.81 %), quantiles
 * through DDSketch (relative error ≤ 1 % against the sample quantile of rank ⌈q·(n−1)⌉).
 *
 * Owns: the metric → state table. Never: writes SQL (the adapter maps the same names to state
 * SQL) or reads data. Pure.
 */
import type { FinalByKind, MetricSpec, StateKind } from './sketches/partial-state.ts';
import { GROUP_COLUMNS, VALUE_METRICS, VALUE_STATS } from '../../schemas/query.ts';
import type { ValueName, ValueStat } from '../../schemas/query.ts';

/** Where a metric's per-flow input comes from (the adapter's SQL table is keyed by these). */
export type StateInput =
  | { readonly of: 'flows' }
  | { readonly of: 'column'; readonly column: string }
  | { readonly of: 'value'; readonly value: 'bytes' | 'packets' | 'durationUs' | 'durationMs' | 'bytes_fwd' | 'bytes_rev' | 'packets_fwd' | 'packets_rev' }
  | { readonly of: 'rate'; readonly rate: 'bps' | 'pps' | 'bpp' };

export interface MetricState {
  readonly kind: StateKind;
  readonly spec: MetricSpec;
  readonly input: StateInput;
  /** The finalized state in the metric's answer unit (e.g. microseconds → milliseconds). */
  readonly toAnswer: (v: FinalByKind[StateKind]) => number | string | null;
}

const num = (v: FinalByKind[StateKind]): number | string | null => {
  if (v === null) return null;
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  return v;
};
const usToMs = (v: FinalByKind[StateKind]): number | null => (v === null ? null : Number(v) / 1000);

const STAT_KIND: Record<ValueStat, MetricSpec> = {
  min: { kind: 'min' },
  max: { kind: 'max' },
  avg: { kind: 'avg' },
  p50: { kind: 'quantile', q: 0.5 },
  p95: { kind: 'quantile', q: 0.95 },
  p99: { kind: 'quantile', q: 0.99 },
};

function valueStat(value: ValueName, stat: ValueStat): MetricState {
  const spec = STAT_KIND[stat];
  const quantile = spec.kind === 'quantile';
  if (value === 'duration') {
    // Integer microseconds for exact sums, minima and maxima; milliseconds for the sketch.
    return { kind: spec.kind, spec, input: { of: 'value', value: quantile ? 'durationMs' : 'durationUs' }, toAnswer: quantile ? num : usToMs };
  }
  return { kind: spec.kind, spec, input: { of: 'value', value }, toAnswer: num };
}

const sum = (value: 'bytes' | 'packets' | 'bytes_fwd' | 'bytes_rev' | 'packets_fwd' | 'packets_rev'): MetricState => ({ kind: 'sum', spec: { kind: 'sum' }, input: { of: 'value', value }, toAnswer: num });
const rate = (r: 'bps' | 'pps' | 'bpp', scale: number): MetricState => ({ kind: 'ratio', spec: { kind: 'ratio', scale }, input: { of: 'rate', rate: r }, toAnswer: num });

/** Every metric of schemas/query.ts METRICS, as a state. */
export const METRIC_STATES: Readonly<Record<string, MetricState>> = {
  flows: { kind: 'count', spec: { kind: 'count' }, input: { of: 'flows' }, toAnswer: num },
  packets: sum('packets'),
  bytes: sum('bytes'),
  packets_fwd: sum('packets_fwd'),
  packets_rev: sum('packets_rev'),
  bytes_fwd: sum('bytes_fwd'),
  bytes_rev: sum('bytes_rev'),
  ...Object.fromEntries(GROUP_COLUMNS.map((c) => [`distinct_${c}`, { kind: 'distinct', spec: { kind: 'distinct' }, input: { of: 'column', column: c }, toAnswer: num } satisfies MetricState])),
  ...Object.fromEntries((Object.keys(VALUE_METRICS) as ValueName[]).flatMap((v) => (Object.keys(VALUE_STATS) as ValueStat[]).map((st) => [`${v}_${st}`, valueStat(v, st)]))),
  duration_avg_ms: valueStat('duration', 'avg'),
  bps: rate('bps', 1e6),
  pps: rate('pps', 1e6),
  bpp: rate('bpp', 1),
};

/** @throws TypeError for a name outside the metric table (plans are validated before this). */
export function metricState(name: string): MetricState {
  const m = METRIC_STATES[name];
  if (m === undefined) throw new TypeError(`no state for metric ${name}`);
  return m;
}
