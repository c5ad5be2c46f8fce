/**
 * The collector's side of its socket thread (socket-thread.ts): allocates the shared ring,
 * starts the worker_thread, waits for the socket to be bound, hands each batch of framed
 * datagram records (a range of the ring) to the collector in order, gives back what the writer
 * has taken (the bounded queue's other end), and stops the thread.
 *
 * Owns: the worker's lifecycle and its failure modes (bind refused → ERR_LISTEN_FAILED naming
 * the errno; the socket failing later, the thread throwing or exiting early → the run fails
 * with that cause). Never: sees an exporter address as text, or a payload outside a batch.
 */
import { Worker } from 'node:worker_threads';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { formatListenAddress, type ListenAddress } from './listen-address.ts';
import type { KernelSocketCounts } from './socket-drops.ts';
import {
  countersView,
  inFlightView,
  InFlightSlot,
  readCounters,
  SHARED_BYTES,
  type FromSocketThread,
  type SocketThreadCounters,
  type SocketThreadInit,
  type ToSocketThread,
} from './socket-thread-messages.ts';

export interface SocketThreadOptions {
  listen: ListenAddress;
  recvBufferBytes: number;
  queueRecords: number;
  /** The ring's size: the queue's byte bound (at least 256 KiB). */
  queueBytes: number;
  /**
   * Each batch, in arrival order: `records` framed spool records, a view into the ring, valid
   * until the batch is given back with `taken` (`ringBytes`: what to give back).
   */
  onBatch: (framed: Uint8Array, records: number, ringBytes: number) => void;
  /** Diagnostics from the thread (counts and codes only). */
  log: (obj: object) => void;
  /** The thread or its socket failed after the start; the run must end. */
  onFailure: (e: Error) => void;
}

export interface SocketThreadStopped {
  counters: SocketThreadCounters;
  kernel: KernelSocketCounts | null;
}

const BOOT = new URL('./socket-thread-boot.mjs', import.meta.url);
/** The ring holds a few of the largest datagrams at least, whatever `queueBytes` says. */
const MIN_RING_BYTES = 256 * 1024;
const ENTRY = new URL('./socket-thread.ts', import.meta.url).href;

export class SocketThread {
  readonly port: number;
  readonly recvBufferGranted: number;
  readonly #worker: Worker;
  readonly #inFlight: Int32Array;
  readonly #counters: Float64Array;
  readonly #stopped: Promise<SocketThreadStopped>;
  readonly #exited: Promise<void>;

  private constructor(worker: Worker, shared: SharedArrayBuffer, port: number, granted: number, stopped: Promise<SocketThreadStopped>, exited: Promise<void>) {
    this.#worker = worker;
    this.#inFlight = inFlightView(shared);
    this.#counters = countersView(shared);
    this.port = port;
    this.recvBufferGranted = granted;
    this.#stopped = stopped;
    this.#exited = exited;
  }

  /** Starts the thread and binds. @throws AppError ERR_LISTEN_FAILED naming the errno (EADDRINUSE, EADDRNOTAVAIL, EACCES). */
  static async start(opts: SocketThreadOptions): Promise<SocketThread> {
    const shared = new SharedArrayBuffer(SHARED_BYTES);
    const ringBuffer = new SharedArrayBuffer(Math.max(MIN_RING_BYTES, opts.queueBytes));
    const ring = new Uint8Array(ringBuffer);
    const init: SocketThreadInit = {
      family: opts.listen.family,
      host: opts.listen.host,
      port: opts.listen.port,
      recvBufferBytes: opts.recvBufferBytes,
      queueRecords: opts.queueRecords,
      ring: ringBuffer,
      shared,
      entry: ENTRY,
    };
    const worker = new Worker(BOOT, { workerData: init, stdout: false, stderr: false });
    let listening: (v: { port: number; granted: number } | Error) => void = () => undefined;
    const bound = new Promise<{ port: number; granted: number } | Error>((r) => (listening = r));
    let stoppedResolve: (s: SocketThreadStopped) => void = () => undefined;
    const stopped = new Promise<SocketThreadStopped>((r) => (stoppedResolve = r));
    let isStopped = false;
    let isListening = false;
    worker.on('message', (m: FromSocketThread) => {
      switch (m.type) {
        case 'listening':
          isListening = true;
          listening({ port: m.port, granted: m.recvBufferGranted });
          break;
        case 'listen-failed':
          listening(new AppError(ErrorCode.ListenFailed, `cannot listen on ${formatListenAddress(opts.listen)} (${m.code})`));
          break;
        case 'recv-buffer-refused':
          opts.log({ event: 'recv-buffer-refused', requested: m.requested, code: m.code });
          break;
        case 'batch':
          opts.onBatch(ring.subarray(m.start, m.end), m.records, m.skip + m.end - m.start);
          break;
        case 'socket-error':
          opts.onFailure(Object.assign(new Error(`the collector's socket failed (${m.code})`), { code: m.code }));
          break;
        case 'stopped':
          isStopped = true;
          stoppedResolve({ counters: m.counters, kernel: m.kernel });
          break;
      }
    });
    const fail = (e: Error) => {
      if (!isListening) listening(e);
      else opts.onFailure(e);
    };
    worker.on('error', (e: Error) => fail(e));
    const exited = new Promise<void>((r) =>
      worker.on('exit', (code) => {
        if (!isStopped) fail(new Error(`the collector's socket thread exited before it was stopped (exit code ${code})`));
        r();
      }),
    );
    const b = await bound;
    if (b instanceof Error) {
      isStopped = true; // an exit now is the one asked for
      await worker.terminate().catch(() => undefined);
      await exited;
      throw b;
    }
    return new SocketThread(worker, shared, b.port, b.granted, stopped, exited);
  }

  /** The thread's counters now (datagrams, queue drops, ...). */
  counters(): SocketThreadCounters {
    return readCounters(this.#counters);
  }

  /** Records handed over and not yet given back with `taken`. */
  get queuedRecords(): number {
    return Atomics.load(this.#inFlight, InFlightSlot.Records);
  }

  /** The writer has taken a batch (`records`, `ringBytes` as `onBatch` gave them): frees its room in the ring. */
  taken(records: number, ringBytes: number): void {
    Atomics.sub(this.#inFlight, InFlightSlot.Records, records);
    Atomics.sub(this.#inFlight, InFlightSlot.Bytes, ringBytes);
  }

  /**
   * Asks the thread to read the socket empty and close it; resolves once its last batch has
   * been handed to `onBatch` and the thread has ended. (A thread that registered tsx for
   * itself does not end by itself: its loader stays; so it is ended from here.)
   */
  async stop(): Promise<SocketThreadStopped> {
    this.#worker.postMessage({ type: 'stop' } satisfies ToSocketThread);
    const s = await Promise.race([this.#stopped, this.#exited.then(() => null)]);
    if (s === null) throw new Error("the collector's socket thread ended without stopping");
    // `stopped` is its last message (every batch came before it): nothing is lost by ending it.
    await this.terminate();
    await this.#exited;
    return s;
  }

  /** Ends the thread at once (failure path); the socket closes with it. Never throws. */
  async terminate(): Promise<void> {
    await this.#worker.terminate().catch(() => undefined);
  }
}
