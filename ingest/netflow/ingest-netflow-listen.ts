/**
 * `flowseal ingest netflow --listen`: a UDP collector for NetFlow v5/v9 and IPFIX export that
 * seals every datagram, with its receive time and exporter address/port, into the spool as a
 * flow-export datagram record. It never parses templates or records: decoding is the sealed
 * processor's.
 *
 * Two threads. The socket thread (socket-thread.ts) only receives: it binds the socket (a
 * large receive buffer, the size granted reported), timestamps and frames each datagram and
 * hands batches over, so sealing, disk writes and garbage collection here never stop the
 * socket from being read. This thread owns the rest: the drain of those batches into the
 * SpoolWriter (the bounded queue between them: records and bytes handed over and not yet
 * taken; when it is full the socket thread drops and counts, never waits), segment rotation
 * by size and by age, the kernel's own drop count for the socket (socket-drops.ts), the run
 * collector report of those losses for the processor's manifest (run-collector-report.ts), and
 * a clean end on `signal` (the socket read empty and closed, queue drained, final report, final
 * segment, run-end marker).
 * Never: inspects or logs payload bytes or exporter addresses (only counts leave here).
 */
import { ProgressReporter, type ProgressOptions } from '../progress-reporter.ts';
import { writeRunEndMarker } from '../spool/run-end-marker.ts';
import { startRunHeartbeat } from '../spool/run-heartbeat.ts';
import { SpoolWriter } from '../spool/spool-writer.ts';
import { formatListenAddress, type ListenAddress } from './listen-address.ts';
import { RunCollectorReport } from './run-collector-report.ts';
import { readKernelSocketCounts } from './socket-drops.ts';
import { SocketThread } from './socket-thread-handle.ts';

export interface IngestNetflowListenOptions {
  listen: ListenAddress;
  spoolDir: string;
  runId?: string;
  /** Ends the run cleanly when aborted (the CLI wires SIGINT/SIGTERM to it). */
  signal: AbortSignal;
  /** Diagnostics sink: counts and codes only. */
  log: (obj: object) => void;
  progress?: ProgressOptions;
  segmentMaxBytes?: number;
  /** Seal a segment this old even if no datagram follows (ms); default 60 s, 0 = by size only. */
  segmentMaxAgeMs?: number;
  /**
   * Spool size limit and policy (`--spool-max`, `--spool-full`); default none. A paused writer
   * stops the drain, so the queue fills and further datagrams are dropped and counted.
   */
  spoolQuota?: { maxBytes: number; policy: 'pause' | 'drop-oldest' } | undefined;
  /** Socket receive buffer to ask for (bytes); default 32 MiB. The kernel may grant less. */
  recvBufferBytes?: number;
  /**
   * Bounds of the queue between the socket thread and the writer; defaults 65,536 datagrams
   * and 64 MiB of framed records (payload + 40 bytes of record header and address each).
   */
  queueDatagrams?: number;
  queueBytes?: number;
  /** Called once the socket is bound, with the port actually bound (tests bind port 0). */
  onListening?: (port: number) => void;
}

export interface IngestNetflowListenResult {
  runId: string;
  /** Datagrams the socket delivered. */
  datagrams: number;
  /** Payload bytes the socket delivered. */
  datagramBytes: number;
  /** Records sealed into the spool (= datagrams − queueDrops). */
  records: number;
  segments: number;
  /** Bytes of sealed segment files written. */
  bytes: number;
  /** Datagrams dropped because the queue was full. */
  queueDrops: number;
  /** Datagrams the kernel dropped for a full receive buffer (null where it cannot be read). */
  kernelDrops: number | null;
  queueHighWater: number;
  /**
   * Bytes the kernel still held for the socket when it was closed at the end (the socket is
   * read empty first, for up to 2 s: non-zero only if the sender never paused); those
   * datagrams are lost with the socket. Kernel bookkeeping bytes, not datagrams; null where
   * it cannot be read.
   */
  unreadAtCloseBytes: number | null;
  recvBufferRequested: number;
  recvBufferGranted: number;
  /** Datagrams whose exporter address text did not parse (sealed with a zero address). */
  exporterUnparsed: number;
  /** What the spool quota did (pauses, drops), when one was set. */
  quota?: { pauses: number; pausedMs: number; droppedSegments: number };
}

export const DEFAULT_RECV_BUFFER_BYTES = 32 * 1024 * 1024;
export const DEFAULT_QUEUE_DATAGRAMS = 65_536;
export const DEFAULT_QUEUE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_SEGMENT_MAX_AGE_MS = 60_000;
const KERNEL_POLL_MS = 1000;

/**
 * Runs the collector until `signal` aborts, then ends the run cleanly. Throws
 * ERR_SPOOL_NO_PUBLIC_KEY (before binding) if no processor key is published,
 * ERR_LISTEN_FAILED if the socket cannot bind, and the writer's error on IO failure (after
 * closing the socket; the open segment is discarded, as for packet ingest).
 */
export async function runIngestNetflowListen(opts: IngestNetflowListenOptions): Promise<IngestNetflowListenResult> {
  const writer = await SpoolWriter.open(opts.spoolDir, {
    ...(opts.runId !== undefined ? { runId: opts.runId } : {}),
    ...(opts.segmentMaxBytes !== undefined ? { segmentMaxBytes: opts.segmentMaxBytes } : {}),
    segmentMaxAgeMs: opts.segmentMaxAgeMs ?? DEFAULT_SEGMENT_MAX_AGE_MS,
    ...(opts.spoolQuota ? { quota: { ...opts.spoolQuota, log: (e: Record<string, unknown>) => opts.log(e) } } : {}),
  });
  const collector = new Collector(opts, writer);
  try {
    await collector.start();
  } catch (e) {
    await writer.abort();
    throw e;
  }
  const stopHeartbeat = await startRunHeartbeat(opts.spoolDir, writer.runId);
  try {
    return await collector.run();
  } finally {
    await stopHeartbeat();
  }
}

/** One run of the collector: socket thread → batches → writer. */
class Collector {
  readonly #opts: IngestNetflowListenOptions;
  readonly #writer: SpoolWriter;
  readonly #requested: number;
  readonly #progress: ProgressReporter;
  readonly #log: (obj: object) => void;
  readonly #report: RunCollectorReport;
  #thread: SocketThread | null = null;
  /** Batches handed over and not yet given to the writer, oldest first (from #head). */
  #batches: { framed: Uint8Array; records: number; ringBytes: number }[] = [];
  #head = 0;
  #records = 0;
  #kernelDrops: number | null = null;
  #reportedFinal = false;
  #draining: Promise<void> | null = null;
  #failure: unknown = null;
  #wake: (() => void) | null = null;

  constructor(opts: IngestNetflowListenOptions, writer: SpoolWriter) {
    this.#opts = opts;
    this.#writer = writer;
    this.#requested = opts.recvBufferBytes ?? DEFAULT_RECV_BUFFER_BYTES;
    this.#progress = new ProgressReporter('ingest netflow', 'datagrams', () => this.#counters(), opts.progress);
    this.#log = this.#progress.wrapLog(opts.log);
    this.#report = new RunCollectorReport(opts.spoolDir, writer.runId);
  }

  /** Starts the socket thread and binds. @throws AppError ERR_LISTEN_FAILED. */
  async start(): Promise<void> {
    this.#thread = await SocketThread.start({
      listen: this.#opts.listen,
      recvBufferBytes: this.#requested,
      queueRecords: this.#opts.queueDatagrams ?? DEFAULT_QUEUE_DATAGRAMS,
      queueBytes: this.#opts.queueBytes ?? DEFAULT_QUEUE_BYTES,
      onBatch: (framed, records, ringBytes) => this.#onBatch(framed, records, ringBytes),
      log: this.#log,
      onFailure: (e) => this.#fail(e),
    });
  }

  async run(): Promise<IngestNetflowListenResult> {
    const opts = this.#opts;
    const thread = this.#thread!;
    const requested = this.#requested;
    const granted = thread.recvBufferGranted;
    const log = this.#log;
    log({ event: 'listening', runId: this.#writer.runId, address: formatListenAddress({ ...opts.listen, port: thread.port }), recvBufferRequested: requested, recvBufferGranted: granted });
    if (granted < requested) {
      log({ event: 'recv-buffer-capped', requested, granted, hint: 'the kernel capped the receive buffer: raise net.core.rmem_max (sysctl) for bursts' });
    }
    opts.onListening?.(thread.port);
    this.#progress.start();
    const timers = this.#startTimers();
    let unreadAtCloseBytes: number | null = null;
    try {
      await this.#untilStopped();
      const stopped = await thread.stop();
      if (stopped.kernel !== null) {
        this.#kernelDrops = stopped.kernel.drops;
        unreadAtCloseBytes = stopped.kernel.queuedBytes;
        if (unreadAtCloseBytes > 0) log({ event: 'unread-at-close', bytes: unreadAtCloseBytes, hint: 'the sender did not pause within 2 s of the stop: what the kernel still held is lost with the socket' });
      }
      await this.#drainAll();
      if (this.#failure !== null) throw this.#failure;
      // Before the final segment: the processor's last manifest must see the final counts.
      await this.#writeReport(unreadAtCloseBytes, true);
    } catch (e) {
      for (const t of timers) clearInterval(t);
      this.#progress.stop();
      await thread.terminate();
      await this.#writer.abort();
      throw e;
    }
    for (const t of timers) clearInterval(t);
    const c = thread.counters();
    this.#progress.stop();
    const res = await this.#writer.close();
    await writeRunEndMarker(opts.spoolDir, this.#writer.runId, res.segments);
    const q = this.#writer.quota;
    return {
      runId: this.#writer.runId,
      datagrams: c.datagrams,
      datagramBytes: c.datagramBytes,
      records: res.records,
      segments: res.segments,
      bytes: res.bytes,
      queueDrops: c.queueDrops,
      kernelDrops: this.#kernelDrops,
      queueHighWater: c.queueHighWater,
      unreadAtCloseBytes,
      recvBufferRequested: requested,
      recvBufferGranted: granted,
      exporterUnparsed: c.exporterUnparsed,
      ...(q ? { quota: { pauses: q.pauses, pausedMs: q.pausedMs, droppedSegments: q.droppedSegments } } : {}),
    };
  }

  #counters() {
    const c = this.#thread!.counters();
    const kernel = this.#kernelDrops ?? 0;
    return {
      units: c.datagrams,
      records: this.#records,
      bytes: c.datagramBytes,
      drops: c.queueDrops + kernel,
      extra: { queued: this.#thread!.queuedRecords, queueDrops: c.queueDrops, kernelDrops: kernel },
    };
  }

  #startTimers(): ReturnType<typeof setInterval>[] {
    const timers: ReturnType<typeof setInterval>[] = [];
    const kernel = setInterval(() => void this.#pollKernel(), KERNEL_POLL_MS);
    kernel.unref();
    timers.push(kernel);
    const age = this.#opts.segmentMaxAgeMs ?? DEFAULT_SEGMENT_MAX_AGE_MS;
    if (age > 0) {
      const t = setInterval(() => this.#writer.rotateIfOld().catch((e: unknown) => this.#fail(e)), Math.min(age, 1000));
      t.unref();
      timers.push(t);
    }
    return timers;
  }

  async #pollKernel(): Promise<void> {
    const c = await readKernelSocketCounts(this.#opts.listen.family, this.#thread!.port);
    if (c !== null) this.#kernelDrops = Math.max(this.#kernelDrops ?? 0, c.drops);
    await this.#writeReport(null, false).catch((e: unknown) => this.#fail(e));
  }

  #writeReport(unreadAtCloseBytes: number | null, final: boolean): Promise<void> {
    // A poll still under way at the end must not follow the final report with a non-final one.
    if (this.#reportedFinal) return Promise.resolve();
    this.#reportedFinal = final;
    const c = this.#thread!.counters();
    return this.#report.write({ datagrams: c.datagrams, queueDrops: c.queueDrops, kernelDrops: this.#kernelDrops, unreadAtCloseBytes, final });
  }

  /** Resolves when the signal aborts or something failed. */
  #untilStopped(): Promise<void> {
    const signal = this.#opts.signal;
    if (signal.aborted || this.#failure !== null) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#wake = resolve;
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  #fail(e: unknown): void {
    this.#failure ??= e;
    this.#wake?.();
  }

  /** A batch from the socket thread: queued here (it is already counted in the bound). */
  #onBatch(framed: Uint8Array, records: number, ringBytes: number): void {
    this.#batches.push({ framed, records, ringBytes });
    this.#draining ??= this.#drain();
  }

  /** The disk side: a batch at a time, waiting for the writer whenever it seals. */
  async #drain(): Promise<void> {
    const thread = this.#thread!;
    try {
      while (this.#failure === null && this.#head < this.#batches.length) {
        const b = this.#batches[this.#head]!;
        this.#batches[this.#head++] = undefined as never;
        if (this.#head > 1024 && this.#head * 2 > this.#batches.length) {
          this.#batches = this.#batches.slice(this.#head);
          this.#head = 0;
        }
        // appendFramed copies the records out of the ring before it returns; the room is given
        // back only once the writer has sealed what they triggered, so the ring bounds the
        // writer's backlog too.
        const records = await this.#writer.appendFramed(b.framed);
        this.#records += records;
        thread.taken(b.records, b.ringBytes);
      }
    } catch (e) {
      this.#fail(e);
    } finally {
      this.#draining = null;
    }
  }

  async #drainAll(): Promise<void> {
    while (this.#draining !== null || (this.#head < this.#batches.length && this.#failure === null)) {
      this.#draining ??= this.#drain();
      await this.#draining;
    }
  }
}
