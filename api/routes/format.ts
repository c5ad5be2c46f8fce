/**
 * Response formats of query results, chosen by `?format=` or else the `Accept` header
 * (q-values honoured; no header, `*\/*` or `application/*` → JSON):
 *
 * - `json` (`application/json`): the QueryResponse object — typed `columns`, `rows` as arrays.
 * - `ndjson` (`application/x-ndjson`): one JSON object per row, keyed by column name.
 * - `csv` (`text/csv`, RFC 4180): a header row of column names, then the rows; null is empty.
 *
 * In every format 64-bit counters keep full precision: values beyond 2^53 are already exact
 * decimal strings (api/engine/json-value.ts) and are written as bare digits in CSV and as
 * strings in JSON/NDJSON. The stats (`rows`, `truncated`, suppression, budget) ride in the
 * `Flowseal-Stats` response header (JSON) for NDJSON and CSV, and in the body for JSON.
 *
 * Owns: negotiation and rendering. Never: reorders or drops rows or columns.
 */
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { QueryResponse } from '../../schemas/query.ts';

export const RESPONSE_FORMATS = {
  json: 'application/json',
  ndjson: 'application/x-ndjson',
  csv: 'text/csv',
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
]);

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

function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const text = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The body, media type and extra headers of `res` in `format`. */
export function renderResponse(res: QueryResponse, format: ResponseFormat): { body: string; contentType: string; headers: Record<string, string> } {
  if (format === 'json') return { body: JSON.stringify(res), contentType: 'application/json; charset=utf-8', headers: {} };
  const names = res.columns.map((c) => c.name);
  const headers = { 'Flowseal-Stats': JSON.stringify({ ...res.stats, requestId: res.requestId }) };
  if (format === 'ndjson') {
    const lines = res.rows.map((row) => JSON.stringify(Object.fromEntries(names.map((n, i) => [n, row[i] ?? null]))));
    return { body: lines.length ? `${lines.join('\n')}\n` : '', contentType: 'application/x-ndjson; charset=utf-8', headers };
  }
  const lines = [names.map(csvField).join(','), ...res.rows.map((row) => names.map((_, i) => csvField(row[i])).join(','))];
  return { body: `${lines.join('\r\n')}\r\n`, contentType: 'text/csv; charset=utf-8; header=present', headers };
}
