/**
 * Renders a `ResultStream` (api/ports.ts) as a response body in one format, with bounded memory:
 * the body is a pull-based Web `ReadableStream` (highWaterMark 0), so the engine is asked for
 * its next batch only when the client has taken the bytes of the previous one.
 *
 * Buffer first, then stream. Every format but Parquet renders into a buffer of up to
 * `maxBufferBytes` (default 1 MiB). If the answer ends within it, the response is complete
 * before it is sent: it gets `Content-Length` and, for NDJSON/CSV/Arrow, the stats in the
 * `Flowseal-Stats` header, and a query failure becomes an ordinary error response (the promise
 * rejects; nothing was sent). Past the buffer, the buffered bytes go out and the rest follows
 * batch by batch; the headers are gone by the time the stats are known, so NDJSON/CSV/Arrow say
 * `Flowseal-Stats: {"streamed":true,"requestId":"..."}` — clients paging through large listings
 * should use JSON, whose stats (and next cursor) close the body.
 *
 * A failure after the first byte was sent errors the body stream: the runtime then aborts the
 * response (HTTP/1.1 chunked: no terminating chunk, the connection is closed; HTTP/2: the
 * stream is reset), so no client can take a partial body for a whole one. Nothing is written
 * in-band: JSON stays unterminated, an Arrow stream lacks its end-of-stream marker, NDJSON/CSV
 * simply stop. A client that goes away cancels the body, which ends the query.
 *
 * Parquet is built whole (its footer comes last) from at most `maxParquetRows` rows (default
 * 100 000); more is ERR_QUERY_TOO_LARGE before anything is sent.
 *
 * Owns: buffering, streaming, stats placement and failure signalling. Never: reads ahead of
 * the client by more than the buffer, or sends a body that looks complete when it is not.
 */
import { batchCells, batchRowCount } from '../../ports.ts';
import type { ResultStream, RowBatch, RowTextLayout } from '../../ports.ts';
import { arrowStreamEncoder } from './arrow-ipc.ts';
import { parquetCollector } from './parquet-file.ts';
import { csvEncoder, jsonEncoder, ndjsonEncoder, rowTextLayout, statsWithoutRequestId } from './text-formats.ts';

export const STREAM_FORMATS = ['json', 'ndjson', 'csv', 'arrow', 'parquet'] as const;
export type StreamFormat = (typeof STREAM_FORMATS)[number];

/** How an answer ended, for logging and audit: rows rendered, and the stats or the error. */
export type RenderOutcome =
  | { readonly rows: number; readonly stats: Readonly<Record<string, unknown>>; readonly error?: undefined }
  | { readonly rows: number; readonly error: unknown };

export interface RenderOptions {
  /** JSON rows as arrays (QueryResponse) or as objects keyed by column name. Other formats ignore it. */
  readonly shape: 'arrays' | 'objects';
  readonly requestId: string;
  /** Rendered bytes held before streaming starts. Default 1 MiB. */
  readonly maxBufferBytes?: number;
  /** Rows a Parquet answer may have. Default 100 000. */
  readonly maxParquetRows?: number;
  /**
   * Called once when the answer has ended: fully sent (stats), failed (before or after the
   * first byte), or cancelled by the client. Must not throw.
   */
  readonly onEnd?: (outcome: RenderOutcome) => void;
}

export interface RenderedBody {
  readonly status: number;
  readonly body: ReadableStream<Uint8Array>;
  readonly contentType: string;
  readonly headers: Record<string, string>;
}

export const DEFAULT_MAX_BUFFER_BYTES = 1024 * 1024;
export const DEFAULT_MAX_PARQUET_ROWS = 100_000;

const CONTENT_TYPES: Record<StreamFormat, string> = {
  json: 'application/json; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
  arrow: 'application/vnd.apache.arrow.stream',
  parquet: 'application/vnd.apache.parquet',
};

/** `.arrows` is the file extension the Arrow project gives the IPC streaming format. */
const DISPOSITIONS: Partial<Record<StreamFormat, string>> = { csv: 'inline; filename="flowseal-%.csv"', arrow: 'attachment; filename="flowseal-%.arrows"', parquet: 'attachment; filename="flowseal-%.parquet"' };

/** JSON as a header value: ASCII only (header values are byte strings). */
export function headerJson(value: unknown): string {
  return JSON.stringify(value).replace(/[^\x20-\x7e]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The row layout in which the engine may hand back rows of `format` already rendered
 * (api/ports.ts `EngineRunOptions.rowText`); undefined for Arrow and Parquet, which need cells.
 */
export function rowTextFor(format: StreamFormat, shape: 'arrays' | 'objects'): RowTextLayout | undefined {
  return format === 'json' || format === 'ndjson' || format === 'csv' ? rowTextLayout(format, shape) : undefined;
}

interface ChunkEncoder {
  start(): Uint8Array;
  batch(rows: RowBatch): Uint8Array;
  end(stats: Readonly<Record<string, unknown>>): Uint8Array;
}

function encoderFor(stream: ResultStream, format: Exclude<StreamFormat, 'parquet'>, options: RenderOptions): ChunkEncoder {
  if (format === 'arrow') {
    const a = arrowStreamEncoder(stream.columns, options.requestId);
    return { start: () => a.start(), batch: (rows) => a.batch(batchCells(rows)), end: () => a.end() };
  }
  const text = format === 'json' ? jsonEncoder(stream.columns, options.shape, options.requestId) : format === 'ndjson' ? ndjsonEncoder(stream.columns) : csvEncoder(stream.columns);
  const bytes = new TextEncoder();
  return { start: () => bytes.encode(text.start()), batch: (rows) => bytes.encode(text.batch(rows)), end: (stats) => bytes.encode(text.end(stats)) };
}

/** The answer's bytes in order; `state` learns rows and stats as they pass. */
async function* chunks(stream: ResultStream, enc: ChunkEncoder, state: { rows: number; stats?: Readonly<Record<string, unknown>> }): AsyncGenerator<Uint8Array, void, undefined> {
  yield enc.start();
  for await (const batch of stream.batches) {
    state.rows += batchRowCount(batch);
    yield enc.batch(batch);
  }
  const stats = await stream.finish();
  state.stats = stats;
  yield enc.end(stats);
}

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

function oneChunk(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (bytes.byteLength > 0) controller.enqueue(bytes);
      controller.close();
    },
  });
}

function baseHeaders(format: StreamFormat, requestId: string): Record<string, string> {
  const d = DISPOSITIONS[format];
  return d === undefined ? {} : { 'Content-Disposition': d.replace('%', requestId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 128)) };
}

async function renderParquet(stream: ResultStream, options: RenderOptions, end: (o: RenderOutcome) => void): Promise<RenderedBody> {
  const collector = parquetCollector(stream.columns, options.maxParquetRows ?? DEFAULT_MAX_PARQUET_ROWS);
  try {
    // Throwing inside the loop (too many rows, a bad cell) returns the iterator: the query ends.
    for await (const batch of stream.batches) collector.add(batchCells(batch));
    const stats = { ...statsWithoutRequestId(await stream.finish()), requestId: options.requestId };
    const bytes = collector.finish(stats);
    end({ rows: collector.rows, stats });
    return {
      status: 200,
      body: oneChunk(bytes),
      contentType: CONTENT_TYPES.parquet,
      headers: { ...baseHeaders('parquet', options.requestId), 'Flowseal-Stats': headerJson(stats), 'Content-Length': String(bytes.byteLength) },
    };
  } catch (err) {
    end({ rows: collector.rows, error: err });
    throw err;
  }
}

/**
 * Renders `stream` in `format`. Resolves once the first `maxBufferBytes` are rendered (or the
 * whole Parquet file is built); the body carries the rest.
 * @throws AppError ERR_QUERY_TOO_LARGE (Parquet over `maxParquetRows`); whatever the stream
 *   throws before the buffer is full (engine errors, deadline); TypeError for a cell that does
 *   not fit its column type (Arrow, Parquet). After that, failures error the body instead.
 */
export async function renderStream(stream: ResultStream, format: StreamFormat, options: RenderOptions): Promise<RenderedBody> {
  let ended = false;
  const end = (o: RenderOutcome): void => {
    if (ended) return;
    ended = true;
    options.onEnd?.(o);
  };
  if (format === 'parquet') return renderParquet(stream, options, end);

  const state: { rows: number; stats?: Readonly<Record<string, unknown>> } = { rows: 0 };
  const source = chunks(stream, encoderFor(stream, format, options), state);
  const limit = options.maxBufferBytes ?? DEFAULT_MAX_BUFFER_BYTES;
  const held: Uint8Array[] = [];
  let size = 0;
  let done = false;
  try {
    while (size < limit) {
      const next = await source.next();
      if (next.done) {
        done = true;
        break;
      }
      if (next.value.byteLength === 0) continue;
      held.push(next.value);
      size += next.value.byteLength;
    }
  } catch (err) {
    end({ rows: state.rows, error: err });
    throw err;
  }
  const headers = baseHeaders(format, options.requestId);
  const contentType = CONTENT_TYPES[format];
  const statsHeader = format !== 'json';

  if (done) {
    const stats = { ...statsWithoutRequestId(state.stats ?? {}), requestId: options.requestId };
    end({ rows: state.rows, stats });
    return {
      status: 200,
      body: oneChunk(concat(held, size)),
      contentType,
      headers: { ...headers, ...(statsHeader ? { 'Flowseal-Stats': headerJson(stats) } : {}), 'Content-Length': String(size) },
    };
  }

  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const first = held.shift();
        if (first !== undefined) {
          controller.enqueue(first);
          return;
        }
        try {
          for (;;) {
            const next = await source.next();
            if (next.done) {
              end({ rows: state.rows, stats: { ...statsWithoutRequestId(state.stats ?? {}), requestId: options.requestId } });
              controller.close();
              return;
            }
            if (next.value.byteLength > 0) {
              controller.enqueue(next.value);
              return;
            }
          }
        } catch (err) {
          end({ rows: state.rows, error: err });
          controller.error(err);
        }
      },
      async cancel(reason) {
        held.length = 0;
        end({ rows: state.rows, error: reason ?? new Error('response body cancelled') });
        // Returning the generator returns the batches iterator inside it: the query ends.
        await source.return(undefined).catch(() => undefined);
      },
    },
    { highWaterMark: 0 },
  );
  return { status: 200, body, contentType, headers: { ...headers, ...(statsHeader ? { 'Flowseal-Stats': headerJson({ streamed: true, requestId: options.requestId }) } : {}) } };
}
