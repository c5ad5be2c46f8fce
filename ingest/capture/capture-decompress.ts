/**
 * Transparent decompression of compressed captures: detects gzip, zstd and xz by their magic
 * (never by file name) and turns the compressed byte stream into the capture's bytes,
 * streaming, so `CaptureReader` sees the same bytes as for the uncompressed file.
 *
 * Owns: detection, the choice of decoder (gzip: node:zlib, multi-member; zstd:
 * decompress-zstd.ts on fzstd, multi-frame; xz: the xz-embedded WASM decoder of
 * `xz-decompress`, concatenated streams, CRC32/CRC64 checked) and the mapping of every decoder
 * failure to ERR_CAPTURE_COMPRESSED_TRUNCATED / _CORRUPT / ERR_CAPTURE_UNSUPPORTED. Legacy
 * `.lzma` (LZMA-alone) has no magic worth the name and no streaming decoder here: it is
 * recognised by its usual header and refused as unsupported rather than reported "not a capture".
 * Bounded memory: output is pulled piece by piece (≤ 128 KiB each) and the next compressed
 * chunk is read only when the consumer asks, so a decompression bomb never expands at once.
 * Never: reads the whole input into memory, or puts decoded bytes into an error.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import xzDecompress from 'xz-decompress';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { decodeZstd } from './decompress-zstd.ts';

/** What the input turned out to be. `none`: passed through unchanged. */
export type Compression = 'none' | 'gzip' | 'zstd' | 'xz';

/** Bytes needed to tell the formats apart (the xz magic is 6 bytes). */
const SNIFF_BYTES = 6;

/**
 * Compression named by the first bytes (gzip 1f 8b, zstd 28 b5 2f fd, xz fd 37 7a 58 5a 00), 'lzma' for
 * what looks like a legacy LZMA-alone header, else 'none'. Needs `SNIFF_BYTES` bytes unless the input is shorter.
 */
export function sniffCompression(head: Uint8Array): Compression | 'lzma' {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  if (head.length >= 6 && head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58 && head[4] === 0x5a && head[5] === 0x00) return 'xz';
  // LZMA-alone: properties byte (lc/lp/pb, 0x5d for every xz/lzma preset), then a little-endian dictionary size.
  if (head.length >= 5 && head[0] === 0x5d && head[1] === 0x00 && head[2] === 0x00) return 'lzma';
  return 'none';
}

export interface DecompressedInput {
  compression: Compression;
  /** The capture bytes, in pieces; errors are AppErrors with `details.compression`. */
  stream: AsyncIterable<Uint8Array>;
  /** Compressed bytes read from the source so far (for diagnostics). */
  compressedBytes(): number;
}

/**
 * Peeks at the first bytes of `source` and returns the capture byte stream: the source itself
 * for an uncompressed input, else a streaming decoder over it.
 *
 * Throws (from the returned stream): ERR_CAPTURE_COMPRESSED_TRUNCATED, ERR_CAPTURE_COMPRESSED_CORRUPT,
 * ERR_CAPTURE_UNSUPPORTED (legacy .lzma, zstd dictionaries or windows over 128 MiB, xz filters or
 * checks xz-embedded lacks, xz dictionaries over its limit). Errors of the source pass through.
 */
export async function openDecompressed(source: AsyncIterable<Uint8Array>): Promise<DecompressedInput> {
  const it = source[Symbol.asyncIterator]();
  let read = 0;
  const head: Uint8Array[] = [];
  let headLen = 0;
  let ended = false;
  while (headLen < SNIFF_BYTES) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    head.push(r.value);
    headLen += r.value.length;
  }
  read = headLen;
  const first = Buffer.concat(head);
  // The peeked chunks first, then the rest of the source, counting what is read.
  const replay: AsyncIterable<Uint8Array> = {
    async *[Symbol.asyncIterator]() {
      try {
        for (const c of head) yield c;
        head.length = 0;
        if (ended) return;
        for (;;) {
          const r = await it.next();
          if (r.done) return;
          read += r.value.length;
          yield r.value;
        }
      } finally {
        await it.return?.();
      }
    },
  };
  const kind = sniffCompression(first.subarray(0, SNIFF_BYTES));
  const compressedBytes = (): number => read;
  switch (kind) {
    case 'none':
      return { compression: 'none', stream: replay, compressedBytes };
    case 'lzma':
      await it.return?.();
      throw new AppError(ErrorCode.CaptureUnsupported, 'legacy .lzma (LZMA-alone) compression is not supported: recompress with xz or zstd', { details: { compression: 'lzma' } });
    case 'gzip':
      return { compression: 'gzip', stream: decodeGzip(replay, compressedBytes), compressedBytes };
    case 'zstd':
      return { compression: 'zstd', stream: decodeZstd(replay), compressedBytes };
    case 'xz':
      return { compression: 'xz', stream: decodeXz(replay, compressedBytes), compressedBytes };
  }
}

/** gzip (RFC 1952) through node:zlib: concatenated members are read; CRC32 and ISIZE checked per member. */
async function* decodeGzip(source: AsyncIterable<Uint8Array>, at: () => number): AsyncGenerator<Uint8Array> {
  const gunzip = createGunzip();
  // pipeline destroys the gunzip with the source's error, and the source when the consumer stops early.
  pipeline(Readable.from(source, { objectMode: false }), gunzip, () => undefined);
  try {
    for await (const piece of gunzip) yield piece as Uint8Array;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'Z_BUF_ERROR') {
      throw new AppError(ErrorCode.CaptureCompressedTruncated, `gzip: stream ends inside a member (${at()} compressed bytes read)`, { cause: e, details: { compression: 'gzip', compressedBytes: at() } });
    }
    if (code === 'Z_DATA_ERROR') {
      const what = (e as Error).message.replace(/[^ -~]/g, '').slice(0, 60);
      throw new AppError(ErrorCode.CaptureCompressedCorrupt, `gzip: corrupt data (${what}) within the first ${at()} compressed bytes`, { cause: e, details: { compression: 'gzip', compressedBytes: at() } });
    }
    throw e;
  } finally {
    gunzip.destroy();
  }
}

/** xz-embedded's xz_ret codes (xz.h) that the WASM decoder reports. */
const XzRet = { UnsupportedCheck: 2, MemError: 3, MemLimitError: 4, FormatError: 5, OptionsError: 6, DataError: 7, BufError: 8 } as const;

/** xz (.xz container, LZMA2) through the xz-embedded WASM decoder: concatenated streams and stream padding are read. */
async function* decodeXz(source: AsyncIterable<Uint8Array>, at: () => number): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  // highWaterMark 0: the next compressed chunk is read only when the decoder asks for it.
  const input = new ReadableStream<Uint8Array>(
    {
      async pull(c) {
        const r = await it.next();
        if (r.done) c.close();
        else c.enqueue(r.value);
      },
      async cancel() {
        await it.return?.();
      },
    },
    { highWaterMark: 0 },
  );
  const reader = new xzDecompress.XzReadableStream(input).getReader();
  try {
    for (;;) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (e) {
        throw xzError(e, at());
      }
      if (r.done) return;
      if (r.value.length > 0) yield r.value;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

function xzError(e: unknown, at: number): unknown {
  const m = /error code (\d+)/.exec(e instanceof Error ? e.message : '');
  if (!m) return e;
  const ret = Number(m[1]);
  const details = { compression: 'xz', compressedBytes: at, xzRet: ret };
  switch (ret) {
    case XzRet.BufError:
      return new AppError(ErrorCode.CaptureCompressedTruncated, `xz: stream ends early (${at} compressed bytes read)`, { cause: e, details });
    case XzRet.UnsupportedCheck:
    case XzRet.OptionsError:
      return new AppError(ErrorCode.CaptureUnsupported, `xz: the stream uses an integrity check or filter this decoder does not support (xz_ret ${ret})`, { cause: e, details });
    case XzRet.MemError:
    case XzRet.MemLimitError:
      return new AppError(ErrorCode.CaptureUnsupported, `xz: the stream's dictionary is larger than this decoder's limit (xz_ret ${ret})`, { cause: e, details });
    default:
      return new AppError(ErrorCode.CaptureCompressedCorrupt, `xz: corrupt ${ret === XzRet.FormatError ? 'container' : 'data or failed integrity check'} within the first ${at} compressed bytes`, { cause: e, details });
  }
}
