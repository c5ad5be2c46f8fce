/**
 * A typed client for the flowseal query API, on the Web `fetch` alone, so the same code runs in
 * browsers, Node ≥ 18, Bun and Deno:
 *
 * ```ts
 * import { FlowsealClient } from 'flowseal/client';
 * const api = new FlowsealClient({ baseUrl: 'http://127.0.0.1:8787', token });
 * const top = await api.top({ dataset: 'demo', from: '-1h', to: 'now', by: 'dst_port', metric: 'bytes' });
 * for await (const page of api.records({ dataset: 'demo', timeRange: { from: '-1h', to: 'now' } }, { maxRows: 5000 })) use(page.rows);
 * ```
 *
 * Every failed call throws a `FlowsealApiError` (code, status, message, details, requestId).
 * 429 and 503 answers are retried after the server's `Retry-After` (bounded, with jitter,
 * abortable by the call's `signal`; see retry.ts).
 *
 * Owns: URLs, headers, retries and decoding answers. Never: imports server code (api/, ingest/,
 * sealed-processor/) or zod at run time; never puts the token anywhere but the Authorization
 * header (not into URLs, errors or retry callbacks).
 */
import { FlowsealApiError, ClientErrorCode, errorFromResponse } from './errors.ts';
import { RETRIABLE_STATUSES, parseRetryAfter, retryDelayMs, sleep } from './retry.ts';
import type { RetryOptions } from './retry.ts';
import { FORMAT_MEDIA_TYPES } from './types.ts';
import type {
  DatasetDetail,
  DatasetList,
  FilterInput,
  QueryFormat,
  QueryObjectsResult,
  QueryRequestInput,
  QueryResult,
  QueryStats,
  TimeseriesParams,
  TopParams,
} from './types.ts';

export * from './types.ts';
export { FlowsealApiError, ClientErrorCode, isFlowsealApiError } from './errors.ts';
export { parseRetryAfter, retryDelayMs, RETRY_DEFAULTS } from './retry.ts';
export type { RetryOptions } from './retry.ts';

/** What `onRetry` is told before each wait (never the token). */
export interface RetryInfo {
  /** 0 for the first retry. */
  readonly retry: number;
  readonly delayMs: number;
  readonly status: number;
  readonly code: string;
  readonly requestId: string;
}

export interface FlowsealClientOptions {
  /** API base URL, e.g. `http://127.0.0.1:8787`; a path prefix (`https://host/flowseal`) is kept. */
  readonly baseUrl: string;
  /** Bearer token, or a function giving one per request (for tokens that refresh). */
  readonly token?: string | (() => string | Promise<string>);
  /** Default `globalThis.fetch`. */
  readonly fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /** Back-off on 429/503; `{ maxRetries: 0 }` turns it off. */
  readonly retry?: RetryOptions;
  readonly onRetry?: (info: RetryInfo) => void;
  /** Extra headers on every request. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
}

/** JSON answers: rows as arrays aligned with `columns` (default) or as objects keyed by column name. */
export interface JsonOptions extends CallOptions {
  readonly format?: 'json';
  readonly shape?: 'arrays' | 'objects';
}

/** Any other format: the `Response` is returned unread (stream it, or `arrayBuffer()`/`text()` it). */
export interface FormatOptions extends CallOptions {
  readonly format: Exclude<QueryFormat, 'json'>;
}

export interface RecordsOptions extends CallOptions {
  /** Stop after this many rows in total, over all pages (the last page is cut to fit). */
  readonly maxRows: number;
}

/**
 * The stats of a non-JSON answer, from its `Flowseal-Stats` header (JSON), or undefined when the
 * server sent none (answers too large to buffer).
 */
export function statsFromHeaders(res: Response): (QueryStats & { requestId?: string }) | undefined {
  const text = res.headers.get('Flowseal-Stats');
  if (text === null) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' ? (v as QueryStats & { requestId?: string }) : undefined;
  } catch {
    return undefined;
  }
}

/** Rows as objects keyed by column name (a missing cell becomes null). */
export function rowsAsObjects(result: QueryResult): QueryObjectsResult {
  const names = result.columns.map((c) => c.name);
  return { ...result, rows: result.rows.map((row) => Object.fromEntries(names.map((n, i) => [n, row[i] ?? null]))) };
}

function filterParam(filter: FilterInput): string {
  return typeof filter === 'string' ? filter : JSON.stringify(filter);
}

function list(v: string | readonly string[]): string {
  return typeof v === 'string' ? v : v.join(',');
}

export class FlowsealClient {
  readonly #base: string;
  readonly #token: FlowsealClientOptions['token'];
  readonly #fetch: (input: string, init: RequestInit) => Promise<Response>;
  readonly #retry: RetryOptions;
  readonly #onRetry: ((info: RetryInfo) => void) | undefined;
  readonly #headers: Readonly<Record<string, string>>;

  /** @throws TypeError when `baseUrl` is not an http(s) URL or no fetch is available. */
  constructor(options: FlowsealClientOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new TypeError('baseUrl must be an absolute http(s) URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('baseUrl must be an absolute http(s) URL');
    this.#base = url.href.replace(/\/+$/, '');
    this.#token = options.token;
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new TypeError('no fetch available: pass options.fetch');
    // Called as a plain function: browsers refuse `fetch` invoked as a method of another object.
    this.#fetch = (input, init) => f(input, init);
    this.#retry = options.retry ?? {};
    this.#onRetry = options.onRetry;
    this.#headers = options.headers ?? {};
  }

  /** `GET /v1/datasets`: the datasets this token may query. */
  async datasets(options: CallOptions = {}): Promise<DatasetList> {
    return this.#json<DatasetList>(await this.#send('GET', '/v1/datasets', { signal: options.signal }));
  }

  /** `GET /v1/datasets/{id}`: time range, counts, key ids and the column schema. */
  async dataset(id: string, options: CallOptions = {}): Promise<DatasetDetail> {
    return this.#json<DatasetDetail>(await this.#send('GET', `/v1/datasets/${encodeURIComponent(id)}`, { signal: options.signal }));
  }

  /** `POST /v1/query`. */
  query(request: QueryRequestInput, options?: JsonOptions & { shape?: 'arrays' }): Promise<QueryResult>;
  query(request: QueryRequestInput, options: JsonOptions & { shape: 'objects' }): Promise<QueryObjectsResult>;
  query(request: QueryRequestInput, options: FormatOptions): Promise<Response>;
  async query(request: QueryRequestInput, options: JsonOptions | FormatOptions = {}): Promise<QueryResult | QueryObjectsResult | Response> {
    return this.#answer('POST', '/v1/query', { body: JSON.stringify(request) }, options);
  }

  /** `GET /v1/datasets/{id}/top`: the top `n` groups by the first metric. */
  top(params: TopParams, options?: JsonOptions & { shape?: 'arrays' }): Promise<QueryResult>;
  top(params: TopParams, options: JsonOptions & { shape: 'objects' }): Promise<QueryObjectsResult>;
  top(params: TopParams, options: FormatOptions): Promise<Response>;
  async top(params: TopParams, options: JsonOptions | FormatOptions = {}): Promise<QueryResult | QueryObjectsResult | Response> {
    const q = this.#baseParams(params);
    if (params.by !== undefined) q.set('by', list(params.by));
    if (params.metric !== undefined) q.set('metric', list(params.metric));
    if (params.n !== undefined) q.set('n', String(params.n));
    if (params.other !== undefined) q.set('other', String(params.other));
    return this.#answer('GET', `/v1/datasets/${encodeURIComponent(params.dataset)}/top`, { query: q }, options);
  }

  /** `GET /v1/datasets/{id}/timeseries`: metrics per time bucket, optionally stacked by a column. */
  timeseries(params: TimeseriesParams, options?: JsonOptions & { shape?: 'arrays' }): Promise<QueryResult>;
  timeseries(params: TimeseriesParams, options: JsonOptions & { shape: 'objects' }): Promise<QueryObjectsResult>;
  timeseries(params: TimeseriesParams, options: FormatOptions): Promise<Response>;
  async timeseries(params: TimeseriesParams, options: JsonOptions | FormatOptions = {}): Promise<QueryResult | QueryObjectsResult | Response> {
    const q = this.#baseParams(params);
    if (params.bucket !== undefined) q.set('bucket', params.bucket);
    if (params.metric !== undefined) q.set('metric', list(params.metric));
    if (params.by !== undefined) q.set('by', params.by);
    if (params.fill !== undefined) q.set('fill', String(params.fill));
    return this.#answer('GET', `/v1/datasets/${encodeURIComponent(params.dataset)}/timeseries`, { query: q }, options);
  }

  /**
   * A record listing, page by page: each page is one `POST /v1/query` answer, the next one asked
   * for with the previous page's `stats.nextCursor`, until there is none or `maxRows` rows came.
   * The request's `limit` is the page size (lowered to `maxRows` when larger or absent); every
   * page repeats the same request, so the cursor always matches it.
   * @throws TypeError when `request.groupBy` is set or `maxRows` is not a positive integer;
   *   FlowsealApiError from any page.
   */
  async *records(request: QueryRequestInput, options: RecordsOptions): AsyncGenerator<QueryResult, void, undefined> {
    if (request.groupBy !== undefined) throw new TypeError('records() lists records: leave groupBy out');
    if (!Number.isSafeInteger(options.maxRows) || options.maxRows <= 0) throw new TypeError('maxRows must be a positive integer');
    const { maxRows } = options;
    const body: Record<string, unknown> = { ...request, limit: Math.min(request.limit ?? maxRows, maxRows) };
    let cursor = (request as { cursor?: string }).cursor;
    let total = 0;
    while (total < maxRows) {
      const page = await this.query({ ...body, ...(cursor !== undefined ? { cursor } : {}) } as QueryRequestInput, options.signal ? { signal: options.signal } : {});
      const room = maxRows - total;
      if (page.rows.length > room) page.rows = page.rows.slice(0, room);
      total += page.rows.length;
      yield page;
      cursor = page.stats.nextCursor;
      if (cursor === undefined || page.rows.length === 0) return;
    }
  }

  #baseParams(p: { from: string; to: string; filter?: FilterInput }): URLSearchParams {
    const q = new URLSearchParams({ from: p.from, to: p.to });
    if (p.filter !== undefined) q.set('filter', filterParam(p.filter));
    return q;
  }

  async #answer(method: string, path: string, req: { body?: string; query?: URLSearchParams }, options: JsonOptions | FormatOptions): Promise<QueryResult | QueryObjectsResult | Response> {
    const format = options.format ?? 'json';
    const query = req.query ?? new URLSearchParams();
    if (format !== 'json') query.set('format', format);
    const res = await this.#send(method, path, { ...req, query, accept: FORMAT_MEDIA_TYPES[format], signal: options.signal });
    if (format !== 'json') return res;
    const result = await this.#json<QueryResult>(res);
    if (!Array.isArray(result?.columns) || !Array.isArray(result?.rows) || typeof result?.stats !== 'object') {
      throw new FlowsealApiError({ code: ClientErrorCode.BadResponse, status: res.status, message: 'the answer is not a query result (columns, rows, stats)' });
    }
    return (options as JsonOptions).shape === 'objects' ? rowsAsObjects(result) : result;
  }

  async #json<T>(res: Response): Promise<T> {
    const text = await res.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new FlowsealApiError({ code: ClientErrorCode.BadResponse, status: res.status, message: `HTTP ${res.status} answer is not JSON` });
    }
  }

  /** One API call with retries on 429/503; returns the 2xx response unread. */
  async #send(method: string, path: string, req: { body?: string; query?: URLSearchParams; accept?: string; signal?: AbortSignal | undefined }): Promise<Response> {
    const qs = req.query && [...req.query.keys()].length > 0 ? `?${req.query.toString()}` : '';
    const url = `${this.#base}${path}${qs}`;
    for (let retry = 0; ; retry++) {
      const headers = new Headers(this.#headers);
      headers.set('Accept', req.accept ?? 'application/json');
      const token = typeof this.#token === 'function' ? await this.#token() : this.#token;
      if (token) headers.set('Authorization', `Bearer ${token}`);
      if (req.body !== undefined) headers.set('Content-Type', 'application/json');
      const res = await this.#fetch(url, { method, headers, ...(req.body !== undefined ? { body: req.body } : {}), ...(req.signal ? { signal: req.signal } : {}) });
      if (res.ok) return res;
      const retryAfter = parseRetryAfter(res.headers.get('Retry-After'), Date.now());
      const error = await errorFromResponse(res, retryAfter);
      const delay = RETRIABLE_STATUSES.has(res.status) ? retryDelayMs(retry, retryAfter, this.#retry) : null;
      if (delay === null) throw error;
      this.#onRetry?.({ retry, delayMs: delay, status: error.status, code: error.code, requestId: error.requestId });
      await sleep(delay, req.signal);
    }
  }
}
