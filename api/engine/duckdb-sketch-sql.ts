/**
 * DuckDB SQL that computes partial aggregate states (api/query/sketches/partial-state.ts) per
 * group in one statement and one scan, and the readers that turn the result cells into states.
 *
 * Shape of the statement `partialAggregateSql` builds (J = number of sketch metrics):
 *
 *   WITH __src AS (SELECT <key_i> AS __k<i>, <per-metric row inputs> FROM <from> [WHERE <where>]),
 *        __rows AS (SELECT *, <sketch sub-keys: HLL register / DDSketch bucket> FROM __src),
 *        __part AS (SELECT __k.., __s.., GROUPING(__s0..) AS __g, count(*) AS __c, <aggregates>
 *                   FROM __rows GROUP BY GROUPING SETS ((__k..), (__k.., __s0), (__k.., __s1), ..))
 *   SELECT __k<i> AS <key name>, .., <state of metric j, from the rows of its grouping set> AS <name>
 *   FROM __part GROUP BY __k..
 *
 * The set (__k..) carries the plain aggregates (count, sum, min, max); the set (__k.., __sj)
 * carries sketch j: max(ρ) per HLL register, count per DDSketch bucket. The outer query picks
 * each metric's rows with FILTER (WHERE __g = <that set's GROUPING id>). Measured on 2 M rows
 * (bench/sketch.bench.ts) this single scan beats one sub-aggregate per sketch joined on the
 * keys, and single-level `histogram()` / `list(DISTINCT)` aggregates by 2-3x.
 *
 * Result cells (after api/engine/json-value.ts, as the engine returns them):
 *   count, sum, min, max → integer (number, or decimal string past 2^53; min/max NULL when no value)
 *   avg → '<sum>,<count>'    ratio → '<numerator>,<denominator>'
 *   distinct → '<register·64+ρ>,..' (NULL when no non-NULL value)
 *   quantile → '<zero count>;<min>;<max>;<bucket>:<count>,..' (min/max empty when no value)
 *
 * Owns: the SQL of hashes, registers, buckets and states, and their readers. Never: puts a
 * caller's value into SQL text — key and value expressions come from the compiler's fixed
 * tables, names are checked identifiers, constants are generated here; placeholders (`$n`) in
 * `from`/`where`/expressions pass through untouched.
 */
import { FLOW_COLUMNS, type FlowColumnName } from '../../schemas/columns.ts';
import { HLL_PRECISION, Hll, type HllValueType } from '../query/sketches/hll.ts';
import { DDSKETCH_LN_GAMMA_TEXT, DDSketch } from '../query/sketches/quantile-sketch.ts';
import type { KeyValue, PartialRowSet, StateByKind, StateKind } from '../query/sketches/partial-state.ts';
import { bigintToJson } from './json-value.ts';

/**
 * SQL text (VARCHAR) of a value per type: the SQL half of HLL_TEXT_ENCODING in hll.ts, and
 * exhaustive over the same types. Decimal digits for integers, decimal epoch microseconds for
 * timestamps, the UTF-8 text itself for VARCHAR, `true`/`false` for booleans; NULL stays NULL.
 */
export const HLL_SQL_ENCODING = {
  u8: (v: string) => `CAST(${v} AS VARCHAR)`,
  u16: (v: string) => `CAST(${v} AS VARCHAR)`,
  u32: (v: string) => `CAST(${v} AS VARCHAR)`,
  u64: (v: string) => `CAST(${v} AS VARCHAR)`,
  timestamp: (v: string) => `CAST(epoch_us(${v}) AS VARCHAR)`,
  string: (v: string) => `CAST(${v} AS VARCHAR)`,
  boolean: (v: string) => `CAST(${v} AS VARCHAR)`,
} as const satisfies { readonly [K in HllValueType]: (valueSql: string) => string };

const U64_MASK = '18446744073709551615';

/**
 * h = little-endian u64 of MD5 digest bytes 0–7 of the canonical text, as UBIGINT. DuckDB's
 * `md5_number` reads the 16 digest bytes as a little-endian UHUGEINT (checked against
 * @noble/hashes in the test), so h is its low 64 bits. (`md5_number_upper` gives the same
 * value but measured 5× slower here.)
 */
export function hllHashSql(valueSql: string, type: HllValueType): string {
  return `CAST(md5_number(${HLL_SQL_ENCODING[type](valueSql)}) & CAST(${U64_MASK} AS UHUGEINT) AS UBIGINT)`;
}

/** Register index: the top p bits of h, INTEGER. */
export function hllRegisterSql(hashSql: string, p: number = HLL_PRECISION): string {
  return `CAST(${hashSql} >> ${64 - p} AS INTEGER)`;
}

/**
 * ρ = 1 + trailing zeros of the low q = 64 − p bits of h (q + 1 when all zero), UTINYINT: with
 * w = low bits | 2^q (never 0), popcount(w XOR (w − 1)) counts the trailing zeros plus one.
 */
export function hllRhoSql(hashSql: string, p: number = HLL_PRECISION): string {
  const q = 64 - p;
  const w = `((${hashSql} & CAST(${(1n << BigInt(q)) - 1n} AS UBIGINT)) | CAST(${1n << BigInt(q)} AS UBIGINT))`;
  return `CAST(bit_count(xor(${w}, ${w} - CAST(1 AS UBIGINT))) AS UTINYINT)`;
}

/** A value as the sketch sees it: DOUBLE, negatives counted as 0, NULL kept. */
export function ddsketchValueSql(valueSql: string): string {
  return `CASE WHEN CAST(${valueSql} AS DOUBLE) < 0 THEN CAST(0 AS DOUBLE) ELSE CAST(${valueSql} AS DOUBLE) END`;
}

/** Bucket index ⌈ln x / ln γ⌉ for x > 0, NULL for 0 and NULL (x from `ddsketchValueSql`). */
export function ddsketchIndexSql(xSql: string): string {
  return `CASE WHEN ${xSql} > 0 THEN CAST(ceil(ln(${xSql}) / CAST('${DDSKETCH_LN_GAMMA_TEXT}' AS DOUBLE)) AS INTEGER) END`;
}

/** A group key: output name and SQL expression over a source row. */
export interface KeySql {
  readonly name: string;
  readonly sql: string;
}

/**
 * One metric's state. `valueSql` of sum/min/max/avg and the ratio's terms must be integer
 * valued (pass timestamps as `epoch_us(..)`); they are summed as HUGEINT, so u64 sums are exact.
 */
export type StateMetricSql =
  | { readonly name: string; readonly kind: 'count' }
  | { readonly name: string; readonly kind: 'sum' | 'min' | 'max' | 'avg'; readonly valueSql: string }
  | { readonly name: string; readonly kind: 'ratio'; readonly numeratorSql: string; readonly denominatorSql: string }
  | { readonly name: string; readonly kind: 'distinct'; readonly valueSql: string; readonly valueType: HllValueType }
  | { readonly name: string; readonly kind: 'quantile'; readonly valueSql: string };

export interface PartialAggregateSpec {
  readonly keys: readonly KeySql[];
  readonly metrics: readonly StateMetricSql[];
  /** FROM clause body, e.g. `read_parquet($1, hive_partitioning = true)`. */
  readonly from: string;
  /** WHERE condition (omit for none). */
  readonly where?: string;
}

export interface PartialAggregateSql {
  readonly sql: string;
  /** Output columns: the key names, then the metric names. */
  readonly columns: readonly string[];
  /** State kind of each metric, in order (for `readPartialRows`). */
  readonly kinds: readonly StateKind[];
}

const IDENT = /^[a-z][a-z0-9_]{0,62}$/;

interface Parts {
  src: string[];
  derived: string[];
  agg: string[];
  /** Sub-key column of each sketch metric, in order. */
  subKeys: string[];
}

type MetricOf<K extends StateKind> = StateMetricSql & { readonly kind: K };
/** Row inputs and inner aggregates of metric i; returns how to build its outer expression. */
type MetricBuilder<K extends StateKind> = (m: MetricOf<K>, i: number, parts: Parts) => (f: Filters) => string;

interface Filters {
  /** FILTER clause selecting the plain-aggregate set. */
  readonly plain: string;
  /** FILTER clause selecting sketch metric `sub`'s set (its sub-key non-NULL). */
  sketch(sub: string): string;
}

const text = (sql: string) => `CAST(${sql} AS VARCHAR)`;

function plainAggregate(fn: 'sum' | 'min' | 'max'): MetricBuilder<'sum' | 'min' | 'max'> {
  return (m, i, parts) => {
    parts.src.push(`CAST(${m.valueSql} AS HUGEINT) AS __v${i}`);
    parts.agg.push(`${fn}(__v${i}) AS __a${i}`);
    return (f) => `any_value(__a${i})${f.plain}`;
  };
}

function pair(a: string, b: string, f: Filters): string {
  return `${text(`coalesce(any_value(${a})${f.plain}, 0)`)} || ',' || ${text(`coalesce(any_value(${b})${f.plain}, 0)`)}`;
}

/** Per-kind SQL; exhaustive over StateKind. */
const METRIC_BUILDERS: { readonly [K in StateKind]: MetricBuilder<K> } = {
  count: () => (f) => `any_value(__c)${f.plain}`,
  sum: plainAggregate('sum'),
  min: plainAggregate('min'),
  max: plainAggregate('max'),
  avg: (m, i, parts) => {
    parts.src.push(`CAST(${m.valueSql} AS HUGEINT) AS __v${i}`);
    parts.agg.push(`sum(__v${i}) AS __a${i}`, `count(__v${i}) AS __b${i}`);
    return (f) => pair(`__a${i}`, `__b${i}`, f);
  },
  ratio: (m, i, parts) => {
    parts.src.push(`CAST(${m.numeratorSql} AS HUGEINT) AS __n${i}`, `CAST(${m.denominatorSql} AS HUGEINT) AS __d${i}`);
    parts.agg.push(`sum(__n${i}) AS __a${i}`, `sum(__d${i}) AS __b${i}`);
    return (f) => pair(`__a${i}`, `__b${i}`, f);
  },
  distinct: (m, i, parts) => {
    const sub = `__s${parts.subKeys.length}`;
    parts.subKeys.push(sub);
    parts.src.push(`${hllHashSql(m.valueSql, m.valueType)} AS __h${i}`);
    parts.derived.push(`${hllRegisterSql(`__h${i}`)} AS ${sub}`, `${hllRhoSql(`__h${i}`)} AS __r${i}`);
    parts.agg.push(`max(__r${i}) AS __m${i}`);
    return (f) => `string_agg(${text(`${sub} * 64 + __m${i}`)}, ',')${f.sketch(sub)}`;
  },
  quantile: (m, i, parts) => {
    const sub = `__s${parts.subKeys.length}`;
    parts.subKeys.push(sub);
    parts.src.push(`${ddsketchValueSql(m.valueSql)} AS __x${i}`);
    parts.derived.push(`${ddsketchIndexSql(`__x${i}`)} AS ${sub}`);
    parts.agg.push(`min(__x${i}) AS __a${i}`, `max(__x${i}) AS __b${i}`, `count(*) FILTER (WHERE __x${i} = 0) AS __z${i}`);
    return (f) =>
      [
        text(`coalesce(any_value(__z${i})${f.plain}, 0)`),
        `coalesce(${text(`any_value(__a${i})${f.plain}`)}, '')`,
        `coalesce(${text(`any_value(__b${i})${f.plain}`)}, '')`,
        `coalesce(string_agg(${text(sub)} || ':' || ${text('__c')}, ',')${f.sketch(sub)}, '')`,
      ].join(` || ';' || `);
  },
};

/**
 * One statement computing, per group of `keys`, the partial state of every metric (shape in the
 * header). Keys may be empty (one total row, also over no input rows).
 * @throws TypeError when a key or metric name is not a lower-case identifier or repeats.
 */
export function partialAggregateSql(spec: PartialAggregateSpec): PartialAggregateSql {
  const columns = [...spec.keys.map((k) => k.name), ...spec.metrics.map((m) => m.name)];
  for (const name of columns) if (!IDENT.test(name)) throw new TypeError(`output name ${JSON.stringify(name)} is not a lower-case identifier`);
  if (new Set(columns).size !== columns.length) throw new TypeError('output names repeat');
  const parts: Parts = { src: spec.keys.map((k, i) => `${k.sql} AS __k${i}`), derived: [], agg: ['count(*) AS __c'], subKeys: [] };
  const outer = spec.metrics.map((m, i) => (METRIC_BUILDERS[m.kind] as MetricBuilder<StateKind>)(m as never, i, parts));
  const keyCols = spec.keys.map((_, i) => `__k${i}`);
  const j = parts.subKeys.length;
  // GROUPING(__s0, .., __s{J-1}): bit J-1-t is 1 when __st is not grouped in the row's set.
  // BigInt: a query may have more than 31 distinct counts (`1 << 31` is negative in JS), and
  // GROUPING's BIGINT holds at most 63 bits.
  if (j > 63) throw new TypeError('at most 63 distinct-count inputs per query');
  const all = (1n << BigInt(j)) - 1n;
  const filters: Filters = {
    plain: j === 0 ? '' : ` FILTER (WHERE __g = ${all})`,
    sketch: (sub) => {
      const t = parts.subKeys.indexOf(sub);
      return ` FILTER (WHERE __g = ${all - (1n << BigInt(j - 1 - t))} AND ${sub} IS NOT NULL)`;
    },
  };
  const sets = [keyCols, ...parts.subKeys.map((s) => [...keyCols, s])].map((set) => `(${set.join(', ')})`);
  const groupBy = j > 0 ? ` GROUP BY GROUPING SETS (${sets.join(', ')})` : keyCols.length > 0 ? ` GROUP BY ${keyCols.join(', ')}` : '';
  const partCols = [...keyCols, ...parts.subKeys, ...(j > 0 ? [`GROUPING(${parts.subKeys.join(', ')}) AS __g`] : []), ...parts.agg];
  const src = parts.src.length > 0 ? parts.src : ['1 AS __one'];
  const rows = parts.derived.length > 0 ? `__rows AS (SELECT *, ${parts.derived.join(', ')} FROM __src), ` : `__rows AS (SELECT * FROM __src), `;
  const sql =
    `WITH __src AS (SELECT ${src.join(', ')} FROM ${spec.from}${spec.where ? ` WHERE ${spec.where}` : ''}), ` +
    rows +
    `__part AS (SELECT ${partCols.join(', ')} FROM __rows${groupBy}) ` +
    `SELECT ${[...keyCols.map((k, i) => `${k} AS ${spec.keys[i]!.name}`), ...outer.map((build, i) => `${build(filters)} AS ${spec.metrics[i]!.name}`)].join(', ')} ` +
    `FROM __part${keyCols.length > 0 ? ` GROUP BY ${keyCols.join(', ')}` : ''}`;
  return { sql, columns, kinds: spec.metrics.map((m) => m.kind) };
}

// ---------------------------------------------------------------------------------------------
// Reading result cells

function cellBigint(cell: unknown): bigint | null {
  if (cell === null || cell === undefined) return null;
  if (typeof cell === 'bigint') return cell;
  if (typeof cell === 'number' && Number.isSafeInteger(cell)) return BigInt(cell);
  if (typeof cell === 'string' && /^-?\d+$/.test(cell)) return BigInt(cell);
  throw new TypeError('partial-state cell is not an integer');
}

function cellPair(cell: unknown): [bigint, bigint] {
  const m = typeof cell === 'string' ? /^(-?\d+),(-?\d+)$/.exec(cell) : null;
  if (!m) throw new TypeError('partial-state cell is not an integer pair');
  return [BigInt(m[1]!), BigInt(m[2]!)];
}

function cellNumber(part: string): number | null {
  if (part === '') return null;
  const x = Number(part);
  if (!Number.isFinite(x)) throw new TypeError('partial-state cell has a non-finite number');
  return x;
}

type CellReader<K extends StateKind> = (cell: unknown) => StateByKind[K];

/** Per-kind readers; exhaustive over StateKind. */
const CELL_READERS: { readonly [K in StateKind]: CellReader<K> } = {
  count: (c) => cellBigint(c) ?? 0n,
  sum: (c) => cellBigint(c) ?? 0n,
  min: (c) => cellBigint(c),
  max: (c) => cellBigint(c),
  avg: (c) => {
    const [sum, count] = cellPair(c);
    return { sum, count };
  },
  ratio: (c) => {
    const [numerator, denominator] = cellPair(c);
    return { numerator, denominator };
  },
  distinct: (c) => {
    if (c === null || c === undefined || c === '') return Hll.empty(HLL_PRECISION);
    if (typeof c !== 'string') throw new TypeError('distinct cell is not text');
    return Hll.fromCodes(c.split(',').map(Number), HLL_PRECISION);
  },
  quantile: (c) => {
    const parts = typeof c === 'string' ? c.split(';') : [];
    if (parts.length !== 4) throw new TypeError('quantile cell is not zero;min;max;bins');
    const bins = parts[3] === '' ? [] : parts[3]!.split(',').map((b) => b.split(':').map(Number) as [number, number]);
    return DDSketch.fromBuckets({ zeroCount: Number(parts[0]), bins, min: cellNumber(parts[1]!), max: cellNumber(parts[2]!) });
  },
};

/** The state in one result cell of a `partialAggregateSql` statement. */
export function readStateCell<K extends StateKind>(kind: K, cell: unknown): StateByKind[K] {
  return CELL_READERS[kind](cell);
}

function keyValue(cell: unknown): KeyValue {
  if (cell === null || cell === undefined) return null;
  if (typeof cell === 'bigint') return bigintToJson(cell);
  if (typeof cell === 'string' || typeof cell === 'boolean' || (typeof cell === 'number' && Number.isFinite(cell))) return cell;
  throw new TypeError('group key cell is not a JSON scalar (convert it with toJsonValue first)');
}

/** Engine result rows (keys first, then one cell per kind) → a partial row set. */
export function readPartialRows(kinds: readonly StateKind[], keyCount: number, rows: readonly (readonly unknown[])[]): PartialRowSet {
  return {
    kinds: [...kinds],
    rows: rows.map((row) => ({
      keys: row.slice(0, keyCount).map(keyValue),
      states: kinds.map((kind, i) => readStateCell(kind, row[keyCount + i])),
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// Flow-table inputs the compiler can use

/** Duration of a flow in microseconds (BIGINT). */
const DURATION_US = "date_diff('microsecond', time_start, time_end)";

/** Per-flow values over the flow table (FLOW_COLUMNS), for sums and quantiles. */
export const FLOW_VALUE_SQL = {
  /** IP-layer bytes both directions; HUGEINT so the addition cannot overflow. */
  bytes: 'CAST(bytes_fwd AS HUGEINT) + bytes_rev',
  packets: 'CAST(packets_fwd AS HUGEINT) + packets_rev',
  durationUs: DURATION_US,
  /** Milliseconds as DOUBLE (quantiles of duration). */
  durationMs: `${DURATION_US} / 1000.0`,
} as const;

/**
 * Rate metrics as a ratio of sums over flows with a positive duration (single-packet flows
 * have duration 0 and would add bytes with no time): bps = 1e6 · Σ 8·bytes / Σ duration_µs,
 * pps = 1e6 · Σ packets / Σ duration_µs. Finalize with `{ kind: 'ratio', scale }`.
 */
export const FLOW_RATE_INPUTS = {
  bps: {
    numeratorSql: `CASE WHEN ${DURATION_US} > 0 THEN 8 * (${FLOW_VALUE_SQL.bytes}) END`,
    denominatorSql: `CASE WHEN ${DURATION_US} > 0 THEN ${DURATION_US} END`,
    scale: 1e6,
  },
  pps: {
    numeratorSql: `CASE WHEN ${DURATION_US} > 0 THEN ${FLOW_VALUE_SQL.packets} END`,
    denominatorSql: `CASE WHEN ${DURATION_US} > 0 THEN ${DURATION_US} END`,
    scale: 1e6,
  },
} as const;

/**
 * The distinct-count input for a queryable flow column: its name as SQL and its value type
 * (ColumnKind), e.g. `src_addr` → string, `dst_port` → u16, `time_start` → timestamp.
 * @throws TypeError for a column that is not queryable.
 */
export function distinctInput(column: FlowColumnName): { readonly valueSql: string; readonly valueType: HllValueType } {
  const def = FLOW_COLUMNS.find((c) => c.name === column);
  if (!def || !def.queryable) throw new TypeError(`${column} is not a queryable column`);
  return { valueSql: def.name, valueType: def.kind };
}
