/**
 * Opens one sealed spool segment with the processor's in-memory key: parses the header,
 * checks the recipient key id, sets up the HPKE recipient context (header as `info`, enc
 * bound by the KEM)
 * and opens every chunk in order, then checks for replay.
 *
 * Owns: the decision of what a bad segment is, each with its own stable code —
 *   ERR_SPOOL_BAD_HEADER   structurally invalid header (magic, version, suite, lengths, fields);
 *   ERR_SPOOL_UNKNOWN_KEY  sealed to a key this process does not hold (e.g. before a restart:
 *                          crypto-shredded);
 *   ERR_SPOOL_AUTH_FAILED  any tampered bit in header, enc or body; reordered, spliced or
 *                          surplus chunks (RFC 9180 §5.2 nonce sequence + chunk AAD);
 *   ERR_SPOOL_TRUNCATED    the body ends before its final chunk (cut mid-chunk or at a boundary);
 *   ERR_SPOOL_REPLAYED     an authentic segment whose (run id, seq) was already processed.
 * Never: returns or logs partial plaintext of a rejected segment; errors carry only the
 * chunk index and byte offset.
 */
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import {
  chunkAad,
  decodeSegmentHeader,
  SPOOL_CHUNK_MAX_CIPHERTEXT,
  AEAD_TAG_BYTES,
  type SegmentHeader,
} from '../../schemas/spool.ts';
import { createSpoolSuite } from './hpke-suite.ts';
import type { ProcessorKeys } from './keys.ts';

export interface OpenedSegment {
  header: SegmentHeader;
  /** The concatenated chunk plaintexts: spool records (schemas/spool.ts framing). */
  plaintext: Uint8Array;
  chunks: number;
}

export interface OpenSegmentOptions {
  /** True if this (run id, seq) was already processed; checked after authentication. */
  isReplay?: (runId: string, seq: number) => boolean;
}

const suite = createSpoolSuite();

function authFailed(index: number, offset: number): AppError {
  return new AppError(ErrorCode.SpoolAuthFailed, `spool segment chunk ${index} failed authentication`, { details: { chunk: index, offset } });
}

function truncated(index: number, offset: number): AppError {
  return new AppError(ErrorCode.SpoolTruncated, `spool segment ends before its final chunk (after ${index} chunks)`, { details: { chunks: index, offset } });
}

async function tryOpen(ctx: { open(ct: Uint8Array, aad: Uint8Array): Promise<ArrayBuffer> }, ct: Uint8Array, aad: Uint8Array): Promise<Uint8Array | null> {
  try {
    return new Uint8Array(await ctx.open(ct, aad));
  } catch {
    return null;
  }
}

/**
 * Authenticates and decrypts a whole segment. Throws AppError with one of the codes above.
 * @param bytes the segment file's content.
 */
export async function openSegment(bytes: Uint8Array, keys: ProcessorKeys, opts: OpenSegmentOptions = {}): Promise<OpenedSegment> {
  const { header, enc, headerBytes, info } = decodeSegmentHeader(bytes);
  if (header.keyId !== keys.keyId) {
    throw new AppError(ErrorCode.SpoolUnknownKey, 'spool segment is sealed to a key this processor does not hold', { details: { seq: header.seq } });
  }
  let ctx;
  try {
    ctx = await suite.createRecipientContext({ recipientKey: keys.keyPair, enc, info });
  } catch {
    // A malformed or low-order `enc` cannot come from an honest writer.
    throw authFailed(0, headerBytes.length);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: Uint8Array[] = [];
  let total = 0;
  let off = headerBytes.length;
  let index = 0;
  let sawFinal = false;
  while (off < bytes.length) {
    if (bytes.length - off < 4) throw truncated(index, off);
    const len = view.getUint32(off, true);
    if (len < AEAD_TAG_BYTES || len > SPOOL_CHUNK_MAX_CIPHERTEXT) throw authFailed(index, off);
    if (bytes.length - off - 4 < len) throw truncated(index, off);
    const ct = bytes.subarray(off + 4, off + 4 + len);
    const isLast = off + 4 + len === bytes.length;
    const pt = await tryOpen(ctx, ct, chunkAad(index, isLast));
    if (pt === null) {
      // Distinguish a body cut at a chunk boundary (an authentic non-final chunk at the end)
      // from tampering.
      if (isLast && (await tryOpen(ctx, ct, chunkAad(index, false))) !== null) throw truncated(index + 1, off + 4 + len);
      throw authFailed(index, off);
    }
    sawFinal = isLast;
    parts.push(pt);
    total += pt.length;
    off += 4 + len;
    index++;
  }
  if (!sawFinal) throw truncated(index, off);
  if (opts.isReplay?.(header.runId, header.seq)) {
    throw new AppError(ErrorCode.SpoolReplayed, 'spool segment was already processed (replay)', { details: { seq: header.seq } });
  }
  let plaintext: Uint8Array;
  if (parts.length === 1) plaintext = parts[0]!;
  else {
    plaintext = new Uint8Array(total);
    let p = 0;
    for (const part of parts) {
      plaintext.set(part, p);
      p += part.length;
    }
  }
  return { header, plaintext, chunks: index };
}
