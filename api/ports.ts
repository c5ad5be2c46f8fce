/**
 * The ports `createApp(deps)` is built from: query engine, token verifier, rate-limit store,
 * audit sink and logger. Adapters (DuckDB, jose, memory, NDJSON file) implement them.
 *
 * Owns: the contracts only. Never: imports a runtime, DuckDB or the file system.
 */
import type { Principal } from '../schemas/claims.ts';
import type { ResultColumn } from '../schemas/query.ts';
import type { QueryPlan } from './query/plan.ts';

/** A bound SQL parameter (DuckDB adapter). `bigint` values are bound as UBIGINT (address halves, masks); string arrays as VARCHAR[] (file lists). */
export type QueryParam = string | number | bigint | boolean | readonly string[];

/** What the engine knows about one dataset. Times are ISO-8601 `Z` or null when unknown. */
export interface DatasetInfo {
  readonly id: string;
  readonly timeStart: string | null;
  readonly timeEnd: string | null;
  readonly flows: number | null;
  readonly files: number;
  readonly runs: number;
  /** Runs left out because their manifest or files failed a check (see engine/manifest-catalog.ts). */
  readonly rejectedRuns: number;
  /** Runs not checked yet (the catalog's hash budget per refresh was spent); listed after a later refresh. */
  readonly pendingRuns: number;
  /** Whether every run's manifest verified under a pinned key (false: no key pinned). */
  readonly verified: boolean;
  readonly policyHashes: readonly string[];
  readonly keyIds: readonly string[];
}

export interface EngineRunOptions {
  /** Deadline, milliseconds from the start of the call; ≤ 0 fails at once with ERR_QUERY_TIMEOUT. */
  readonly timeoutMs: number;
  /** Aborting it stops the query early (the client went away): ERR_BAD_REQUEST "request aborted". */
  readonly signal?: AbortSignal;
  /**
   * The text layout the answer will be written in, if it is a text format: an engine may then
   * hand back each row already rendered (`TextRows`) instead of cells. Only a hint — an engine
   * may always answer cells.
   */
  readonly rowText?: RowTextLayout;
}

/**
 * Row layouts of the text formats (api/routes/render/text-formats.ts owns their bytes):
 * `json-array` a JSON row as an array, `json-object` as an object keyed by column name (JSON
 * with shape objects, and NDJSON lines), `csv` one CSV record without its line end.
 */
export type RowTextLayout = 'json-array' | 'json-object' | 'csv';

/**
 * Rows an engine rendered itself, one text per row in `layout`: byte for byte what the text
 * encoders make of the same rows as cells.
 */
export interface TextRows {
  readonly layout: RowTextLayout;
  readonly texts: readonly string[];
}

/** One batch of answer rows: cells, or (when asked for with `rowText`) rendered rows. */
export type RowBatch = readonly (readonly Cell[])[] | TextRows;

/** The number of rows in a batch. */
export function batchRowCount(batch: RowBatch): number {
  return isTextRows(batch) ? batch.texts.length : batch.length;
}

/** A batch's cells; a TypeError for rendered rows (a consumer that needs cells never asks for text). */
export function batchCells(batch: RowBatch): readonly (readonly Cell[])[] {
  if (isTextRows(batch)) throw new TypeError('rendered rows where cells were expected');
  return batch;
}

/** Whether a batch holds rendered rows rather than cells. */
export function isTextRows(batch: RowBatch): batch is TextRows {
  return !Array.isArray(batch);
}

/** What the engine tells about an answer once its rows are read. */
export interface EngineStats {
  /** More rows existed than the plan's limit (or the deadline cut a started answer short). */
  readonly truncated: boolean;
  /** Aggregates: groups (or the total, or the other row) withheld under the minimum group size. */
  readonly suppressedGroups?: number;
  /** Records cut at the limit: the sort key of the last row returned (a cursor's position). */
  readonly lastSortKey?: readonly Cell[];
}

/**
 * An answer being read. Consuming `batches` moves the query on (one batch in memory at a
 * time); `close()` stops it and frees the connection (idempotent; also what ending or breaking
 * out of the loop does). `stats()` is valid once the batches are exhausted.
 */
export interface EngineStream {
  readonly columns: readonly ResultColumn[];
  readonly batches: AsyncIterable<RowBatch>;
  stats(): EngineStats;
  close(): Promise<void>;
}

/**
 * One cell of a result row, JSON-safe as api/engine/json-value.ts makes it: 64-bit integers
 * beyond ±2^53 are exact decimal strings, timestamps ISO-8601 with microseconds and `Z`.
 * Renderers that keep types (Arrow, Parquet) convert back by the column's `type`.
 */
export type Cell = null | boolean | number | string;

/**
 * A query answer as it is produced: columns first, then row batches in order. Consuming
 * `batches` is what moves the query on, so a renderer that writes each batch out before asking
 * for the next holds one batch in memory, not the whole answer. Iterate once; stopping early
 * (return/throw from the loop) ends the query.
 */
export interface ResultStream {
  readonly columns: readonly ResultColumn[];
  readonly batches: AsyncIterable<RowBatch>;
  /**
   * The answer's stats (rows, truncated, suppression, budget, next cursor, request id) once the
   * batches are exhausted; rejects if the query failed part-way. Call after the loop ends.
   */
  finish(): Promise<Readonly<Record<string, unknown>>>;
}

export interface QueryEngine {
  /**
   * Datasets present in the archive. Implementations cache the listing and share one refresh
   * among concurrent callers (every query resolves its dataset here), as the DuckDB engine does.
   */
  listDatasets(): Promise<readonly DatasetInfo[]>;
  /**
   * Starts answering a plan (api/query/plan.ts) for a dataset already found in the listing:
   * resolves once the answer's columns are known. Only the engine turns a plan into its own
   * query language; callers never send it SQL.
   * @throws AppError ERR_QUERY_TIMEOUT past the deadline, ERR_BAD_REQUEST when `signal` aborts,
   *   ERR_QUERY_INVALID / ERR_QUERY_CURSOR_INVALID / ERR_INTERNAL otherwise; the same, and
   *   ERR_ARCHIVE_CHANGED, from iterating the batches.
   */
  execute(plan: QueryPlan, options: EngineRunOptions): Promise<EngineStream>;
  close?(): Promise<void>;
}

export interface TokenVerifier {
  /**
   * Verifies a bearer token.
   * @throws AppError ERR_AUTH_INVALID or ERR_AUTH_EXPIRED.
   */
  verify(token: string): Promise<Principal>;
}

/** Token bucket parameters. */
export interface BucketSpec {
  /** Maximum tokens (burst). */
  readonly capacity: number;
  /** Tokens added per millisecond. */
  readonly refillPerMs: number;
}

export interface BucketState {
  /** Whether the tokens were taken. */
  readonly allowed: boolean;
  /** Tokens left after this call (may be negative after a forced take). */
  readonly remaining: number;
  /** Milliseconds until the bucket is full again. */
  readonly resetMs: number;
  /** When refused: milliseconds until `cost` tokens are available. */
  readonly retryAfterMs: number;
}

export interface RateLimitStore {
  /**
   * Takes `cost` tokens from bucket `key` if available (or always, with `force`, going into
   * debt). `cost` 0 only reads the state; a negative `cost` returns tokens (a refund of an
   * earlier reservation), never beyond `spec.capacity`. Must be atomic per key: concurrent
   * callers cannot both take the same tokens.
   */
  take(key: string, cost: number, spec: BucketSpec, nowMs: number, options?: { force?: boolean }): Promise<BucketState>;
}

/** One audit record per request. Never contains the token. */
export interface AuditEntry {
  readonly time: string;
  readonly requestId: string;
  /**
   * The client's address: the socket peer, or from `X-Forwarded-For` behind a configured trusted
   * proxy (api/middleware/client-address.ts). Null when the runtime cannot tell.
   */
  readonly clientAddress: string | null;
  readonly subject: string | null;
  readonly issuer: string | null;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly dataset: string | null;
  /** The validated structured query (or the convenience GET's equivalent). */
  readonly query: unknown;
  /**
   * The absolute time range the query read, once planned: relative times resolved and a
   * cursor's pinned range applied. Absent when the request failed before planning.
   */
  readonly timeRange?: { readonly from: string; readonly to: string };
  readonly rows: number | null;
  readonly errorCode: string | null;
  /** Why a token was refused (a `TokenRejection` value): recorded here, never sent to the client. */
  readonly errorReason: string | null;
  readonly durationMs: number;
  /**
   * Unauthenticated requests refused by the per-address limit are recorded at most once a
   * minute per address: this many refusals from the same address were not written since.
   */
  readonly suppressed?: number;
  /**
   * Answers larger than the render buffer stream on after the entry is written: `started` on
   * the entry written before the body (rows so far), then a second entry with the same
   * `requestId`, `ended` (rows sent) or `failed` (cut off part-way: `errorCode`), and the
   * total duration. Absent for answers sent whole.
   */
  readonly stream?: 'started' | 'ended' | 'failed';
}

export interface AuditSink {
  write(entry: AuditEntry): Promise<void>;
}

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}
