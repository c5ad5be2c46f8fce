/**
 * Brotli for the compress middleware on Node (api/middleware/compress.ts takes it as a
 * factory, since the app itself imports no node:*). Node's zlib Brotli stream, exposed as a Web
 * `TransformStream` with `Duplex.toWeb`, so backpressure crosses the boundary both ways.
 *
 * Quality defaults to 1, not zlib's 11: on-the-fly compression of query answers must not cost
 * more CPU than the query (quality 11 is for static assets compressed once). Measured on query
 * answers (a 1 000-record listing as JSON 271 KB, as objects 707 KB, as CSV 190 KB; bench/RESULTS.md,
 * issue 7 listings): quality 1 takes 1.2–2.0 ms and makes 57–76 KB, quality 4 takes 4–12 ms for
 * 55–67 KB — 3–6× the CPU for 5–13 % less; on a 1 000-record listing quality 4 cost more than a
 * third of the query itself. Bun and Deno provide node:zlib too and can pass the same factory.
 *
 * `whole` compresses a body the response already holds in memory in one call (the compress
 * middleware uses it for bodies with a known length up to 1 MiB).
 *
 * Owns: the Node Brotli adapter. Never: buffers a body that is not already in memory.
 */
import { Duplex } from 'node:stream';
import { brotliCompressSync, constants, createBrotliCompress } from 'node:zlib';
import type { CompressorFactory } from '../middleware/compress.ts';

/** A factory of Brotli compressors at `quality` (0–11, default 1). */
export function nodeBrotliCompressor(options: { quality?: number } = {}): CompressorFactory {
  const quality = options.quality ?? 1;
  if (!Number.isInteger(quality) || quality < 0 || quality > 11) throw new TypeError('nodeBrotliCompressor: quality must be an integer 0-11');
  const params = { [constants.BROTLI_PARAM_QUALITY]: quality };
  const stream = (): TransformStream<Uint8Array, Uint8Array> => Duplex.toWeb(createBrotliCompress({ params })) as unknown as TransformStream<Uint8Array, Uint8Array>;
  // A body already in memory in one call: half the CPU of the stream for a few hundred KB
  // (no chunked round trips through the thread pool), at the cost of blocking for that call.
  return Object.assign(stream, { whole: (body: Uint8Array) => new Uint8Array(brotliCompressSync(body, { params })) });
}
