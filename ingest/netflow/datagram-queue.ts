/**
 * The bounded queue between the collector's socket and the spool writer: the socket side
 * never waits (a full queue drops the newest datagram and counts it), the disk side takes
 * datagrams in arrival order.
 *
 * Owns: a fixed ring of slots (allocated once: typed arrays for the numbers, one array for
 * the payload references) bounded by datagram count and by payload bytes, and the drop and
 * high-water counters. Pure: no IO, no clock. Never: copies or inspects a payload.
 */

/** One dequeued datagram; `shift` fills a reused object. */
export interface QueuedDatagram {
  payload: Uint8Array;
  /** Exporter address text as the socket reported it. */
  address: string;
  port: number;
  tsSec: number;
  tsNsec: number;
}

export function newQueuedDatagram(): QueuedDatagram {
  return { payload: new Uint8Array(0), address: '', port: 0, tsSec: 0, tsNsec: 0 };
}

export class DatagramQueue {
  readonly maxDatagrams: number;
  readonly maxBytes: number;
  readonly #payloads: (Uint8Array | null)[];
  readonly #addresses: string[];
  readonly #ports: Uint16Array;
  readonly #tsSec: Float64Array;
  readonly #tsNsec: Uint32Array;
  #head = 0;
  #length = 0;
  #bytes = 0;
  /** Datagrams refused because the queue was full (by count or bytes). */
  dropped = 0;
  /** Payload bytes of the dropped datagrams. */
  droppedBytes = 0;
  /** Most datagrams queued at once. */
  highWater = 0;

  /**
   * @param maxDatagrams slots (≥ 1).
   * @param maxBytes payload bytes queued at most (≥ one largest datagram is sensible).
   */
  constructor(maxDatagrams: number, maxBytes: number) {
    if (!(Number.isSafeInteger(maxDatagrams) && maxDatagrams >= 1)) throw new TypeError('DatagramQueue: maxDatagrams must be a positive integer');
    if (!(Number.isSafeInteger(maxBytes) && maxBytes >= 1)) throw new TypeError('DatagramQueue: maxBytes must be a positive integer');
    this.maxDatagrams = maxDatagrams;
    this.maxBytes = maxBytes;
    this.#payloads = new Array<Uint8Array | null>(maxDatagrams).fill(null);
    this.#addresses = new Array<string>(maxDatagrams).fill('');
    this.#ports = new Uint16Array(maxDatagrams);
    this.#tsSec = new Float64Array(maxDatagrams);
    this.#tsNsec = new Uint32Array(maxDatagrams);
  }

  get length(): number {
    return this.#length;
  }

  /** Payload bytes queued now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Queues a datagram; returns false (and counts a drop) when the queue is full. Keeps the reference. */
  push(payload: Uint8Array, address: string, port: number, tsSec: number, tsNsec: number): boolean {
    if (this.#length === this.maxDatagrams || this.#bytes + payload.length > this.maxBytes) {
      this.dropped++;
      this.droppedBytes += payload.length;
      return false;
    }
    let slot = this.#head + this.#length;
    if (slot >= this.maxDatagrams) slot -= this.maxDatagrams;
    this.#payloads[slot] = payload;
    this.#addresses[slot] = address;
    this.#ports[slot] = port;
    this.#tsSec[slot] = tsSec;
    this.#tsNsec[slot] = tsNsec;
    this.#length++;
    this.#bytes += payload.length;
    if (this.#length > this.highWater) this.highWater = this.#length;
    return true;
  }

  /** Takes the oldest datagram into `out`; false when empty. */
  shift(out: QueuedDatagram): boolean {
    if (this.#length === 0) return false;
    const slot = this.#head;
    const payload = this.#payloads[slot]!;
    out.payload = payload;
    out.address = this.#addresses[slot]!;
    out.port = this.#ports[slot]!;
    out.tsSec = this.#tsSec[slot]!;
    out.tsNsec = this.#tsNsec[slot]!;
    this.#payloads[slot] = null;
    this.#head = slot + 1 === this.maxDatagrams ? 0 : slot + 1;
    this.#length--;
    this.#bytes -= payload.length;
    return true;
  }
}
