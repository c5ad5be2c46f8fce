/**
 * The contract between the collector (ingest-netflow-listen.ts, main thread) and its socket
 * thread (socket-thread.ts, a worker_thread): the start parameters, the messages each way,
 * and the layout of the small shared memory block both read.
 *
 * Shared memory: the ring (datagram-ring.ts) the thread frames records into, and a small
 * block: an Int32Array of 2 — records and ring bytes handed over and not yet released by the
 * spool writer's side (the thread adds with Atomics when it posts a batch, the collector
 * subtracts once the writer has taken it: with the ring's own positions, this is the bounded
 * queue) — then a Float64Array of the thread's counters, written by the thread only and read
 * by the collector for progress lines (the exact final values come in the `stopped` message).
 * A batch message only names a range of the ring: the bytes are there before it is posted.
 *
 * Owns: these shapes. Pure: no IO. Never: carries payload bytes or an exporter address in a
 * message (they are only in the ring).
 */
import type { KernelSocketCounts } from './socket-drops.ts';

export interface SocketThreadInit {
  family: 4 | 6;
  host: string;
  port: number;
  recvBufferBytes: number;
  queueRecords: number;
  /** The ring: its length is the queue's byte bound. */
  ring: SharedArrayBuffer;
  /** SHARED_BYTES long; see the layout above. */
  shared: SharedArrayBuffer;
  /** The socket thread's module (a file: URL), which the bootstrap imports. */
  entry: string;
}

export const InFlightSlot = { Records: 0, Bytes: 1 } as const;
export const CounterSlot = { Datagrams: 0, DatagramBytes: 1, QueueDrops: 2, QueueDroppedBytes: 3, QueueHighWater: 4, ExporterUnparsed: 5 } as const;
const COUNTERS = 6;
const COUNTERS_OFFSET = 8;
export const SHARED_BYTES = COUNTERS_OFFSET + COUNTERS * 8;

export function inFlightView(shared: SharedArrayBuffer): Int32Array {
  return new Int32Array(shared, 0, 2);
}

export function countersView(shared: SharedArrayBuffer): Float64Array {
  return new Float64Array(shared, COUNTERS_OFFSET, COUNTERS);
}

/** The thread's counters, by name. */
export interface SocketThreadCounters {
  datagrams: number;
  datagramBytes: number;
  queueDrops: number;
  queueDroppedBytes: number;
  queueHighWater: number;
  exporterUnparsed: number;
}

export function readCounters(c: Float64Array): SocketThreadCounters {
  return {
    datagrams: c[CounterSlot.Datagrams]!,
    datagramBytes: c[CounterSlot.DatagramBytes]!,
    queueDrops: c[CounterSlot.QueueDrops]!,
    queueDroppedBytes: c[CounterSlot.QueueDroppedBytes]!,
    queueHighWater: c[CounterSlot.QueueHighWater]!,
    exporterUnparsed: c[CounterSlot.ExporterUnparsed]!,
  };
}

/** Collector → thread. */
export type ToSocketThread = { type: 'stop' };

/** Thread → collector, in this order: one of listening/listen-failed, then batches, then stopped. */
export type FromSocketThread =
  | { type: 'listening'; port: number; recvBufferGranted: number }
  /** bind failed; `code` is the errno name (EADDRINUSE, EADDRNOTAVAIL, EACCES). */
  | { type: 'listen-failed'; code: string }
  | { type: 'recv-buffer-refused'; requested: number; code: string }
  /** `records` framed spool records at ring[start, end), after `skip` gap bytes (datagram-ring.ts `RingBatch`). */
  | { type: 'batch'; start: number; end: number; skip: number; records: number }
  /** The socket failed after bind; the thread stops. */
  | { type: 'socket-error'; code: string }
  /**
   * Socket closed, last batch posted. `kernel` is what the kernel showed just before close
   * (null where unknown): its drops, and the bytes still unread then (lost with the socket).
   */
  | { type: 'stopped'; counters: SocketThreadCounters; kernel: KernelSocketCounts | null };
