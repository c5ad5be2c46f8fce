/**
 * In-memory `RateLimitStore`: one token bucket per key, refilled continuously. Right for a
 * single API process; several replicas need a shared store (e.g. Redis) behind the same port.
 *
 * Owns: bucket arithmetic and eviction of full, idle buckets. Never: reads the clock (the
 * caller passes `nowMs`).
 */
import type { BucketSpec, BucketState, RateLimitStore } from '../ports.ts';

interface Bucket {
  tokens: number;
  at: number;
}

/** Creates the store. `maxKeys` bounds memory (default 100 000): full buckets are evicted first. */
export function createMemoryRateLimitStore(maxKeys = 100_000): RateLimitStore {
  const buckets = new Map<string, Bucket>();

  function evict(nowMs: number, spec: BucketSpec): void {
    for (const [key, b] of buckets) {
      if (b.tokens + (nowMs - b.at) * spec.refillPerMs >= spec.capacity) buckets.delete(key);
    }
    // Still full of active buckets: drop the oldest entries (insertion order).
    for (const key of buckets.keys()) {
      if (buckets.size < maxKeys) break;
      buckets.delete(key);
    }
  }

  return {
    async take(key, cost, spec, nowMs, options) {
      let b = buckets.get(key);
      if (!b) {
        if (buckets.size >= maxKeys) evict(nowMs, spec);
        b = { tokens: spec.capacity, at: nowMs };
        buckets.set(key, b);
      }
      const elapsed = Math.max(0, nowMs - b.at);
      b.tokens = Math.min(spec.capacity, b.tokens + elapsed * spec.refillPerMs);
      b.at = Math.max(b.at, nowMs);
      const allowed = b.tokens >= cost || options?.force === true;
      if (allowed) b.tokens -= cost;
      const state: BucketState = {
        allowed,
        remaining: b.tokens,
        resetMs: spec.refillPerMs > 0 ? Math.max(0, (spec.capacity - b.tokens) / spec.refillPerMs) : 0,
        retryAfterMs: allowed || spec.refillPerMs <= 0 ? 0 : (cost - b.tokens) / spec.refillPerMs,
      };
      return state;
    },
  };
}
