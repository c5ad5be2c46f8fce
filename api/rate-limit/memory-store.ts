/**
 * In-memory `RateLimitStore`: one token bucket per key, refilled continuously. Right for a
 * single API process; several replicas need a shared store (e.g. Redis) behind the same port.
 *
 * Each bucket keeps the spec (capacity, refill rate) it was last used with, so eviction judges
 * a bucket by its own limits: a depleted record budget is never mistaken for a full request
 * bucket just because the call that triggered eviction used a smaller capacity. Evicting a full
 * bucket loses nothing (it would be recreated full).
 *
 * Refills are floats (`refillPerMs` × elapsed), so their rounding noise is removed: a level
 * within `1e-9` of a whole token count is that count (9 per minute for 20 s is 3 tokens, not
 * 2.9999999999999996), and `retryAfterMs`/`resetMs` are whole milliseconds rounded up (a
 * refusal waits at least 1 ms), so a caller who waits exactly `retryAfterMs` finds its tokens.
 *
 * Owns: bucket arithmetic and eviction (full buckets first, then the fullest). Never: reads the
 * clock (the caller passes `nowMs`).
 */
import { wholeMs } from './wait-time.ts';
import type { BucketSpec, BucketState, RateLimitStore } from '../ports.ts';

interface Bucket {
  tokens: number;
  at: number;
  capacity: number;
  refillPerMs: number;
}

/** Tokens closer than this to a whole count are float noise. */
const NOISE_TOKENS = 1e-9;

function snapTokens(tokens: number): number {
  const whole = Math.round(tokens);
  return Math.abs(tokens - whole) < NOISE_TOKENS ? whole : tokens;
}

/** Tokens the bucket would hold at `nowMs`, as a fraction of its capacity (1 = full). */
function fullness(b: Bucket, nowMs: number): number {
  const tokens = Math.min(b.capacity, b.tokens + Math.max(0, nowMs - b.at) * b.refillPerMs);
  return b.capacity > 0 ? tokens / b.capacity : 1;
}

/**
 * Creates the store. `maxKeys` bounds memory (default 100 000). When a new key would exceed it,
 * buckets that have refilled to their own capacity are dropped; if that is not enough, the
 * fullest buckets go first (about 1 % of `maxKeys` at once, so the scan is amortised).
 */
export function createMemoryRateLimitStore(maxKeys = 100_000): RateLimitStore {
  const buckets = new Map<string, Bucket>();

  function evict(nowMs: number): void {
    for (const [key, b] of buckets) {
      if (fullness(b, nowMs) >= 1) buckets.delete(key);
    }
    if (buckets.size < maxKeys) return;
    const target = Math.max(0, maxKeys - Math.max(1, Math.ceil(maxKeys / 100)));
    const ranked = [...buckets].map(([key, b]) => ({ key, f: fullness(b, nowMs) })).sort((x, y) => y.f - x.f);
    for (const { key } of ranked) {
      if (buckets.size <= target) break;
      buckets.delete(key);
    }
  }

  return {
    async take(key, cost, spec, nowMs, options) {
      let b = buckets.get(key);
      if (!b) {
        if (buckets.size >= maxKeys) evict(nowMs);
        b = { tokens: spec.capacity, at: nowMs, capacity: spec.capacity, refillPerMs: spec.refillPerMs };
        buckets.set(key, b);
      }
      b.capacity = spec.capacity;
      b.refillPerMs = spec.refillPerMs;
      const elapsed = Math.max(0, nowMs - b.at);
      b.tokens = snapTokens(Math.min(spec.capacity, b.tokens + elapsed * spec.refillPerMs));
      b.at = Math.max(b.at, nowMs);
      const allowed = b.tokens >= cost || options?.force === true;
      // A negative cost is a refund; it never lifts the bucket above its capacity.
      if (allowed) b.tokens = Math.min(spec.capacity, b.tokens - cost);
      const state: BucketState = {
        allowed,
        remaining: b.tokens,
        resetMs: spec.refillPerMs > 0 ? wholeMs((spec.capacity - b.tokens) / spec.refillPerMs) : 0,
        retryAfterMs: allowed || spec.refillPerMs <= 0 ? 0 : Math.max(1, wholeMs((cost - b.tokens) / spec.refillPerMs)),
      };
      return state;
    },
  };
}
