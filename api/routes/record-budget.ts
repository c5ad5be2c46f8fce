/**
 * The per-subject record budget: how many record rows (listings, and aggregates whose keys
 * identify single connections) one subject may receive per period. Rows are *reserved* before
 * the query runs and the unused part is refunded afterwards, so concurrent requests can never
 * together receive more than the budget holds.
 *
 * Owns: the budget bucket key and spec, reservation and refund. Never: keys a budget by anything
 * but the verified issuer + subject.
 */
import { retryAfterSeconds } from '../rate-limit/wait-time.ts';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { Principal } from '../../schemas/claims.ts';
import type { ApiLimits } from '../../schemas/api-config.ts';
import type { BucketSpec, RateLimitStore } from '../ports.ts';

/** Rows held for one request; give back what was not used with `settle`. */
export interface RecordReservation {
  /** Rows reserved: the most this request may return. */
  readonly rows: number;
  /**
   * Refunds `reserved - used` rows and returns the budget left afterwards (whole rows, ≥ 0).
   * Call exactly once; `used` 0 when the query failed.
   */
  settle(used: number): Promise<number>;
}

/** How many reservation attempts under contention before answering 429. */
const MAX_ATTEMPTS = 4;

function budgetSpec(limits: ApiLimits): BucketSpec {
  return { capacity: limits.maxRowsPerPeriod, refillPerMs: limits.maxRowsPerPeriod / (limits.recordPeriodSec * 1000) };
}

/** The refusal, with the whole seconds (≥ 1, rounded up) until one row is back. */
function exhausted(spec: BucketSpec, remaining: number): AppError {
  const retryAfterSec = retryAfterSeconds(Math.max(0, 1 - remaining) / spec.refillPerMs);
  return new AppError(ErrorCode.RateLimited, 'record budget for this period is used up; use aggregates or wait', { details: { retryAfterSec } });
}

/**
 * Reserves up to `wanted` rows (≥ 1) from the principal's budget: all of them if available,
 * otherwise whatever whole rows are left.
 * @throws AppError ERR_RATE_LIMITED when not one row is left (or contention persists).
 */
export async function reserveRecordRows(store: RateLimitStore, limits: ApiLimits, principal: Principal, wanted: number, now: () => number): Promise<RecordReservation> {
  const key = `records|${principal.issuer}|${principal.subject}`;
  const spec = budgetSpec(limits);
  let ask = Math.max(1, Math.floor(wanted));
  let remaining = 0;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    const state = await store.take(key, ask, spec, now());
    if (state.allowed) {
      const rows = ask;
      return {
        rows,
        async settle(used: number): Promise<number> {
          const unused = rows - Math.min(rows, Math.max(0, Math.floor(used)));
          const after = await store.take(key, -unused, spec, now(), { force: true });
          return Math.max(0, Math.floor(after.remaining));
        },
      };
    }
    // Refused: `remaining` is what the bucket holds now; ask for that instead (another request
    // may take it first, hence the loop).
    remaining = state.remaining;
    ask = Math.min(ask, Math.floor(remaining));
    if (ask < 1) break;
  }
  throw exhausted(spec, remaining);
}
