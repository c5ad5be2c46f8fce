/**
 * The bounded queue between the collector's socket thread and its spool writer: a ring of
 * bytes (shared memory in the collector) into which each received datagram is framed, in
 * place, as a spool record (schemas/spool.ts: a flow-export datagram record, its body the
 * 16-byte exporter address and the payload), and handed over in batches — contiguous ranges of
 * whole records, in arrival order.
 *
 * Why framed in place: a batch copied out of a buffer per hand-over (a fresh 256 KiB
 * allocation each time) cost the socket thread 1.2 µs per datagram, more than all its other
 * framing work; the ring is allocated once and nothing is allocated per datagram or batch.
 *
 * Owns: the write position, the current batch, and the bound: records and bytes handed over
 * and not yet released by the writer's side (`InFlight`) plus those not yet handed over must
 * fit `maxRecords` and the ring. A record never wraps: one that does not fit before the end
 * starts at 0, and the gap travels with the next batch (`skip`) so it is released with it. A
 * datagram that does not fit is dropped and counted, never waited for. Pure: no IO, no clock.
 * Never: inspects or changes a payload byte.
 */
import { RecordKind, SPOOL_DATAGRAM_ADDRESS_BYTES, SPOOL_RECORD_HEADER_BYTES, writeSpoolRecordHeader } from '../../schemas/spool.ts';
import { DatagramBody } from './datagram-body.ts';

/** What the writer's side has not released yet (read per datagram; kept by whoever hands over). */
export interface InFlight {
  /** Records handed over and not yet released. */
  records(): number;
  /** Ring bytes handed over and not yet released (records and gaps). */
  bytes(): number;
}

/** One hand-over: records framed back to back at ring[start, end), after `skip` gap bytes that are released with them. */
export interface RingBatch {
  start: number;
  end: number;
  skip: number;
  records: number;
}

const RECORD_OVERHEAD = SPOOL_RECORD_HEADER_BYTES + SPOOL_DATAGRAM_ADDRESS_BYTES;
const ZERO_ADDRESS = new Uint8Array(SPOOL_DATAGRAM_ADDRESS_BYTES);

export class DatagramRing {
  readonly maxRecords: number;
  readonly #ring: Uint8Array;
  readonly #view: DataView;
  readonly #inFlight: InFlight;
  readonly #addresses = new DatagramBody();
  /** Closed batches not yet taken (a wrap closes the current one). */
  readonly #ready: RingBatch[] = [];
  /** Where the next record goes. */
  #w = 0;
  #start = 0;
  #skip = 0;
  #records = 0;
  /** Bytes and records framed and not yet taken (ready batches and the current one). */
  #pendingBytes = 0;
  #pendingRecords = 0;
  /** Datagrams refused because the queue was full (by count or bytes). */
  dropped = 0;
  /** Payload bytes of the dropped datagrams. */
  droppedBytes = 0;
  /** Most records queued at once (handed over + not yet). */
  highWater = 0;
  /** Datagrams whose exporter address text did not parse (framed with a zero address). */
  exporterUnparsed = 0;

  /**
   * @param ring the ring's bytes (its length is the byte bound).
   * @param maxRecords records queued at most (≥ 1).
   */
  constructor(ring: Uint8Array, maxRecords: number, inFlight: InFlight) {
    if (!(Number.isSafeInteger(maxRecords) && maxRecords >= 1)) throw new TypeError('DatagramRing: maxRecords must be a positive integer');
    this.maxRecords = maxRecords;
    this.#ring = ring;
    this.#view = new DataView(ring.buffer, ring.byteOffset, ring.byteLength);
    this.#inFlight = inFlight;
  }

  /** Ring bytes of the batch being built (gap included). */
  get batchBytes(): number {
    return this.#skip + this.#w - this.#start;
  }

  /** Records framed and not yet taken. */
  get pendingRecords(): number {
    return this.#pendingRecords;
  }

  /**
   * Frames one datagram; false (and a drop counted) when the queue is full. `address` is the
   * socket's text for the exporter (`rinfo.address`), `port` its UDP port.
   */
  push(payload: Uint8Array, address: string, port: number, tsSec: number, tsNsec: number): boolean {
    const size = RECORD_OVERHEAD + payload.length;
    const ringBytes = this.#ring.length;
    const queued = this.#inFlight.records() + this.#pendingRecords;
    const wraps = this.#w + size > ringBytes;
    const gap = wraps ? ringBytes - this.#w : 0;
    const at = wraps ? 0 : this.#w;
    if (queued >= this.maxRecords || this.#inFlight.bytes() + this.#pendingBytes + gap + size > ringBytes) {
      this.dropped++;
      this.droppedBytes += payload.length;
      return false;
    }
    if (wraps) this.#wrap(gap);
    const capLen = SPOOL_DATAGRAM_ADDRESS_BYTES + payload.length;
    writeSpoolRecordHeader(this.#view, at, RecordKind.FlowDatagram, 0, port, tsSec, tsNsec, capLen, capLen);
    let exporter = this.#addresses.exporterAddress(address);
    if (exporter === null) {
      this.exporterUnparsed++;
      exporter = ZERO_ADDRESS;
    }
    this.#ring.set(exporter, at + SPOOL_RECORD_HEADER_BYTES);
    this.#ring.set(payload, at + RECORD_OVERHEAD);
    this.#w = at + size;
    this.#records++;
    this.#pendingRecords++;
    this.#pendingBytes += gap + size;
    if (queued + 1 > this.highWater) this.highWater = queued + 1;
    return true;
  }

  /** The next batch to hand over, oldest first (null when there is none); the caller then counts it in flight. */
  take(): RingBatch | null {
    let b = this.#ready.shift();
    if (b === undefined) {
      if (this.#records === 0) return null;
      b = this.#close();
    }
    this.#pendingBytes -= b.skip + b.end - b.start;
    this.#pendingRecords -= b.records;
    return b;
  }

  /** The next record starts at 0: the current batch (if any) ends here; the gap goes with the next. */
  #wrap(gap: number): void {
    if (this.#records > 0) this.#ready.push(this.#close());
    this.#skip += gap;
    this.#start = 0;
  }

  #close(): RingBatch {
    const b = { start: this.#start, end: this.#w, skip: this.#skip, records: this.#records };
    this.#start = this.#w;
    this.#skip = 0;
    this.#records = 0;
    return b;
  }
}
