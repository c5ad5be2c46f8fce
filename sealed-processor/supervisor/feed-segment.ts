/**
 * Decrypts one spool segment and hands its records to a worker.
 *
 * Owns: the authenticity decisions for a segment (its header must name the run and slot it was
 * found in; a run already published is a replay; on a replay of a committed segment, its file
 * must be the very one fed before, by SHA-256 — the capture side can seal a different authentic
 * segment for the same slot), what happens to a bad one (sealed to a key
 * this process never held → deleted and counted as shredded; anything else → quarantined with
 * its code), and the framing of plaintext for the worker: in careful mode one frame per record,
 * the next sent only once the worker acknowledged the last (so a death names exactly the record
 * in flight), otherwise frames of at most `MAX_RECORDS_FRAME` bytes split at record boundaries.
 * Never: logs or returns plaintext; only codes and counts leave this file.
 */
import { createHash } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, ErrorCode, isAppError } from '../../schemas/errors.ts';
import { decodeSegmentHeader, iterateSpoolRecords } from '../../schemas/spool.ts';
import type { ProcessorKeys } from '../spool/keys.ts';
import { openSegment } from '../spool/spool-reader.ts';
import { quarantineSegment, readSegmentFile } from '../spool/spool-files.ts';
import { encodeFrame, encodeFrameHeader, encodeJsonFrame, FrameType, MAX_FRAME_BYTES } from '../worker/protocol.ts';
import type { WorkerHandle } from './worker-handle.ts';

/** Largest RECORDS frame sent in normal mode (well under the worker's frame limit). */
export const MAX_RECORDS_FRAME = Math.min(16 * 1024 * 1024, MAX_FRAME_BYTES);

export interface SegmentRef {
  name: string;
  seq: number;
}

export interface FeedContext {
  spoolDir: string;
  keys: ProcessorKeys;
  runId: string;
  isPublished: (runId: string) => boolean;
  poison: ReadonlySet<number>;
  careful: boolean;
  /** Called once the segment is open, if it is its run's final segment (even if feeding it then fails). */
  onFinal?: () => void;
  /**
   * SHA-256 (hex) the segment file must have: it was fed before and must be the same file
   * (else rejected as ERR_SPOOL_REPLAYED). Unset: any authentic segment of the slot.
   */
  expectDigest?: string;
  /** Called with the SHA-256 (hex) of the segment file once it is open and accepted. */
  onDigest?: (digest: string) => void;
  count: (key: string, n?: number) => void;
  log: (event: Record<string, unknown>) => void;
}

export type FeedResult = 'ok' | 'final' | 'rejected' | 'crashed';

/** Rejects a segment: shred (unknown key) or quarantine (anything else). */
export async function rejectSegment(ctx: Pick<FeedContext, 'spoolDir' | 'runId' | 'count' | 'log'>, seg: SegmentRef, code: string): Promise<void> {
  if (code === ErrorCode.SpoolUnknownKey) {
    // Sealed to a key this process never held (written before a restart): crypto-shredded.
    await unlink(join(ctx.spoolDir, 'segments', seg.name)).catch(() => undefined);
    ctx.count('segments_shredded');
  } else {
    const evicted = await quarantineSegment(ctx.spoolDir, seg.name, code as ErrorCode).catch(() => 0);
    ctx.count('segments_quarantined');
    if (evicted > 0) ctx.count('quarantine_evicted', evicted);
  }
  ctx.log({ event: 'segment-rejected', run: ctx.runId, seq: seg.seq, code });
}

/**
 * True when a segment's (unauthenticated) creation time predates this process's key: the
 * signature of a segment written before a restart, whose key is gone for good.
 */
function sealedBeforeKeys(bytes: Uint8Array | null, keys: ProcessorKeys): boolean {
  if (!bytes) return false;
  try {
    return decodeSegmentHeader(bytes).header.createdAt < Date.parse(keys.createdAt);
  } catch {
    return false;
  }
}

/** An authentic segment of this run, decrypted, with its record boundaries. */
export interface OpenedSegment {
  plaintext: Uint8Array;
  /** Record `i` is `plaintext[bounds[i], bounds[i + 1])`. */
  bounds: number[];
  final: boolean;
}

/**
 * Reads, decrypts and checks one segment. A bad one is rejected (shredded or quarantined, see
 * `rejectSegment`) and null returned. Walking the record framing here also rejects an
 * authentic segment whose framing is broken before anything is sent (ERR_SPOOL_RECORD_INVALID).
 */
export async function openForFeeding(
  ctx: Pick<FeedContext, 'spoolDir' | 'keys' | 'runId' | 'isPublished' | 'count' | 'log' | 'expectDigest' | 'onDigest'>,
  seg: SegmentRef,
): Promise<OpenedSegment | null> {
  let bytes: Uint8Array | null = null;
  try {
    bytes = await readSegmentFile(ctx.spoolDir, seg.name);
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (ctx.expectDigest !== undefined && digest !== ctx.expectDigest) {
      throw new AppError(ErrorCode.SpoolReplayed, 'segment file differs from the one fed before');
    }
    const opened = await openSegment(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), ctx.keys, {
      isReplay: (run) => ctx.isPublished(run),
    });
    // The name is not authenticated, the header is: a copy renamed to another slot is a replay.
    if (opened.header.runId !== ctx.runId || opened.header.seq !== seg.seq) {
      throw new AppError(ErrorCode.SpoolReplayed, 'segment header does not match its place in the spool');
    }
    const bounds: number[] = [0];
    iterateSpoolRecords(opened.plaintext, (_rec, _start, end) => void bounds.push(end));
    ctx.onDigest?.(digest);
    return { plaintext: opened.plaintext, bounds, final: opened.header.final };
  } catch (e) {
    let code: string = isAppError(e) ? e.code : ErrorCode.SpoolBadHeader;
    if (code === ErrorCode.SpoolUnknownKey && !sealedBeforeKeys(bytes, ctx.keys)) {
      // Claims to be newer than our key yet is sealed to another one: not a leftover from
      // before a restart (those are shredded) but a misconfigured sender or tampering. Keep it.
      code = ErrorCode.SpoolAuthFailed;
    }
    await rejectSegment(ctx, seg, code);
    return null;
  }
}

/** Sends `part` as one RECORDS frame (large parts without copying them into the frame). */
async function sendRecords(worker: WorkerHandle, part: Uint8Array): Promise<boolean> {
  return part.length < 65536
    ? worker.send(encodeFrame(FrameType.Records, part))
    : (await worker.send(encodeFrameHeader(FrameType.Records, part.length))) && worker.send(part);
}

/**
 * Feeds one segment: in careful mode record by record, each acknowledged before the next is
 * sent (`WorkerHandle.sendRecord`), otherwise in frames of at most MAX_RECORDS_FRAME bytes cut
 * at record boundaries. 'crashed': the worker died while taking it.
 */
export async function feedSegment(ctx: FeedContext, worker: WorkerHandle, seg: SegmentRef): Promise<FeedResult> {
  const opened = await openForFeeding(ctx, seg);
  if (!opened) return 'rejected';
  if (opened.final) ctx.onFinal?.();
  const { plaintext, bounds } = opened;
  const segmentFrame = encodeJsonFrame(FrameType.Segment, { seq: seg.seq, careful: ctx.careful, skip: [...ctx.poison] });
  if (!(await worker.send(segmentFrame))) return 'crashed';
  if (ctx.careful) {
    for (let i = 0; i + 1 < bounds.length; i++) {
      const frame = encodeFrame(FrameType.Records, plaintext.subarray(bounds[i]!, bounds[i + 1]!));
      if (!(await worker.sendRecord(seg.seq, i, frame))) return 'crashed';
    }
  } else {
    let last = 0;
    for (let i = 1; i < bounds.length; i++) {
      const end = bounds[i]!;
      if (end - last > MAX_RECORDS_FRAME && bounds[i - 1]! > last) {
        if (!(await sendRecords(worker, plaintext.subarray(last, bounds[i - 1]!)))) return 'crashed';
        last = bounds[i - 1]!;
      }
    }
    if (plaintext.length > last && !(await sendRecords(worker, plaintext.subarray(last)))) return 'crashed';
  }
  return opened.final ? 'final' : 'ok';
}
