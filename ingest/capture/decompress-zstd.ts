/**
 * Streaming zstd decoding of a compressed capture (RFC 8878), on the pure-JS `fzstd` decoder.
 *
 * Owns: the frame layer, walked here byte by byte ahead of the decoder so that every limit is
 * checked before the decoder sees a byte it would act on — window at most 128 MiB (zstd's own
 * default decoder limit, so fzstd never allocates more), no dictionaries, blocks at most
 * 128 KiB (§3.1.1.2.4), reserved bits clear — and the checks fzstd does not make: the
 * Frame_Content_Size and the XXH64 content checksum of every frame. Concatenated frames and
 * skippable frames (§3.1.2) are read; each zstd frame gets a fresh decoder.
 * Bounded memory: input is handed to the decoder in steps that end at block boundaries and the
 * output of each step (at most one block) is yielded before the next step, so a chunk of
 * highly compressed input never expands in memory at once.
 * Never: puts decoded bytes into an error; errors hold compressed byte offsets and frame indexes.
 */
import { Decompress } from 'fzstd';
import xxhash, { type XXHashAPI } from 'xxhash-wasm';
import { AppError, ErrorCode } from '../../schemas/errors.ts';

/** Largest window accepted (zstd's ZSTD_WINDOWLOG_LIMIT_DEFAULT, 2^27): what `zstd -d` accepts without `--memory`. */
export const ZSTD_MAX_WINDOW_BYTES = 128 * 1024 * 1024;
/** Block_Maximum_Size (§3.1.1.2.4): no block holds or regenerates more. */
const MAX_BLOCK_BYTES = 128 * 1024;
const ZSTD_MAGIC = 0xfd2fb528;
const FRAME_MAGIC_BYTES = Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd);
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

type State = 'magic' | 'frameHeader' | 'blockHeader' | 'blockBody' | 'checksum' | 'skipSize' | 'skip';

let xxhashApi: Promise<XXHashAPI> | null = null;

function fail(code: ErrorCode, message: string, details: Record<string, unknown>): AppError {
  return new AppError(code, `zstd: ${message}`, { details: { compression: 'zstd', ...details } });
}

/**
 * Walks zstd framing one step at a time. `step` consumes bytes up to the next boundary (end of
 * a header, a block or a frame) and says what to hand the decoder.
 */
class ZstdFrameWalker {
  state: State = 'magic';
  /** Absolute compressed offset of the next byte. */
  offset = 0;
  frames = 0;
  /** Bytes still to pass in blockBody/skip. */
  #left = 0;
  readonly #head = new Uint8Array(18);
  #headLen = 0;
  #headNeed = 4;
  #lastBlock = false;
  #blockRegen = 0;
  hasChecksum = false;
  /** Declared Frame_Content_Size, or -1. */
  contentSize = -1;
  window = 0;
  #frameStart = 0;

  details(): Record<string, unknown> {
    return { compressedOffset: this.offset, frame: this.frames, frameOffset: this.#frameStart };
  }

  /** True between frames with nothing buffered: a clean place for the input to end. */
  get atFrameBoundary(): boolean {
    return this.state === 'magic' && this.#headLen === 0;
  }

  /**
   * Consumes ≥ 1 byte of `chunk` at `off`; returns how many. Throws on a framing violation
   * before the step that contains the offending header's last byte is handed on.
   */
  step(chunk: Uint8Array, off: number): number {
    const avail = chunk.length - off;
    if (this.state === 'blockBody' || this.state === 'skip') {
      const n = Math.min(this.#left, avail);
      this.#left -= n;
      this.offset += n;
      if (this.#left === 0) this.#afterBody();
      return n;
    }
    if (this.state === 'magic' && this.#headLen === 0) this.#frameStart = this.offset;
    const n = Math.min(this.#headNeed - this.#headLen, avail);
    this.#head.set(chunk.subarray(off, off + n), this.#headLen);
    this.#headLen += n;
    if (this.#headLen === this.#headNeed) this.#header();
    this.offset += n;
    return n;
  }

  /** A complete header of the current state is in #head. */
  #header(): void {
    const h = this.#head;
    const v = new DataView(h.buffer, 0, this.#headLen);
    switch (this.state) {
      case 'magic': {
        const magic = v.getUint32(0, true);
        if (magic === ZSTD_MAGIC) return this.#expect('frameHeader', 5);
        if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) return this.#expect('skipSize', 8);
        throw fail(ErrorCode.CaptureCompressedCorrupt, `no zstd frame at compressed offset ${this.#frameStart} (frame ${this.frames})`, this.details());
      }
      case 'frameHeader':
        return this.#frameHeader(v);
      case 'skipSize':
        this.#left = v.getUint32(4, true);
        this.frames++;
        this.#headLen = 0;
        this.state = 'skip';
        if (this.#left === 0) this.#afterBody();
        return;
      case 'blockHeader':
        return this.#blockHeader(h[0]! | (h[1]! << 8) | (h[2]! << 16));
      case 'checksum':
        this.#headLen = 0;
        this.state = 'magic';
        this.#headNeed = 4;
        this.frames++;
        return;
      default:
        throw new TypeError(`zstd walker: header in state ${this.state}`);
    }
  }

  #expect(state: State, need: number): void {
    this.state = state;
    this.#headNeed = need;
  }

  #frameHeader(v: DataView): void {
    const fhd = v.getUint8(4);
    const fcsFlag = fhd >> 6;
    const single = (fhd >> 5) & 1;
    const dictFlag = fhd & 3;
    const dictBytes = [0, 1, 2, 4][dictFlag]!;
    const fcsBytes = fcsFlag === 0 ? single : 1 << fcsFlag;
    const need = 5 + (single ? 0 : 1) + dictBytes + fcsBytes;
    if (this.#headLen < need) return this.#expect('frameHeader', need);
    const d = this.details();
    if (fhd & 0x08) throw fail(ErrorCode.CaptureCompressedCorrupt, `frame ${this.frames} header has its reserved bit set`, d);
    let at = 5;
    let window = 0;
    if (!single) {
      const wd = v.getUint8(at++);
      const base = 2 ** (10 + (wd >> 3));
      window = base + (base / 8) * (wd & 7);
    }
    let dictId = 0;
    for (let i = 0; i < dictBytes; i++) dictId += v.getUint8(at++) * 2 ** (8 * i);
    let fcs = -1;
    if (fcsBytes > 0) {
      fcs = 0;
      for (let i = 0; i < fcsBytes; i++) fcs += v.getUint8(at++) * 2 ** (8 * i);
      if (fcsBytes === 2) fcs += 256;
    }
    if (single) window = fcs;
    if (dictId !== 0) throw fail(ErrorCode.CaptureUnsupported, `frame ${this.frames} needs a dictionary (id ${dictId}); dictionaries are not supported`, d);
    if (window > ZSTD_MAX_WINDOW_BYTES) {
      throw fail(ErrorCode.CaptureUnsupported, `frame ${this.frames} needs a ${Math.ceil(window / 2 ** 20)} MiB window, more than the ${ZSTD_MAX_WINDOW_BYTES / 2 ** 20} MiB limit (recompress without --long/--ultra)`, d);
    }
    this.window = window;
    this.contentSize = fcs;
    this.hasChecksum = ((fhd >> 2) & 1) === 1;
    this.#headLen = 0;
    this.#expect('blockHeader', 3);
  }

  #blockHeader(bits: number): void {
    this.#lastBlock = (bits & 1) === 1;
    const type = (bits >> 1) & 3;
    const size = bits >>> 3;
    const max = Math.min(this.window, MAX_BLOCK_BYTES);
    const d = { ...this.details(), blockType: type, blockSize: size };
    if (type === 3) throw fail(ErrorCode.CaptureCompressedCorrupt, `frame ${this.frames} has a block of the reserved type`, d);
    if (size > max) throw fail(ErrorCode.CaptureCompressedCorrupt, `frame ${this.frames} has a ${size}-byte block, more than its ${max}-byte maximum`, d);
    this.#blockRegen = size;
    this.#left = type === 1 ? 1 : size;
    this.#headLen = 0;
    this.state = 'blockBody';
    if (this.#left === 0) this.#afterBody();
  }

  #afterBody(): void {
    if (this.state === 'skip') {
      this.#expect('magic', 4);
      return;
    }
    if (!this.#lastBlock) return this.#expect('blockHeader', 3);
    if (this.hasChecksum) return this.#expect('checksum', 4);
    this.frames++;
    this.#expect('magic', 4);
  }

  /** The 4 checksum bytes, valid right after the checksum state completed. */
  storedChecksum(): number {
    return new DataView(this.#head.buffer).getUint32(0, true);
  }

  /** Regenerated size the last block header declared (RLE and raw blocks). */
  get blockRegen(): number {
    return this.#blockRegen;
  }
}

/** Maps an fzstd error (ZstdErrorCode) to ours. */
function decoderError(e: unknown, walker: ZstdFrameWalker): AppError {
  const code = (e as { code?: unknown }).code;
  const what = code === 4 ? 'a match refers back beyond the window' : code === 3 ? 'an FSE table is too accurate' : 'invalid compressed data';
  return new AppError(ErrorCode.CaptureCompressedCorrupt, `zstd: frame ${walker.frames} is corrupt (${what}) near compressed offset ${walker.offset}`, {
    cause: e,
    details: { compression: 'zstd', ...walker.details() },
  });
}

/**
 * Decodes a zstd stream (one or more frames, skippable frames allowed) from `source`,
 * yielding decoded pieces of at most one block (128 KiB) each, in order.
 *
 * Throws ERR_CAPTURE_COMPRESSED_TRUNCATED (input ends inside a frame),
 * ERR_CAPTURE_COMPRESSED_CORRUPT (bad framing, undecodable block, size or checksum mismatch,
 * bytes after the last frame that are not a frame), ERR_CAPTURE_UNSUPPORTED (dictionary, window
 * over 128 MiB). Everything yielded before the error is valid output of complete blocks.
 */
export async function* decodeZstd(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const api = await (xxhashApi ??= xxhash());
  const walker = new ZstdFrameWalker();
  const out: Uint8Array[] = [];
  let dec: Decompress | null = null;
  let hash = api.create64();
  let frameBytes = 0;
  const onData = (d: Uint8Array): void => {
    if (d.length === 0) return;
    if (d.length > MAX_BLOCK_BYTES) throw new AppError(ErrorCode.CaptureCompressedCorrupt, `zstd: frame ${walker.frames} regenerates a block larger than 128 KiB`, { details: { compression: 'zstd', ...walker.details() } });
    frameBytes += d.length;
    if (walker.hasChecksum) hash.update(d);
    out.push(d);
  };
  const feed = (bytes: Uint8Array, final: boolean): void => {
    try {
      dec!.push(bytes, final);
    } catch (e) {
      if (e instanceof AppError) throw e;
      throw decoderError(e, walker);
    }
  };
  for await (const chunk of source) {
    let off = 0;
    while (off < chunk.length) {
      const before = walker.state;
      const framesBefore = walker.frames;
      const n = walker.step(chunk, off);
      const piece = chunk.subarray(off, off + n);
      off += n;
      if (before === 'magic') {
        // The magic may arrive split over chunks: the decoder gets it whole once it is known.
        if (walker.state !== 'frameHeader') continue;
        dec = new Decompress(onData);
        hash = api.create64();
        frameBytes = 0;
        feed(FRAME_MAGIC_BYTES, false);
        continue;
      }
      if (before === 'skip' || before === 'skipSize') continue;
      feed(piece, false);
      if (walker.frames !== framesBefore) {
        // The frame ended with this step: flush the decoder, then check size and checksum.
        feed(new Uint8Array(0), true);
        dec = null;
        finishFrame(walker, framesBefore, frameBytes, walker.hasChecksum ? Number(hash.digest() & 0xffffffffn) : -1);
      }
      while (out.length > 0) yield out.shift()!;
    }
  }
  if (!walker.atFrameBoundary) {
    throw fail(ErrorCode.CaptureCompressedTruncated, `stream ends inside frame ${walker.frames} (${walker.offset} compressed bytes read)`, walker.details());
  }
}

function finishFrame(walker: ZstdFrameWalker, frame: number, frameBytes: number, digest: number): void {
  const d = walker.details();
  if (walker.contentSize >= 0 && frameBytes !== walker.contentSize) {
    throw fail(ErrorCode.CaptureCompressedCorrupt, `frame ${frame} decodes to ${frameBytes} bytes, its header says ${walker.contentSize}`, d);
  }
  if (digest >= 0 && digest !== walker.storedChecksum()) throw fail(ErrorCode.CaptureCompressedCorrupt, `frame ${frame} fails its content checksum`, d);
}
