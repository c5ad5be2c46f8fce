/**
 * Converts DuckDB values (as @duckdb/node-api returns them) to JSON-safe values.
 *
 * Owns: BIGINT/UBIGINT/HUGEINT → number when |v| ≤ 2^53, else decimal string; TIMESTAMP →
 * ISO-8601 with microseconds and `Z`; DATE → `YYYY-MM-DD`; DECIMAL → number. Never: loses
 * precision silently (big integers become strings, not rounded numbers).
 */
import { DuckDBDateValue, DuckDBDecimalValue, DuckDBTimestampValue } from '@duckdb/node-api';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

const US_PER_S = 1_000_000n;
const MAX_SAFE_US = 2 ** 53;

/**
 * A formatter of microsecond times → `YYYY-MM-DDTHH:MM:SS.ffffffZ` that keeps the text up to
 * the second for the last second it saw: one per column, since a listing's rows come in time
 * order, often several a second (two columns sharing one cache would evict each other).
 */
export function microsFormatter(): (micros: bigint) => string {
  let second = NaN;
  let prefix = '';
  return (micros) => {
    let sec: number;
    let frac: number;
    const n = Number(micros);
    if (Math.abs(n) < MAX_SAFE_US) {
      sec = Math.floor(n / 1e6);
      frac = n - sec * 1e6;
    } else {
      let s = micros / US_PER_S;
      let f = micros % US_PER_S;
      if (f < 0n) {
        f += US_PER_S;
        s -= 1n;
      }
      sec = Number(s);
      frac = Number(f);
    }
    if (sec !== second) {
      prefix = new Date(sec * 1000).toISOString().slice(0, -4); // ...SS.
      second = sec;
    }
    return `${prefix}${String(frac).padStart(6, '0')}Z`;
  };
}

const sharedFormatter = microsFormatter();

/** Microseconds since the epoch → `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
export function microsToIso(micros: bigint): string {
  return sharedFormatter(micros);
}

/** A bigint as a JSON-safe number or, beyond ±2^53, a decimal string. */
export function bigintToJson(v: bigint): number | string {
  return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v.toString();
}

/** One DuckDB value → JSON-safe value. */
export function toJsonValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'bigint':
      return bigintToJson(v);
    case 'number':
      return Number.isFinite(v) ? v : String(v);
    case 'string':
    case 'boolean':
      return v;
    default:
      break;
  }
  if (v instanceof DuckDBTimestampValue) return microsToIso(v.micros);
  if (v instanceof DuckDBDateValue) return v.toString();
  if (v instanceof DuckDBDecimalValue) return v.toDouble();
  return String(v);
}

const identity = (v: unknown): unknown => (v === undefined ? null : v);
const bigints = (v: unknown): unknown => (typeof v === 'bigint' ? bigintToJson(v) : toJsonValue(v));

/**
 * The converter for a column of DuckDB type `type` (its name, e.g. `UBIGINT`), chosen once per
 * column: the same values as `toJsonValue`, without testing every cell's kind.
 */
export function jsonConverter(type: string): (v: unknown) => unknown {
  switch (type) {
    case 'VARCHAR':
    case 'BOOLEAN':
    case 'TINYINT':
    case 'SMALLINT':
    case 'INTEGER':
    case 'UTINYINT':
    case 'USMALLINT':
    case 'UINTEGER':
      return identity;
    case 'BIGINT':
    case 'UBIGINT':
    case 'HUGEINT':
    case 'UHUGEINT':
      return bigints;
    case 'TIMESTAMP': {
      const format = microsFormatter();
      return (v) => (v instanceof DuckDBTimestampValue ? format(v.micros) : toJsonValue(v));
    }
    default:
      return toJsonValue;
  }
}
