/**
 * Supervisor → worker message framing over the worker's stdin (pure, no IO).
 *
 * Frame: u8 type, u32 little-endian payload length, payload. JSON payloads are UTF-8; a
 * RECORDS payload is spool plaintext (schemas/spool.ts record framing). The worker answers on
 * stdout with one JSON object per line (`WorkerEvent`). The private spool key never crosses
 * this channel: the supervisor decrypts, the worker only parses.
 */
import { z } from 'zod';
import { Policy } from '../../schemas/policy.ts';

/**
 * CUT (between segments, never within one): close the part being staged and report it
 * (`part` event); later rows go to the next part. FINISH: end of the run, report the last part
 * (`done`) and exit.
 */
export const FrameType = { Config: 1, Segment: 2, Records: 3, Finish: 4, Cut: 5 } as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Largest frame the worker accepts (a decrypted segment is at most a few MiB). */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export const WorkerConfig = z.strictObject({
  runId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  dataset: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/),
  /**
   * Staging prefix: part `n` is staged in `<stagingDir><partSuffix(n)>` (schemas/archive.ts),
   * which for `<archive>/.staging/<run>` is the part's own staging directory.
   */
  stagingDir: z.string(),
  /** Number of the first part this worker stages (the run's first uncommitted part). Default 1. */
  firstPart: z.number().int().min(1).optional(),
  /**
   * Rows emitted while processing segments with a seq up to this one are already in committed
   * parts (a replay after a worker death): they are dropped, not staged again. Default none.
   * Exact only if the replay is fed those segments as the committing worker was; the supervisor
   * checks that, and otherwise feeds none of them (supervisor/run.ts, "Replay gaps").
   */
  committedThroughSegment: z.number().int().nonnegative().nullable().optional(),
  policy: Policy,
  /** Anonymization master key, hex. Lives in worker memory only. */
  masterKeyHex: z.string().regex(/^[0-9a-f]{64}$/),
  processorVersion: z.string(),
  /**
   * Key of this run's worker checkpoints (AES-256-GCM, worker-checkpoint.ts), hex: made by the
   * supervisor per run, in memory only, so a processor restart crypto-shreds them.
   */
  checkpointKeyHex: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  /** Start from the checkpoint taken after this segment (fed only later segments). */
  restoreThrough: z.number().int().nonnegative().nullable().optional(),
  /** SHA-256 (hex) of that checkpoint file as the supervisor adopted it: any other file is refused. */
  restoreDigest: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  flushRows: z.number().int().positive().optional(),
});
export type WorkerConfig = z.infer<typeof WorkerConfig>;

export const SegmentStart = z.strictObject({
  seq: z.number().int().nonnegative(),
  /**
   * One record per RECORDS frame, each acknowledged once its rows are staged; the supervisor
   * sends the next only after the ack (used once a worker died in this segment).
   */
  careful: z.boolean(),
  /** Record indexes (within the segment) to skip: known poison records. */
  skip: z.array(z.number().int().nonnegative()),
  /** Segment index of the first record sent (default 0): an isolation probe sends one record alone. */
  firstIndex: z.number().int().nonnegative().optional(),
});
export type SegmentStart = z.infer<typeof SegmentStart>;

/** A CUT's payload: the last segment fed, after which the worker checkpoints. */
export const CutRequest = z.strictObject({ through: z.number().int().nonnegative().nullable() });
export type CutRequest = z.infer<typeof CutRequest>;

export type WorkerEvent =
  | { type: 'ready' }
  | { type: 'ack'; seq: number; index: number }
  | { type: 'segment-done'; seq: number; records: number }
  | { type: 'poison'; seq: number; index: number; error: string }
  | { type: 'done'; part: number; flows: number; files: unknown[]; counts: Record<string, number>; releaseNotes: unknown; timeStart: string | null; timeEnd: string | null }
  /**
   * A CUT's answer: the part closed (`flows` 0 and no files: nothing to publish, the next part
   * keeps the number), and `open`: what the worker still holds at the cut (open flows, export
   * data sets waiting for a template), counts only. `checkpoint`: the SHA-256 (hex) of the
   * checkpoint file for `through` as written (worker-checkpoint.ts): the worker's state after
   * the cut, for a later worker to continue from; null when none was written (no key, no
   * segment yet, or a write failed).
   */
  | { type: 'part'; part: number; flows: number; files: unknown[]; counts: Record<string, number>; releaseNotes: unknown; timeStart: string | null; timeEnd: string | null; open: { flows: number; exportSets: number }; checkpoint: string | null }
  | { type: 'failed'; code: string };

/** Encodes one frame. */
export function encodeFrame(type: FrameType, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, type);
  view.setUint32(1, payload.length, true);
  out.set(payload, 5);
  return out;
}

/** The 5-byte header of a frame, for writing a large payload without copying it. */
export function encodeFrameHeader(type: FrameType, length: number): Uint8Array {
  const out = new Uint8Array(5);
  const view = new DataView(out.buffer);
  view.setUint8(0, type);
  view.setUint32(1, length, true);
  return out;
}

export function encodeJsonFrame(type: FrameType, value: unknown): Uint8Array {
  return encodeFrame(type, new TextEncoder().encode(JSON.stringify(value)));
}

/**
 * Incremental frame decoder: push chunks, get complete frames. Pending chunks are kept in a
 * list and joined once per frame (a multi-MiB frame arrives in many 64 KiB pipe reads; joining
 * on every read would copy it quadratically). Frames that lie inside one chunk are not copied.
 * Throws TypeError on an oversized frame (the supervisor is trusted; this is a bug).
 */
export class FrameDecoder {
  #chunks: Uint8Array[] = [];
  #pending = 0;

  push(chunk: Uint8Array, onFrame: (type: number, payload: Uint8Array) => void): void {
    this.#chunks.push(chunk);
    this.#pending += chunk.length;
    for (;;) {
      if (this.#pending < 5) return;
      const head = this.#chunks[0]!.length >= 5 ? this.#chunks[0]! : this.#join(5);
      const len = new DataView(head.buffer, head.byteOffset, 5).getUint32(1, true);
      if (len > MAX_FRAME_BYTES) throw new TypeError('worker frame too large');
      if (this.#pending < 5 + len) return;
      const first = this.#chunks[0]!.length >= 5 + len ? this.#chunks[0]! : this.#join(5 + len);
      onFrame(first[0]!, first.subarray(5, 5 + len));
      this.#consume(5 + len);
    }
  }

  /** Makes the first chunk at least `n` bytes long by joining chunks (n ≤ pending). */
  #join(n: number): Uint8Array {
    const out = new Uint8Array(Math.max(n, 0));
    let off = 0;
    while (off < n) {
      const c = this.#chunks.shift()!;
      const take = Math.min(c.length, n - off);
      out.set(c.subarray(0, take), off);
      off += take;
      if (take < c.length) this.#chunks.unshift(c.subarray(take));
    }
    this.#chunks.unshift(out);
    return out;
  }

  #consume(n: number): void {
    this.#pending -= n;
    const c = this.#chunks[0]!;
    if (c.length === n) this.#chunks.shift();
    else this.#chunks[0] = c.subarray(n);
  }

  get pending(): number {
    return this.#pending;
  }
}
