/**
 * The error every failed API call becomes: the server's envelope
 * `{ error: { code, message, requestId, details? } }` with the HTTP status, so callers
 * `switch (err.code)` on the stable codes of schemas/errors.ts.
 *
 * Owns: reading an error response. Never: puts the bearer token or the request body into a
 * message; reads at most 64 KiB of an error body.
 */
import type { ErrorCode } from '../schemas/errors.ts';

/**
 * Client-side codes for answers that carry no API envelope (a proxy's HTML page, a body that
 * is not JSON, or a success answer that is not what the API sends).
 */
export const ClientErrorCode = {
  /** The response was not the API's JSON (error envelope or result) — a proxy or another server answered. */
  BadResponse: 'ERR_CLIENT_BAD_RESPONSE',
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

export class FlowsealApiError extends Error {
  /** A stable API code (schemas/errors.ts), or a client code when the answer had no envelope. */
  readonly code: ErrorCode | ClientErrorCode;
  /** HTTP status. */
  readonly status: number;
  /** Non-sensitive details from the server (e.g. `position` and `expected` of a filter syntax error). */
  readonly details: Record<string, unknown> | undefined;
  /** The server's request id (quote it when reporting a problem); empty when unknown. */
  readonly requestId: string;
  /** Seconds from the `Retry-After` header of a 429/503, when given. */
  readonly retryAfterSec: number | undefined;
  constructor(init: { code: ErrorCode | ClientErrorCode; status: number; message: string; details?: Record<string, unknown> | undefined; requestId?: string; retryAfterSec?: number | undefined }) {
    super(init.message);
    this.name = 'FlowsealApiError';
    this.code = init.code;
    this.status = init.status;
    this.details = init.details;
    this.requestId = init.requestId ?? '';
    this.retryAfterSec = init.retryAfterSec;
  }
}

export function isFlowsealApiError(e: unknown): e is FlowsealApiError {
  return e instanceof FlowsealApiError;
}

const MAX_ERROR_BODY = 65_536;

/** The body's text, at most `MAX_ERROR_BODY` bytes of it. */
async function boundedText(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_ERROR_BODY) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const all = new Uint8Array(Math.min(size, MAX_ERROR_BODY));
  let o = 0;
  for (const c of chunks) {
    const take = Math.min(c.byteLength, all.length - o);
    all.set(c.subarray(0, take), o);
    o += take;
  }
  return new TextDecoder().decode(all);
}

/** Builds the error for a non-2xx response (consumes its body). */
export async function errorFromResponse(res: Response, retryAfterSec: number | undefined): Promise<FlowsealApiError> {
  const text = await boundedText(res);
  let envelope: unknown;
  try {
    envelope = JSON.parse(text);
  } catch {
    envelope = undefined;
  }
  const e = (envelope as { error?: { code?: unknown; message?: unknown; requestId?: unknown; details?: unknown } } | undefined)?.error;
  if (e && typeof e.code === 'string' && typeof e.message === 'string') {
    return new FlowsealApiError({
      code: e.code as ErrorCode,
      status: res.status,
      message: e.message,
      details: e.details !== null && typeof e.details === 'object' ? (e.details as Record<string, unknown>) : undefined,
      requestId: typeof e.requestId === 'string' ? e.requestId : '',
      retryAfterSec,
    });
  }
  return new FlowsealApiError({
    code: ClientErrorCode.BadResponse,
    status: res.status,
    message: `HTTP ${res.status} ${res.statusText || ''}`.trim() + ' without an API error envelope',
    retryAfterSec,
  });
}
