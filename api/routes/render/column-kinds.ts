/**
 * What a result column holds, decided once per answer from its DuckDB type name, and the
 * conversions of JSON-safe cells (api/ports.ts `Cell`, as api/engine/json-value.ts makes them)
 * back to typed values for the formats that keep types (Arrow IPC, Parquet).
 *
 * Every DuckDB type name maps through one table to a `ColumnKind`; a type without a typed
 * mapping (lists, structs, intervals, ...) becomes text with a recorded `fallback` reason,
 * never a crash. 64-bit and 128-bit integers stay exact: cells beyond ±2^53 arrive as decimal
 * strings and are parsed as BigInt.
 *
 * Owns: the DuckDB type table and the cell parsers. Never: rounds an integer through a double,
 * or puts a cell's value into an error message (cells may be addresses).
 */
import type { Cell } from '../../ports.ts';

export type ColumnKind =
  | { readonly kind: 'bool' }
  | { readonly kind: 'int'; readonly bits: 8 | 16 | 32 | 64; readonly signed: boolean }
  /** HUGEINT: 128-bit signed, carried as a 38-digit decimal with scale 0. */
  | { readonly kind: 'int128' }
  | { readonly kind: 'decimal'; readonly precision: number; readonly scale: number }
  | { readonly kind: 'float'; readonly bits: 32 | 64 }
  /** `fallback` says why a non-text DuckDB type is rendered as text (absent for real text). */
  | { readonly kind: 'utf8'; readonly fallback?: string }
  /** Microseconds since the epoch, UTC. */
  | { readonly kind: 'timestamp' }
  /** Days since the epoch. */
  | { readonly kind: 'date' };

const text = (fallback: string): ColumnKind => ({ kind: 'utf8', fallback });

/** DuckDB type names (as `DuckDBType.toString()` spells them) → kind. DECIMAL(p,s) is parsed. */
export const DUCKDB_TYPE_KINDS: Readonly<Record<string, ColumnKind>> = {
  BOOLEAN: { kind: 'bool' },
  TINYINT: { kind: 'int', bits: 8, signed: true },
  SMALLINT: { kind: 'int', bits: 16, signed: true },
  INTEGER: { kind: 'int', bits: 32, signed: true },
  BIGINT: { kind: 'int', bits: 64, signed: true },
  UTINYINT: { kind: 'int', bits: 8, signed: false },
  USMALLINT: { kind: 'int', bits: 16, signed: false },
  UINTEGER: { kind: 'int', bits: 32, signed: false },
  UBIGINT: { kind: 'int', bits: 64, signed: false },
  HUGEINT: { kind: 'int128' },
  FLOAT: { kind: 'float', bits: 32 },
  DOUBLE: { kind: 'float', bits: 64 },
  VARCHAR: { kind: 'utf8' },
  /** Not DuckDB's: api/query/shape-result.ts names prefix group keys (network text) so. */
  CIDR: { kind: 'utf8' },
  TIMESTAMP: { kind: 'timestamp' },
  'TIMESTAMP WITH TIME ZONE': { kind: 'timestamp' },
  TIMESTAMP_S: { kind: 'timestamp' },
  TIMESTAMP_MS: { kind: 'timestamp' },
  DATE: { kind: 'date' },
  TIMESTAMP_NS: text('nanosecond timestamps would lose precision as microseconds'),
  UHUGEINT: text('unsigned 128-bit integers exceed the 38-digit decimal range'),
  UUID: text('UUIDs are rendered in their text form'),
  INTERVAL: text('intervals are rendered in their text form'),
  TIME: text('times of day are rendered in their text form'),
  'TIME WITH TIME ZONE': text('times of day are rendered in their text form'),
  BLOB: text('binary values arrive as text from the engine'),
  BIT: text('bit strings are rendered in their text form'),
  BIGNUM: text('arbitrary-precision integers exceed the 38-digit decimal range'),
  VARINT: text('arbitrary-precision integers exceed the 38-digit decimal range'),
  JSON: text('JSON values are rendered as JSON text'),
};

/** The kind of a column of DuckDB type `type`; unknown names become text with a reason. */
export function columnKind(type: string): ColumnKind {
  const known = Object.hasOwn(DUCKDB_TYPE_KINDS, type) ? DUCKDB_TYPE_KINDS[type] : undefined;
  if (known !== undefined) return known;
  const dec = /^DECIMAL\((\d{1,2}),(\d{1,2})\)$/.exec(type.replaceAll(' ', ''));
  if (dec !== null) {
    const precision = Number(dec[1]);
    const scale = Number(dec[2]);
    if (precision >= 1 && precision <= 38 && scale <= precision) return { kind: 'decimal', precision, scale };
  }
  return text(`no typed mapping for DuckDB type ${type.slice(0, 64)}`);
}

/** A cell that does not fit its column's type: the engine broke its contract (names the column, never the value). */
export function badCell(column: string, expected: string): TypeError {
  return new TypeError(`result column ${JSON.stringify(column.slice(0, 64))}: a cell is not ${expected}`);
}

const INT_RANGE = {
  8: [-128, 127, 0, 255],
  16: [-32768, 32767, 0, 65535],
  32: [-2147483648, 2147483647, 0, 4294967295],
} as const;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const U64_MAX = 2n ** 64n - 1n;
const I128_LIMIT = 10n ** 38n;

/** An 8/16/32-bit integer cell as a number in range. @throws TypeError otherwise. */
export function smallIntCell(v: Cell, bits: 8 | 16 | 32, signed: boolean, column: string): number {
  const n = typeof v === 'string' && /^-?\d{1,10}$/.test(v) ? Number(v) : v;
  const [smin, smax, umin, umax] = INT_RANGE[bits];
  if (typeof n !== 'number' || !Number.isInteger(n) || n < (signed ? smin : umin) || n > (signed ? smax : umax)) {
    throw badCell(column, `a ${signed ? '' : 'u'}int${bits}`);
  }
  return n;
}

/** An integer cell (number, or exact decimal string) as a BigInt. @throws TypeError otherwise. */
export function bigIntCell(v: Cell, column: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d{1,40}$/.test(v)) return BigInt(v);
  throw badCell(column, 'an integer');
}

/** A 64-bit integer cell, range-checked. @throws TypeError otherwise. */
export function int64Cell(v: Cell, signed: boolean, column: string): bigint {
  const b = bigIntCell(v, column);
  if (signed ? b < I64_MIN || b > I64_MAX : b < 0n || b > U64_MAX) throw badCell(column, signed ? 'an int64' : 'a uint64');
  return b;
}

/**
 * A decimal cell as its unscaled integer at `scale` (`1.5` at scale 3 → 1500n). Numbers go
 * through their shortest round-trip text (what JSON shows), so `0.1` is 0.100, not the binary
 * double's expansion; digits beyond `scale` round half away from zero.
 * @throws TypeError when the cell is not a finite decimal or needs more than `precision` digits.
 */
export function unscaledDecimalCell(v: Cell, precision: number, scale: number, column: string): bigint {
  const t = typeof v === 'number' && Number.isFinite(v) ? String(v) : typeof v === 'string' ? v : '';
  const m = /^(-?)(\d{1,40})(?:\.(\d{1,40}))?(?:e([+-]?\d{1,3}))?$/i.exec(t);
  if (m === null) throw badCell(column, 'a decimal');
  const [, sign, int = '', frac = '', exp = '0'] = m;
  const digits = int + frac;
  // value = digits × 10^(exp − frac.length); wanted: value × 10^scale.
  const shift = Number(exp) - frac.length + scale;
  let unscaled: bigint;
  if (shift >= 0) unscaled = BigInt(digits) * 10n ** BigInt(shift);
  else {
    const div = 10n ** BigInt(-shift);
    const whole = BigInt(digits);
    unscaled = whole / div + ((whole % div) * 2n >= div ? 1n : 0n);
  }
  if (unscaled >= 10n ** BigInt(precision)) throw badCell(column, `a decimal of at most ${precision} digits`);
  return sign === '-' ? -unscaled : unscaled;
}

/** A HUGEINT cell as a BigInt within 38 digits (the Decimal128 / Parquet DECIMAL(38,0) range). */
export function int128Cell(v: Cell, column: string): bigint {
  const b = bigIntCell(v, column);
  if (b <= -I128_LIMIT || b >= I128_LIMIT) throw badCell(column, 'an integer of at most 38 digits');
  return b;
}

/** A float cell; the engine writes NaN and ±Infinity as strings. @throws TypeError otherwise. */
export function floatCell(v: Cell, column: string): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return Number(v);
  throw badCell(column, 'a number');
}

/** A boolean cell. @throws TypeError otherwise. */
export function boolCell(v: Cell, column: string): boolean {
  if (typeof v === 'boolean') return v;
  throw badCell(column, 'a boolean');
}

/** A text cell; numbers and booleans (columns rendered as text by fallback) become their text. */
export function textCell(v: Cell): string {
  return typeof v === 'string' ? v : String(v);
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  return era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468;
}

/** Digits of `s` at [from, to) as a number, or -1 if any is not 0-9. */
function digits(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** `YYYY-MM-DDTHH:MM:SS.ffffffZ` → microseconds since the epoch, or null if it is not exactly that. */
function isoMicros(v: string): bigint | null {
  if (v[4] !== '-' || v[7] !== '-' || v[10] !== 'T' || v[13] !== ':' || v[16] !== ':' || v[19] !== '.' || v[26] !== 'Z') return null;
  const y = digits(v, 0, 4), mo = digits(v, 5, 7), d = digits(v, 8, 10);
  const h = digits(v, 11, 13), mi = digits(v, 14, 16), sec = digits(v, 17, 19), us = digits(v, 20, 26);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 || us < 0) return null;
  const seconds = daysFromCivil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec;
  const total = seconds * 1_000_000 + us;
  return Number.isSafeInteger(total) ? BigInt(total) : BigInt(seconds) * 1_000_000n + BigInt(us);
}

const TIMESTAMP_RE = /^(-?\d{4,6})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * A timestamp cell (ISO-8601 `...Z` as json-value writes TIMESTAMP, or DuckDB's text form with
 * an offset as it writes TIMESTAMPTZ) as microseconds since the epoch, UTC. Digits beyond
 * microseconds are cut. @throws TypeError otherwise.
 */
export function timestampMicrosCell(v: Cell, column: string): bigint {
  // Fast path for json-value's own form `YYYY-MM-DDTHH:MM:SS.ffffffZ` (every TIMESTAMP cell),
  // parsed by character codes: Date.parse alone costs ~1.5 µs a call, and time columns
  // dominate record listings in Arrow and Parquet.
  if (typeof v === 'string' && v.length === 27) {
    const fast = isoMicros(v);
    if (fast !== null) return fast;
  }
  const m = typeof v === 'string' ? TIMESTAMP_RE.exec(v) : null;
  if (m === null) throw badCell(column, 'a timestamp');
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (!Number.isFinite(ms)) throw badCell(column, 'a timestamp');
  let offsetMin = 0;
  if (zone !== 'Z') {
    const z = zone.replace(':', '');
    offsetMin = (z[0] === '-' ? -1 : 1) * (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5) || '0'));
  }
  // Date.UTC maps years 0–99 to 1900–1999; correct that the way setUTCFullYear would.
  const fixed = Number(y) >= 0 && Number(y) < 100 ? new Date(ms).setUTCFullYear(Number(y)) : ms;
  return (BigInt(fixed) - BigInt(offsetMin) * 60_000n) * 1000n + BigInt(frac.padEnd(6, '0').slice(0, 6));
}

/** A `YYYY-MM-DD` date cell as days since the epoch. @throws TypeError otherwise. */
export function dateDaysCell(v: Cell, column: string): number {
  const m = typeof v === 'string' ? /^(-?\d{4,6})-(\d{2})-(\d{2})$/.exec(v) : null;
  const month = m === null ? 0 : Number(m[2]);
  const day = m === null ? 0 : Number(m[3]);
  if (m === null || month < 1 || month > 12 || day < 1 || day > 31) throw badCell(column, 'a date');
  return daysFromCivil(Number(m[1]), month, day);
}

