/**
 * The query-string parameters of the convenience GETs — `GET /v1/datasets/{id}/records`, `/top`
 * and `/timeseries` — as zod schemas of their decoded values: integers are `z.int()`, booleans
 * `z.boolean()`, comma lists `z.array(...)` (in the URL: `metric=bytes,flows`). The OpenAPI
 * document shows these schemas as they are (`style: form, explode: false` for the lists), and
 * api/routes/get-params.ts decodes the URL's strings by the same schemas' types, so the
 * document and the parser cannot disagree. Every allowed value comes from schemas/query.ts
 * (`Metric`, `TimeBucket`, `GroupColumn`, `RecordColumn`): a metric or bucket added there is
 * accepted and documented here without an edit.
 *
 * `format` is not here: its values are the renderers' (api/routes/format.ts, 406 when unknown),
 * and the document adds it from there.
 *
 * Owns: parameter names, types, defaults, bounds and descriptions. Never: parses a URL or
 * accepts a value that schemas/query.ts would not (these schemas only narrow it).
 */
import { z } from 'zod';
import { GroupColumn, Metric, RECORD_COLUMNS, RecordColumn, TimeBucket } from './query.ts';

/** How query rows are laid out in JSON and NDJSON answers: arrays aligned with `columns`, or objects by column name. */
export const ResponseShape = z.enum(['arrays', 'objects']);
export type ResponseShape = z.infer<typeof ResponseShape>;

/** Address prefix group keys in `by`: `src_net` / `dst_net`, optionally `/<IPv4 prefix 0-32>[/<IPv6 prefix 0-128>]`. */
export const NET_GROUP_PATTERN = /^(src|dst)_net(\/(3[0-2]|[12]?[0-9])(\/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))?)?$/;

/** The `by` grammar in words (error messages and the document say the same). */
export const GROUP_BY_HINT = 'a groupable column, or src_net / dst_net with optional prefix lengths: src_net/24 (IPv4 /24) or src_net/24/64 (IPv4 /24, IPv6 /64)';

/** One `by` item: a groupable column name or an address prefix key such as `src_net/24`. */
export const GroupByParamItem = z.union([GroupColumn, z.string().regex(NET_GROUP_PATTERN)], { error: `must be ${GROUP_BY_HINT}` });

/**
 * One `order` item: an output column name (as `OrderBy.by` in schemas/query.ts), `-` in front for
 * descending. Which names a record listing can sort by is the query compiler's to say.
 */
export const OrderParamItem = z.string().regex(/^-?[a-z][a-z0-9_]{0,39}$/, 'must be a column name, optionally with - in front (descending)');

/** What `from` and `to` accept, in words. */
export const TIME_HINT = 'an ISO-8601 time with offset (2026-02-01T10:00:00Z) or a time relative to the server clock: now, or -<n><unit> with unit s, m, h, d or w (-30m, -1h, -7d)';

const Time = z.string().min(1).max(64);
const common = {
  from: Time.meta({ description: `Inclusive start of the time range: ${TIME_HINT}.` }),
  to: Time.meta({ description: `Exclusive end of the time range: ${TIME_HINT}.` }),
  filter: z
    .string()
    .max(8192)
    .optional()
    .meta({
      description: 'Flow filter: an nfdump-style expression (`proto tcp and dst port 443 and not net 10.0.0.0/8`), or the structured filter object as JSON when the text starts with `{`. Addresses refer to the anonymized address space.',
      examples: ['proto tcp and dst port 443', '{"protocol":"tcp","dstPort":443}'],
    }),
  shape: ResponseShape.optional().meta({ description: 'Row layout of JSON and NDJSON answers: `arrays` (default, aligned with `columns`) or `objects` (keyed by column name).', default: 'arrays' }),
};

/** Rows wanted; the server caps it (`stats.limitCapped` says so). */
const Limit = z.int().min(1).max(1_000_000);
const Metrics = z.array(Metric).min(1).max(Metric.options.length);
/** groupBy takes at most 6 keys (schemas/query.ts); a time series spends one on its bucket. */
const MAX_GROUP_KEYS = 6;

/** `GET /v1/datasets/{id}/records`: a capped record listing (scopes `query` and `records`). */
export const RecordsParams = z.strictObject({
  ...common,
  limit: Limit.optional().meta({ description: 'Records wanted; capped by the server (`stats.limitCapped`).', examples: [100] }),
  select: z.array(RecordColumn).min(1).max(RECORD_COLUMNS.length).optional().meta({ description: 'Record columns to return, comma-separated (default: all).', examples: [['time_start', 'src_addr', 'dst_addr', 'dst_port', 'bytes_fwd']] }),
  order: z.array(OrderParamItem).min(1).max(4).optional().meta({ description: 'Sort keys, comma-separated output columns (record columns such as `time_start`, or `bytes`); `-` in front sorts descending. Default: `time_start` ascending.', examples: [['-bytes', 'time_start']] }),
  cursor: z.string().min(1).max(4096).optional().meta({ description: "Opaque cursor from the previous page's `stats.nextCursor`; the other parameters must be the same." }),
});
export type RecordsParams = z.infer<typeof RecordsParams>;

/** `GET /v1/datasets/{id}/top`: the top N groups by the first metric (scope `query`). */
export const TopParams = z.strictObject({
  ...common,
  by: z.array(GroupByParamItem).min(1).max(MAX_GROUP_KEYS).default(['dst_port']).meta({ description: `Group keys, comma-separated: each ${GROUP_BY_HINT}.`, examples: [['dst_port'], ['protocol', 'dst_port'], ['src_net/24']] }),
  metric: Metrics.default(['flows']).meta({ description: 'Metrics, comma-separated; the first one ranks the groups (descending).', examples: [['bytes', 'flows']] }),
  n: Limit.default(10).meta({ description: 'Groups wanted (the top N); capped by the server.' }),
  other: z.boolean().optional().meta({ description: 'Add one row with the rest of the groups summed (group keys null, `is_other` true), so the rows add up to the total.', default: false }),
});
export type TopParams = z.infer<typeof TopParams>;

/** `GET /v1/datasets/{id}/timeseries`: metrics per time bucket, optionally stacked by group keys (scope `query`). */
export const TimeseriesParams = z.strictObject({
  ...common,
  bucket: TimeBucket.default('1h').meta({ description: 'Width of a time bucket.' }),
  metric: Metrics.default(['flows']).meta({ description: 'Metrics per bucket, comma-separated.', examples: [['flows', 'bytes']] }),
  by: z.array(GroupByParamItem).min(1).max(MAX_GROUP_KEYS - 1).optional().meta({ description: `Optional stacking keys, comma-separated: each ${GROUP_BY_HINT}.`, examples: [['protocol']] }),
  fill: z.boolean().optional().meta({ description: 'Zero-fill empty buckets. Default true when `by` is absent (the only grouping is the bucket), else false.' }),
});
export type TimeseriesParams = z.infer<typeof TimeseriesParams>;

/** The three GETs' parameter schemas by route name. */
export const GET_QUERY_PARAMS = { records: RecordsParams, top: TopParams, timeseries: TimeseriesParams } as const;
export type GetQueryRoute = keyof typeof GET_QUERY_PARAMS;
