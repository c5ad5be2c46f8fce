/**
 * Turns the query string of a convenience GET (`/v1/datasets/{id}/records`, `/top`,
 * `/timeseries`) into the request body `POST /v1/query` takes, by the parameter schemas of
 * schemas/http-params.ts: each string is decoded by its schema's JSON type (integer: digits
 * only; boolean: `true`/`false`; array: a comma list, a repeated parameter continuing it), then
 * validated, then the assembled body is checked against `QueryRequest` with every issue
 * reported under the name of the parameter it came from (`bucket`, never `groupBy.0.timeBucket`).
 *
 * `filter` stays text (the query route parses nfdump expressions and JSON); `format` is
 * accepted but left to api/routes/format.ts (406 when it names no renderer); `shape` is
 * validated here and not put into the body.
 *
 * Owns: decoding, parameter-named errors, did-you-mean for unknown names. Never: echoes a
 * parameter value (filters carry addresses) or a parameter name that does not look like one.
 */
import { z } from 'zod';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { GET_QUERY_PARAMS, GROUP_BY_HINT, NET_GROUP_PATTERN, TIME_HINT } from '../../schemas/http-params.ts';
import type { GetQueryRoute, RecordsParams, TimeseriesParams, TopParams } from '../../schemas/http-params.ts';
import { QueryRequest, TimeBucket } from '../../schemas/query.ts';

/** A group-by item as `POST /v1/query` takes it. */
export type GetGroupBy = string | { column: 'src_addr' | 'dst_addr'; prefixV4?: number; prefixV6?: number } | { timeBucket: string };

/** The body a GET builds: the fields of `POST /v1/query` it can set. */
export interface GetQueryBody {
  dataset: string;
  timeRange: { from: string; to: string };
  filter?: string;
  select?: string[];
  orderBy?: { by: string; dir: 'asc' | 'desc' }[];
  limit?: number;
  cursor?: string;
  groupBy?: GetGroupBy[];
  metrics?: string[];
  other?: boolean;
  fill?: boolean;
}

/** One problem, named by the query-string parameter; `allowed` lists the values when they are an enumeration. */
export interface ParamIssue {
  readonly param: string;
  readonly message: string;
  readonly allowed?: readonly (string | number)[];
}

/** Accepted on every GET but not decoded here (api/routes/format.ts negotiates it). */
const PASS_THROUGH = ['format'] as const;
/** Names people bring from other APIs → ours. */
const ALIASES: Record<string, string> = { start: 'from', since: 'from', begin: 'from', end: 'to', until: 'to', interval: 'bucket', step: 'bucket', sort: 'order', orderby: 'order', fields: 'select', columns: 'select', top: 'n', limit: 'n', n: 'limit', groupby: 'by', q: 'filter', where: 'filter' };
/** Hints for issues whose own message says too little. */
const HINTS: Record<string, string> = { from: TIME_HINT, to: TIME_HINT, by: GROUP_BY_HINT, bucket: `one of ${TimeBucket.options.join(', ')}` };
const MAX_PARAMS = 64;

type Kind = 'integer' | 'boolean' | 'list' | 'text';

/** A parameter's decoding, read from the JSON Schema type the OpenAPI document shows for it. */
function kindOf(field: z.ZodType): Kind {
  const type = (z.toJSONSchema(field, { io: 'input', unrepresentable: 'any' }) as { type?: unknown }).type;
  return type === 'integer' ? 'integer' : type === 'boolean' ? 'boolean' : type === 'array' ? 'list' : 'text';
}

/** Each route's parameters and their decoding (computed once). */
const KINDS = new Map<GetQueryRoute, ReadonlyMap<string, Kind>>(
  (Object.keys(GET_QUERY_PARAMS) as GetQueryRoute[]).map((route) => [route, new Map(Object.entries(GET_QUERY_PARAMS[route].shape).map(([name, field]) => [name, kindOf(field as z.ZodType)]))]),
);

/** Optimal string alignment distance (Levenshtein with adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The known name `name` was most likely meant to be, if any. */
export function suggestName(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const alias = ALIASES[lower.replaceAll(/[-_]/g, '')];
  if (alias !== undefined && known.includes(alias)) return alias;
  let best: { name: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(lower, k);
    if (d <= (k.length <= 3 ? 1 : 2) && (best === undefined || d < best.d)) best = { name: k, d };
  }
  return best?.name;
}

function unknownParam(name: string, known: readonly string[]): ParamIssue {
  const shown = /^[A-Za-z_][A-Za-z0-9_.-]{0,39}$/.test(name) ? name : undefined;
  const hint = suggestName(name, known);
  const what = shown === undefined ? 'an unknown parameter (name not shown)' : `unknown parameter ${shown}`;
  return { param: shown ?? '(unknown)', message: `${what}${hint ? ` (did you mean ${hint}?)` : ''}` };
}

/** A zod issue as a sentence about `param` (item `n` of a list when the path starts with an index). */
function describeIssue(param: string, issue: z.core.$ZodIssue): ParamIssue {
  const index = issue.path[0];
  const at = typeof index === 'number' ? `${param} item ${index + 1}` : param;
  const hint = HINTS[param];
  switch (issue.code) {
    case 'invalid_value':
      return { param, message: `${at} must be one of ${issue.values.map(String).join(', ')}`, allowed: issue.values.filter((v): v is string | number => typeof v === 'string' || typeof v === 'number') };
    case 'too_small':
      if (issue.origin === 'array') return { param, message: `${param} needs at least ${String(issue.minimum)} item(s)` };
      if (issue.origin === 'string') return { param, message: `${at} must not be empty` };
      return { param, message: `${at} must be at least ${String(issue.minimum)}` };
    case 'too_big':
      if (issue.origin === 'array') return { param, message: `${param} takes at most ${String(issue.maximum)} items` };
      if (issue.origin === 'string') return { param, message: `${at} is longer than ${String(issue.maximum)} characters` };
      return { param, message: `${at} must be at most ${String(issue.maximum)}` };
    default: {
      if (hint !== undefined && (issue.code === 'invalid_format' || issue.code === 'invalid_union' || issue.code === 'invalid_type')) return { param, message: `${at} must be ${hint}` };
      const text = issue.message.slice(0, 160);
      return { param, message: text.startsWith('must ') ? `${at} ${text}` : `${at}: ${text}` };
    }
  }
}

/** The text of one parameter as its kind's value, or an issue. */
function decode(param: string, kind: Kind, texts: readonly string[]): { value: unknown } | { issue: ParamIssue } {
  if (kind === 'list') {
    const items = texts.join(',').split(',').map((s) => s.trim());
    const empty = items.findIndex((s) => s === '');
    if (empty >= 0) return { issue: { param, message: `${param} item ${empty + 1} is empty (a comma list: a,b,c)` } };
    return { value: items };
  }
  if (texts.length > 1) return { issue: { param, message: `${param} is given ${texts.length} times; give it once` } };
  const text = texts[0]!;
  if (kind === 'integer') return /^-?\d{1,15}$/.test(text) ? { value: Number(text) } : { issue: { param, message: `${param} must be an integer (digits only)` } };
  if (kind === 'boolean') return text === 'true' || text === 'false' ? { value: text === 'true' } : { issue: { param, message: `${param} must be true or false` } };
  return { value: text };
}

function fail(issues: readonly ParamIssue[], known?: readonly string[]): never {
  const shown = issues.slice(0, 10);
  const message = shown.map((i) => i.message).join('; ') + (known ? `; parameters here: ${known.join(', ')}` : '');
  throw new AppError(ErrorCode.QueryInvalid, message, { details: { issues: shown, ...(known ? { known } : {}) } });
}

/** Every parameter of `route` decoded and validated (defaults applied), or an AppError. */
function decodeAll<R extends GetQueryRoute>(route: R, params: URLSearchParams): z.infer<(typeof GET_QUERY_PARAMS)[R]> {
  const schema = GET_QUERY_PARAMS[route];
  const kinds = KINDS.get(route)!;
  const known = [...kinds.keys(), ...PASS_THROUGH];
  const names = [...new Set(params.keys())];
  if (names.length > MAX_PARAMS) fail([{ param: '(query string)', message: `too many parameters (${names.length}, at most ${MAX_PARAMS})` }]);
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length > 0) fail(unknown.slice(0, 5).map((n) => unknownParam(n, known)), known);
  const issues: ParamIssue[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, kind] of kinds) {
    const texts = params.getAll(name).filter((t) => t !== '');
    if (texts.length === 0) continue;
    const r = decode(name, kind, texts);
    if ('issue' in r) issues.push(r.issue);
    else values[name] = r.value;
  }
  for (const [name, field] of Object.entries(schema.shape) as [string, z.ZodType][]) {
    if (issues.some((i) => i.param === name)) continue;
    const r = field.safeParse(values[name]);
    if (r.success) values[name] = r.data;
    else if (values[name] === undefined) issues.push({ param: name, message: `${name} is required${HINTS[name] ? `: ${HINTS[name]}` : ''}` });
    else issues.push(...r.error.issues.slice(0, 3).map((i) => describeIssue(name, i)));
  }
  if (issues.length > 0) fail(issues);
  return values as z.infer<(typeof GET_QUERY_PARAMS)[R]>;
}

/** `by` items as group-by items: `src_net/24/64` → `{ column: 'src_addr', prefixV4: 24, prefixV6: 64 }`. */
function groupByItems(by: readonly string[]): GetGroupBy[] {
  return by.map((item) => {
    const m = NET_GROUP_PATTERN.exec(item);
    if (m === null) return item;
    const [, side, , v4, , v6] = m;
    return { column: side === 'src' ? 'src_addr' : 'dst_addr', ...(v4 !== undefined ? { prefixV4: Number(v4) } : {}), ...(v6 !== undefined ? { prefixV6: Number(v6) } : {}) };
  });
}

/** Where a body path came from: the parameter, and the list item it was when the path's second step is an index. */
type PathToParam = (path: readonly PropertyKey[]) => { param: string; index?: number } | undefined;

/** `{ param, index }` when the path's second step is a list index. */
const item = (param: string, path: readonly PropertyKey[]) => ({ param, ...(typeof path[1] === 'number' ? { index: path[1] } : {}) });

function common(path: readonly PropertyKey[]): { param: string; index?: number } | undefined {
  if (path[0] === 'timeRange') return { param: path[1] === 'to' ? 'to' : 'from' };
  if (path[0] === 'cursor' || path[0] === 'other' || path[0] === 'fill' || path[0] === 'select') return item(String(path[0]), path);
  return undefined;
}

/**
 * Checks the assembled body against `QueryRequest` (filter aside: the route parses it) and names
 * each issue by its parameter. Issues that map to no parameter (a key the schema does not know
 * yet, the dataset id from the path) are left to the route's own validation.
 */
function checkBody(body: GetQueryBody, toParam: PathToParam): void {
  const r = QueryRequest.safeParse({ ...body, filter: undefined });
  if (r.success) return;
  const issues: ParamIssue[] = [];
  for (const issue of r.error.issues) {
    if (issue.code === 'unrecognized_keys') continue;
    const where = toParam(issue.path);
    if (where === undefined) continue;
    const rest = issue.path.slice(typeof issue.path[1] === 'number' ? 2 : 1);
    const path = where.index === undefined ? rest.filter((s) => typeof s !== 'number') : [where.index];
    issues.push(describeIssue(where.param, { ...issue, path } as z.core.$ZodIssue));
  }
  if (issues.length > 0) fail(issues);
}

const base = (datasetId: string, p: { from: string; to: string; filter?: string | undefined }): GetQueryBody => ({
  dataset: datasetId,
  timeRange: { from: p.from, to: p.to },
  ...(p.filter !== undefined ? { filter: p.filter } : {}),
});

/**
 * `GET /v1/datasets/{id}/records?from=&to=&filter=&limit=&select=a,b&order=-bytes,time_start&cursor=`
 * → a record-listing body (no `groupBy`).
 * @throws AppError ERR_QUERY_INVALID with `details.issues[]` `{ param, message, allowed? }`.
 */
export function parseRecordsParams(params: URLSearchParams, datasetId: string): GetQueryBody {
  const p: RecordsParams = decodeAll('records', params);
  const body: GetQueryBody = {
    ...base(datasetId, p),
    ...(p.select ? { select: p.select } : {}),
    ...(p.order ? { orderBy: p.order.map((o) => (o.startsWith('-') ? { by: o.slice(1), dir: 'desc' as const } : { by: o, dir: 'asc' as const })) } : {}),
    ...(p.limit !== undefined ? { limit: p.limit } : {}),
    ...(p.cursor !== undefined ? { cursor: p.cursor } : {}),
  };
  checkBody(body, (path) => common(path) ?? (path[0] === 'orderBy' ? item('order', path) : path[0] === 'limit' ? { param: 'limit' } : undefined));
  return body;
}

/**
 * `GET /v1/datasets/{id}/top?from=&to=&filter=&by=dst_port&metric=bytes,flows&n=10&other=true`
 * → groups by `by`, metrics `metric`, ordered by the first metric descending, `limit` n.
 * @throws AppError ERR_QUERY_INVALID as `parseRecordsParams`.
 */
export function parseTopParams(params: URLSearchParams, datasetId: string): GetQueryBody {
  const p: TopParams = decodeAll('top', params);
  const body: GetQueryBody = {
    ...base(datasetId, p),
    groupBy: groupByItems(p.by),
    metrics: p.metric,
    orderBy: [{ by: p.metric[0]!, dir: 'desc' }],
    limit: p.n,
    ...(p.other !== undefined ? { other: p.other } : {}),
  };
  checkBody(body, (path) => {
    if (path[0] === 'groupBy') return item('by', path);
    if (path[0] === 'metrics') return item('metric', path);
    if (path[0] === 'orderBy') return { param: 'metric', index: 0 };
    if (path[0] === 'limit') return { param: 'n' };
    return common(path);
  });
  return body;
}

/**
 * `GET /v1/datasets/{id}/timeseries?from=&to=&filter=&bucket=1h&metric=flows,bytes&by=protocol&fill=true`
 * → groups by the time bucket (then `by`), ordered by time ascending.
 * @throws AppError ERR_QUERY_INVALID as `parseRecordsParams`.
 */
export function parseTimeseriesParams(params: URLSearchParams, datasetId: string): GetQueryBody {
  const p: TimeseriesParams = decodeAll('timeseries', params);
  const body: GetQueryBody = {
    ...base(datasetId, p),
    groupBy: [{ timeBucket: p.bucket }, ...groupByItems(p.by ?? [])],
    metrics: p.metric,
    orderBy: [{ by: 'time_bucket', dir: 'asc' }],
    ...(p.fill !== undefined ? { fill: p.fill } : {}),
  };
  checkBody(body, (path) => {
    if (path[0] === 'groupBy') return path[1] === 0 ? { param: 'bucket' } : { param: 'by', ...(typeof path[1] === 'number' ? { index: path[1] - 1 } : {}) };
    if (path[0] === 'metrics') return item('metric', path);
    if (path[0] === 'orderBy') return { param: 'bucket' };
    return common(path);
  });
  return body;
}
