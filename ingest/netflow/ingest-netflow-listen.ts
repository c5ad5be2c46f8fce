/**
 * `flowseal ingest netflow --listen`: a UDP collector for NetFlow v5/v9 and IPFIX export that
 * seals every datagram, with its receive time and exporter address/port, into the spool as a
 * flow-export datagram record. It never parses templates or records: decoding is the sealed
 * processor's.
 *
 * Owns: the socket (a large receive buffer, the size granted reported), the bounded queue
 * between socket and disk (datagram-queue.ts: the socket handler never waits, a full queue
 * drops and counts), the drain into the SpoolWriter, segment rotation by size and by age, the
 * kernel's own drop count for the socket (socket-drops.ts), and a clean end on `signal` (socket
 * closed, queue drained, final segment, run-end marker). Receive time is when Node delivers
 * the datagram (Node exposes no kernel timestamp), wall clock, sub-microsecond resolution.
 * Never: inspects or logs payload bytes or exporter addresses (only counts leave here).
 */
import { createSocket, type Socket } from 'node:dgram';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { RecordKind, type SpoolRecordInput } from '../../schemas/spool.ts';
import { ProgressReporter, type ProgressOptions } from '../progress-reporter.ts';
import { writeRunEndMarker } from '../spool/run-end-marker.ts';
import { startRunHeartbeat } from '../spool/run-heartbeat.ts';
import { SpoolWriter } from '../spool/spool-writer.ts';
import { DatagramBody } from './datagram-body.ts';
import { DatagramQueue, newQueuedDatagram } from './datagram-queue.ts';
import { formatListenAddress, type ListenAddress } from './listen-address.ts';
import { readKernelSocketCounts } from './socket-drops.ts';

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
  /** Queue bounds; defaults 65,536 datagrams and 64 MiB of payload. */
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
 * The drain yields to the event loop after this many records. Awaiting an append that sealed
 * nothing resumes as a microtask, so without this a long queue would be drained without the
 * socket being read once, while the kernel buffer fills. (On the shared 2-core bench machine
 * the zero-loss rate was too noisy to show a difference either way; this is about not
 * starving the socket by construction.)
 */
const DRAIN_YIELD_EVERY = 64;
const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

/** Binds a UDP socket. @throws AppError ERR_LISTEN_FAILED naming the errno (EADDRINUSE, EADDRNOTAVAIL, EACCES). */
async function bindSocket(listen: ListenAddress): Promise<Socket> {
  const socket = createSocket({ type: listen.family === 6 ? 'udp6' : 'udp4' });
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      socket.close();
      reject(new AppError(ErrorCode.ListenFailed, `cannot listen on ${formatListenAddress(listen)} (${e.code ?? 'unknown'})`, { cause: e }));
    };
    socket.once('error', onError);
    socket.bind(listen.port, listen.host, () => {
      socket.off('error', onError);
      resolve();
    });
  });
  return socket;
}

/** Asks for `bytes` of receive buffer; returns what the kernel reports (Linux: twice what it granted, its bookkeeping). */
function growReceiveBuffer(socket: Socket, bytes: number, log: (obj: object) => void): number {
  try {
    socket.setRecvBufferSize(bytes);
  } catch (e) {
    log({ event: 'recv-buffer-refused', requested: bytes, code: (e as NodeJS.ErrnoException).code ?? 'unknown' });
  }
  return socket.getRecvBufferSize();
}

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
  let socket: Socket;
  try {
    socket = await bindSocket(opts.listen);
  } catch (e) {
    await writer.abort();
    throw e;
  }
  const collector = new Collector(opts, writer, socket);
  const stopHeartbeat = await startRunHeartbeat(opts.spoolDir, writer.runId);
  try {
    return await collector.run();
  } finally {
    await stopHeartbeat();
  }
}

/** One run of the collector: socket → queue → writer. */
class Collector {
  readonly #opts: IngestNetflowListenOptions;
  readonly #writer: SpoolWriter;
  readonly #socket: Socket;
  readonly #queue: DatagramQueue;
  readonly #body = new DatagramBody();
  readonly #item = newQueuedDatagram();
  readonly #rec: SpoolRecordInput = { kind: RecordKind.FlowDatagram, linkType: 0, ifIndex: 0, tsSec: 0, tsNsec: 0, origLen: 0, data: new Uint8Array(0) };
  readonly #port: number;
  #datagrams = 0;
  #datagramBytes = 0;
  #records = 0;
  #exporterUnparsed = 0;
  #kernelDrops: number | null = null;
  #draining: Promise<void> | null = null;
  #failure: unknown = null;
  #wake: (() => void) | null = null;

  constructor(opts: IngestNetflowListenOptions, writer: SpoolWriter, socket: Socket) {
    this.#opts = opts;
    this.#writer = writer;
    this.#socket = socket;
    this.#queue = new DatagramQueue(opts.queueDatagrams ?? DEFAULT_QUEUE_DATAGRAMS, opts.queueBytes ?? DEFAULT_QUEUE_BYTES);
    this.#port = socket.address().port;
  }

  async run(): Promise<IngestNetflowListenResult> {
    const opts = this.#opts;
    const requested = opts.recvBufferBytes ?? DEFAULT_RECV_BUFFER_BYTES;
    const progress = new ProgressReporter('ingest netflow', 'datagrams', () => this.#counters(), opts.progress);
    const log = progress.wrapLog(opts.log);
    const granted = growReceiveBuffer(this.#socket, requested, log);
    this.#socket.on('message', (msg, rinfo) => this.#onMessage(msg, rinfo.address, rinfo.port));
    this.#socket.on('error', (e) => this.#fail(e));
    log({ event: 'listening', runId: this.#writer.runId, address: formatListenAddress({ ...opts.listen, port: this.#port }), recvBufferRequested: requested, recvBufferGranted: granted });
    if (granted < requested) {
      log({ event: 'recv-buffer-capped', requested, granted, hint: 'the kernel capped the receive buffer: raise net.core.rmem_max (sysctl) for bursts' });
    }
    opts.onListening?.(this.#port);
    progress.start();
    const timers = this.#startTimers();
    try {
      await this.#untilStopped();
      // The socket's /proc line disappears with it: read the kernel's count first.
      await this.#pollKernel();
      await new Promise<void>((r) => this.#socket.close(() => r()));
      await this.#drainAll();
      if (this.#failure !== null) throw this.#failure;
    } catch (e) {
      for (const t of timers) clearInterval(t);
      progress.stop();
      await this.#closeSocketQuietly();
      await this.#writer.abort();
      throw e;
    }
    for (const t of timers) clearInterval(t);
    progress.stop();
    const res = await this.#writer.close();
    await writeRunEndMarker(opts.spoolDir, this.#writer.runId, res.segments);
    const q = this.#writer.quota;
    return {
      runId: this.#writer.runId,
      datagrams: this.#datagrams,
      datagramBytes: this.#datagramBytes,
      records: res.records,
      segments: res.segments,
      bytes: res.bytes,
      queueDrops: this.#queue.dropped,
      kernelDrops: this.#kernelDrops,
      queueHighWater: this.#queue.highWater,
      recvBufferRequested: requested,
      recvBufferGranted: granted,
      exporterUnparsed: this.#exporterUnparsed,
      ...(q ? { quota: { pauses: q.pauses, pausedMs: q.pausedMs, droppedSegments: q.droppedSegments } } : {}),
    };
  }

  #counters() {
    const kernel = this.#kernelDrops ?? 0;
    return {
      units: this.#datagrams,
      records: this.#records,
      bytes: this.#datagramBytes,
      drops: this.#queue.dropped + kernel,
      extra: { queued: this.#queue.length, queueDrops: this.#queue.dropped, kernelDrops: kernel },
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
    const c = await readKernelSocketCounts(this.#opts.listen.family, this.#port);
    if (c !== null) this.#kernelDrops = c.drops;
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

  /** The socket side: never waits. */
  #onMessage(msg: Buffer, address: string, port: number): void {
    const ms = performance.timeOrigin + performance.now();
    const sec = Math.floor(ms / 1000);
    const nsec = Math.min(999_999_999, Math.floor((ms - sec * 1000) * 1e6));
    this.#datagrams++;
    this.#datagramBytes += msg.length;
    if (this.#queue.push(msg, address, port, sec, nsec) && this.#draining === null) this.#draining = this.#drain();
  }

  /** The disk side: one record per datagram, waiting for the writer whenever it seals. */
  async #drain(): Promise<void> {
    const item = this.#item;
    const rec = this.#rec;
    let sinceYield = 0;
    try {
      while (this.#failure === null && this.#queue.shift(item)) {
        if (!this.#body.setExporterText(item.address)) this.#exporterUnparsed++;
        rec.data = this.#body.withPayload(item.payload);
        rec.ifIndex = item.port;
        rec.tsSec = item.tsSec;
        rec.tsNsec = item.tsNsec;
        rec.origLen = rec.data.length;
        const done = this.#writer.append(rec);
        this.#records++;
        await done;
        if (++sinceYield === DRAIN_YIELD_EVERY) {
          sinceYield = 0;
          await yieldToEventLoop();
        }
      }
    } catch (e) {
      this.#fail(e);
    } finally {
      this.#draining = null;
    }
  }

  async #drainAll(): Promise<void> {
    while (this.#draining !== null || (this.#queue.length > 0 && this.#failure === null)) {
      this.#draining ??= this.#drain();
      await this.#draining;
    }
  }

  async #closeSocketQuietly(): Promise<void> {
    await new Promise<void>((r) => {
      try {
        this.#socket.close(() => r());
      } catch {
        r();
      }
    });
  }
}
