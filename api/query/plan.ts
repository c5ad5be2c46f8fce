/**
 * The query plan: a validated `QueryRequest` resolved against the caller and the server's
 * limits, as plain JSON data. Everything that decides *what* is computed is settled here —
 * relative times resolved to absolute milliseconds, the filter in structured form, defaults
 * filled in (metrics, order, fill), the row limit capped (and why), the minimum group size,
 * the pagination position — so an engine only decides *how*. The DuckDB adapter alone turns a
 * plan into SQL (api/engine/duckdb-plan-sql.ts); the edge gateway and federation forward plans,
 * and a node that receives one plans it again from the request it stands for, under its own
 * limits (api/routes/execute-query.ts `executeForwardedPlan`), never trusting the sender's.
 *
 * Owns: the plan's shape (`QueryPlan`; `PlanSchema` describes it for other nodes and tests),
 * planning rules and the semantic checks that need no data (time range, duplicate keys, metric
 * and order names, having, select vs groupBy). Never: writes SQL, reads the clock (callers pass
 * `now`), or looks at data. Pure.
 */
import { z } from 'zod';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { DatasetId } from '../../schemas/claims.ts';
import { GroupBy, Metric, MetricRange, QueryFilter, RECORD_COLUMNS, RecordColumn, TIME_BUCKET_MS } from '../../schemas/query.ts';
import type { QueryRequest } from '../../schemas/query.ts';
import { identifiesConnections } from './connection-keys.ts';

/** Plan format version; a node refuses plans of another version. */
export const PLAN_VERSION = 1;

const SortItem = z.strictObject({ by: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/), dir: z.enum(['asc', 'desc']) });
const CellValue = z.union([z.null(), z.boolean(), z.number(), z.string().max(1024)]);

/** Plans as they travel between nodes: validated like a request before anything uses them. */
export const PlanSchema = z.strictObject({
  version: z.literal(PLAN_VERSION),
  dataset: DatasetId,
  /** `[fromMs, toMs)`, ms since the epoch. */
  fromMs: z.number().int(),
  toMs: z.number().int(),
  /** The caller's filter (structured), or null. */
  filter: QueryFilter.nullable(),
  /** The serving node's row-level restriction, ANDed with `filter` (issue 10); null = none. */
  restriction: QueryFilter.nullable(),
  kind: z.enum(['records', 'aggregate']),
  /** Records: the columns returned. */
  select: z.array(RecordColumn).max(RECORD_COLUMNS.length),
  /** Aggregates: group keys, in output order. */
  groupBy: z.array(GroupBy).max(6),
  metrics: z.array(Metric).max(64),
  order: z.array(SortItem).max(6),
  /** Rows to return at most. */
  limit: z.number().int().min(0).max(1_000_000),
  minGroupSize: z.number().int().min(1),
  other: z.boolean(),
  fill: z.boolean(),
  having: z.partialRecord(Metric, MetricRange),
  /** Records: the sort key of the last row already returned (from a cursor), or null. */
  after: z.array(CellValue).max(16).nullable(),
  /** `final`: finished values; `partial`: mergeable states (federation). */
  mode: z.enum(['final', 'partial']),
});
export type QueryPlan = z.infer<typeof PlanSchema>;

/** Why a requested limit was lowered. */
export type LimitCapReason = 'maxRecordRows' | 'maxGroupRows' | 'recordBudget';

export interface PlanLimits {
  readonly maxRecordRows: number;
  readonly maxGroupRows: number;
  readonly minGroupSize: number;
  readonly maxTimeRangeDays: number;
}

export interface PlanContext {
  /** ms since the epoch: what `now` and relative times mean. */
  readonly now: number;
  readonly limits: PlanLimits;
  /** Rows the record budget granted this request (records and per-connection aggregates), if lower than the cap. */
  readonly budgetRows?: number;
  /** The structured filter (a text filter already parsed). */
  readonly filter: QueryFilter | null;
  readonly restriction?: QueryFilter | null;
  readonly after?: QueryPlan['after'];
  readonly mode?: QueryPlan['mode'];
  /** A later page: the time range resolved at the first page (from the cursor), used as is. */
  readonly fixedTimes?: { readonly fromMs: number; readonly toMs: number };
}

export interface PlannedQuery {
  readonly plan: QueryPlan;
  /** Set when the request's `limit` (or the default) was lowered. */
  readonly limitCapped: { readonly requested: number; readonly applied: number; readonly reason: LimitCapReason } | null;
}

const DAY_MS = 86_400_000;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: DAY_MS, w: 7 * DAY_MS } as const;
const DEFAULT_METRICS = ['flows', 'packets', 'bytes'] as const;

function invalid(message: string, details?: Record<string, unknown>): AppError {
  return new AppError(ErrorCode.QueryInvalid, message, details ? { details } : undefined);
}

/**
 * One request time in ms since the epoch: ISO-8601, `now`, or `-<n><unit>`.
 * @throws AppError ERR_QUERY_INVALID naming `field` when it is none of these.
 */
export function resolveTime(text: string, now: number, field: string): number {
  if (text === 'now') return now;
  const rel = /^-([1-9][0-9]{0,5})([smhdw])$/.exec(text);
  if (rel) return now - Number(rel[1]) * UNIT_MS[rel[2] as keyof typeof UNIT_MS];
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw invalid(`${field} is not a valid time`);
  return ms;
}

/** Output name of a group key. */
export function groupKeyName(g: GroupBy): string {
  if (typeof g === 'string') return g;
  if ('timeBucket' in g) return 'time_bucket';
  return g.column === 'src_addr' ? 'src_net' : 'dst_net';
}

/** Whether a plan's keys identify single connections (scope `records`, record budget). */
export function planIsPerConnection(plan: Pick<QueryPlan, 'kind' | 'groupBy'>): boolean {
  return plan.kind === 'records' || identifiesConnections(plan.groupBy);
}

function checkTimes(fromMs: number, toMs: number, maxDays: number): void {
  if (toMs <= fromMs) throw invalid('timeRange.to must be after timeRange.from');
  if (toMs - fromMs > maxDays * DAY_MS) {
    throw new AppError(ErrorCode.QueryTooLarge, `timeRange spans more than ${maxDays} days`, { details: { maxTimeRangeDays: maxDays } });
  }
}

function capLimit(requested: number | undefined, cap: number, capReason: LimitCapReason, budget: number | undefined): { limit: number; capped: PlannedQuery['limitCapped'] } {
  const wanted = requested ?? cap;
  let limit = Math.min(wanted, cap);
  let reason: LimitCapReason | null = wanted > cap ? capReason : null;
  if (budget !== undefined && budget < limit) {
    limit = Math.max(0, budget);
    reason = 'recordBudget';
  }
  // A default limit lowered by the budget is still worth saying; the cap itself is not.
  const capped = reason !== null && (requested !== undefined || reason === 'recordBudget') ? { requested: wanted, applied: limit, reason } : null;
  return { limit, capped };
}

/**
 * Plans a validated request for one caller.
 * @throws AppError ERR_QUERY_INVALID (times, duplicate keys, a metric named like a key, order
 *   by a column not in the output, having on a metric not asked for, select or metrics on the
 *   wrong kind of query, other/fill/cursor where they do not apply), ERR_QUERY_TOO_LARGE (a
 *   time range longer than allowed).
 */
export function planQuery(req: QueryRequest, ctx: PlanContext): PlannedQuery {
  const fromMs = ctx.fixedTimes?.fromMs ?? resolveTime(req.timeRange.from, ctx.now, 'timeRange.from');
  const toMs = ctx.fixedTimes?.toMs ?? resolveTime(req.timeRange.to, ctx.now, 'timeRange.to');
  checkTimes(fromMs, toMs, ctx.limits.maxTimeRangeDays);
  const base = {
    version: PLAN_VERSION,
    dataset: req.dataset,
    fromMs,
    toMs,
    filter: ctx.filter,
    restriction: ctx.restriction ?? null,
    minGroupSize: ctx.limits.minGroupSize,
    mode: ctx.mode ?? 'final',
  } as const;

  if (req.groupBy === undefined) {
    if (req.metrics !== undefined) throw invalid('metrics need groupBy');
    for (const key of ['other', 'fill', 'having'] as const) if (req[key] !== undefined) throw invalid(`${key} applies to aggregates only (with groupBy)`);
    const select = req.select ? [...new Set(req.select)] : [...RECORD_COLUMNS];
    const order = (req.orderBy ?? []).map((o) => {
      if (!select.includes(o.by)) throw invalid('orderBy refers to a column that is not in the output');
      return { by: o.by, dir: o.dir };
    });
    const { limit, capped } = capLimit(req.limit, ctx.limits.maxRecordRows, 'maxRecordRows', ctx.budgetRows);
    const plan: QueryPlan = { ...base, kind: 'records', select, groupBy: [], metrics: [], order, limit, other: false, fill: false, having: {}, after: ctx.after ?? null };
    return { plan, limitCapped: capped };
  }

  if (req.select !== undefined) throw invalid('select applies to record listings only (no groupBy)');
  if (req.cursor !== undefined) throw invalid('cursor applies to record listings only (no groupBy)');
  const groupBy = req.groupBy;
  const keyNames = groupBy.map(groupKeyName);
  if (new Set(keyNames).size !== keyNames.length) throw invalid('groupBy lists the same key twice');
  const metrics = [...new Set(req.metrics ?? DEFAULT_METRICS)];
  // A metric named like a group key (`bytes_fwd` and the other counters are both) would give
  // two output columns one name.
  if (metrics.some((m) => keyNames.includes(m))) throw invalid('a metric has the same name as a group key');
  const outputs = new Set([...keyNames, ...metrics]);
  const order = (req.orderBy ?? []).map((o) => {
    if (!outputs.has(o.by)) throw invalid('orderBy refers to a column that is not in the output');
    return { by: o.by, dir: o.dir };
  });
  const having = req.having ?? {};
  for (const [m, r] of Object.entries(having)) {
    if (!metrics.includes(m)) throw invalid('having names a metric that is not in metrics');
    if (r !== undefined && r.min !== undefined && r.max !== undefined && r.min > r.max) throw invalid('having range has min > max');
  }
  const bucket = groupBy.find((g): g is { timeBucket: keyof typeof TIME_BUCKET_MS } => typeof g === 'object' && 'timeBucket' in g);
  const fill = req.fill ?? (bucket !== undefined && groupBy.length === 1);
  if (fill && bucket === undefined) throw invalid('fill needs a timeBucket in groupBy');
  const other = req.other ?? false;
  if (other && groupBy.length === 0) throw invalid('other needs groupBy keys (a total has nothing left over)');
  const perConnection = identifiesConnections(groupBy);
  const { limit, capped } = capLimit(req.limit, ctx.limits.maxGroupRows, 'maxGroupRows', perConnection ? ctx.budgetRows : undefined);
  const plan: QueryPlan = { ...base, kind: 'aggregate', select: [], groupBy, metrics, order, limit, other, fill, having, after: null };
  return { plan, limitCapped: capped };
}
