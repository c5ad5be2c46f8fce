/**
 * Decrypts one spool segment and hands its records to a worker.
 *
 * Owns: the authenticity decisions for a segment (its header must name the run and slot it was
 * found in; a run already published is a replay), what happens to a bad one (sealed to a key
 * this process never held → deleted and counted as shredded; anything else → quarantined with
 * its code), and the framing of plaintext for the worker: one frame per record in careful mode
 * (so acknowledgements pin down a poison record), otherwise frames of at most
 * `MAX_RECORDS_FRAME` bytes split at record boundaries.
 * Never: logs or returns plaintext; only codes and counts leave this file.
 */
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
    await quarantineSegment(ctx.spoolDir, seg.name, code as ErrorCode).catch(() => undefined);
    ctx.count('segments_quarantined');
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

export async function feedSegment(ctx: FeedContext, worker: WorkerHandle, seg: SegmentRef): Promise<FeedResult> {
  let opened;
  let bytes: Uint8Array | null = null;
  const cuts: number[] = [0];
  try {
    bytes = await readSegmentFile(ctx.spoolDir, seg.name);
    opened = await openSegment(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), ctx.keys, {
      isReplay: (run) => ctx.isPublished(run),
    });
    // The name is not authenticated, the header is: a copy renamed to another slot is a replay.
    if (opened.header.runId !== ctx.runId || opened.header.seq !== seg.seq) {
      throw new AppError(ErrorCode.SpoolReplayed, 'segment header does not match its place in the spool');
    }
    // Cut points at record boundaries (every record in careful mode, else at most
    // MAX_RECORDS_FRAME). Walking the framing here also rejects an authentic segment whose
    // record framing is broken before anything is sent (ERR_SPOOL_RECORD_INVALID).
    const plain = opened.plaintext;
    iterateSpoolRecords(plain, (_rec, start, end) => {
      const last = cuts[cuts.length - 1]!;
      if (ctx.careful) cuts.push(end);
      else if (end - last > MAX_RECORDS_FRAME && start > last) cuts.push(start);
    });
    if (cuts[cuts.length - 1] !== plain.length) cuts.push(plain.length);
  } catch (e) {
    let code: string = isAppError(e) ? e.code : ErrorCode.SpoolBadHeader;
    if (code === ErrorCode.SpoolUnknownKey && !sealedBeforeKeys(bytes, ctx.keys)) {
      // Claims to be newer than our key yet is sealed to another one: not a leftover from
      // before a restart (those are shredded) but a misconfigured sender or tampering. Keep it.
      code = ErrorCode.SpoolAuthFailed;
    }
    await rejectSegment(ctx, seg, code);
    return 'rejected';
  }
  const plaintext = opened.plaintext;
  const segmentFrame = encodeJsonFrame(FrameType.Segment, { seq: seg.seq, careful: ctx.careful, skip: [...ctx.poison] });
  if (!(await worker.send(segmentFrame))) return 'crashed';
  for (let i = 1; i < cuts.length; i++) {
    const part = plaintext.subarray(cuts[i - 1]!, cuts[i]!);
    if (part.length === 0) continue;
    const ok = part.length < 65536
      ? await worker.send(encodeFrame(FrameType.Records, part))
      : (await worker.send(encodeFrameHeader(FrameType.Records, part.length))) && (await worker.send(part));
    if (!ok) return 'crashed';
  }
  return opened.header.final ? 'final' : 'ok';
}
