/**
 * The DuckDB adapter's compiler: one `QueryPlan` (api/query/plan.ts) → one parameterized
 * statement over the dataset's committed Parquet files, plus the description the row shaper
 * needs. Record listings are capped and keyset-paginated; aggregates get group keys, metrics,
 * minimum-group-size suppression, `having`, an optional `other` row, optional zero-filled time
 * buckets, order and limit.
 *
 * Owns: SQL text. It is the only module that writes query SQL: identifiers come from
 * schemas/columns.ts and the fixed tables below, every value (the file list included) is a
 * bound `$n` parameter. Never: splices a plan value into SQL text. Pure.
 *
 * Minimum group size: every aggregate row — a group, the `other` row, or the single row of a
 * no-group total — over fewer than `minGroupSize` flows is withheld; withheld groups are counted
 * in `__suppressed` (and folded into `other` when it is asked for). Filled buckets with no
 * admissible flows read as zero. Known limit: suppression cannot stop *differencing* two
 * admissible answers (see docs/POLICY.md and the governance issue's DP mode).
 */
import { FLOW_COLUMNS } from '../../schemas/columns.ts';
import { fileHourStartMs } from '../../schemas/archive.ts';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { TIME_BUCKET_MS, VALUE_METRICS, VALUE_STATS } from '../../schemas/query.ts';
import type { GroupBy, ValueName, ValueStat } from '../../schemas/query.ts';
import type { QueryParam, RowTextLayout } from '../ports.ts';
import type { QueryPlan } from '../query/plan.ts';
import { groupKeyName } from '../query/plan.ts';
import { ParamList, compileFilter } from '../query/compile-filter.ts';
import { prefixMask128 } from '../query/cidr.ts';
import type { FlowColumnName } from '../../schemas/columns.ts';
import type { StateKind } from '../query/sketches/partial-state.ts';
import { metricState } from '../query/metric-states.ts';
import type { StateInput } from '../query/metric-states.ts';
import { FLOW_RATE_INPUTS, FLOW_VALUE_SQL, distinctInput, partialAggregateSql } from './duckdb-sketch-sql.ts';
import type { StateMetricSql } from './duckdb-sketch-sql.ts';
import { rowTextSql } from './duckdb-row-text-sql.ts';

/** How the shaper turns engine columns into response columns. */
export type OutputColumn =
  | { readonly kind: 'column'; readonly name: string }
  | { readonly kind: 'net'; readonly name: string; readonly version: string; readonly hi: string; readonly lo: string; readonly prefixV4: number; readonly prefixV6: number };

export interface PlanSql {
  readonly sql: string;
  readonly params: readonly QueryParam[];
  readonly kind: QueryPlan['kind'];
  /** Rows to return at most (the statement yields one more to detect truncation). */
  readonly limit: number;
  readonly outputs: readonly OutputColumn[];
  /** Aggregates with `other`: the output column marking the other row. */
  readonly otherColumn: string | null;
  /** Records: engine columns holding each row's sort key (the cursor position), in order. */
  readonly sortKeyColumns: readonly string[];
  /** Aggregates: rows over fewer flows are withheld (the other row is checked by the shaper). */
  readonly minGroupSize: number;
  /** Aggregates: the engine column holding each row's flow count. */
  readonly flowsColumn: string;
  /** Partial answers: the state kind of each metric output (cells become state JSON). */
  readonly stateKinds: Readonly<Record<string, StateKind>> | null;
  /**
   * Records asked for with `CompileOptions.rowText`: each row comes rendered in this layout in
   * the engine column `__row` (engine/duckdb-row-text-sql.ts), the outputs' own columns are not
   * selected, and `outputTypes` gives their DuckDB types. Null: the outputs come as columns.
   */
  readonly rowText: RowTextLayout | null;
  /** With `rowText`: the DuckDB type of each output (from schemas/columns.ts). */
  readonly outputTypes: readonly string[] | null;
}

/** The engine column holding a rendered row (PlanSql `rowText`). */
export const ROW_TEXT_COLUMN = '__row';

/** Filter terms a plan may compile (the request's own cap was applied before planning). */
const MAX_FILTER_NODES = 100_000;

/** The per-flow value behind `bytes_*`, `packets_*` and `duration_*` metrics. */
const VALUE_SQL: Record<ValueName, string> = {
  bytes: '(bytes_fwd + bytes_rev)',
  packets: '(packets_fwd + packets_rev)',
  duration: "(date_diff('microsecond', time_start, time_end) / 1000.0)",
};
const STAT_SQL: Record<ValueStat, (v: string) => string> = {
  min: (v) => `min(${v})`,
  max: (v) => `max(${v})`,
  avg: (v) => `avg(${v})`,
  p50: (v) => `quantile_cont(${v}, 0.5)`,
  p95: (v) => `quantile_cont(${v}, 0.95)`,
  p99: (v) => `quantile_cont(${v}, 0.99)`,
};
const DURATION_US = "date_diff('microsecond', time_start, time_end)";
/** Metrics that are not `distinct_*` or a value statistic. */
const FIXED_METRIC_SQL: Record<string, string> = {
  flows: 'count(*)',
  packets: 'sum(packets_fwd + packets_rev)',
  bytes: 'sum(bytes_fwd + bytes_rev)',
  packets_fwd: 'sum(packets_fwd)',
  packets_rev: 'sum(packets_rev)',
  bytes_fwd: 'sum(bytes_fwd)',
  bytes_rev: 'sum(bytes_rev)',
  duration_avg_ms: `avg(${VALUE_SQL.duration})`,
  // Over the flows with a positive duration (a single-packet flow adds bytes but no time), as
  // the mergeable ratio state computes it (api/engine/duckdb-sketch-sql.ts FLOW_RATE_INPUTS).
  bps: `1000000.0 * sum(CASE WHEN ${DURATION_US} > 0 THEN 8 * (bytes_fwd + bytes_rev) END) / nullif(sum(CASE WHEN ${DURATION_US} > 0 THEN ${DURATION_US} END), 0)`,
  pps: `1000000.0 * sum(CASE WHEN ${DURATION_US} > 0 THEN packets_fwd + packets_rev END) / nullif(sum(CASE WHEN ${DURATION_US} > 0 THEN ${DURATION_US} END), 0)`,
  bpp: 'sum(bytes_fwd + bytes_rev) / nullif(sum(packets_fwd + packets_rev), 0)',
};
/** Metrics that read as 0 (not null) over no flows: counts and sums. */
const ZERO_WHEN_EMPTY = new Set(['flows', 'packets', 'bytes', 'packets_fwd', 'packets_rev', 'bytes_fwd', 'bytes_rev']);

const GROUPABLE: ReadonlySet<string> = new Set(FLOW_COLUMNS.filter((c) => c.queryable && c.kind !== 'timestamp').map((c) => c.name));
const COLUMN_TYPE: ReadonlyMap<string, string> = new Map(FLOW_COLUMNS.map((c) => [c.name, c.duckdbType]));

function invalid(message: string): AppError {
  return new AppError(ErrorCode.QueryInvalid, message);
}

/** The SQL aggregate of a metric name (validated against the metric table by the plan schema). */
export function metricSql(name: string): string {
  const fixed = FIXED_METRIC_SQL[name];
  if (fixed !== undefined) return fixed;
  if (name.startsWith('distinct_')) {
    const col = name.slice('distinct_'.length);
    if (GROUPABLE.has(col)) return `count(DISTINCT ${col})`;
  }
  const m = /^(bytes|packets|duration)_(min|max|avg|p50|p95|p99)$/.exec(name);
  if (m && Object.hasOwn(VALUE_METRICS, m[1]) && Object.hasOwn(VALUE_STATS, m[2])) return STAT_SQL[m[2] as ValueStat](VALUE_SQL[m[1] as ValueName]);
  throw invalid('unknown metric');
}

function zeroWhenEmpty(name: string): boolean {
  return ZERO_WHEN_EMPTY.has(name) || name.startsWith('distinct_');
}

/** `[fromMs, toMs)` on `time_start`, plus `date`/`hour` partition predicates (Hive pruning). */
function timePredicates(plan: QueryPlan, p: ParamList): string {
  const first = new Date(Math.floor(plan.fromMs / HOUR_MS) * HOUR_MS);
  const last = new Date(Math.floor((plan.toMs - 1) / HOUR_MS) * HOUR_MS);
  const d0 = p.add(first.toISOString().slice(0, 10));
  const d1 = p.add(last.toISOString().slice(0, 10));
  return [
    `time_start >= make_timestamp(${p.add(plan.fromMs * 1000)})`,
    `time_start < make_timestamp(${p.add(plan.toMs * 1000)})`,
    `date BETWEEN CAST(${d0} AS DATE) AND CAST(${d1} AS DATE)`,
    `(date > CAST(${d0} AS DATE) OR hour >= ${p.add(first.getUTCHours())})`,
    `(date < CAST(${d1} AS DATE) OR hour <= ${p.add(last.getUTCHours())})`,
  ].join(' AND ');
}

/** The caller's filter and the node's restriction (the time range is the source's). */
function wherePredicate(plan: QueryPlan, p: ParamList): string {
  const terms: string[] = [];
  if (plan.filter !== null) terms.push(compileFilter(plan.filter, p, MAX_FILTER_NODES));
  if (plan.restriction !== null) terms.push(compileFilter(plan.restriction, p, MAX_FILTER_NODES));
  return terms.length === 0 ? 'TRUE' : terms.join(' AND ');
}

/** A dataset with no committed file (only empty runs): the same columns, no rows. */
const EMPTY_SOURCE = `(SELECT ${[
  ...FLOW_COLUMNS.map((c) => `CAST(NULL AS ${c.duckdbType}) AS ${c.name}`),
  'CAST(NULL AS DATE) AS date',
  'CAST(NULL AS INTEGER) AS hour',
  'CAST(NULL AS VARCHAR) AS filename',
  'CAST(NULL AS BIGINT) AS file_row_number',
].join(', ')} WHERE false)`;

const HOUR_MS = 3_600_000;

/**
 * The flows of `files` inside the plan's time range. A file's flows all start within the hour
 * its path files it under (schemas/archive.ts `fileHourStartMs`), so files whose hour the range
 * covers whole are read without a time predicate — DuckDB would otherwise read and test
 * `time_start` for every row (measured: 2.3× the cost of a top-10 over a day) — and only the
 * files at the range's edges (or without the layout) are filtered by time.
 */
function source(plan: QueryPlan, files: readonly string[], p: ParamList, rowIds: boolean, o: CompileOptions): string {
  if (files.length === 0) return EMPTY_SOURCE;
  const covered: string[] = [];
  const edge: string[] = [];
  for (const f of files) {
    const hour = fileHourStartMs(f);
    if (hour !== null && hour >= plan.fromMs && hour + HOUR_MS <= plan.toMs) covered.push(f);
    else edge.push(f);
  }
  const ids = rowIds ? ', filename = true, file_row_number = true' : '';
  // Files of the current schema version have every column the compiler names, read as they
  // are (unifying files by column name costs ~4 % of a scan). Older files are unified by name
  // and with the typed empty source, so a column none of them has reads as NULL.
  const current = o.currentSchema === true;
  const read = (list: string[]): string => {
    const r = `read_parquet(${p.add(list)}, hive_partitioning = true, hive_types = {'date': 'DATE', 'hour': 'INTEGER'}${current ? '' : ', union_by_name = true'}${ids})`;
    return current ? r : `(SELECT * FROM ${EMPTY_SOURCE} UNION ALL BY NAME SELECT * FROM ${r})`;
  };
  if (edge.length === 0) return read(covered);
  const edged = (): string => {
    const from = read(edge);
    return `SELECT * FROM ${from} WHERE ${timePredicates(plan, p)}`;
  };
  if (covered.length === 0) return `(${edged()})`;
  const all = read(covered);
  return `(SELECT * FROM ${all} UNION ALL BY NAME ${edged()})`;
}

interface KeySql {
  /** SELECT items computing the keys from flow columns. */
  readonly selects: string[];
  /** The items of `selects` that compute a new column (time buckets, prefixes). */
  readonly derived: string[];
  /** Engine columns of each key (one, or three for a prefix). */
  readonly columns: string[];
  readonly outputs: OutputColumn[];
  /** Output name → ORDER BY expression (`{dir}` replaced by the direction). */
  readonly orderExpr: Map<string, string>;
}

function groupKeys(groupBy: readonly GroupBy[], p: ParamList): KeySql {
  const keys: KeySql = { selects: [], derived: [], columns: [], outputs: [], orderExpr: new Map() };
  groupBy.forEach((g, i) => {
    const name = groupKeyName(g);
    if (typeof g === 'string') {
      if (!GROUPABLE.has(g)) throw invalid('groupBy names a column that cannot be grouped on');
      keys.selects.push(g);
      keys.columns.push(g);
      keys.outputs.push({ kind: 'column', name });
      keys.orderExpr.set(name, g);
    } else if ('timeBucket' in g) {
      const micros = TIME_BUCKET_MS[g.timeBucket] * 1000;
      const sel = `time_bucket(to_microseconds(${p.add(micros)}), time_start, TIMESTAMP '1970-01-01') AS time_bucket`;
      keys.selects.push(sel);
      keys.derived.push(sel);
      keys.columns.push('time_bucket');
      keys.outputs.push({ kind: 'column', name });
      keys.orderExpr.set(name, 'time_bucket');
    } else {
      const side = g.column === 'src_addr' ? 'src' : 'dst';
      const [, m4Lo] = prefixMask128(96 + g.prefixV4);
      const [m6Hi, m6Lo] = prefixMask128(g.prefixV6);
      const v = `__k${i}_v`;
      const hi = `__k${i}_hi`;
      const lo = `__k${i}_lo`;
      const sels = [
        `ip_version AS ${v}`,
        `CASE WHEN ip_version = 4 THEN ${side}_addr_hi ELSE ${side}_addr_hi & ${p.add(m6Hi)} END AS ${hi}`,
        `CASE WHEN ip_version = 4 THEN ${side}_addr_lo & ${p.add(m4Lo)} ELSE ${side}_addr_lo & ${p.add(m6Lo)} END AS ${lo}`,
      ];
      keys.selects.push(...sels);
      keys.derived.push(...sels);
      keys.columns.push(v, hi, lo);
      keys.outputs.push({ kind: 'net', name, version: v, hi, lo, prefixV4: g.prefixV4, prefixV6: g.prefixV6 });
      keys.orderExpr.set(name, `${v} {dir}, ${hi} {dir}, ${lo}`);
    }
  });
  const names = keys.outputs.map((o) => o.name);
  if (new Set(names).size !== names.length) throw invalid('groupBy lists the same key twice');
  return keys;
}

function orderItems(plan: QueryPlan, known: Map<string, string>): string[] {
  return plan.order.map((o) => {
    const expr = known.get(o.by);
    if (expr === undefined) throw invalid('orderBy refers to a column that is not in the output');
    const dir = o.dir === 'asc' ? 'ASC' : 'DESC';
    return `${expr.replaceAll('{dir}', dir)} ${dir} NULLS LAST`;
  });
}

/**
 * Records: user order, then `time_start`, `time_end`, and the file and row number (a total
 * order, so a cursor names one position). The row after the cursor's position is found by the
 * expanded lexicographic comparison `k1 > v1 OR (k1 = v1 AND (k2 > v2 OR ...))`, NULLS LAST.
 */
function compileRecords(plan: QueryPlan, files: readonly string[], o: CompileOptions): PlanSql {
  const p = new ParamList();
  const from = source(plan, files, p, true, o);
  const cols = plan.select;
  if (cols.length === 0) throw invalid('a record listing selects no columns');
  for (const c of cols) if (!COLUMN_TYPE.has(c)) throw invalid('select names an unknown column');
  const sort: { expr: string; dir: 'asc' | 'desc'; type: string; cast: (ph: string) => string }[] = [];
  const seen = new Set<string>();
  const addSort = (col: string, dir: 'asc' | 'desc'): void => {
    if (seen.has(col)) return;
    seen.add(col);
    const type = col === 'filename' ? 'VARCHAR' : col === 'file_row_number' ? 'BIGINT' : (COLUMN_TYPE.get(col) ?? '');
    if (type === '') throw invalid('orderBy refers to a column that is not in the output');
    if (type === 'TIMESTAMP') sort.push({ expr: `epoch_us(${col})`, dir, type: 'BIGINT', cast: (ph) => `CAST(${ph} AS BIGINT)` });
    else sort.push({ expr: col, dir, type, cast: (ph) => `CAST(${ph} AS ${type})` });
  };
  for (const o of plan.order) {
    if (!cols.includes(o.by)) throw invalid('orderBy refers to a column that is not in the output');
    addSort(o.by, o.dir);
  }
  addSort('time_start', 'asc');
  addSort('time_end', 'asc');
  addSort('filename', 'asc');
  addSort('file_row_number', 'asc');
  const where = [wherePredicate(plan, p)];
  if (plan.after !== null) {
    if (plan.after.length !== sort.length) throw new AppError(ErrorCode.QueryCursorInvalid, 'cursor does not belong to this query');
    let cond = 'FALSE';
    for (let i = sort.length - 1; i >= 0; i -= 1) {
      const s = sort[i];
      const v = plan.after[i];
      const cmp = s.dir === 'asc' ? '>' : '<';
      const ph = v === null ? '' : s.cast(p.add(v));
      // NULLS LAST: after a value come larger (smaller) values and every null; after a null, only nulls.
      const after = v === null ? 'FALSE' : `(${s.expr} IS NULL OR ${s.expr} ${cmp} ${ph})`;
      const equal = v === null ? `${s.expr} IS NULL` : `${s.expr} = ${ph}`;
      cond = i === sort.length - 1 ? after : `(${after} OR (${equal} AND ${cond}))`;
    }
    where.push(cond);
  }
  const sortCols = sort.map((_, i) => `__s${i}`);
  const selects = [...cols, ...sort.map((s, i) => `${s.expr} AS ${sortCols[i]}`)];
  const order = sort.map((s, i) => `${sortCols[i]} ${s.dir === 'asc' ? 'ASC' : 'DESC'} NULLS LAST`).join(', ');
  let sql = `SELECT ${selects.join(', ')} FROM ${from} WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ${p.add(plan.limit + 1)}`;
  // Rendered rows (only over files of the current schema, whose column types are the table's):
  // rendered outside the top-N, so only the rows kept are, in the same order.
  const types = cols.map((c) => COLUMN_TYPE.get(c)!);
  const text = o.rowText !== undefined && o.currentSchema === true ? rowTextSql(o.rowText, cols.map((name, i) => ({ name, type: types[i]! }))) : null;
  if (text !== null) sql = `SELECT ${text} AS ${ROW_TEXT_COLUMN}, ${sortCols.join(', ')} FROM (${sql}) ORDER BY ${order}`;
  return {
    sql,
    params: p.values,
    kind: 'records',
    limit: plan.limit,
    outputs: cols.map((name) => ({ kind: 'column', name })),
    otherColumn: null,
    sortKeyColumns: sortCols,
    minGroupSize: plan.minGroupSize,
    flowsColumn: '__flows',
    stateKinds: null,
    rowText: text === null ? null : o.rowText!,
    outputTypes: text === null ? null : types,
  };
}

function rangeSql(expr: string, r: { min?: number | undefined; max?: number | undefined }, p: ParamList): string[] {
  const out: string[] = [];
  if (r.min !== undefined) out.push(`${expr} >= ${p.add(r.min)}`);
  if (r.max !== undefined) out.push(`${expr} <= ${p.add(r.max)}`);
  return out;
}

/** What every aggregate starts from: the source, the filter, the keys and the checked metrics. */
function aggregateParts(plan: QueryPlan, files: readonly string[], o: CompileOptions): { p: ParamList; from: string; where: string; keys: KeySql; metrics: readonly string[] } {
  const p = new ParamList();
  const from = source(plan, files, p, false, o);
  const where = wherePredicate(plan, p);
  const keys = groupKeys(plan.groupBy, p);
  const metrics = plan.metrics;
  if (metrics.length === 0) throw invalid('an aggregate needs at least one metric');
  if (metrics.some((m) => keys.orderExpr.has(m))) throw invalid('a metric has the same name as a group key');
  return { p, from, where, keys, metrics };
}

function compileAggregate(plan: QueryPlan, files: readonly string[], o: CompileOptions): PlanSql {
  const { p, from, where, keys, metrics } = aggregateParts(plan, files, o);
  const metricSelects = metrics.map((m) => `${metricSql(m)} AS ${m}`);
  const known = new Map(keys.orderExpr);
  for (const m of metrics) known.set(m, m);
  const bucket = plan.groupBy.find((g) => typeof g === 'object' && 'timeBucket' in g) as { timeBucket: keyof typeof TIME_BUCKET_MS } | undefined;
  // A total order over groups (every key last), so `LIMIT` and the other row agree on which
  // groups were shown.
  const fallback = [
    ...(bucket ? ['time_bucket ASC'] : []),
    `${metrics[0]} DESC NULLS LAST`,
    ...[...keys.orderExpr.values()].map((e) => `${e.replaceAll('{dir}', 'ASC')} ASC NULLS LAST`),
  ];
  const order = [...orderItems(plan, known), ...fallback].join(', ');
  const k = p.add(plan.minGroupSize);
  const having: string[] = [];
  for (const [m, r] of Object.entries(plan.having)) {
    if (!metrics.includes(m)) throw invalid('having names a metric that is not in metrics');
    if (r !== undefined) having.push(...rangeSql(m, r, p));
  }
  const visible = [`__flows >= ${k}`, ...having].join(' AND ');
  const limit = plan.limit;
  const groupSel = [...keys.selects, ...metricSelects, 'count(*) AS __flows'].join(', ');
  const ctes: string[] = [];
  const keyCols = keys.columns;
  const sameKeys = (a: string, b: string): string => (keyCols.length === 0 ? 'TRUE' : keyCols.map((c) => `${a}.${c} IS NOT DISTINCT FROM ${b}.${c}`).join(' AND '));

  if (plan.other) {
    // The filtered flows with their computed keys, read twice: grouped, and for what the shown
    // groups leave over.
    ctes.push(`base AS (SELECT ${['*', ...keys.derived].join(', ')} FROM ${from} WHERE ${where})`);
    ctes.push(`g AS (SELECT ${[...keyCols, ...metricSelects, 'count(*) AS __flows'].join(', ')} FROM base GROUP BY ${keyCols.join(', ')})`);
  } else {
    ctes.push(`g AS (SELECT ${groupSel} FROM ${from} WHERE ${where} GROUP BY ALL)`);
  }
  ctes.push(`s AS (SELECT count(*) AS __suppressed FROM g WHERE __flows < ${k})`);
  let rowsFrom = `(SELECT * FROM g WHERE ${visible})`;
  if (plan.fill && bucket) {
    const width = TIME_BUCKET_MS[bucket.timeBucket];
    const b0 = Math.floor(plan.fromMs / width) * width;
    const b1 = Math.floor((plan.toMs - 1) / width) * width;
    const otherKeyCols = keyCols.filter((c) => c !== 'time_bucket');
    ctes.push(`vis AS ${rowsFrom}`);
    ctes.push(`buckets AS (SELECT unnest(generate_series(make_timestamp(${p.add(b0 * 1000)}), make_timestamp(${p.add(b1 * 1000)}), to_microseconds(${p.add(width * 1000)}))) AS time_bucket)`);
    ctes.push(otherKeyCols.length ? `combos AS (SELECT DISTINCT ${otherKeyCols.join(', ')} FROM vis)` : 'combos AS (SELECT 1 AS __one)');
    const filledMetrics = metrics.map((m) => (zeroWhenEmpty(m) ? `coalesce(vis.${m}, 0) AS ${m}` : `vis.${m} AS ${m}`));
    const join = ['vis.time_bucket = buckets.time_bucket', ...otherKeyCols.map((c) => `vis.${c} IS NOT DISTINCT FROM combos.${c}`)].join(' AND ');
    ctes.push(
      `filled AS (SELECT ${[...keyCols.map((c) => (c === 'time_bucket' ? 'buckets.time_bucket' : `combos.${c}`)), ...filledMetrics, 'coalesce(vis.__flows, 0) AS __flows'].join(', ')} ` +
        `FROM buckets CROSS JOIN combos LEFT JOIN vis ON ${join})`,
    );
    rowsFrom = 'filled';
  }
  ctes.push(`top AS (SELECT * FROM ${rowsFrom} ORDER BY ${order} LIMIT ${p.add(limit + 1)})`);
  const outputs: OutputColumn[] = [...keys.outputs, ...metrics.map((name): OutputColumn => ({ kind: 'column', name }))];
  let sql: string;
  if (plan.other) {
    ctes.push(`shown AS (SELECT * FROM top ORDER BY ${order} LIMIT ${p.add(limit)})`);
    // Filled buckets (no admissible flows) show nothing, so their flows stay in the rest.
    ctes.push(`rest AS (SELECT ${[...metricSelects, 'count(*) AS __flows'].join(', ')} FROM base WHERE NOT EXISTS (SELECT 1 FROM shown WHERE shown.__flows > 0 AND ${sameKeys('shown', 'base')}))`);
    const nulls = keyCols.map((c) => `NULL AS ${c}`);
    sql =
      `WITH ${ctes.join(', ')} ` +
      `SELECT u.*, s.__suppressed FROM s LEFT JOIN (` +
      `SELECT *, FALSE AS __other, 0 AS __part FROM top ` +
      `UNION ALL BY NAME SELECT ${[...nulls, ...metrics, '__flows', 'TRUE AS __other', '1 AS __part'].join(', ')} FROM rest WHERE __flows > 0` +
      `) u ON TRUE ORDER BY __part, ${order}`;
  } else {
    sql = `WITH ${ctes.join(', ')} SELECT top.*, s.__suppressed FROM s LEFT JOIN top ON TRUE ORDER BY ${order}`;
  }
  return { sql, params: p.values, kind: 'aggregate', limit, outputs, otherColumn: plan.other ? '__other' : null, sortKeyColumns: [], minGroupSize: plan.minGroupSize, flowsColumn: '__flows', stateKinds: null, rowText: null, outputTypes: null };
}

/**
 * Compiles a plan over `files`, the dataset's committed Parquet files (only files listed in
 * verified manifests; bound as one parameter). An empty list reads nothing.
 * @throws AppError ERR_QUERY_INVALID for a plan that names unknown columns or metrics, orders
 *   by a column not in the output, or repeats a key; ERR_QUERY_CURSOR_INVALID for a position
 *   of the wrong length; ERR_QUERY_FILTER_INVALID from the filter.
 */
export function compilePlan(plan: QueryPlan, files: readonly string[], options: CompileOptions = {}): PlanSql {
  if (plan.kind === 'records') return compileRecords(plan, files, options);
  return plan.mode === 'partial' ? compilePartial(plan, files, options) : compileAggregate(plan, files, options);
}

/** What the engine knows about the files beyond their paths. */
export interface CompileOptions {
  /**
   * Every file is of the current schema version (schemas/columns.ts SCHEMA_VERSION; their run
   * manifests say so), so each has every column: read as they are. Otherwise (the default)
   * files are unified by column name, a column a file lacks reading as NULL.
   */
  readonly currentSchema?: boolean;
  /**
   * Record listings: render each row as text in this layout inside DuckDB (PlanSql `rowText`).
   * Applied only with `currentSchema` (and only when every selected column has a text form).
   */
  readonly rowText?: RowTextLayout;
}

/** Per-flow inputs of metric states, by the names api/query/metric-states.ts uses. */
const STATE_VALUE_SQL: Record<Extract<StateInput, { of: 'value' }>['value'], string> = {
  bytes: FLOW_VALUE_SQL.bytes,
  packets: FLOW_VALUE_SQL.packets,
  durationUs: FLOW_VALUE_SQL.durationUs,
  durationMs: FLOW_VALUE_SQL.durationMs,
  bytes_fwd: 'bytes_fwd',
  bytes_rev: 'bytes_rev',
  packets_fwd: 'packets_fwd',
  packets_rev: 'packets_rev',
};
const STATE_RATE_SQL: Record<Extract<StateInput, { of: 'rate' }>['rate'], { numeratorSql: string; denominatorSql: string }> = {
  bps: FLOW_RATE_INPUTS.bps,
  pps: FLOW_RATE_INPUTS.pps,
  bpp: { numeratorSql: FLOW_VALUE_SQL.bytes, denominatorSql: FLOW_VALUE_SQL.packets },
};

function stateMetricSql(name: string): StateMetricSql {
  const m = metricState(name);
  const input = m.input;
  switch (input.of) {
    case 'flows':
      return { name, kind: 'count' };
    case 'column':
      return { name, kind: 'distinct', ...distinctInput(input.column as FlowColumnName) };
    case 'rate':
      return { name, kind: 'ratio', ...STATE_RATE_SQL[input.rate] };
    case 'value': {
      const valueSql = STATE_VALUE_SQL[input.value];
      if (m.kind === 'quantile') return { name, kind: 'quantile', valueSql };
      if (m.kind === 'sum' || m.kind === 'min' || m.kind === 'max' || m.kind === 'avg') return { name, kind: m.kind, valueSql };
      throw invalid('metric has no partial state');
    }
  }
}

/**
 * Partial answers (federation): per group the mergeable state of every metric
 * (engine/duckdb-sketch-sql.ts), groups under the minimum size withheld and counted, all groups
 * in key order up to the limit. No order, other row, fill or having: those apply after merging.
 */
function compilePartial(plan: QueryPlan, files: readonly string[], o: CompileOptions): PlanSql {
  if (plan.other || plan.fill || Object.keys(plan.having).length > 0 || plan.order.length > 0) {
    throw invalid('partial answers take group keys and metrics only (order, other, fill and having apply after merging)');
  }
  const { p, from, where, keys, metrics } = aggregateParts(plan, files, o);
  // Key expressions by their engine column names (`__k0_v` → `k0_v`: the builder wants plain identifiers).
  const keyName = (c: string): string => c.replace(/^__/, '');
  const keySql = keys.selects.map((sel, i) => {
    const m = / AS ([a-z_0-9]+)$/.exec(sel);
    const col = keys.columns[i]!;
    return { name: keyName(col), sql: m ? sel.slice(0, m.index) : sel };
  });
  const spec = partialAggregateSql({ keys: keySql, metrics: [...metrics.map(stateMetricSql), { name: 'zz_flows', kind: 'count' }], from, where });
  const k = p.add(plan.minGroupSize);
  const order = keySql.length ? `ORDER BY ${keySql.map((x) => `${x.name} ASC NULLS LAST`).join(', ')} ` : '';
  const sql =
    `WITH __p AS (SELECT * FROM (${spec.sql})), __q AS (SELECT count(*) AS __suppressed FROM __p WHERE zz_flows < ${k}) ` +
    `SELECT __p.*, __q.__suppressed FROM __q LEFT JOIN __p ON __p.zz_flows >= ${k} ${order}LIMIT ${p.add(plan.limit + 1)}`;
  const outputs: OutputColumn[] = [
    ...keys.outputs.map((o): OutputColumn => (o.kind === 'net' ? { ...o, version: keyName(o.version), hi: keyName(o.hi), lo: keyName(o.lo) } : o)),
    ...metrics.map((name): OutputColumn => ({ kind: 'column', name })),
  ];
  const stateKinds = Object.fromEntries(metrics.map((m, i) => [m, spec.kinds[i]!]));
  return { sql, params: p.values, kind: 'aggregate', limit: plan.limit, outputs, otherColumn: null, sortKeyColumns: [], minGroupSize: plan.minGroupSize, flowsColumn: 'zz_flows', stateKinds, rowText: null, outputTypes: null };
}
