/**
 * Small helpers shared by the query benchmarks: percentiles over timing samples, answer
 * normalization (so an API JSON row and a DuckDB row can be compared cell by cell) and
 * markdown table rendering.
 *
 * Owns: summary statistics and formatting. Never: times anything itself or asserts speed.
 */

/** Nearest-rank percentile (p in [0, 100]) of `xs`; NaN for no samples. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const k = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[k]!;
}

export interface Summary {
  readonly n: number;
  readonly median: number;
  readonly p90: number;
  readonly p99: number;
  readonly min: number;
  readonly max: number;
}

export function summarize(xs: readonly number[]): Summary {
  return {
    n: xs.length,
    median: percentile(xs, 50),
    p90: percentile(xs, 90),
    p99: percentile(xs, 99),
    min: xs.length ? Math.min(...xs) : Number.NaN,
    max: xs.length ? Math.max(...xs) : Number.NaN,
  };
}

const TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)Z?$/;

/**
 * One result cell as comparable text: integers (number, bigint, decimal string) as decimal
 * digits, timestamps (DuckDB `YYYY-MM-DD HH:MM:SS` or ISO `...Z`) as ISO-8601, null as `null`.
 */
export function normalizeCell(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v).toString() : String(v);
  const s = String(v);
  const ts = TIMESTAMP.exec(s);
  if (ts) return new Date(`${ts[1]}T${ts[2]}Z`).toISOString();
  if (/^-?\d+$/.test(s)) return BigInt(s).toString();
  return s;
}

export function normalizeRows(rows: readonly (readonly unknown[])[]): string[][] {
  return rows.map((r) => r.map(normalizeCell));
}

/** Milliseconds with a sensible precision for tables. */
export function ms(x: number): string {
  if (!Number.isFinite(x)) return '–';
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** A markdown table. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}
