/**
 * Waits of token buckets as callers see them: whole milliseconds rounded up (float noise just
 * above a whole count dropped: 60000.00000000001 is 60000) and `Retry-After` seconds (whole,
 * rounded up, at least 1). One definition for every store and every budget. Pure.
 */

/** A wait at most this far above a whole millisecond is float noise. */
const NOISE_MS = 1e-6;

/** `ms` rounded up to a whole millisecond, ignoring float noise just above a whole count. */
export function wholeMs(ms: number): number {
  return Math.max(0, Math.ceil(ms - NOISE_MS));
}

/** `Retry-After` for a wait of `ms`: whole seconds, rounded up, never 0. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(wholeMs(ms) / 1000));
}
