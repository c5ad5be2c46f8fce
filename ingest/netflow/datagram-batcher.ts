/**
 * Frames received datagrams into batches of spool records (schemas/spool.ts: a flow-export
 * datagram record per datagram, its body the 16-byte exporter address and the payload), for
 * the collector's socket thread to hand to the spool writer a batch at a time.
 *
 * Owns: the current batch, the bound on what is queued between socket and disk (`InFlight`:
 * batches handed over and not yet taken by the writer, plus the current batch), by record
 * count and by framed bytes, and the drop and high-water counters. A datagram that does not
 * fit is dropped and counted, never waited for: the socket side never blocks. Pure: no IO,
 * no clock (times come in). Never: inspects or changes a payload byte.
 */
import { encodeSpoolRecord, RecordKind, SpoolBuffer, spoolRecordBytes, SPOOL_DATAGRAM_ADDRESS_BYTES, type SpoolRecordInput } from '../../schemas/spool.ts';
import { DatagramBody } from './datagram-body.ts';

/** What the other side has not taken yet (read per datagram; kept by the owner of the hand-over). */
export interface InFlight {
  /** Records handed over and not yet taken. */
  records(): number;
  /** Framed bytes handed over and not yet taken. */
  bytes(): number;
}

/** One batch: framed records back to back (a copy, owned by the receiver). */
export interface DatagramBatch {
  framed: Uint8Array;
  records: number;
}

export class DatagramBatcher {
  readonly maxRecords: number;
  readonly maxBytes: number;
  readonly #inFlight: InFlight;
  readonly #body = new DatagramBody();
  readonly #batch: SpoolBuffer;
  readonly #rec: SpoolRecordInput = { kind: RecordKind.FlowDatagram, linkType: 0, ifIndex: 0, tsSec: 0, tsNsec: 0, origLen: 0, data: new Uint8Array(0) };
  #records = 0;
  /** Datagrams refused because the queue was full (by count or bytes). */
  dropped = 0;
  /** Payload bytes of the dropped datagrams. */
  droppedBytes = 0;
  /** Most records queued at once (in flight + this batch). */
  highWater = 0;
  /** Datagrams whose exporter address text did not parse (framed with a zero address). */
  exporterUnparsed = 0;

  /**
   * @param maxRecords records queued at most (≥ 1), in flight and batched together.
   * @param maxBytes framed bytes queued at most (≥ 1; a record is 40 bytes + the payload).
   * @param batchBytes initial capacity of the batch buffer (it grows if a batch is larger).
   */
  constructor(maxRecords: number, maxBytes: number, inFlight: InFlight, batchBytes = 1 << 18) {
    if (!(Number.isSafeInteger(maxRecords) && maxRecords >= 1)) throw new TypeError('DatagramBatcher: maxRecords must be a positive integer');
    if (!(Number.isSafeInteger(maxBytes) && maxBytes >= 1)) throw new TypeError('DatagramBatcher: maxBytes must be a positive integer');
    this.maxRecords = maxRecords;
    this.maxBytes = maxBytes;
    this.#inFlight = inFlight;
    this.#batch = new SpoolBuffer(batchBytes);
  }

  /** Records in the current batch. */
  get records(): number {
    return this.#records;
  }

  /** Framed bytes in the current batch. */
  get bytes(): number {
    return this.#batch.length;
  }

  /**
   * Frames one datagram into the batch; false (and a drop counted) when the queue is full.
   * `address` is the socket's text for the exporter (`rinfo.address`); `port` its UDP port.
   */
  push(payload: Uint8Array, address: string, port: number, tsSec: number, tsNsec: number): boolean {
    const size = spoolRecordBytes(SPOOL_DATAGRAM_ADDRESS_BYTES + payload.length);
    const records = this.#inFlight.records() + this.#records;
    if (records >= this.maxRecords || this.#inFlight.bytes() + this.#batch.length + size > this.maxBytes) {
      this.dropped++;
      this.droppedBytes += payload.length;
      return false;
    }
    if (!this.#body.setExporterText(address)) this.exporterUnparsed++;
    const rec = this.#rec;
    rec.data = this.#body.withPayload(payload);
    rec.ifIndex = port;
    rec.tsSec = tsSec;
    rec.tsNsec = tsNsec;
    rec.origLen = rec.data.length;
    encodeSpoolRecord(this.#batch, rec);
    this.#records++;
    if (records + 1 > this.highWater) this.highWater = records + 1;
    return true;
  }

  /** Takes the current batch (null when empty) and starts the next. */
  take(): DatagramBatch | null {
    if (this.#records === 0) return null;
    const out = { framed: this.#batch.bytes.slice(), records: this.#records };
    this.#batch.clear();
    this.#records = 0;
    return out;
  }
}
