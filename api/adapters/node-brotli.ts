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
 * Owns: the Node Brotli adapter. Never: buffers a whole body.
 */
import { Duplex } from 'node:stream';
import { constants, createBrotliCompress } from 'node:zlib';
import type { CompressorFactory } from '../middleware/compress.ts';

/** A factory of Brotli compressors at `quality` (0–11, default 1). */
export function nodeBrotliCompressor(options: { quality?: number } = {}): CompressorFactory {
  const quality = options.quality ?? 1;
  if (!Number.isInteger(quality) || quality < 0 || quality > 11) throw new TypeError('nodeBrotliCompressor: quality must be an integer 0-11');
  return () => {
    const zlib = createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: quality } });
    return Duplex.toWeb(zlib) as unknown as TransformStream<Uint8Array, Uint8Array>;
  };
}
