/**
 * How `flowseal query` shows answers and errors: an aligned text table for people, CSV and
 * NDJSON for record pages rendered on this side, a one-line stats summary, and API errors as
 * a compiler shows them (`error CODE: message`, and for a filter syntax error the filter with a
 * caret under the position the server named).
 *
 * Owns: text layout. Never: writes anything itself (returns strings), and never prints a token.
 */
import type { FlowsealApiError, QueryStats, ResultColumn } from '../client/index.ts';

const NUMERIC = /^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|DOUBLE|FLOAT|REAL|DECIMAL.*|NUMERIC.*)$/i;

function cell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/** Columns padded to their widest cell; numbers right-aligned; null as `-`. */
export function renderTable(columns: readonly ResultColumn[], rows: readonly (readonly unknown[])[]): string {
  const text = rows.map((r) => columns.map((_, i) => cell(r[i])));
  const widths = columns.map((c, i) => Math.max(c.name.length, ...text.map((r) => r[i]!.length)));
  const right = columns.map((c) => NUMERIC.test(c.type));
  const line = (cells: readonly string[]) => cells.map((s, i) => (right[i] ? s.padStart(widths[i]!) : s.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(columns.map((c) => c.name)), ...text.map(line)].join('\n') + '\n';
}

function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const text = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** RFC 4180 lines (CRLF), as the API writes CSV: null is empty, fields quoted when needed. */
export function renderCsv(columns: readonly ResultColumn[] | null, rows: readonly (readonly unknown[])[], width: number): string {
  const lines: string[] = [];
  if (columns) lines.push(columns.map((c) => csvField(c.name)).join(','));
  for (const r of rows) lines.push(Array.from({ length: width }, (_, i) => csvField(r[i])).join(','));
  return lines.length ? `${lines.join('\r\n')}\r\n` : '';
}

/** One JSON object per row, keyed by column name. */
export function renderNdjson(columns: readonly ResultColumn[], rows: readonly (readonly unknown[])[]): string {
  return rows.map((r) => `${JSON.stringify(Object.fromEntries(columns.map((c, i) => [c.name, r[i] ?? null])))}\n`).join('');
}

/** `# 10 rows (truncated) · 12 ms · groups under 5 flows withheld: 2 · ...` for stderr. */
export function statsLine(stats: QueryStats & { requestId?: string }, rows: number = stats.rows): string {
  const parts = [`${rows} row${rows === 1 ? '' : 's'}${stats.truncated ? ' (truncated: more rows exist)' : ''}`, `${stats.elapsedMs} ms`];
  if (stats.minGroupSize !== undefined && stats.minGroupSize > 1) parts.push(`groups under ${stats.minGroupSize} flows withheld: ${stats.suppressedGroups ?? 0}`);
  if (stats.recordBudgetRemaining !== undefined) parts.push(`record budget left: ${stats.recordBudgetRemaining}`);
  if (stats.limitCapped) parts.push(`limit ${stats.limitCapped.requested} capped to ${stats.limitCapped.applied} (${stats.limitCapped.reason})`);
  return `# ${parts.join(' · ')}\n`;
}

/**
 * `error CODE: message`, then for ERR_QUERY_FILTER_SYNTAX with a numeric `details.position`
 * (0-based character index into the expression) the filter and a caret under that position,
 * and what was expected when the server says.
 */
export function renderApiError(err: FlowsealApiError, filterText: string | undefined): string {
  const lines = [`error ${err.code}: ${err.message}`];
  const pos = err.details?.position;
  if (err.code === 'ERR_QUERY_FILTER_SYNTAX' && filterText !== undefined && typeof pos === 'number' && Number.isInteger(pos) && pos >= 0) {
    // Tabs and newlines would move the caret: show them as single spaces.
    const shown = filterText.replace(/[\t\r\n]/g, ' ');
    lines.push(`  ${shown}`, `  ${' '.repeat(Math.min(pos, shown.length))}^`);
    const expected = err.details?.expected;
    if (Array.isArray(expected) && expected.length > 0) lines.push(`  expected: ${expected.map(String).join(', ')}`);
    else if (typeof expected === 'string' && expected !== '') lines.push(`  expected: ${expected}`);
  }
  if (err.requestId) lines.push(`  (request ${err.requestId})`);
  return `${lines.join('\n')}\n`;
}
