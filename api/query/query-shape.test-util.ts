/**
 * Shared helpers for the SQL-shape property tests (not a test file itself): arbitraries that
 * draw a query *shape* (which fields, how many terms, which allow-listed names) and then any
 * number of *instances* of that shape (every user value drawn afresh, within what the zod
 * schema accepts), an independent SQL vocabulary check, and a route harness whose engine only
 * records the SQL it is given. Test-only; never imported by production code.
 *
 * What counts as shape: everything the compiler may legitimately spell out in SQL text —
 * allow-listed column, metric and bucket names, sort direction, the number of filter terms and
 * list elements, which of `min`/`max` a range has, and a CIDR's family and whether its prefix
 * fits the high half (`v6short`, ≤ 64 bits) or not (`v6long`): those choose a predicate form.
 * Everything else is a value and must end up in the bound parameters.
 */
import fc from 'fast-check';
import { Hono } from 'hono';
import { FLOW_COLUMNS, FLOW_COLUMN_NAMES, PARTITION_COLUMNS, EndReason, RecordSource } from '../../schemas/columns.ts';

/** The DuckDB types of the flow columns (cursor positions are cast to them). */
const FLOW_COLUMNS_TYPES = FLOW_COLUMNS.map((c) => c.duckdbType);
import { GROUP_COLUMNS, METRICS, RECORD_COLUMNS, TIME_BUCKET_MS } from '../../schemas/query.ts';
import type { Metric, TimeBucket } from '../../schemas/query.ts';
import { ApiConfig } from '../../schemas/api-config.ts';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { formatIpv4, formatIpv6 } from '../../schemas/ip-address.ts';
import type { QueryEngine, QueryParam, RateLimitStore } from '../ports.ts';
import { compilePlan } from '../engine/duckdb-plan-sql.ts';
import { fileHourStartMs } from '../../schemas/archive.ts';

/** A compiled statement, as the tests inspect it. */
export interface CompiledSql {
  readonly sql: string;
  readonly params: readonly QueryParam[];
  /**
   * Which of the compiler's file-source forms the statement uses: files whose hour the range
   * covers whole are read without a time predicate (duckdb-plan-sql.ts `source`), so the text
   * depends on the archive layout against the range too — never on a value's text.
   */
  readonly fileForm?: 'edge' | 'covered+edge';
}
import type { AppEnv } from '../middleware/context.ts';
import { errorHandler } from '../middleware/error-handler.ts';
import { queryRoutes } from '../routes/query.ts';
import { parseQueryRequest } from '../routes/execute-query.ts';
import { planQuery } from './plan.ts';
import type { PlanSql } from '../engine/duckdb-plan-sql.ts';

/** The limits a compiled statement depends on (the config's, by their old compiler names). */
export interface CompileLimits {
  readonly recordRows: number;
  readonly groupRows: number;
  readonly minGroupSize: number;
  readonly maxTimeRangeDays: number;
  readonly maxFilterNodes: number;
}

/** The clock plans are made at in these tests. */
export const PLAN_NOW = Date.parse('2026-06-01T00:00:00Z');

/** A body as the API compiles it: validated, planned under `limits` at PLAN_NOW, compiled over `files`. */
export function compileBody(body: unknown, limits: CompileLimits, files: readonly string[]): PlanSql {
  const req = parseQueryRequest(body, { maxFilterNodes: limits.maxFilterNodes, maxFilterTerms: 1_000_000 });
  const { plan } = planQuery(req, {
    now: PLAN_NOW,
    limits: { maxRecordRows: limits.recordRows, maxGroupRows: limits.groupRows, minGroupSize: limits.minGroupSize, maxTimeRangeDays: limits.maxTimeRangeDays },
    filter: (req.filter ?? null) as never,
  });
  return compilePlan(plan, files);
}
import { parseCidr } from './cidr.ts';

export const INJECTION = "'; DROP TABLE x; --";
export const METRIC_NAMES = Object.keys(METRICS) as Metric[];
export const BUCKETS = Object.keys(TIME_BUCKET_MS) as TimeBucket[];
const DAY_MS = 86_400_000;
export const MAX_DAYS = 31;

// ---- shapes ----
type IntShape = 'one' | 'range' | number;
type CidrClass = 'v4' | 'v6short' | 'v6long';
interface NetShape { readonly list: boolean; readonly classes: readonly CidrClass[] }
interface RangeShape { readonly min: boolean; readonly max: boolean }
const INT_KEYS = ['protocol', 'srcPort', 'dstPort', 'port', 'vlanId', 'srcAs', 'dstAs', 'as', 'inputInterface', 'outputInterface', 'interface', 'tos', 'observationDomain'] as const;
const NET_KEYS = ['srcNet', 'dstNet', 'net', 'exporterNet', 'nextHopNet', 'bgpNextHopNet'] as const;
/** The values each integer key takes. */
const INT_RANGE: Record<(typeof INT_KEYS)[number], { min: number; max: number }> = {
  protocol: { min: 0, max: 255 }, srcPort: { min: 0, max: 65_535 }, dstPort: { min: 0, max: 65_535 }, port: { min: 0, max: 65_535 }, vlanId: { min: 0, max: 65_535 },
  srcAs: { min: 0, max: 0xffff_ffff }, dstAs: { min: 0, max: 0xffff_ffff }, as: { min: 0, max: 0xffff_ffff }, inputInterface: { min: 0, max: 0xffff_ffff },
  outputInterface: { min: 0, max: 0xffff_ffff }, interface: { min: 0, max: 0xffff_ffff }, tos: { min: 0, max: 255 }, observationDomain: { min: 0, max: 0xffff_ffff },
};
export type FilterShape = Partial<Record<(typeof INT_KEYS)[number], IntShape> & Record<(typeof NET_KEYS)[number], NetShape>> & {
  readonly ipVersion?: true;
  readonly bytes?: RangeShape;
  readonly packets?: RangeShape;
  readonly endReason?: 'one' | number;
  readonly recordSource?: 'one' | number;
  readonly and?: readonly FilterShape[];
  readonly or?: readonly FilterShape[];
  readonly not?: FilterShape;
};
type KeyShape = { readonly column: string } | { readonly net: 'src_addr' | 'dst_addr' } | { readonly bucket: TimeBucket };
interface OrderShape { readonly by: string; readonly dir: 'asc' | 'desc' }
export interface QueryShape {
  readonly filter?: FilterShape;
  readonly select?: readonly string[];
  /** Present: an aggregate; absent: a record listing. */
  readonly groupBy?: readonly KeyShape[];
  readonly metrics?: readonly Metric[];
  readonly orderBy?: readonly OrderShape[];
}

const intShape: fc.Arbitrary<IntShape> = fc.oneof(fc.constant('one' as const), fc.constant('range' as const), fc.integer({ min: 1, max: 4 }));
const cidrClass = fc.constantFrom<CidrClass>('v4', 'v6short', 'v6long');
const netShape: fc.Arbitrary<NetShape> = fc.oneof(
  cidrClass.map((c) => ({ list: false, classes: [c] })),
  fc.array(cidrClass, { minLength: 1, maxLength: 3 }).map((classes) => ({ list: true, classes })),
);
const rangeShape = fc.record({ min: fc.boolean(), max: fc.boolean() });

const LEAF_SHAPES: Record<string, fc.Arbitrary<unknown>> = {
  ...Object.fromEntries(INT_KEYS.map((k) => [k, intShape])),
  ...Object.fromEntries(NET_KEYS.map((k) => [k, netShape])),
  ipVersion: fc.constant(true),
  bytes: rangeShape,
  packets: rangeShape,
  endReason: fc.oneof(fc.constant('one' as const), fc.integer({ min: 1, max: 3 })),
  recordSource: fc.oneof(fc.constant('one' as const), fc.integer({ min: 1, max: 3 })),
};

/** Filter shapes of up to four leaf keys per object, nested at most `depth` combinator levels. */
export function filterShape(depth: number): fc.Arbitrary<FilterShape> {
  const sub = depth > 0 ? filterShape(depth - 1) : null;
  const combos: Record<string, fc.Arbitrary<unknown>> = sub ? { and: fc.array(sub, { minLength: 1, maxLength: 2 }), or: fc.array(sub, { minLength: 1, maxLength: 2 }), not: sub } : {};
  const keys = fc.tuple(fc.subarray(Object.keys(LEAF_SHAPES), { maxLength: 4 }), fc.subarray(Object.keys(combos), { maxLength: sub ? 2 : 0 }));
  return keys.chain(([leaves, nested]) =>
    fc.record(Object.fromEntries([...leaves.map((k) => [k, LEAF_SHAPES[k]]), ...nested.map((k) => [k, combos[k]])])) as fc.Arbitrary<FilterShape>);
}

function keyName(k: KeyShape): string {
  return 'column' in k ? k.column : 'net' in k ? (k.net === 'src_addr' ? 'src_net' : 'dst_net') : 'time_bucket';
}
const keyShape: fc.Arbitrary<KeyShape> = fc.oneof(
  fc.constantFrom(...GROUP_COLUMNS).map((column) => ({ column })),
  fc.constantFrom('src_addr' as const, 'dst_addr' as const).map((net) => ({ net })),
  fc.constantFrom(...BUCKETS).map((bucket) => ({ bucket })),
);
const dirShape = fc.constantFrom('asc' as const, 'desc' as const);

function orderShape(outputs: readonly string[]): fc.Arbitrary<OrderShape[] | undefined> {
  return fc.option(fc.array(fc.record({ by: fc.constantFrom(...outputs), dir: dirShape }), { minLength: 1, maxLength: 4 }), { nil: undefined });
}

/** Record listings and aggregates; metric names never collide with group key names. */
export const queryShape: fc.Arbitrary<QueryShape> = fc.oneof(
  fc.record({
    filter: fc.option(filterShape(2), { nil: undefined }),
    select: fc.option(fc.uniqueArray(fc.constantFrom(...RECORD_COLUMNS), { minLength: 1, maxLength: 8 }), { nil: undefined }),
  }).chain((s) => orderShape(s.select ?? RECORD_COLUMNS).map((orderBy) => ({ ...s, orderBy }))),
  fc.record({
    filter: fc.option(filterShape(2), { nil: undefined }),
    groupBy: fc.uniqueArray(keyShape, { maxLength: 6, selector: keyName }),
    metrics: fc.option(fc.uniqueArray(fc.constantFrom(...METRIC_NAMES), { minLength: 1, maxLength: 5 }), { nil: undefined }),
  })
    .map((s) => ({ ...s, metrics: s.metrics?.filter((m) => !s.groupBy.some((k) => keyName(k) === m)) }))
    .map((s) => ({ ...s, metrics: s.metrics?.length ? s.metrics : undefined }))
    .chain((s) => orderShape([...s.groupBy.map(keyName), ...(s.metrics ?? ['flows', 'packets', 'bytes'])]).map((orderBy) => ({ ...s, orderBy }))),
);

// ---- values ----
const COUNT = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const word = fc.nat({ max: 0xffff_ffff });

function intValue(s: IntShape, r: { min: number; max: number }): fc.Arbitrary<unknown> {
  const one = fc.integer(r);
  if (s === 'one') return one;
  if (s === 'range') return fc.tuple(one, one).map(([a, b]) => ({ min: Math.min(a, b), max: Math.max(a, b) }));
  return fc.array(one, { minLength: s, maxLength: s });
}

function hexGroups(w: readonly number[]): string[] {
  return w.flatMap((x) => [x >>> 16, x & 0xffff]).map((g) => g.toString(16));
}

/** CIDR text of one class, in any spelling the schema and parser accept. */
function cidrValue(c: CidrClass): fc.Arbitrary<string> {
  const text = c === 'v4'
    ? fc.record({ a: word, len: fc.integer({ min: 0, max: 32 }), form: fc.constantFrom('cidr', 'bare', 'mapped', 'mappedHex', 'mappedBare') }).map(({ a, len, form }) => {
      const q = formatIpv4(a);
      const hex = `${(a >>> 16).toString(16)}:${(a & 0xffff).toString(16)}`.toUpperCase();
      return { cidr: `${q}/${len}`, bare: q, mapped: `::ffff:${q}/${96 + len}`, mappedHex: `::FFFF:${hex}/${96 + len}`, mappedBare: `::ffff:${q}` }[form];
    })
    : fc.record({
      w: fc.tuple(word, word, word, word),
      len: c === 'v6short' ? fc.integer({ min: 0, max: 64 }) : fc.option(fc.integer({ min: 65, max: 128 }), { nil: undefined }),
      form: fc.constantFrom('rfc5952', 'full', 'upper', 'dotted'),
    }).map(({ w, len, form }) => {
      // Inside ::ffff:0:0/96 a long IPv6 prefix is an IPv4 one (another shape): step out of it.
      const words = c === 'v6long' && (len ?? 128) >= 96 && w[0] === 0 && w[1] === 0 && w[2] === 0xffff ? [1, ...w.slice(1)] : [...w];
      const g = hexGroups(words);
      const addr = {
        rfc5952: formatIpv6(words),
        full: g.map((x) => x.padStart(4, '0')).join(':'),
        upper: g.join(':').toUpperCase(),
        dotted: `${g.slice(0, 6).join(':')}:${formatIpv4(words[3] >>> 0)}`,
      }[form];
      return len === undefined ? addr : `${addr}/${len}`;
    });
  return text.map((t) => {
    const r = parseCidr(t);
    const got = r === null ? null : r.version === 4 ? 'v4' : r.prefix <= 64 ? 'v6short' : 'v6long';
    if (got !== c) throw new TypeError(`generator bug: ${t} is ${got}, wanted ${c}`);
    return t;
  });
}

function netValue(s: NetShape): fc.Arbitrary<unknown> {
  const each = fc.tuple(...s.classes.map(cidrValue));
  return s.list ? each : each.map((xs) => xs[0]);
}

function rangeValue(s: RangeShape): fc.Arbitrary<unknown> {
  return fc.tuple(COUNT, COUNT).map(([a, b]) => ({
    ...(s.min ? { min: s.max ? Math.min(a, b) : a } : {}),
    ...(s.max ? { max: s.min ? Math.max(a, b) : b } : {}),
  }));
}

/** One filter of shape `s` with fresh values. */
export function filterValue(s: FilterShape): fc.Arbitrary<Record<string, unknown>> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const k of INT_KEYS) {
    const v = s[k];
    if (v !== undefined) model[k] = intValue(v, INT_RANGE[k]);
  }
  for (const k of NET_KEYS) {
    const v = s[k];
    if (v !== undefined) model[k] = netValue(v);
  }
  if (s.ipVersion) model.ipVersion = fc.constantFrom(4, 6);
  if (s.bytes) model.bytes = rangeValue(s.bytes);
  if (s.packets) model.packets = rangeValue(s.packets);
  const reason = fc.constantFrom(...Object.values(EndReason));
  if (s.endReason !== undefined) model.endReason = s.endReason === 'one' ? reason : fc.array(reason, { minLength: s.endReason, maxLength: s.endReason });
  const source = fc.constantFrom(...Object.values(RecordSource));
  if (s.recordSource !== undefined) model.recordSource = s.recordSource === 'one' ? source : fc.array(source, { minLength: s.recordSource, maxLength: s.recordSource });
  if (s.and) model.and = fc.tuple(...s.and.map(filterValue));
  if (s.or) model.or = fc.tuple(...s.or.map(filterValue));
  if (s.not) model.not = filterValue(s.not);
  return fc.record(model);
}

/** An instant as ISO-8601 with an offset (`Z`, `±00:00` or another), with or without a fraction. */
function isoText(ms: number, offsetMin: number, zulu: boolean, frac: 'ms' | 'us' | 'none'): string {
  const local = new Date(ms + offsetMin * 60_000).toISOString();
  const fraction = frac === 'none' ? '' : frac === 'ms' ? local.slice(19, 23) : `${local.slice(19, 23)}417`.slice(0, 7);
  const sign = offsetMin < 0 ? '-' : '+';
  const a = Math.abs(offsetMin);
  const offset = offsetMin === 0 && zulu ? 'Z' : `${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
  return `${local.slice(0, 19)}${fraction}${offset}`;
}

const instantText = (ms: number) =>
  fc.record({ off: fc.oneof(fc.constant(0), fc.integer({ min: -12 * 60, max: 14 * 60 })), zulu: fc.boolean(), frac: fc.constantFrom('ms' as const, 'us' as const, 'none' as const) })
    .map(({ off, zulu, frac }) => isoText(frac === 'none' ? Math.floor(ms / 1000) * 1000 : ms, off, zulu, frac));

/** `{ from, to }` within MAX_DAYS, years 2000–2200, in mixed spellings. */
export const timeRangeValue = fc
  .record({ from: fc.integer({ min: Date.parse('2000-01-01T00:00:00Z'), max: Date.parse('2200-01-01T00:00:00Z') }), span: fc.integer({ min: 2000, max: MAX_DAYS * DAY_MS - 2000 }) })
  .chain(({ from, span }) => fc.record({ from: instantText(from), to: instantText(from + span) }));

export const datasetValue = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,63}$/);
export const globValue = fc.string({ maxLength: 40 }).map((s) => `/archive/${s}/${INJECTION}/**/*.parquet`);
export const limitsValue: fc.Arbitrary<CompileLimits> = fc.record({
  recordRows: fc.integer({ min: 1, max: 100_000 }),
  groupRows: fc.integer({ min: 1, max: 100_000 }),
  minGroupSize: fc.integer({ min: 1, max: 10_000 }),
  maxTimeRangeDays: fc.constant(MAX_DAYS),
  maxFilterNodes: fc.constant(100_000),
});

function keyValue(k: KeyShape): fc.Arbitrary<unknown> {
  if ('column' in k) return fc.constant(k.column);
  if ('bucket' in k) return fc.constant({ timeBucket: k.bucket });
  return fc.record(
    { column: fc.constant(k.net), prefixV4: fc.integer({ min: 0, max: 32 }), prefixV6: fc.integer({ min: 0, max: 128 }) },
    { requiredKeys: ['column'] },
  );
}

/** `dir: 'desc'` is the default, so it may be left out. */
function orderValue(o: OrderShape): fc.Arbitrary<unknown> {
  return o.dir === 'asc' ? fc.constant(o) : fc.constantFrom({ by: o.by, dir: 'desc' }, { by: o.by });
}

/** A `POST /v1/query` body of shape `s` with fresh values (the limit is a value: it is bound). */
export function bodyValue(s: QueryShape): fc.Arbitrary<Record<string, unknown>> {
  return fc.record({
    dataset: datasetValue,
    timeRange: timeRangeValue,
    ...(s.filter ? { filter: filterValue(s.filter) } : {}),
    ...(s.select ? { select: fc.constant(s.select) } : {}),
    ...(s.groupBy ? { groupBy: fc.tuple(...s.groupBy.map(keyValue)) } : {}),
    ...(s.metrics ? { metrics: fc.constant(s.metrics) } : {}),
    ...(s.orderBy ? { orderBy: fc.tuple(...s.orderBy.map(orderValue)) } : {}),
    limit: fc.option(fc.integer({ min: 1, max: 1_000_000 }), { nil: undefined }),
  }).map(({ limit, ...b }) => (limit === undefined ? b : { ...b, limit }));
}

/** Strings a body carries as values (times, CIDRs): none may appear in SQL text. */
export function valueStrings(body: unknown): string[] {
  const out: string[] = [];
  const walk = (node: unknown, key: string): void => {
    if (typeof node === 'string' && ['from', 'to', ...NET_KEYS].includes(key)) out.push(node);
    else if (Array.isArray(node)) for (const x of node) walk(x, key);
    else if (node !== null && typeof node === 'object') for (const [k, v] of Object.entries(node)) walk(v, k);
  };
  walk(body, '');
  return out;
}

// ---- SQL text checks ----
const WORDS = new Set([
  ...'SELECT FROM WHERE WITH AS GROUP BY ALL LEFT JOIN ON ORDER ASC DESC NULLS LAST LIMIT AND OR NOT BETWEEN IN CASE WHEN THEN ELSE END CAST DATE INTERVAL DISTINCT TRUE FALSE true'.split(' '),
  ...'read_parquet hive_partitioning hive_types union_by_name make_timestamp time_bucket count sum avg min max date_diff quantile_cont coalesce nullif g s __flows __suppressed'.split(' '),
  ...'filename file_row_number epoch_us to_microseconds generate_series unnest IS NULL EXISTS UNION NAME TIMESTAMP BIGINT CROSS INTEGER VARCHAR false'.split(' '),
  ...'base top shown rest vis buckets combos filled u __other __part __one'.split(' '),
  ...FLOW_COLUMNS_TYPES,
  ...FLOW_COLUMN_NAMES, ...PARTITION_COLUMNS, ...METRIC_NAMES,
]);
/** Whether `text` is a word of the compiler's fixed vocabulary (a bound value such as the record source `packets` may also be one). */
export const isFixedWord = (text: string): boolean => WORDS.has(text);
const STRINGS = new Set(["'date'", "'DATE'", "'hour'", "'INTEGER'", "'microsecond'", "'1970-01-01'"]);
const NUMBERS = new Set(['0', '1', '4', '6', '8', '0.5', '0.95', '0.99', '1000.0', '1000000.0']);
const TOKEN = /\s+|\$(\d+)|'[^']*'|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|>=|<=|[(),=<>&*.+/{}:]/y;

/**
 * Asserts the SQL is made only of the compiler's fixed vocabulary (keywords, functions,
 * schema column and metric names, a few fixed literals) plus `$n` placeholders, and that the
 * placeholders are exactly `$1..$params.length`. Throws with the offending token otherwise.
 */
export function assertFixedVocabulary(c: CompiledSql): void {
  const used = new Set<number>();
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < c.sql.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(c.sql);
    if (!m) throw new Error(`unexpected SQL text at ${at}: ${c.sql.slice(at, at + 40)}`);
    const t = m[0];
    if (m[1] !== undefined) used.add(Number(m[1]));
    else if (t.startsWith("'") ? !STRINGS.has(t) : /^\d/.test(t) ? !NUMBERS.has(t) : /^\w/.test(t) && !WORDS.has(t) && !/^__k\d+_(v|hi|lo)$/.test(t) && !/^__s\d+$/.test(t)) {
      throw new Error(`SQL token outside the fixed vocabulary: ${t}`);
    }
  }
  const expected = Array.from({ length: c.params.length }, (_, i) => i + 1);
  if ([...used].sort((a, b) => a - b).join() !== expected.join()) throw new Error(`placeholders ${[...used]} do not match ${c.params.length} params`);
}

// ---- route harness ----
/** `queryRoutes` behind a fixed principal; the engine records each statement and stops there. */
export function routeHarness(): { runs: CompiledSql[]; globs: string[]; call(path: string, body?: unknown): Promise<{ status: number; text: string }> } {
  const runs: CompiledSql[] = [];
  const globs: string[] = [];
  const datasets = new Set<string>();
  const engine: QueryEngine = {
    listDatasets: async () => [...datasets].map((id) => ({ id, timeStart: null, timeEnd: null, flows: null, files: 1, runs: 1, rejectedRuns: 0, pendingRuns: 0, verified: false, policyHashes: [], keyIds: [] })),
    execute: async (plan) => {
      // What the DuckDB adapter would run for this plan, over a file list with hostile text.
      // One file under the hour layout (read without a time predicate when the range covers its
      // hour) and one outside it (always filtered by time).
      const files = [
        `/archive/${plan.dataset}/${INJECTION}/date=2026-01-01/hour=00/r-0000.parquet`,
        `/archive/${plan.dataset}/${INJECTION}/legacy/r-0001.parquet`,
      ];
      globs.push(...files);
      const q = compilePlan(plan, files);
      const hour = fileHourStartMs(files[0]!)!;
      const covered = hour >= plan.fromMs && hour + 3_600_000 <= plan.toMs;
      runs.push({ sql: q.sql, params: [...q.params], fileForm: covered ? 'covered+edge' : 'edge' });
      throw new AppError(ErrorCode.QueryTimeout, 'recorded');
    },
  };
  const rateLimit: RateLimitStore = { take: async () => ({ allowed: true, remaining: 1e9, resetMs: 0, retryAfterMs: 0 }) };
  const config = ApiConfig.parse({ limits: { maxTimeRangeDays: MAX_DAYS, maxFilterNodes: 100_000 } });
  const app = new Hono<AppEnv>();
  app.onError(errorHandler({ info: () => undefined, error: () => undefined }));
  app.use('*', async (c, next) => {
    c.set('requestId', 'req-1');
    c.set('audit', { dataset: null, query: null, rows: null, errorCode: null, errorReason: null });
    c.set('principal', { issuer: 'test', subject: 'tester', scopes: new Set(['query', 'records']), groups: [], datasets: null, expiresAt: 4e9 });
    await next();
  });
  app.route('/v1', queryRoutes({ engine, rateLimit, config, now: () => 1_700_000_000_000 }));
  return {
    runs,
    globs,
    async call(path, body) {
      const inPath = /^\/v1\/datasets\/([^/?]+)/.exec(path)?.[1];
      const id = inPath !== undefined ? decodeURIComponent(inPath) : (body as { dataset?: unknown } | undefined)?.dataset;
      if (typeof id === 'string') datasets.add(id);
      const init = body === undefined ? {} : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
      const res = await app.request(path, init);
      return { status: res.status, text: await res.text() };
    },
  };
}
