/**
 * SQL that renders a record row as text inside DuckDB, and the JS step that finishes it, so
 * that a row is byte for byte what the text encoders (api/routes/render/text-formats.ts) make of
 * the cells the adapter would otherwise return (api/engine/json-value.ts): one string per row
 * crosses the binding instead of one value per cell, and the common row is not touched in JS.
 * Measured on a 1 000-row listing of the 30 record columns: the per-cell path (node-api values
 * → cells → JSON text) was most of the API's own CPU for such a listing (bench/RESULTS.md,
 * issue 7 listings).
 *
 * Layouts: `json-array` (`[v1,v2,...]`, a JSON row as an array), `json-object`
 * (`{"name":v,...}`, JSON rows as objects and NDJSON lines), `csv` (one RFC 4180 record, no
 * line end).
 *
 * JSON is DuckDB's `json_array`/`json_object` over the columns, with two columns prepared:
 * TIMESTAMPs as `strftime` text (`YYYY-MM-DDTHH:MM:SS.ffffffZ`, years 0–9999), UBIGINTs beyond
 * 2^53 − 1 as strings; the rest as they are (DuckDB writes numbers, strings and nulls as
 * JSON.stringify does, except for two things). What DuckDB cannot match is marked and left to
 * `finishRowText`, which re-writes the rare row holding one from its parsed values: a string
 * with U+000B, U+000E, U+000F or U+001A–U+001F (DuckDB escapes them with upper-case hex
 * digits), a string holding U+FEFF (@duckdb/node-api's TextDecoder drops a leading BOM from
 * every cell, so the cell path never shows one), and a timestamp outside years 0–9999 (sent as
 * U+0001 and its microseconds: ECMAScript's extended years, or the cell path's RangeError past
 * the range of a Date or for an infinity).
 *
 * CSV is a `concat` of fields: numbers and timestamps as above; a string as it is unless
 * csvField would quote it (or it holds U+0001 or starts with a BOM), then marked raw — U+0001,
 * `s`, its length in code points, U+0002, the string — for `finishRowText` to write with
 * csvField. (Doing JSON escaping or CSV quoting in SQL takes nested `replace` and CASE
 * expressions per column, and DuckDB's planning time grows steeply with them: measured at
 * 10–30 ms a statement, more than the rest of the listing.)
 *
 * Any column type other than TIMESTAMP, UTINYINT, USMALLINT, UINTEGER, UBIGINT and VARCHAR has
 * no text form here (`rowTextSql` returns null: answer with cells).
 *
 * Owns: these SQL expressions and the finishing of their marks. Never: splices anything but
 * column names from schemas/columns.ts (checked to be plain identifiers) into SQL text. Pure.
 */
import type { RowTextLayout } from '../ports.ts';
import { csvField } from '../routes/render/text-formats.ts';
import { microsToIso } from './json-value.ts';

export interface TextColumn {
  /** A record column name (a plain identifier). */
  readonly name: string;
  /** Its DuckDB type name. */
  readonly type: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
const TEXT_TYPES = new Set(['TIMESTAMP', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'VARCHAR']);

/** 2^53 − 1: larger UBIGINTs are strings in JSON (json-value.ts `bigintToJson`). */
const MAX_SAFE = '9007199254740991';
/** Microseconds of 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z: `strftime`'s `%Y` is ECMAScript's four-digit year between them. */
const FIRST_US_YEAR_0 = '-62167219200000000';
const LAST_US_YEAR_9999 = '253402300799999999';
const ISO = "'%Y-%m-%dT%H:%M:%S.%fZ'";

/**
 * JavaScript's `\s` (ECMA-262 WhiteSpace and LineTerminator) as an RE2 class: csvField quotes a
 * field that begins or ends with one (U+FEFF among them, so a leading BOM is caught too).
 */
const JS_SPACE = '[\\t\\n\\x{0b}\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}]';
/** A string csvField quotes, or one holding U+0001 (which would read as a mark). */
const CSV_RAW = `'[",\\r\\n\\x01]|^${JS_SPACE}|${JS_SPACE}$'`;

const MARK = '\u0001';
const MARK_END = '\u0002';

/** A TIMESTAMP `c` (nullable) as `strftime` text, or marked with its microseconds (`''` for an infinity). */
function timestampSql(c: string, csv: boolean): string {
  const mark = `chr(1) || ${csv ? "'t' || " : ''}coalesce(CAST(epoch_us(${c}) AS VARCHAR), '')${csv ? ' || chr(2)' : ''}`;
  return `CASE WHEN ${c} IS NULL THEN NULL WHEN epoch_us(${c}) BETWEEN ${FIRST_US_YEAR_0} AND ${LAST_US_YEAR_9999} THEN strftime(${c}, ${ISO}) ELSE ${mark} END`;
}

/** One column as a `json_array`/`json_object` argument. */
function jsonArgSql(col: TextColumn): string {
  const c = col.name;
  if (col.type === 'TIMESTAMP') return timestampSql(c, false);
  if (col.type === 'UBIGINT') return `CASE WHEN ${c} > ${MAX_SAFE} THEN to_json(CAST(${c} AS VARCHAR)) ELSE to_json(${c}) END`;
  return c;
}

/** One column as a CSV field (never NULL). */
function csvFieldSql(col: TextColumn): string {
  const c = col.name;
  if (col.type === 'TIMESTAMP') return `coalesce(${timestampSql(c, true)}, '')`;
  if (col.type === 'VARCHAR') return `coalesce(CASE WHEN regexp_matches(${c}, ${CSV_RAW}) THEN chr(1) || 's' || CAST(length(${c}) AS VARCHAR) || chr(2) || ${c} ELSE ${c} END, '')`;
  return `coalesce(CAST(${c} AS VARCHAR), '')`;
}

/**
 * A VARCHAR expression rendering one row of `columns` in `layout` (each result to be passed
 * through `rowTextFinisher`), or null when a column's type has no text form here.
 * @throws TypeError for a column name that is not a plain identifier, or no columns.
 */
export function rowTextSql(layout: RowTextLayout, columns: readonly TextColumn[]): string | null {
  if (columns.length === 0) throw new TypeError('rowTextSql needs at least one column');
  for (const col of columns) if (!IDENTIFIER.test(col.name)) throw new TypeError('rowTextSql takes plain column names only');
  if (!columns.every((c) => TEXT_TYPES.has(c.type))) return null;
  switch (layout) {
    case 'json-array':
      return `CAST(json_array(${columns.map(jsonArgSql).join(', ')}) AS VARCHAR)`;
    case 'json-object':
      return `CAST(json_object(${columns.map((c) => `'${c.name}', ${jsonArgSql(c)}`).join(', ')}) AS VARCHAR)`;
    case 'csv':
      return `concat(${columns.map(csvFieldSql).join(", ',', ")})`;
  }
}

/** A marked timestamp's microseconds as the cell path writes them (RangeError where it throws one). */
function markedTimestamp(micros: string): string {
  if (!/^-?\d+$/.test(micros)) throw new RangeError('timestamp outside the range of a JavaScript Date');
  return microsToIso(BigInt(micros));
}

/** A row DuckDB's JSON functions cannot have written as JSON.stringify does (see above). */
const JSON_REWRITE = /\\u00(?:0[BEF]|1[A-F])|\\u0001|\ufeff/;

/** A JSON row with a mark, re-written from its parsed values as the cell path would write them. */
function rewriteJson(layout: 'json-array' | 'json-object', columns: readonly TextColumn[], text: string): string {
  const parsed = JSON.parse(text) as unknown[] | Record<string, unknown>;
  const values: unknown[] = layout === 'json-array' ? (parsed as unknown[]) : columns.map((c) => (parsed as Record<string, unknown>)[c.name]);
  columns.forEach((c, i) => {
    const v = values[i];
    if (typeof v !== 'string') return;
    if (c.type === 'TIMESTAMP' && v.startsWith(MARK)) values[i] = markedTimestamp(v.slice(1));
    else if (c.type === 'VARCHAR' && v.startsWith('\ufeff')) values[i] = v.slice(1);
  });
  if (layout === 'json-array') return JSON.stringify(values);
  return JSON.stringify(Object.fromEntries(columns.map((c, i) => [c.name, values[i]])));
}

/** A CSV row with marks, the marked fields written by csvField (strings) or the timestamp formatter. */
function rewriteCsv(text: string, first: number): string {
  let out = '';
  let from = 0;
  for (let at = first; at >= 0; at = text.indexOf(MARK, from)) {
    const kind = text[at + 1];
    const end = text.indexOf(MARK_END, at);
    if (end < 0 || (kind !== 's' && kind !== 't')) throw new TypeError('malformed mark in a rendered row');
    const payload = text.slice(at + 2, end);
    if (kind === 't') {
      out += text.slice(from, at) + markedTimestamp(payload);
      from = end + 1;
      continue;
    }
    const length = Number(payload);
    if (!/^\d+$/.test(payload)) throw new TypeError('malformed mark in a rendered row');
    // `length` counts code points (DuckDB's length()); astral ones are two UTF-16 units here.
    let stop = end + 1;
    for (let k = 0; k < length && stop < text.length; k++) stop += text.codePointAt(stop)! > 0xffff ? 2 : 1;
    const raw = text.slice(end + 1, stop);
    out += text.slice(from, at) + csvField(raw.startsWith('\ufeff') ? raw.slice(1) : raw);
    from = stop;
  }
  return out + text.slice(from);
}

/**
 * The finishing step for rows of `columns` rendered by `rowTextSql` in `layout`: returns each row
 * as the encoders write it. A row without a mark (all but rows with unusual strings or times)
 * is returned as it is after one search.
 * @throws RangeError where the cell path throws (a timestamp a JavaScript Date cannot hold);
 *   TypeError for a malformed mark (text not from `rowTextSql`).
 */
export function rowTextFinisher(layout: RowTextLayout, columns: readonly TextColumn[]): (text: string) => string {
  if (layout === 'csv') {
    return (text) => {
      const at = text.indexOf(MARK);
      return at < 0 ? text : rewriteCsv(text, at);
    };
  }
  return (text) => (JSON_REWRITE.test(text) ? rewriteJson(layout, columns, text) : text);
}
