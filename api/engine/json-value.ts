/**
 * Converts DuckDB values (as @duckdb/node-api returns them) to JSON-safe values.
 *
 * Owns: BIGINT/UBIGINT/HUGEINT → number when |v| ≤ 2^53, else decimal string; TIMESTAMP →
 * ISO-8601 with microseconds and `Z`; DATE → `YYYY-MM-DD`; DECIMAL → number. Never: loses
 * precision silently (big integers become strings, not rounded numbers).
 */
import { DuckDBDateValue, DuckDBDecimalValue, DuckDBTimestampValue } from '@duckdb/node-api';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Microseconds since the epoch → `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
export function microsToIso(micros: bigint): string {
  let ms = micros / 1000n;
  let us = micros % 1000n;
  if (us < 0n) {
    us += 1000n;
    ms -= 1n;
  }
  const base = new Date(Number(ms)).toISOString(); // ...SS.mmmZ
  return `${base.slice(0, -1)}${us.toString().padStart(3, '0')}Z`;
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
