/**
 * Response formats of query results, chosen by `?format=` or else the `Accept` header
 * (q-values honoured; no header, `*\/*` or `application/*` → JSON):
 *
 * - `json` (`application/json`): the QueryResponse object — typed `columns`, `rows` as arrays
 *   (or objects keyed by column name), then `stats` and `requestId` at the end of the body.
 * - `ndjson` (`application/x-ndjson`): one JSON object per row, keyed by column name.
 * - `csv` (`text/csv`, RFC 4180): a header row of column names, then the rows; null is empty.
 * - `arrow` (`application/vnd.apache.arrow.stream`): an Arrow IPC stream, one record batch per
 *   engine batch, typed columns (64-bit integers exact, timestamps µs UTC).
 * - `parquet` (`application/vnd.apache.parquet`): one Parquet file, for bounded answers only.
 *
 * In every format 64-bit counters keep full precision: values beyond 2^53 are already exact
 * decimal strings (api/engine/json-value.ts), written as strings in JSON/NDJSON, as bare
 * digits in CSV and as 64-bit (or 128-bit decimal) integers in Arrow and Parquet.
 *
 * Where the stats (`rows`, `truncated`, suppression, budget, cursor) go: JSON — at the end of
 * the body, always. NDJSON, CSV, Arrow — the `Flowseal-Stats` response header (JSON) when the
 * whole answer fits the render buffer (1 MiB); a larger answer is streamed and its header only
 * says `{"streamed":true,"requestId":...}`, so page through large listings with JSON. Parquet —
 * the header and the file's `flowseal.stats` key-value metadata. Rendering, streaming and the
 * signalling of failures part-way live in routes/render/render-stream.ts.
 *
 * Owns: negotiation. Never: reorders or drops rows or columns.
 */
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { QueryResponse } from '../../schemas/query.ts';
import type { Cell } from '../ports.ts';
import { csvField } from './render/text-formats.ts';
import { arrowStreamEncoder } from './render/arrow-ipc.ts';
import { parquetCollector } from './render/parquet-file.ts';
import { DEFAULT_MAX_PARQUET_ROWS, headerJson } from './render/render-stream.ts';

export { renderStream, rowTextFor, DEFAULT_MAX_BUFFER_BYTES, DEFAULT_MAX_PARQUET_ROWS } from './render/render-stream.ts';
export type { RenderOptions, RenderOutcome, RenderedBody } from './render/render-stream.ts';

export const RESPONSE_FORMATS = {
  json: 'application/json',
  ndjson: 'application/x-ndjson',
  csv: 'text/csv',
  arrow: 'application/vnd.apache.arrow.stream',
  parquet: 'application/vnd.apache.parquet',
} as const;
export type ResponseFormat = keyof typeof RESPONSE_FORMATS;

const BY_MEDIA_TYPE = new Map<string, ResponseFormat>([
  ['application/json', 'json'],
  ['application/*', 'json'],
  ['*/*', 'json'],
  ['application/x-ndjson', 'ndjson'],
  ['application/ndjson', 'ndjson'],
  ['text/csv', 'csv'],
  ['text/*', 'csv'],
  ['application/vnd.apache.arrow.stream', 'arrow'],
  ['application/vnd.apache.parquet', 'parquet'],
]);

/** One line per media type, for the OpenAPI document (routes/openapi.ts) to list the formats. */
export const RESPONSE_FORMAT_DESCRIPTIONS: Record<ResponseFormat, string> = {
  json: 'QueryResponse: typed columns, rows (arrays, or objects with shape=objects), stats and requestId at the end',
  ndjson: 'One JSON object per row, keyed by column name; stats in Flowseal-Stats (streamed answers: {"streamed":true})',
  csv: 'RFC 4180, header row of column names; null is empty; stats in Flowseal-Stats (streamed answers: {"streamed":true})',
  arrow: 'Arrow IPC stream, one record batch per engine batch; field metadata flowseal.duckdb_type; stats in Flowseal-Stats (streamed answers: {"streamed":true})',
  parquet: 'One Parquet file (bounded answers; more rows than the limit is 400 ERR_QUERY_TOO_LARGE); stats in Flowseal-Stats and key-value metadata flowseal.stats',
};

/**
 * The format to answer in.
 * @throws AppError ERR_NOT_ACCEPTABLE (406) naming the formats offered.
 */
export function negotiateFormat(formatParam: string | undefined, accept: string | undefined): ResponseFormat {
  const offered = `offered: ${Object.entries(RESPONSE_FORMATS).map(([k, v]) => `${k} (${v})`).join(', ')}`;
  if (formatParam !== undefined && formatParam !== '') {
    if (Object.hasOwn(RESPONSE_FORMATS, formatParam)) return formatParam as ResponseFormat;
    throw new AppError(ErrorCode.NotAcceptable, `format must be one of ${Object.keys(RESPONSE_FORMATS).join(', ')}`, { details: { formats: Object.keys(RESPONSE_FORMATS) } });
  }
  if (accept === undefined || accept.trim() === '') return 'json';
  const ranges = accept
    .split(',')
    .slice(0, 32)
    .map((part, order) => {
      const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
      const q = params.map((p) => /^q=([01](?:\.\d{0,3})?)$/.exec(p)).find((m) => m !== null);
      return { type, q: q ? Number(q[1]) : 1, order };
    })
    .filter((r) => r.q > 0)
    .sort((a, b) => b.q - a.q || a.order - b.order);
  for (const r of ranges) {
    const f = BY_MEDIA_TYPE.get(r.type);
    if (f !== undefined) return f;
  }
  throw new AppError(ErrorCode.NotAcceptable, `none of the accepted media types can be produced; ${offered}`, { details: { formats: Object.values(RESPONSE_FORMATS) } });
}

/**
 * The body, media type and extra headers of a fully buffered `res` (the pre-stream path, kept
 * until routes/query.ts hands a ResultStream to `renderStream`). Arrow and Parquet are encoded
 * whole here, with the same encoders and headers as the streamed path.
 * @throws AppError ERR_QUERY_TOO_LARGE for Parquet over DEFAULT_MAX_PARQUET_ROWS rows.
 */
export function renderResponse(res: QueryResponse, format: 'json' | 'ndjson' | 'csv'): { body: string; contentType: string; headers: Record<string, string> };
export function renderResponse(res: QueryResponse, format: ResponseFormat): { body: string | Uint8Array<ArrayBuffer>; contentType: string; headers: Record<string, string> };
export function renderResponse(res: QueryResponse, format: ResponseFormat): { body: string | Uint8Array<ArrayBuffer>; contentType: string; headers: Record<string, string> } {
  if (format === 'json') return { body: JSON.stringify(res), contentType: 'application/json; charset=utf-8', headers: {} };
  const names = res.columns.map((c) => c.name);
  const stats = { ...res.stats, requestId: res.requestId };
  const headers = { 'Flowseal-Stats': headerJson(stats) };
  const rows = res.rows as Cell[][];
  if (format === 'arrow' || format === 'parquet') {
    const file = `flowseal-${res.requestId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 128)}`;
    if (format === 'arrow') {
      const enc = arrowStreamEncoder(res.columns, res.requestId);
      const parts = [enc.start(), enc.batch(rows), enc.end()];
      const body = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
      parts.reduce((at, p) => (body.set(p, at), at + p.byteLength), 0);
      return { body, contentType: RESPONSE_FORMATS.arrow, headers: { ...headers, 'Content-Disposition': `attachment; filename="${file}.arrows"` } };
    }
    const collector = parquetCollector(res.columns, DEFAULT_MAX_PARQUET_ROWS);
    collector.add(rows);
    return { body: collector.finish(stats), contentType: RESPONSE_FORMATS.parquet, headers: { ...headers, 'Content-Disposition': `attachment; filename="${file}.parquet"` } };
  }
  if (format === 'ndjson') {
    const lines = res.rows.map((row) => JSON.stringify(Object.fromEntries(names.map((n, i) => [n, row[i] ?? null]))));
    return { body: lines.length ? `${lines.join('\n')}\n` : '', contentType: 'application/x-ndjson; charset=utf-8', headers };
  }
  const lines = [names.map(csvField).join(','), ...res.rows.map((row) => names.map((_, i) => csvField(row[i])).join(','))];
  return { body: `${lines.join('\r\n')}\r\n`, contentType: 'text/csv; charset=utf-8; header=present', headers };
}
