/**
 * Back-off for answers that say "try again later": 429 (rate limit, a full per-subject queue)
 * and 503 (the server's queue is full, the archive changed under a query). The wait honours
 * `Retry-After` (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) and never retries earlier
 * than it says; jitter only adds to it, so many clients told the same second do not return in
 * lockstep. Without the header: exponential back-off with jitter.
 *
 * Owns: the retry policy and an abortable sleep. Never: reads a clock other than the injected
 * `now`, retries any other status, or waits longer than `maxDelayMs` at once (a longer
 * Retry-After, such as a record budget's, is left to the caller: the error is thrown).
 */

export interface RetryOptions {
  /** Retries after the first attempt; 0 disables retrying. Default 3. */
  readonly maxRetries?: number;
  /** First back-off when the answer has no Retry-After, doubled per retry. Default 500 ms. */
  readonly baseDelayMs?: number;
  /** Longest single wait; an answer asking for more is not retried. Default 30 000 ms. */
  readonly maxDelayMs?: number;
  /** Uniform random in [0, 1) for jitter. Default Math.random. */
  readonly random?: () => number;
}

/** Statuses that are retried. */
export const RETRIABLE_STATUSES: ReadonlySet<number> = new Set([429, 503]);

export const RETRY_DEFAULTS = { maxRetries: 3, baseDelayMs: 500, maxDelayMs: 30_000 } as const;

/**
 * Seconds to wait from a `Retry-After` value, or undefined when absent or malformed.
 * An HTTP-date in the past gives 0.
 */
export function parseRetryAfter(header: string | null | undefined, nowMs: number): number | undefined {
  if (header === null || header === undefined) return undefined;
  const text = header.trim();
  if (/^\d{1,10}$/.test(text)) return Number(text);
  // An HTTP-date always names the weekday and GMT (IMF-fixdate and the obsolete forms).
  if (!/GMT$/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}

/**
 * How long to wait before retry number `retry` (0 = the first retry), or null to give up:
 * retries used up, or the server asks for longer than `maxDelayMs`.
 * With Retry-After: that many seconds plus up to 20 % (at most 1 s) of jitter.
 * Without: `baseDelayMs · 2^retry`, capped at `maxDelayMs`, from half to all of it ("equal jitter").
 */
export function retryDelayMs(retry: number, retryAfterSec: number | undefined, options: RetryOptions = {}): number | null {
  const maxRetries = options.maxRetries ?? RETRY_DEFAULTS.maxRetries;
  const maxDelay = options.maxDelayMs ?? RETRY_DEFAULTS.maxDelayMs;
  const random = options.random ?? Math.random;
  if (retry >= maxRetries) return null;
  if (retryAfterSec !== undefined) {
    const wait = retryAfterSec * 1000;
    if (wait > maxDelay) return null;
    return wait + Math.floor(random() * Math.min(1000, wait * 0.2));
  }
  const cap = Math.min(maxDelay, (options.baseDelayMs ?? RETRY_DEFAULTS.baseDelayMs) * 2 ** retry);
  return Math.floor(cap / 2 + random() * (cap / 2));
}

/** Resolves after `ms`; rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
