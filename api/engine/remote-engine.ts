/**
 * The remote engine: forwards an API request, already checked at the edge, to an origin query
 * node over `fetch` and hands back the origin's answer. Used by the Cloudflare Workers gateway
 * (api/adapters/worker.ts); any runtime with Web `fetch` can use it.
 *
 * The split: queries cross as **plans** (api/query/plan.ts, `POST /v1/plan` at the origin), with
 * the caller's own bearer token — never SQL. The origin keeps the full app (`createApp` over
 * DuckDB) and stays the authority: it verifies the token again, plans the forwarded plan again
 * from the request it stands for under its own limits (scopes, dataset access, record budgets,
 * caps, filter limits), and compiles it itself. Forwarding SQL instead would make origins
 * execute SQL received over the network (anyone holding the edge's credential could read the
 * whole archive inside the DuckDB sandbox, bypassing every cap), and budgets that need global
 * state would move into per-isolate memory. So the edge only sheds load early (bad tokens,
 * rate limit, invalid queries) and the origin never trusts it.
 *
 * Owns: building the origin request (method, path, query, body, an allow-list of headers, the
 * client address as `X-Forwarded-For`),
 * the deadline, and filtering the origin's response headers. Never: adds credentials of its
 * own, forwards cookies or client-chosen hop headers, or reveals the origin URL or its errors
 * to the client (failures become ERR_UPSTREAM_UNAVAILABLE, 502, with the cause kept for the log).
 */
import { AppError, ErrorCode } from '../../schemas/errors.ts';

/**
 * Request headers passed to the origin; everything else (cookies, the client's own
 * X-Forwarded-*, ...) is dropped. The edge's view of the client address goes as a fresh
 * `X-Forwarded-For` (see `ForwardOptions.clientAddress`).
 */
export const FORWARDED_REQUEST_HEADERS = ['authorization', 'content-type', 'accept'] as const;

/** Response headers passed back from the origin. */
export const FORWARDED_RESPONSE_HEADERS = [
  'content-type',
  'x-request-id',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
  'retry-after',
  'www-authenticate',
  'cache-control',
  'vary',
  'flowseal-stats',
] as const;

export interface RemoteEngineOptions {
  /** Base URL of the origin query node, `http:` or `https:` (a path prefix is kept). */
  readonly originUrl: string;
  /** Default `globalThis.fetch` (on Workers this may be a service binding's `fetch`). */
  readonly fetch?: (request: Request) => Promise<Response>;
  /** Deadline for the origin's answer (status, headers and body), ms. Default 30 000. */
  readonly timeoutMs?: number;
}

export interface ForwardOptions {
  /** The request body already read (and size-checked) by the edge; omitted for GET/HEAD. */
  readonly body?: string | ArrayBuffer;
  /**
   * The client address as the edge determined it: sent as `X-Forwarded-For` (this one value,
   * never the client's own header), which the origin believes only when the edge's address is
   * in its `trustedProxies`.
   */
  readonly clientAddress?: string | null;
  /** Send to this origin path (and no query string) instead of the incoming request's, e.g. `/v1/plan`. */
  readonly path?: string;
  /** The method to use instead of the incoming request's (with `path`). */
  readonly method?: 'GET' | 'POST';
}

export interface RemoteEngine {
  /** The origin base URL, normalised (no trailing slash). */
  readonly originUrl: string;
  /**
   * Sends `request`'s method, path, query string, allow-listed headers and `body` to the same
   * path under the origin, and returns the origin's status, body and allow-listed headers.
   * @throws AppError ERR_UPSTREAM_UNAVAILABLE when the origin cannot be reached or misses the deadline.
   */
  forward(request: Request, options?: ForwardOptions): Promise<Response>;
}

/**
 * Creates the remote engine.
 * @throws TypeError when `originUrl` is not an absolute http(s) URL or `timeoutMs` is not positive.
 */
export function createRemoteEngine(options: RemoteEngineOptions): RemoteEngine {
  let base: URL;
  try {
    base = new URL(options.originUrl);
  } catch {
    throw new TypeError('originUrl must be an absolute URL');
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError('originUrl must be http: or https:');
  if (base.search !== '' || base.hash !== '' || base.username !== '' || base.password !== '') {
    throw new TypeError('originUrl must not carry a query, fragment or credentials');
  }
  const prefix = base.pathname.replace(/\/+$/, '');
  const originUrl = `${base.origin}${prefix}`;
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (!(timeoutMs > 0)) throw new TypeError('timeoutMs must be positive');
  const send = options.fetch ?? ((r: Request) => fetch(r));

  return {
    originUrl,
    async forward(request, forwardOptions = {}) {
      const incoming = new URL(request.url);
      const target = forwardOptions.path !== undefined ? `${originUrl}${forwardOptions.path}` : `${originUrl}${incoming.pathname}${incoming.search}`;
      const method = forwardOptions.method ?? request.method;
      const headers = new Headers();
      for (const name of FORWARDED_REQUEST_HEADERS) {
        const value = request.headers.get(name);
        if (value !== null) headers.set(name, value);
      }
      if (forwardOptions.clientAddress) headers.set('x-forwarded-for', forwardOptions.clientAddress);
      // A plan the edge built (from a GET as well) is JSON whatever the incoming request carried.
      if (forwardOptions.path !== undefined && forwardOptions.body !== undefined) headers.set('content-type', 'application/json');
      const hasBody = method !== 'GET' && method !== 'HEAD' && forwardOptions.body !== undefined;
      const outgoing = new Request(target, {
        method,
        headers,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
        ...(hasBody ? { body: forwardOptions.body } : {}),
      });
      let answer: Response;
      try {
        answer = await send(outgoing);
      } catch (cause) {
        const timedOut = cause instanceof Error && cause.name === 'TimeoutError';
        throw new AppError(ErrorCode.UpstreamUnavailable, timedOut ? 'origin did not answer in time' : 'origin unreachable', { cause });
      }
      if (answer.status >= 300 && answer.status < 400) {
        await answer.body?.cancel();
        throw new AppError(ErrorCode.UpstreamUnavailable, 'origin answered with a redirect');
      }
      const out = new Headers();
      for (const name of FORWARDED_RESPONSE_HEADERS) {
        const value = answer.headers.get(name);
        if (value !== null) out.set(name, value);
      }
      return new Response(answer.body, { status: answer.status, headers: out });
    },
  };
}
