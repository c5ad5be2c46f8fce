/**
 * Writes records into the encrypted spool: frames them (schemas/spool.ts), or takes records
 * already framed elsewhere (`appendFramed`: the collector's socket thread frames datagrams),
 * seals 1 MiB chunks as they fill, rotates segments by size or age, and publishes each
 * segment by fsync + atomic rename (`segments/<run>-<seq8>.seg.tmp` → `.seg`).
 *
 * Owns: segment lifecycle and the run's final-segment flag (the last segment of every run,
 * even a run of zero records, carries it). A segment's final flag is fixed when its HPKE
 * context starts, i.e. at its first sealed chunk: when `close()` finds the open segment
 * already started as non-final, it finishes it and adds an empty final segment. A segment is
 * sealed to the processor key current at that moment: `processor-key.json` is re-checked
 * (inode, size, mtime) for every segment, so a restarted processor's key is picked up.
 * Never: holds anything that can decrypt a finished segment (only the processor's public
 * key, and the open segment's sender context, which has no `open`); logs record bytes.
 */
import { mkdir, open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import {
  encodeSpoolRecord,
  parseSegmentFileName,
  RunId,
  segmentFileName,
  RecordKind,
  SpoolBuffer,
  spoolRecordBytes,
  SPOOL_CHUNK_MAX_PLAINTEXT,
  SPOOL_MAX_BODY_BYTES,
  SPOOL_RECORD_HEADER_BYTES,
  type RunQuota,
  type SpoolRecordInput,
  SEGMENT_MAX_RECORD_BYTES,
} from '../../schemas/spool.ts';
import { RecipientKeySource } from './recipient-key.ts';
import { SpoolQuota, type SpoolQuotaOptions } from './spool-quota.ts';
import { SegmentSealer } from './segment-sealer.ts';

export interface SpoolWriterOptions {
  /** Run id ([A-Za-z0-9_-]{1,64}); default: time + random. */
  runId?: string;
  /** Plaintext bytes per segment before rotation; default 8 MiB. */
  segmentMaxBytes?: number;
  /** Rotate a segment this old (ms since its first record), checked on append; default: never. */
  segmentMaxAgeMs?: number;
  /** Clock, ms since the epoch; default Date.now. */
  now?: () => number;
  /** A spool size limit and what to do when it is reached (spool-quota.ts); default none. */
  quota?: SpoolQuotaOptions;
}

export interface SpoolWriterResult {
  segments: number;
  records: number;
  /** Bytes of sealed segment files published. */
  bytes: number;
}

export const DEFAULT_SEGMENT_MAX_BYTES = 8 * 1024 * 1024;
/** Header and chunk framing of a segment, about (for the spool quota's estimate). */
const SEGMENT_OVERHEAD_BYTES = 1024;

/** One segment being written; the sealer and file exist from its first sealed chunk on. */
interface SegmentJob {
  seq: number;
  sealer: SegmentSealer | null;
  file: FileHandle | null;
  tmpPath: string;
  bytes: number;
}

/** Streams records into sealed segments of one run. Not reentrant across runs: one writer per run. */
export class SpoolWriter {
  readonly runId: string;
  readonly #dir: string;
  readonly #keys: RecipientKeySource;
  readonly #maxBytes: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  #pending = new SpoolBuffer(1 << 16);
  #job: SegmentJob;
  #nextSeq = 0;
  #segBytes = 0;
  #segStartedAt = 0;
  #chain: Promise<void> = Promise.resolve();
  #failed: unknown = null;
  #closed = false;
  #result: SpoolWriterResult = { segments: 0, records: 0, bytes: 0 };
  readonly #quota: SpoolQuota | null;

  private constructor(spoolDir: string, runId: string, keys: RecipientKeySource, opts: SpoolWriterOptions) {
    this.runId = runId;
    this.#dir = join(spoolDir, 'segments');
    this.#keys = keys;
    this.#maxBytes = opts.segmentMaxBytes ?? DEFAULT_SEGMENT_MAX_BYTES;
    this.#maxAgeMs = opts.segmentMaxAgeMs ?? 0;
    this.#now = opts.now ?? Date.now;
    this.#quota = opts.quota ? new SpoolQuota(this.#dir, runId, opts.quota) : null;
    this.#job = this.#newJob();
  }

  /** The spool quota's counters (pauses, drops), or null without a quota. */
  get quota(): RunQuota | null {
    return this.#quota?.counts ?? null;
  }

  /**
   * Opens a writer for one run. Throws ERR_SPOOL_NO_PUBLIC_KEY if the processor has not
   * published its key, ERR_KEY_INVALID for a malformed key file, ERR_BAD_REQUEST for a bad
   * or already used run id.
   */
  static async open(spoolDir: string, opts: SpoolWriterOptions = {}): Promise<SpoolWriter> {
    const now = opts.now ?? Date.now;
    const runId = opts.runId ?? defaultRunId(now());
    if (!RunId.safeParse(runId).success) throw new AppError(ErrorCode.BadRequest, 'run id must be 1-64 of [A-Za-z0-9_-]');
    if (opts.segmentMaxBytes !== undefined && !(opts.segmentMaxBytes >= 1 && opts.segmentMaxBytes <= SEGMENT_MAX_RECORD_BYTES)) {
      // The processor refuses segment files much larger than this (SEGMENT_MAX_FILE_BYTES).
      throw new TypeError(`segmentMaxBytes must be from 1 to ${SEGMENT_MAX_RECORD_BYTES}`);
    }
    if (opts.quota && !(opts.quota.maxBytes >= 2 * (opts.segmentMaxBytes ?? DEFAULT_SEGMENT_MAX_BYTES))) {
      throw new AppError(ErrorCode.BadRequest, 'the spool size limit must hold at least two segments (see --segment-bytes)');
    }
    const keys = new RecipientKeySource(spoolDir);
    await keys.current();
    const dir = join(spoolDir, 'segments');
    await mkdir(dir, { recursive: true });
    for (const name of await readdir(dir)) {
      if (parseSegmentFileName(name.replace(/\.tmp$/, ''))?.runId === runId) {
        throw new AppError(ErrorCode.BadRequest, 'this run id already has segments in the spool');
      }
    }
    return new SpoolWriter(spoolDir, runId, keys, opts);
  }

  /**
   * Appends one record. The record (and its `data`) is copied before this returns, so a
   * reused buffer may be overwritten at once; the promise settles when any sealing or
   * writing it triggered is done (callers may await only the last one: work is serialized).
   * Rejects with the first IO/key error of this writer.
   */
  append(rec: SpoolRecordInput): Promise<void> {
    if (this.#closed) throw new TypeError('SpoolWriter.append after close');
    if (this.#failed !== null) return Promise.reject(this.#failed);
    const size = spoolRecordBytes(rec.data.length);
    if (this.#segBytes > 0) {
      const tooOld = this.#maxAgeMs > 0 && this.#now() - this.#segStartedAt >= this.#maxAgeMs;
      if (tooOld || this.#segBytes + size > this.#maxBytes) this.#rotate();
    }
    if (this.#segBytes === 0) this.#segStartedAt = this.#now();
    encodeSpoolRecord(this.#pending, rec);
    this.#segBytes += size;
    this.#result.records++;
    this.#sealFullChunks();
    return this.#chain;
  }

  /**
   * Appends records already framed by `encodeSpoolRecord` (schemas/spool.ts), back to back:
   * the same as one `append` per record, in order (a segment still ends only between records,
   * by size or age), without a JS object per record. The bytes are copied before this returns;
   * settles like `append`. Returns the number of records taken.
   * @throws TypeError when `framed` is not whole, well-formed records (a programmer error:
   *   only ingest's own framing reaches here).
   */
  appendFramed(framed: Uint8Array): Promise<number> {
    if (this.#closed) throw new TypeError('SpoolWriter.appendFramed after close');
    if (this.#failed !== null) return Promise.reject(this.#failed);
    const view = new DataView(framed.buffer, framed.byteOffset, framed.byteLength);
    let records = 0;
    let at = 0;
    while (at < framed.length) {
      if (this.#segBytes > 0 && this.#maxAgeMs > 0 && this.#now() - this.#segStartedAt >= this.#maxAgeMs) this.#rotate();
      // The longest run of whole records from `at` that fits the open segment (at least one).
      let end = at;
      let n = 0;
      while (end < framed.length) {
        const size = framedRecordBytes(view, end);
        if ((this.#segBytes > 0 || n > 0) && this.#segBytes + (end - at) + size > this.#maxBytes) break;
        end += size;
        n++;
      }
      if (n === 0) {
        this.#rotate();
        continue;
      }
      if (this.#segBytes === 0) this.#segStartedAt = this.#now();
      const into = this.#pending.reserve(end - at);
      this.#pending.raw.set(framed.subarray(at, end), into);
      this.#segBytes += end - at;
      this.#result.records += n;
      records += n;
      at = end;
      this.#sealFullChunks();
    }
    return this.#chain.then(() => records);
  }

  /** Seals every whole chunk of what is pending (the chain runs them in order). */
  #sealFullChunks(): void {
    while (this.#pending.length >= SPOOL_CHUNK_MAX_PLAINTEXT) {
      const chunk = this.#pending.bytes.slice(0, SPOOL_CHUNK_MAX_PLAINTEXT);
      this.#pending.discard(SPOOL_CHUNK_MAX_PLAINTEXT);
      const job = this.#job;
      this.#enqueue(async () => {
        await this.#sealChunk(job, chunk, false, false);
      });
    }
  }

  /**
   * Finishes the open segment if it holds records and is at least `segmentMaxAgeMs` old,
   * without waiting for another record: a quiet live source (a collector between export
   * bursts) would otherwise keep its last records unsealed in memory. Call it on a timer.
   * Settles like `append`; a no-op without an age limit, records, or after close.
   */
  rotateIfOld(): Promise<void> {
    if (this.#failed !== null) return Promise.reject(this.#failed);
    if (!this.#closed && this.#maxAgeMs > 0 && this.#segBytes > 0 && this.#now() - this.#segStartedAt >= this.#maxAgeMs) this.#rotate();
    return this.#chain;
  }

  /**
   * Seals what is buffered as the run's final segment(s) and publishes them. Returns counts.
   * A run of zero records still gets one empty final segment.
   */
  async close(): Promise<SpoolWriterResult> {
    if (this.#closed) throw new TypeError('SpoolWriter.close called twice');
    this.#closed = true;
    const job = this.#job;
    const rest = this.#takePending();
    this.#enqueue(async () => {
      const wasFinal = await this.#sealChunk(job, rest, true, true);
      if (!wasFinal) await this.#sealChunk(this.#newJob(), new Uint8Array(0), true, true);
    });
    await this.#chain;
    return { ...this.#result };
  }

  /** Stops without publishing the open segment (its temp file is removed). Never throws. */
  async abort(): Promise<void> {
    this.#closed = true;
    await this.#chain.catch(() => undefined);
    const job = this.#job;
    await job.file?.close().catch(() => undefined);
    if (job.file) await unlink(job.tmpPath).catch(() => undefined);
    job.file = null;
    job.sealer = null;
  }

  #newJob(): SegmentJob {
    const seq = this.#nextSeq++;
    return { seq, sealer: null, file: null, tmpPath: join(this.#dir, `${segmentFileName(this.runId, seq)}.tmp`), bytes: 0 };
  }

  #takePending(): Uint8Array {
    const rest = this.#pending.bytes.slice();
    this.#pending.clear();
    this.#segBytes = 0;
    return rest;
  }

  /** Finishes the open segment (not the run's last) and starts the next one. */
  #rotate(): void {
    const job = this.#job;
    const rest = this.#takePending();
    this.#enqueue(async () => {
      await this.#sealChunk(job, rest, true, false);
    });
    this.#job = this.#newJob();
  }

  #enqueue(fn: () => Promise<void>): void {
    this.#chain = this.#chain.then(fn).catch((e: unknown) => {
      this.#failed ??= e;
      throw this.#failed;
    });
    // The caller awaits the returned chain; this only keeps a dropped promise from crashing the process.
    this.#chain.catch(() => undefined);
  }

  /**
   * Seals one chunk into `job`, starting the segment first if needed (with `runFinal` as
   * its final flag). `last` finishes and publishes the segment. Returns the header's final flag.
   */
  async #sealChunk(job: SegmentJob, plaintext: Uint8Array, last: boolean, runFinal: boolean): Promise<boolean> {
    if (!job.sealer) {
      // Room for a whole segment first: a full spool pauses here (or drops its oldest), before
      // anything of this one is written. (A segment may exceed its size by one record: so may the spool.)
      await this.#quota?.makeRoom(this.#maxBytes + SEGMENT_OVERHEAD_BYTES);
      const key = await this.#keys.current();
      job.sealer = await SegmentSealer.start({ recipientPublicKey: key.publicKey, keyId: key.keyId, runId: this.runId, seq: job.seq, final: runFinal, createdAt: this.#now() });
      job.file = await open(job.tmpPath, 'wx', 0o600);
      await this.#write(job, job.sealer.headerBytes);
    }
    const sealer = job.sealer;
    const [length, ciphertext] = await sealer.seal(plaintext, last);
    await this.#write(job, length);
    await this.#write(job, ciphertext);
    if (last) await this.#publish(job);
    return sealer.final;
  }

  async #write(job: SegmentJob, bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) {
      const { bytesWritten } = await job.file!.write(bytes, off, bytes.length - off);
      off += bytesWritten;
    }
    job.bytes += bytes.length;
  }

  async #publish(job: SegmentJob): Promise<void> {
    const file = job.file!;
    await file.sync();
    await file.close();
    job.file = null;
    job.sealer = null;
    await rename(job.tmpPath, join(this.#dir, segmentFileName(this.runId, job.seq)));
    const dir = await open(this.#dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    this.#result.segments++;
    this.#result.bytes += job.bytes;
  }
}

/**
 * Bytes of the framed record at `at` (header + body). @throws TypeError if it is not a whole,
 * plausible record (kind, flags, body length, tsNsec): cheap checks, not the reader's full ones.
 */
function framedRecordBytes(view: DataView, at: number): number {
  if (view.byteLength - at < SPOOL_RECORD_HEADER_BYTES) throw new TypeError('SpoolWriter.appendFramed: a truncated record header');
  const kind = view.getUint8(at);
  const capLen = view.getUint32(at + 20, true);
  if ((kind !== RecordKind.Packet && kind !== RecordKind.FlowDatagram) || view.getUint8(at + 1) !== 0 || capLen > SPOOL_MAX_BODY_BYTES || view.getUint32(at + 12, true) >= 1e9) {
    throw new TypeError('SpoolWriter.appendFramed: not a framed spool record');
  }
  const size = SPOOL_RECORD_HEADER_BYTES + capLen;
  if (size > view.byteLength - at) throw new TypeError('SpoolWriter.appendFramed: a truncated record');
  return size;
}

function defaultRunId(nowMs: number): string {
  const rnd = new Uint8Array(6);
  crypto.getRandomValues(rnd);
  return `r${nowMs.toString(36)}${[...rnd].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}
