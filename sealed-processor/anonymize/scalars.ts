/**
 * Port, timestamp and size transforms (pure numeric functions; no IO, no clock).
 *
 * Ports, `bin`: well-known ports 0–1023 are kept when `keepWellKnown` (default true; they
 * name services, not hosts), otherwise mapped to 0; registered ports 1024–49151 map to 1024
 * and dynamic/ephemeral ports 49152–65535 map to 49152 (IANA ranges, RFC 6335 §6): each bin
 * becomes its lower bound. `black-marker` maps every port to 0.
 *
 * Timestamps (microseconds since the epoch): `shift` subtracts one secret offset per
 * archive, derived from the master key (the same for time_start and time_end, so durations
 * and ordering survive); `coarsen` floors to a multiple of the precision.
 *
 * Sizes (packets, bytes): `bin` maps v > 0 to the lower bound of its power-of-two bucket
 * (2^⌊log2 v⌋), 0 stays 0.
 */

/** Port binning (see file comment). */
export function binPort(port: number, keepWellKnown: boolean): number {
  if (port < 1024) return keepWellKnown ? port : 0;
  return port < 49152 ? 1024 : 49152;
}

/** Floors a microsecond timestamp to a multiple of `precisionUs` (≥ 1). */
export function coarsenTime(us: number, precisionUs: number): number {
  return Math.floor(us / precisionUs) * precisionUs;
}

/**
 * Secret time offset in microseconds, uniform in [1 s, maxDays], from ≥ 6 bytes of subkey.
 * Whole seconds, so sub-second timing of the trace is unchanged.
 */
export function timeShiftOffsetUs(subkey: Uint8Array, maxDays: number): number {
  let x = 0;
  for (let i = 0; i < 6; i++) x = x * 256 + subkey[i];
  const maxSeconds = Math.max(1, Math.floor(maxDays * 86400));
  return (1 + (x % maxSeconds)) * 1_000_000;
}

/** Lower bound of the power-of-two bucket of a non-negative count (0 → 0). */
export function log2Bucket(v: number): number {
  if (v <= 0) return 0;
  let b = 2 ** Math.floor(Math.log2(v));
  // Math.log2 may round across a power of two for large v: correct by one step.
  if (b > v) b /= 2;
  else if (b * 2 <= v) b *= 2;
  return b;
}
