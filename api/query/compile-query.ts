/**
 * Compiles a validated `QueryRequest` into one parameterized DuckDB statement over the
 * dataset's Parquet files: a capped record listing, or an aggregate with group keys, metrics,
 * minimum-group-size suppression, order and limit.
 *
 * Owns: SQL shape, the time-range and partition-pruning predicates, prefix masks, metric
 * aggregates, ordering rules and the output description the result shaper needs. Never: puts
 * a user-supplied string into SQL text — identifiers come from schemas/columns.ts and the
 * fixed tables below, values (the dataset's committed file list included) are bound `$n` parameters. Pure.
 *
 * Minimum group size: every aggregate row — a group, or the single row of a no-group total
 * (`groupBy: []`) — over fewer than `minGroupSize` flows is withheld and counted in
 * `__suppressed`. Key sets that identify single connections are not this module's concern:
 * api/routes/execute-query.ts gates them (connection-keys.ts) behind the `records` scope and the
 * record budget. Known limit: suppression cannot stop *differencing*. Two admissible
 * aggregates whose filters differ by one flow (e.g. a total with and without
 * `not: { srcNet: a/32, srcPort: p }`) each cover ≥ minGroupSize flows, yet their difference is
 * that one flow's metrics. Closing this needs noise (differential privacy) or query auditing
 * across requests, which this compiler does not do; suppression only guarantees that no single
 * response row describes fewer than `minGroupSize` flows.
 */
import type { GroupBy, Metric, QueryRequest } from '../../schemas/query.ts';
import { RECORD_COLUMNS } from '../../schemas/query.ts';
import { FLOW_COLUMNS } from '../../schemas/columns.ts';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { CompiledSql } from '../ports.ts';
import { ParamList, compileFilter } from './compile-filter.ts';
import { prefixMask128 } from './cidr.ts';

/** How the shaper turns engine columns into response columns. */
export type OutputColumn =
  | { readonly kind: 'column'; readonly name: string }
  | { readonly kind: 'net'; readonly name: string; readonly version: string; readonly hi: string; readonly lo: string; readonly prefixV4: number; readonly prefixV6: number };

export interface CompiledQuery extends CompiledSql {
  readonly kind: 'records' | 'aggregate';
  /** Rows to return at most (the SQL asks for one more, to detect truncation). */
  readonly limit: number;
  readonly outputs: readonly OutputColumn[];
}

export interface CompileLimits {
  /** Record rows this request may return (config cap, already reduced by the subject's budget). */
  readonly recordRows: number;
  readonly groupRows: number;
  readonly minGroupSize: number;
  readonly maxTimeRangeDays: number;
  readonly maxFilterNodes: number;
}

const METRIC_SQL: Record<Metric, string> = {
  flows: 'count(*)',
  packets: 'sum(packets_fwd + packets_rev)',
  bytes: 'sum(bytes_fwd + bytes_rev)',
  packets_fwd: 'sum(packets_fwd)',
  packets_rev: 'sum(packets_rev)',
  bytes_fwd: 'sum(bytes_fwd)',
  bytes_rev: 'sum(bytes_rev)',
  distinct_src_addr: 'count(DISTINCT src_addr)',
  distinct_dst_addr: 'count(DISTINCT dst_addr)',
  distinct_src_port: 'count(DISTINCT src_port)',
  distinct_dst_port: 'count(DISTINCT dst_port)',
  duration_avg_ms: "avg(date_diff('microsecond', time_start, time_end)) / 1000.0",
  bytes_p50: 'quantile_cont(bytes_fwd + bytes_rev, 0.5)',
  bytes_p95: 'quantile_cont(bytes_fwd + bytes_rev, 0.95)',
};

const BUCKET_SQL = { '1m': "INTERVAL '1 minute'", '5m': "INTERVAL '5 minutes'", '1h': "INTERVAL '1 hour'", '1d': "INTERVAL '1 day'" } as const;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

function invalid(message: string): AppError {
  return new AppError(ErrorCode.QueryInvalid, message);
}

/** Time predicate on `time_start` plus `date`/`hour` partition predicates (Hive pruning). */
function timePredicates(req: QueryRequest, maxDays: number, p: ParamList): string {
  const fromMs = Date.parse(req.timeRange.from);
  const toMs = Date.parse(req.timeRange.to);
  if (!Number.isFinite(fromMs) || !Number.isFinite(toMs)) throw invalid('timeRange is not a valid date');
  if (toMs <= fromMs) throw invalid('timeRange.to must be after timeRange.from');
  if (toMs - fromMs > maxDays * DAY_MS) {
    throw new AppError(ErrorCode.QueryTooLarge, `timeRange spans more than ${maxDays} days`, { details: { maxTimeRangeDays: maxDays } });
  }
  const first = new Date(Math.floor(fromMs / HOUR_MS) * HOUR_MS);
  const last = new Date(Math.floor((toMs - 1) / HOUR_MS) * HOUR_MS);
  const d0 = p.add(first.toISOString().slice(0, 10));
  const d1 = p.add(last.toISOString().slice(0, 10));
  return [
    `time_start >= make_timestamp(${p.add(fromMs * 1000)})`,
    `time_start < make_timestamp(${p.add(toMs * 1000)})`,
    `date BETWEEN CAST(${d0} AS DATE) AND CAST(${d1} AS DATE)`,
    `(date > CAST(${d0} AS DATE) OR hour >= ${p.add(first.getUTCHours())})`,
    `(date < CAST(${d1} AS DATE) OR hour <= ${p.add(last.getUTCHours())})`,
  ].join(' AND ');
}

/** A dataset with no committed file (only empty runs): the same columns, no rows. */
const EMPTY_SOURCE = `(SELECT ${[...FLOW_COLUMNS.map((c) => `CAST(NULL AS ${c.duckdbType}) AS ${c.name}`), 'CAST(NULL AS DATE) AS date', 'CAST(NULL AS INTEGER) AS hour'].join(', ')} WHERE false)`;

function source(files: readonly string[], p: ParamList): string {
  if (files.length === 0) return EMPTY_SOURCE;
  return `read_parquet(${p.add(files)}, hive_partitioning = true, hive_types = {'date': 'DATE', 'hour': 'INTEGER'}, union_by_name = true)`;
}

interface KeySql {
  readonly selects: string[];
  readonly outputs: OutputColumn[];
  /** Output name → ORDER BY expression(s). */
  readonly orderExpr: Map<string, string>;
}

function groupKeys(groupBy: readonly GroupBy[], p: ParamList): KeySql {
  const keys: KeySql = { selects: [], outputs: [], orderExpr: new Map() };
  groupBy.forEach((g, i) => {
    if (typeof g === 'string') {
      keys.selects.push(g);
      keys.outputs.push({ kind: 'column', name: g });
      keys.orderExpr.set(g, g);
    } else if ('timeBucket' in g) {
      keys.selects.push(`time_bucket(${BUCKET_SQL[g.timeBucket]}, time_start) AS time_bucket`);
      keys.outputs.push({ kind: 'column', name: 'time_bucket' });
      keys.orderExpr.set('time_bucket', 'time_bucket');
    } else {
      const side = g.column === 'src_addr' ? 'src' : 'dst';
      const [, m4Lo] = prefixMask128(96 + g.prefixV4);
      const [m6Hi, m6Lo] = prefixMask128(g.prefixV6);
      const v = `__k${i}_v`;
      const hi = `__k${i}_hi`;
      const lo = `__k${i}_lo`;
      keys.selects.push(
        `ip_version AS ${v}`,
        `CASE WHEN ip_version = 4 THEN ${side}_addr_hi ELSE ${side}_addr_hi & ${p.add(m6Hi)} END AS ${hi}`,
        `CASE WHEN ip_version = 4 THEN ${side}_addr_lo & ${p.add(m4Lo)} ELSE ${side}_addr_lo & ${p.add(m6Lo)} END AS ${lo}`,
      );
      const name = `${side}_net`;
      keys.outputs.push({ kind: 'net', name, version: v, hi, lo, prefixV4: g.prefixV4, prefixV6: g.prefixV6 });
      keys.orderExpr.set(name, `${v} {dir}, ${hi} {dir}, ${lo}`);
    }
  });
  const names = keys.outputs.map((o) => o.name);
  if (new Set(names).size !== names.length) throw invalid('groupBy lists the same key twice');
  return keys;
}

function orderClause(req: QueryRequest, known: Map<string, string>, fallback: string[]): string {
  const items = (req.orderBy ?? []).map((o) => {
    const expr = known.get(o.by);
    if (expr === undefined) throw invalid('orderBy refers to a column that is not in the output');
    const dir = o.dir === 'asc' ? 'ASC' : 'DESC';
    return `${expr.replaceAll('{dir}', dir)} ${dir} NULLS LAST`;
  });
  return [...items, ...fallback].join(', ');
}

function compileRecords(req: QueryRequest, limits: CompileLimits, files: readonly string[]): CompiledQuery {
  const p = new ParamList();
  const from = source(files, p);
  const where = `${timePredicates(req, limits.maxTimeRangeDays, p)} AND ${compileFilter(req.filter, p, limits.maxFilterNodes)}`;
  const cols = req.select ? [...new Set(req.select)] : [...RECORD_COLUMNS];
  const known = new Map(cols.map((c) => [c, c]));
  const order = orderClause(req, known, ['time_start ASC', 'time_end ASC']);
  const limit = Math.max(0, Math.min(req.limit ?? limits.recordRows, limits.recordRows));
  const sql = `SELECT ${cols.join(', ')} FROM ${from} WHERE ${where} ORDER BY ${order} LIMIT ${p.add(limit + 1)}`;
  return { kind: 'records', sql, params: p.values, limit, outputs: cols.map((name) => ({ kind: 'column', name })) };
}

function compileAggregate(req: QueryRequest, groupBy: readonly GroupBy[], limits: CompileLimits, files: readonly string[]): CompiledQuery {
  const p = new ParamList();
  const from = source(files, p);
  const where = `${timePredicates(req, limits.maxTimeRangeDays, p)} AND ${compileFilter(req.filter, p, limits.maxFilterNodes)}`;
  const keys = groupKeys(groupBy, p);
  const metrics = [...new Set(req.metrics ?? (['flows', 'packets', 'bytes'] as const))];
  // A metric named like a group key (`bytes_fwd` and the other counters are both) would give
  // two output columns one name: the engine renames one and the shaper would return the key twice.
  if (metrics.some((m) => keys.orderExpr.has(m))) throw invalid('a metric has the same name as a group key');
  const metricSelects = metrics.map((m) => `${METRIC_SQL[m]} AS ${m}`);
  const known = new Map(keys.orderExpr);
  for (const m of metrics) known.set(m, m);
  const hasBucket = groupBy.some((g) => typeof g === 'object' && 'timeBucket' in g);
  const fallback = [
    ...(hasBucket ? ['time_bucket ASC'] : []),
    `${metrics[0]} DESC NULLS LAST`,
    ...[...keys.orderExpr.values()].map((e) => `${e.replaceAll('{dir}', 'ASC')} ASC NULLS LAST`),
  ];
  const order = orderClause(req, known, fallback);
  const limit = Math.min(req.limit ?? limits.groupRows, limits.groupRows);
  const k = p.add(limits.minGroupSize);
  const sql =
    `WITH g AS (SELECT ${[...keys.selects, ...metricSelects, 'count(*) AS __flows'].join(', ')} ` +
    `FROM ${from} WHERE ${where} GROUP BY ALL), ` +
    `s AS (SELECT count(*) AS __suppressed FROM g WHERE __flows < ${k}) ` +
    `SELECT g.*, s.__suppressed FROM s LEFT JOIN g ON g.__flows >= ${k} ` +
    `ORDER BY ${order} LIMIT ${p.add(limit + 1)}`;
  const outputs: OutputColumn[] = [...keys.outputs, ...metrics.map((name): OutputColumn => ({ kind: 'column', name }))];
  return { kind: 'aggregate', sql, params: p.values, limit, outputs };
}

/**
 * Compiles a validated request. `files` are the dataset's committed Parquet files from the
 * engine (`QueryEngine.datasetFiles`: only files listed in verified manifests); the list is
 * bound as a parameter, not spliced. An empty list reads nothing (a typed empty relation).
 * @throws AppError ERR_QUERY_INVALID (bad time range, unknown orderBy, duplicate keys, a metric
 *   named like a group key),
 *   ERR_QUERY_TOO_LARGE (time range longer than allowed), ERR_QUERY_FILTER_INVALID.
 */
export function compileQuery(req: QueryRequest, limits: CompileLimits, files: readonly string[]): CompiledQuery {
  if (req.groupBy === undefined) {
    if (req.metrics !== undefined) throw invalid('metrics need groupBy');
    return compileRecords(req, limits, files);
  }
  if (req.select !== undefined) throw invalid('select applies to record listings only (no groupBy)');
  return compileAggregate(req, req.groupBy, limits, files);
}
