/**
 * The collector's socket thread (a worker_thread started by socket-thread-handle.ts through
 * socket-thread-boot.mjs): binds the UDP socket, takes each datagram's receive time, frames it
 * as a spool record into the shared ring (datagram-ring.ts) and posts batches (ranges of the
 * ring) to the collector, which seals and writes them on its own thread.
 *
 * Why a thread: the kernel buffers only a few thousand datagrams (net.core.rmem_max caps the
 * receive buffer; 4 MiB here, ≈ 3 000 v5 datagrams ≈ 0.1 s at 30 k/s). On one event loop,
 * every pause of the sealing side — a chunk sealed, a segment published, a major GC, code
 * being optimized at start — was a pause in reading the socket, and the kernel dropped what
 * did not fit. This thread runs nothing else, and allocates nothing per datagram but what
 * node:dgram does.
 *
 * Owns: the socket (receive buffer asked for, size granted reported), receive times (wall
 * clock when Node delivers the datagram, sub-microsecond resolution; Node exposes no kernel
 * timestamp), the hand-over bound (a full queue drops and counts: this thread never waits on
 * the writer), and a stop that reads the socket empty before closing it, so what the kernel
 * held is delivered, and what it dropped is read just before close (the count dies with the
 * socket). Never: inspects or logs payload bytes or exporter addresses; waits on the collector.
 */
import { createSocket, type Socket } from 'node:dgram';
import { parentPort, workerData } from 'node:worker_threads';
import { DatagramRing } from './datagram-ring.ts';
import { readKernelSocketCounts, type KernelSocketCounts } from './socket-drops.ts';
import { CounterSlot, countersView, inFlightView, InFlightSlot, type FromSocketThread, type SocketThreadInit, type ToSocketThread } from './socket-thread-messages.ts';

/**
 * A batch is posted when it reaches BATCH_POST_MAX_BYTES, else BATCH_POST_MS after its first
 * datagram. Posting after every event-loop turn (a few datagrams each at 15 k datagrams/s)
 * spent ~10 % of this thread's time in postMessage, plus the collector's cost per message; a
 * timer keeps it to a few hundred messages per second at any rate. The delay is nothing next
 * to the spool's own (a chunk is sealed per MiB).
 */
const BATCH_POST_MAX_BYTES = 256 * 1024;
const BATCH_POST_MS = 4;
/** At stop, how long to keep reading while the kernel still holds datagrams for us. */
const STOP_DRAIN_MS = 2000;
const STOP_POLL_MS = 5;

const port = parentPort;
if (port === null) throw new TypeError('socket-thread.ts runs as a worker_thread only');
const init = workerData as SocketThreadInit;
const post = (m: FromSocketThread) => port.postMessage(m);
const inFlight = inFlightView(init.shared);
const counters = countersView(init.shared);
const ring = new DatagramRing(new Uint8Array(init.ring), init.queueRecords, {
  records: () => Atomics.load(inFlight, InFlightSlot.Records),
  bytes: () => Atomics.load(inFlight, InFlightSlot.Bytes),
});
/** A quarter of the ring at most, so a small ring still hands over before it is full. */
const batchPostBytes = Math.min(BATCH_POST_MAX_BYTES, init.ring.byteLength >> 2);
let datagrams = 0;
let datagramBytes = 0;
let postTimer: ReturnType<typeof setTimeout> | null = null;
let stopping = false;

function publishCounters(): void {
  counters[CounterSlot.Datagrams] = datagrams;
  counters[CounterSlot.DatagramBytes] = datagramBytes;
  counters[CounterSlot.QueueDrops] = ring.dropped;
  counters[CounterSlot.QueueDroppedBytes] = ring.droppedBytes;
  counters[CounterSlot.QueueHighWater] = ring.highWater;
  counters[CounterSlot.ExporterUnparsed] = ring.exporterUnparsed;
}

function postBatch(): void {
  if (postTimer !== null) {
    clearTimeout(postTimer);
    postTimer = null;
  }
  publishCounters();
  for (let b = ring.take(); b !== null; b = ring.take()) {
    // Counted in flight before the collector can see it, so it can only ever release what was added.
    Atomics.add(inFlight, InFlightSlot.Records, b.records);
    Atomics.add(inFlight, InFlightSlot.Bytes, b.skip + b.end - b.start);
    post({ type: 'batch', start: b.start, end: b.end, skip: b.skip, records: b.records });
  }
}

function onMessage(msg: Buffer, address: string, fromPort: number): void {
  const ms = performance.timeOrigin + performance.now();
  const sec = Math.floor(ms / 1000);
  const nsec = Math.min(999_999_999, Math.floor((ms - sec * 1000) * 1e6));
  datagrams++;
  datagramBytes += msg.length;
  ring.push(msg, address, fromPort, sec, nsec);
  // Live for progress lines (a few stores), also while everything is dropped and nothing is posted.
  publishCounters();
  if (ring.batchBytes >= batchPostBytes) postBatch();
  else if (postTimer === null && ring.pendingRecords > 0) postTimer = setTimeout(postBatch, BATCH_POST_MS);
}

async function bind(): Promise<Socket | null> {
  const socket = createSocket({ type: init.family === 6 ? 'udp6' : 'udp4' });
  const bound = await new Promise<boolean>((resolve) => {
    const onError = (e: NodeJS.ErrnoException) => {
      socket.close();
      post({ type: 'listen-failed', code: e.code ?? 'unknown' });
      resolve(false);
    };
    socket.once('error', onError);
    socket.bind(init.port, init.host, () => {
      socket.off('error', onError);
      resolve(true);
    });
  });
  return bound ? socket : null;
}

/** Asks for the receive buffer; returns what the kernel reports (Linux: twice what it granted, its bookkeeping). */
function growReceiveBuffer(socket: Socket): number {
  try {
    socket.setRecvBufferSize(init.recvBufferBytes);
  } catch (e) {
    post({ type: 'recv-buffer-refused', requested: init.recvBufferBytes, code: (e as NodeJS.ErrnoException).code ?? 'unknown' });
  }
  return socket.getRecvBufferSize();
}

/**
 * Reads on until the kernel holds nothing more for us (or STOP_DRAIN_MS), then closes and
 * posts the last batch and `stopped`; the collector ends the thread once it has that.
 */
async function stop(socket: Socket, localPort: number): Promise<void> {
  const t0 = performance.now();
  let kernel: KernelSocketCounts | null = await readKernelSocketCounts(init.family, localPort);
  while (kernel !== null && kernel.queuedBytes > 0 && performance.now() - t0 < STOP_DRAIN_MS) {
    await new Promise((r) => setTimeout(r, STOP_POLL_MS));
    kernel = await readKernelSocketCounts(init.family, localPort);
  }
  await new Promise<void>((r) => {
    try {
      socket.close(() => r());
    } catch {
      r(); // already closed by a socket error
    }
  });
  postBatch();
  post({
    type: 'stopped',
    kernel,
    counters: { datagrams, datagramBytes, queueDrops: ring.dropped, queueDroppedBytes: ring.droppedBytes, queueHighWater: ring.highWater, exporterUnparsed: ring.exporterUnparsed },
  });
}

const socket = await bind();
if (socket !== null) {
  const granted = growReceiveBuffer(socket);
  const localPort = socket.address().port;
  socket.on('message', (msg, rinfo) => onMessage(msg, rinfo.address, rinfo.port));
  socket.on('error', (e: NodeJS.ErrnoException) => {
    if (stopping) return;
    stopping = true;
    post({ type: 'socket-error', code: e.code ?? 'unknown' });
    void stop(socket, localPort);
  });
  port.on('message', (m: ToSocketThread) => {
    if (m.type === 'stop' && !stopping) {
      stopping = true;
      void stop(socket, localPort);
    }
  });
  post({ type: 'listening', port: localPort, recvBufferGranted: granted });
}
