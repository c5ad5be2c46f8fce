/**
 * SQL that renders a record row as text inside DuckDB, byte for byte what the text encoders
 * (api/routes/render/text-formats.ts) make of the cells the adapter would otherwise return
 * (api/engine/json-value.ts): one string per row crosses the binding instead of one value per
 * cell, and no cell is converted or stringified in JS. Measured on a 1 000-row listing of the
 * 30 record columns: the per-cell path (node-api values → cells → JSON text) is most of the
 * API's own CPU for such a listing (bench/RESULTS.md, issue 7 listings).
 *
 * Layouts: `json-array` (`[v1,v2,...]`, a row of JSON rows as arrays), `json-object`
 * (`{"name":v,...}`, JSON rows as objects and NDJSON lines), `csv` (one RFC 4180 record, no
 * line end). Per column type, as the cell path renders it:
 * - TIMESTAMP: `YYYY-MM-DDTHH:MM:SS.ffffffZ` (JSON: quoted); years outside 0–9999 as ECMAScript's
 *   extended years (`+010000-…`, `-000001-…`); outside the range of a JavaScript Date (where the
 *   cell path throws) or infinite, the statement fails.
 * - UTINYINT, USMALLINT, UINTEGER: decimal digits.
 * - UBIGINT: decimal digits; in JSON beyond 2^53 − 1 a quoted string (the cell is a string).
 * - VARCHAR: JSON — as `JSON.stringify` (escaped here: DuckDB's `to_json` writes control
 *   characters with upper-case hex digits); CSV — quoted, `"` doubled, when it holds `"`, `,`,
 *   CR or LF, or starts or ends with what JavaScript's `\s` matches. A leading U+FEFF is dropped,
 *   as the binding's decoder drops it from every cell. Strings with none of these characters
 *   (all the archive's addresses, names and codes) are copied as they are.
 * - NULL: `null` in JSON, an empty field in CSV.
 * Any other type has no text form here (`rowTextSql` returns null: answer with cells).
 *
 * Owns: these SQL expressions. Never: splices anything but column names from schemas/columns.ts
 * (checked to be plain identifiers) into SQL text. Pure.
 */
import type { RowTextLayout } from '../ports.ts';

export interface TextColumn {
  /** A record column name (a plain identifier). */
  readonly name: string;
  /** Its DuckDB type name. */
  readonly type: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/** 2^53 − 1: larger UBIGINTs are strings in JSON (json-value.ts `bigintToJson`). */
const MAX_SAFE = '9007199254740991';

/**
 * JavaScript's `\s` (ECMA-262 WhiteSpace and LineTerminator) as an RE2 class: the CSV encoder
 * quotes a field that begins or ends with one.
 */
const JS_SPACE = '[\\t\\n\\x{0b}\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}]';
const CSV_NEEDS_QUOTES = `'[",\\r\\n]|^${JS_SPACE}|${JS_SPACE}$'`;

/** A string the fast paths cannot copy as it is: JSON.stringify escapes `"`, backslash and U+0000–U+001F; a leading BOM is dropped (below). */
const JSON_SLOW = "'^\\x{feff}|[\"\\\\\\x00-\\x1f]'";

/** JSON.stringify's escape of each control character (short forms, else `\u00xx` in lower case). */
const CONTROL_ESCAPES: readonly string[] = Array.from({ length: 0x20 }, (_, code) => {
  const short: Record<number, string> = { 8: '\\b', 9: '\\t', 10: '\\n', 12: '\\f', 13: '\\r' };
  return short[code] ?? `\\u${code.toString(16).padStart(4, '0')}`;
});

/**
 * `c` without one leading U+FEFF: @duckdb/node-api decodes every VARCHAR with a TextDecoder,
 * which drops a byte-order mark at the start of its input, so a cell never starts with one and
 * the rendered text must not either.
 */
function withoutBomSql(c: string): string {
  return `CASE WHEN starts_with(${c}, chr(65279)) THEN substr(${c}, 2) ELSE ${c} END`;
}

/** Microseconds of the first and past the last second a JavaScript Date can hold (±8.64e15 ms). */
const MIN_DATE_US = '-8640000000000000000';
const PAST_MAX_DATE_US = '8640000000001000000';

/** A non-null TIMESTAMP `c` as json-value.ts `microsFormatter` writes it (no quotes). */
function isoSql(c: string): string {
  const year = `year(${c})`;
  return (
    `CASE WHEN NOT isfinite(${c}) OR epoch_us(${c}) < ${MIN_DATE_US} OR epoch_us(${c}) >= ${PAST_MAX_DATE_US} THEN error('timestamp outside the range of a JavaScript Date') ` +
    `WHEN ${year} BETWEEN 0 AND 9999 THEN strftime(${c}, '%Y-%m-%dT%H:%M:%S.%fZ') ` +
    `ELSE (CASE WHEN ${year} < 0 THEN '-' ELSE '+' END) || lpad(CAST(abs(${year}) AS VARCHAR), 6, '0') || strftime(${c}, '-%m-%dT%H:%M:%S.%fZ') END`
  );
}

/** A non-null VARCHAR `c` as JSON.stringify writes its cell (backslashes first: the other escapes add only backslashes and ASCII). */
function jsonStringSql(c: string): string {
  let escaped = `replace(replace(${withoutBomSql(c)}, '\\', '\\\\'), '"', '\\"')`;
  CONTROL_ESCAPES.forEach((esc, code) => (escaped = `replace(${escaped}, chr(${code}), '${esc}')`));
  return `CASE WHEN regexp_matches(${c}, ${JSON_SLOW}) THEN '"' || ${escaped} || '"' ELSE '"' || ${c} || '"' END`;
}

/** A non-null VARCHAR `c` as csvField writes its cell. */
function csvStringSql(c: string): string {
  const x = withoutBomSql(c);
  return `CASE WHEN regexp_matches(${c}, ${CSV_NEEDS_QUOTES}) THEN (CASE WHEN regexp_matches(${x}, ${CSV_NEEDS_QUOTES}) THEN '"' || replace(${x}, '"', '""') || '"' ELSE ${x} END) ELSE ${c} END`;
}

/** One cell's JSON text (never NULL), or null for a type without a text form. */
function jsonCellSql(col: TextColumn): string | null {
  const c = col.name;
  let value: string;
  switch (col.type) {
    case 'TIMESTAMP':
      value = `'"' || ${isoSql(c)} || '"'`;
      break;
    case 'VARCHAR':
      value = jsonStringSql(c);
      break;
    case 'UTINYINT':
    case 'USMALLINT':
    case 'UINTEGER':
      value = `CAST(${c} AS VARCHAR)`;
      break;
    case 'UBIGINT':
      value = `CASE WHEN ${c} > ${MAX_SAFE} THEN '"' || CAST(${c} AS VARCHAR) || '"' ELSE CAST(${c} AS VARCHAR) END`;
      break;
    default:
      return null;
  }
  return `(CASE WHEN ${c} IS NULL THEN 'null' ELSE ${value} END)`;
}

/** One cell's CSV field (never NULL), or null for a type without a text form. */
function csvCellSql(col: TextColumn): string | null {
  const c = col.name;
  let value: string;
  switch (col.type) {
    case 'TIMESTAMP':
      value = isoSql(c);
      break;
    case 'VARCHAR':
      value = csvStringSql(c);
      break;
    case 'UTINYINT':
    case 'USMALLINT':
    case 'UINTEGER':
    case 'UBIGINT':
      value = `CAST(${c} AS VARCHAR)`;
      break;
    default:
      return null;
  }
  return `(CASE WHEN ${c} IS NULL THEN '' ELSE ${value} END)`;
}

/**
 * A VARCHAR expression rendering one row of `columns` in `layout`, or null when a column's type
 * has no text form here (the caller then answers with cells).
 * @throws TypeError for a column name that is not a plain identifier, or no columns.
 */
export function rowTextSql(layout: RowTextLayout, columns: readonly TextColumn[]): string | null {
  if (columns.length === 0) throw new TypeError('rowTextSql needs at least one column');
  for (const col of columns) if (!IDENTIFIER.test(col.name)) throw new TypeError('rowTextSql takes plain column names only');
  const cells: string[] = [];
  for (const col of columns) {
    const cell = layout === 'csv' ? csvCellSql(col) : jsonCellSql(col);
    if (cell === null) return null;
    cells.push(cell);
  }
  switch (layout) {
    case 'json-array':
      return `concat('[', ${cells.join(", ',', ")}, ']')`;
    case 'json-object':
      // Keys as JSON.stringify writes them: plain identifiers need no escaping.
      return `concat(${cells.map((cell, i) => `'${i === 0 ? '{' : ','}"${columns[i]!.name}":', ${cell}`).join(', ')}, '}')`;
    case 'csv':
      return `concat(${cells.join(", ',', ")})`;
  }
}
