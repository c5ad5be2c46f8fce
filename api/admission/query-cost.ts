/**
 * The cost estimate of a validated query, made before it runs from the request and the dataset
 * listing alone: rows in the time range (the dataset's flows per unit of time × the overlap of
 * the requested range with the dataset's), filter size, estimated group count and the metrics.
 *
 * The unit is a *row-equivalent* — about one flow row through the scan. The factors:
 * - `timeRange`: rows × 1.
 * - `filter`: rows × √terms / 2, where terms counts every comparison a row may need (each CIDR
 *   once per side it applies to, each listed value, each combinator), plus terms ×
 *   PLAN_COST_PER_TERM whatever the rows: DuckDB plans the whole expression before it reads a
 *   row, and planning is not interruptible (a 25 600-CIDR filter over an empty range took
 *   ~9 s on one thread). `limits.maxFilterTerms` caps terms before this runs.
 * - `groups`: groups × 4 (hash table, suppression and ordering), groups = min(rows, product of
 *   the keys' cardinalities: 65 536 per port, 2^prefix per address prefix, buckets in the range...).
 * - `metrics`: distinct counts rows × 1 + groups × 2 each; quantiles rows × 0.5 + groups × 10
 *   each (every group keeps a list of its values).
 * Fitted on the reference machine (2 cores, a 2 M-flow day, the machine otherwise idle): a
 * query running alone gets through about 20 million units a second with DuckDB threads 2 and
 * about half that with one thread, within a factor of about 2 for every shape measured (plain
 * scans, wide `or` filters of 64–4 096 CIDR terms, /32 groupings with quantiles, per-minute
 * series). Rows are spread evenly over the dataset's time range: bursty
 * data is under-estimated inside its bursts.
 *
 * When the listing does not know the dataset's flow count or time range, nothing can be
 * estimated: the query goes to the expensive lane and is not refused on cost.
 *
 * Owns: the estimate and the refusal. Never: looks at data, runs SQL, or reads the clock. Pure.
 */
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { AdmissionConfig } from '../../schemas/api-config.ts';
import type { GroupBy, Metric, QueryFilter } from '../../schemas/query.ts';
import { TIME_BUCKET_MS } from '../../schemas/query.ts';
import type { QueryPlan } from '../query/plan.ts';
import type { DatasetInfo } from '../ports.ts';
import type { Lane } from './admission-controller.ts';

export type CostFactor = 'timeRange' | 'filter' | 'groups' | 'metrics';

export interface CostEstimate {
  /** Total in row-equivalents; null when the dataset's density is unknown. */
  readonly cost: number | null;
  /** Rows expected in the time range; null when unknown. */
  readonly rows: number | null;
  readonly filterTerms: number;
  /** Groups expected (0 for a record listing); null when unknown. */
  readonly groups: number | null;
  /** Each factor's share of `cost`; null when unknown. */
  readonly factors: Readonly<Record<CostFactor, number>> | null;
  readonly lane: Lane;
}

const HINT: Record<CostFactor, string> = {
  timeRange: 'narrow the time range',
  filter: 'use fewer filter terms (CIDRs, listed values)',
  groups: 'group on fewer or coarser keys (shorter prefixes, longer time buckets)',
  metrics: 'drop quantile or distinct metrics, or group more coarsely',
};

/** Distinct values a plain group column can take; Infinity for addresses, MACs and names. */
const COLUMN_CARDINALITY: Record<string, number> = {
  ip_version: 2,
  protocol: 256,
  src_port: 65_536,
  dst_port: 65_536,
  icmp_type: 256,
  icmp_code: 256,
  vlan_id: 4_096,
  tcp_flags_fwd: 256,
  tcp_flags_rev: 256,
  end_reason: 8,
};


function matcherTerms(m: unknown): number {
  return Array.isArray(m) ? m.length : 1;
}

/** Filter keys comparing one column with each listed value. */
const ONE_COLUMN_KEYS = [
  'protocol', 'ipVersion', 'srcPort', 'dstPort', 'vlanId', 'srcNet', 'dstNet', 'endReason', 'recordSource', 'exporterNet', 'nextHopNet', 'bgpNextHopNet',
  'srcAs', 'dstAs', 'inputInterface', 'outputInterface', 'tos', 'observationDomain',
] as const satisfies readonly (keyof QueryFilter)[];
/** Filter keys comparing either of two columns (`port`: src or dst port, ...). */
const EITHER_COLUMN_KEYS = ['port', 'net', 'as', 'interface'] as const satisfies readonly (keyof QueryFilter)[];

/** Comparisons one row may need, counted iteratively (the tree is at most 16 levels deep). */
export function filterTerms(filter: QueryFilter | null | undefined): number {
  let terms = 0;
  const stack: QueryFilter[] = filter === undefined || filter === null ? [] : [filter];
  while (stack.length > 0) {
    const f = stack.pop() as QueryFilter;
    for (const key of ONE_COLUMN_KEYS) {
      if (f[key] !== undefined) terms += matcherTerms(f[key]);
    }
    for (const key of EITHER_COLUMN_KEYS) {
      if (f[key] !== undefined) terms += 2 * matcherTerms(f[key]);
    }
    for (const key of ['bytes', 'packets', 'duration', 'bps', 'pps', 'bpp', 'tcpFlags'] as const) {
      if (f[key] !== undefined) terms += 1;
    }
    for (const sub of [f.and, f.or]) {
      if (sub !== undefined) {
        terms += 1;
        stack.push(...sub);
      }
    }
    if (f.not !== undefined) {
      terms += 1;
      stack.push(f.not);
    }
  }
  return terms;
}

function keyCardinality(g: GroupBy, rangeMs: number): number {
  if (typeof g === 'string') return COLUMN_CARDINALITY[g] ?? Infinity;
  if ('timeBucket' in g) return Math.max(1, Math.ceil(rangeMs / TIME_BUCKET_MS[g.timeBucket]));
  return 2 ** g.prefixV4 + 2 ** g.prefixV6;
}

/** Rows of `dataset` expected in `[fromMs, toMs)`, spread evenly over its time range; null when unknown. */
export function rowsInRange(dataset: DatasetInfo, fromMs: number, toMs: number): number | null {
  if (dataset.flows === null || dataset.timeStart === null || dataset.timeEnd === null) return null;
  const start = Date.parse(dataset.timeStart);
  const end = Date.parse(dataset.timeEnd);
  if (!Number.isFinite(start) || !Number.isFinite(end)) return null;
  if (end <= start) return fromMs <= start && start < toMs ? dataset.flows : 0;
  const overlap = Math.max(0, Math.min(toMs, end) - Math.max(fromMs, start));
  return Math.ceil((dataset.flows * overlap) / (end - start));
}

function countMetrics(metrics: readonly Metric[]): { distinct: number; quantile: number } {
  const set = new Set(metrics);
  let distinct = 0;
  let quantile = 0;
  for (const m of set) {
    if (m.startsWith('distinct_')) distinct++;
    else if (/_p\d\d$/.test(m)) quantile++;
  }
  return { distinct, quantile };
}

/** Row-equivalents per filter term for planning alone (~9 s / 25 600 terms at ~10 M units/s, one thread). */
export const PLAN_COST_PER_TERM = 4_000;

/** Estimates the cost of a plan over `dataset` (its listing entry). */
export function estimateQueryCost(plan: QueryPlan, dataset: DatasetInfo, config: AdmissionConfig): CostEstimate {
  const { fromMs, toMs } = plan;
  const terms = filterTerms(plan.filter) + filterTerms(plan.restriction);
  const rows = rowsInRange(dataset, fromMs, toMs);
  if (rows === null) return { cost: null, rows: null, filterTerms: terms, groups: null, factors: null, lane: 'expensive' };
  const rangeMs = Math.max(0, toMs - fromMs);
  let groups = 0;
  let metricsPerRow = 0;
  let metricsPerGroup = 0;
  if (plan.kind === 'aggregate') {
    const product = plan.groupBy.reduce((acc, g) => acc * keyCardinality(g, rangeMs), 1);
    groups = Math.min(rows, product);
    // A filled series has a row per bucket whatever the data, times the other keys'
    // combinations that occur (at most one per row, at most the product of their cardinalities).
    const bucket = plan.groupBy.find((g) => typeof g === 'object' && 'timeBucket' in g);
    if (plan.fill && bucket) {
      const combos = Math.min(Math.max(1, rows), plan.groupBy.filter((g) => g !== bucket).reduce((acc, g) => acc * keyCardinality(g, rangeMs), 1));
      groups = Math.max(groups, keyCardinality(bucket, rangeMs) * combos);
    }
    const m = countMetrics(plan.metrics);
    // The other row reads the flows a second time.
    if (plan.other) metricsPerRow += 1;
    metricsPerRow += m.distinct * 1 + m.quantile * 0.5;
    metricsPerGroup = m.distinct * 2 + m.quantile * 10;
  }
  const factors: Record<CostFactor, number> = {
    timeRange: rows,
    filter: (rows * Math.sqrt(terms)) / 2 + terms * PLAN_COST_PER_TERM,
    groups: groups * 4,
    metrics: rows * metricsPerRow + groups * metricsPerGroup,
  };
  const cost = factors.timeRange + factors.filter + factors.groups + factors.metrics;
  return { cost, rows, filterTerms: terms, groups, factors, lane: cost > config.expensiveCost ? 'expensive' : 'cheap' };
}

/**
 * @throws AppError ERR_QUERY_TOO_EXPENSIVE when the estimate is over `config.maxCost`; the
 *   message and `details.factor` name the largest factor, `details` the estimate's figures.
 */
export function assertAffordable(estimate: CostEstimate, config: AdmissionConfig): void {
  if (estimate.cost === null || estimate.factors === null || estimate.cost <= config.maxCost) return;
  const factors = estimate.factors;
  const factor = (Object.keys(factors) as CostFactor[]).reduce((a, b) => (factors[b] > factors[a] ? b : a));
  throw new AppError(ErrorCode.QueryTooExpensive, `query is estimated too expensive to run, mostly because of its ${factor}: ${HINT[factor]}`, {
    details: {
      factor,
      estimatedCost: Math.round(estimate.cost),
      maxCost: config.maxCost,
      estimatedRows: estimate.rows,
      estimatedGroups: estimate.groups,
      filterTerms: estimate.filterTerms,
    },
  });
}
