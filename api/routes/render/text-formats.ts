/**
 * Encoders of the text formats, one engine batch at a time:
 *
 * - JSON: `{"columns":[...],"rows":[...],"stats":{...},"requestId":"..."}`, byte for byte what
 *   `JSON.stringify` makes of a `QueryResponse` (schemas/query.ts), written progressively:
 *   stats come last, from `ResultStream.finish()`. Rows are arrays, or with shape `objects`
 *   objects keyed by column name.
 * - NDJSON: one JSON object per row keyed by column name, `\n` after each.
 * - CSV (RFC 4180): a header row of column names, CRLF line ends, null as an empty field,
 *   fields quoted when they hold `"`, `,`, CR, LF or edge spaces.
 *
 * 64-bit counters beyond 2^53 are already exact decimal strings: strings in JSON/NDJSON, bare
 * digits in CSV. A batch may come already rendered by the engine (`TextRows`, api/ports.ts:
 * one text per row, in the layout `rowTextLayout` names for the format); it is joined as it is,
 * so an engine that renders rows must make exactly these bytes (api/engine/duckdb-row-text-sql.ts
 * does, and its equivalence test checks it against these encoders).
 *
 * Owns: these byte layouts. Never: reorders or drops rows or columns.
 */
import { isTextRows } from '../../ports.ts';
import type { Cell, RowBatch, RowTextLayout, TextRows } from '../../ports.ts';
import type { ResultColumn } from '../../../schemas/query.ts';

/** Turns an answer into text pieces: before the rows, per batch, after the rows. */
export interface TextFormatEncoder {
  start(): string;
  batch(rows: RowBatch): string;
  end(stats: Readonly<Record<string, unknown>>): string;
}

/** The layout of one row of `format` (JSON rows shaped by `shape`), as an engine may render it. */
export function rowTextLayout(format: 'json' | 'ndjson' | 'csv', shape: 'arrays' | 'objects'): RowTextLayout {
  if (format === 'csv') return 'csv';
  return format === 'json' && shape === 'arrays' ? 'json-array' : 'json-object';
}

/** Rendered rows in `layout`, or a TypeError (an engine answering in a layout nobody asked for is a bug). */
function texts(rows: TextRows, layout: RowTextLayout): readonly string[] {
  if (rows.layout !== layout) throw new TypeError(`rendered rows in layout ${rows.layout} where ${layout} was asked for`);
  return rows.texts;
}

/** The stats object of the body and header: `requestId` is the response's, never the engine's. */
export function statsWithoutRequestId(stats: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { requestId: _ignored, ...rest } = stats;
  return rest;
}

/** A row as a JSON object text keyed by `keys` (column names already JSON-quoted). */
function objectRow(keys: readonly string[], row: readonly Cell[]): string {
  let out = '{';
  for (let i = 0; i < keys.length; i++) out += `${i === 0 ? '' : ','}${keys[i]}:${JSON.stringify(row[i] ?? null)}`;
  return `${out}}`;
}

/** JSON, stats at the end. */
export function jsonEncoder(columns: readonly ResultColumn[], shape: 'arrays' | 'objects', requestId: string): TextFormatEncoder {
  const keys = columns.map((c) => JSON.stringify(c.name));
  const layout = rowTextLayout('json', shape);
  let first = true;
  return {
    start: () => `{"columns":${JSON.stringify(columns)},"rows":[`,
    batch(rows) {
      if (isTextRows(rows) ? rows.texts.length === 0 : rows.length === 0) return '';
      // Arrays: one JSON.stringify over the batch (a third cheaper than one per row), brackets cut.
      const text = isTextRows(rows)
        ? texts(rows, layout).join(',')
        : shape === 'objects'
          ? rows.map((r) => objectRow(keys, r)).join(',')
          : JSON.stringify(rows.every((r) => r.length === keys.length) ? rows : rows.map((r) => keys.map((_, i) => r[i] ?? null))).slice(1, -1);
      const out = first ? text : `,${text}`;
      first = false;
      return out;
    },
    end: (stats) => `],"stats":${JSON.stringify(statsWithoutRequestId(stats))},"requestId":${JSON.stringify(requestId)}}`,
  };
}

/** NDJSON: one object per row (whatever the shape). */
export function ndjsonEncoder(columns: readonly ResultColumn[]): TextFormatEncoder {
  const keys = columns.map((c) => JSON.stringify(c.name));
  return {
    start: () => '',
    batch: (rows) => {
      let out = '';
      if (isTextRows(rows)) for (const t of texts(rows, 'json-object')) out += `${t}\n`;
      else for (const r of rows) out += `${objectRow(keys, r)}\n`;
      return out;
    },
    end: () => '',
  };
}

/** One CSV field (RFC 4180 §2): quoted when it must be, null empty. */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const text = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** CSV with a header row. */
export function csvEncoder(columns: readonly ResultColumn[]): TextFormatEncoder {
  const n = columns.length;
  return {
    start: () => `${columns.map((c) => csvField(c.name)).join(',')}\r\n`,
    batch: (rows) => {
      let out = '';
      if (isTextRows(rows)) {
        for (const t of texts(rows, 'csv')) out += `${t}\r\n`;
        return out;
      }
      for (const r of rows) {
        for (let i = 0; i < n; i++) out += i === 0 ? csvField(r[i]) : `,${csvField(r[i])}`;
        out += '\r\n';
      }
      return out;
    },
    end: () => '',
  };
}
