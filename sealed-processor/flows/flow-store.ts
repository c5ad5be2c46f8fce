/**
 * Struct-of-arrays storage for live flows, plus the last-seen ordered lists used for expiry.
 *
 * Owns: one slot per live flow in typed arrays (no object per flow, so the hot path creates no
 * garbage and the GC has little to trace), a free-slot stack, growth by doubling, and three
 * intrusive doubly-linked lists ordered by last-seen time — TCP, other protocols, and closing
 * TCP (FIN both ways / RST). Each list has a single timeout, so expiry only looks at heads.
 * Never: knows about packets or keys' meaning; never shrinks (slots are reused).
 */

/** Words per flow key: A address (4), B address (4), ports (portA<<16|portB), meta. */
export const KEY_WORDS = 10;

/** The expiry lists. */
export const FlowList = { Tcp: 0, Other: 1, Closing: 2 } as const;
export type FlowList = (typeof FlowList)[keyof typeof FlowList];

function growU32(a: Uint32Array, n: number): Uint32Array {
  const b = new Uint32Array(n);
  b.set(a);
  return b;
}
function growI32(a: Int32Array, n: number): Int32Array {
  const b = new Int32Array(n);
  b.set(a);
  return b;
}
function growU8(a: Uint8Array, n: number): Uint8Array {
  const b = new Uint8Array(n);
  b.set(a);
  return b;
}
function growI16(a: Int16Array, n: number): Int16Array {
  const b = new Int16Array(n);
  b.set(a);
  return b;
}
function growF64(a: Float64Array, n: number): Float64Array {
  const b = new Float64Array(n);
  b.set(a);
  return b;
}

/** Live flow slots. Field arrays are indexed by slot id (times the stride noted). */
export class FlowStore {
  capacity: number;
  size = 0;
  /** Canonical key, stride KEY_WORDS. */
  keys: Uint32Array;
  /** Key hash (for probing and rehashing). */
  hash: Uint32Array;
  /** 1 when the initiator is endpoint A of the canonical key. */
  initIsA: Uint8Array;
  /** Stride 4: initiator MAC hi/lo, responder MAC hi/lo (-1 absent). */
  macs: Int32Array;
  /** Stride 2: ICMP type, code of the first packet (-1 absent). */
  icmp: Int16Array;
  /** Stride 4: packets fwd, bytes fwd, packets rev, bytes rev. */
  counts: Float64Array;
  /** Stride 2: first and last packet time (µs). */
  times: Float64Array;
  /** Stride 2: TCP flags union fwd, rev. */
  flags: Uint8Array;
  /** TCP state bits (see flow-table.ts). */
  tcpState: Uint8Array;
  /** Stride 2: TCP base sequence number fwd, rev (Wireshark's port-reuse rule). */
  baseSeq: Float64Array;
  /** Payload packets examined for an application name (255 = done). */
  appTries: Uint8Array;
  /** Outermost tunnel of the flow's first tunnelled packet (`TunnelType`, 0 = none). */
  tunnelType: Uint8Array;
  /** IP version of the tunnel endpoints (0 none, 4, 6). */
  tunnelVersion: Uint8Array;
  /** Stride 8: initiator-side tunnel endpoint (4 words), responder-side (4 words); IPv4 in words 3 / 7. */
  tunnelAddrs: Uint32Array;
  dnsQname: (string | null)[] = [];
  tlsSni: (string | null)[] = [];
  httpHost: (string | null)[] = [];
  prev: Int32Array;
  next: Int32Array;
  listOf: Uint8Array;
  readonly head = new Int32Array([-1, -1, -1]);
  readonly tail = new Int32Array([-1, -1, -1]);
  private free: Int32Array;
  private freeTop = 0;

  constructor(capacity: number) {
    this.capacity = 0;
    this.keys = new Uint32Array(0);
    this.hash = new Uint32Array(0);
    this.initIsA = new Uint8Array(0);
    this.macs = new Int32Array(0);
    this.icmp = new Int16Array(0);
    this.counts = new Float64Array(0);
    this.times = new Float64Array(0);
    this.flags = new Uint8Array(0);
    this.tcpState = new Uint8Array(0);
    this.baseSeq = new Float64Array(0);
    this.appTries = new Uint8Array(0);
    this.tunnelType = new Uint8Array(0);
    this.tunnelVersion = new Uint8Array(0);
    this.tunnelAddrs = new Uint32Array(0);
    this.prev = new Int32Array(0);
    this.next = new Int32Array(0);
    this.listOf = new Uint8Array(0);
    this.free = new Int32Array(0);
    this.grow(capacity);
  }

  /** Enlarges every array to `capacity` slots, keeping contents. */
  grow(capacity: number): void {
    const old = this.capacity;
    if (capacity <= old) return;
    this.keys = growU32(this.keys, capacity * KEY_WORDS);
    this.hash = growU32(this.hash, capacity);
    this.initIsA = growU8(this.initIsA, capacity);
    this.macs = growI32(this.macs, capacity * 4);
    this.icmp = growI16(this.icmp, capacity * 2);
    this.counts = growF64(this.counts, capacity * 4);
    this.times = growF64(this.times, capacity * 2);
    this.flags = growU8(this.flags, capacity * 2);
    this.tcpState = growU8(this.tcpState, capacity);
    this.baseSeq = growF64(this.baseSeq, capacity * 2);
    this.appTries = growU8(this.appTries, capacity);
    this.tunnelType = growU8(this.tunnelType, capacity);
    this.tunnelVersion = growU8(this.tunnelVersion, capacity);
    this.tunnelAddrs = growU32(this.tunnelAddrs, capacity * 8);
    this.prev = growI32(this.prev, capacity);
    this.next = growI32(this.next, capacity);
    this.listOf = growU8(this.listOf, capacity);
    this.free = growI32(this.free, capacity);
    for (let i = old; i < capacity; i++) {
      this.dnsQname.push(null);
      this.tlsSni.push(null);
      this.httpHost.push(null);
    }
    // New slots go on the free stack so the lowest ids are handed out first.
    for (let i = capacity - 1; i >= old; i--) this.free[this.freeTop++] = i;
    this.capacity = capacity;
  }

  /** Takes a free slot (caller ensures size < capacity) and appends it to `list`. */
  alloc(list: FlowList): number {
    const id = this.free[--this.freeTop];
    this.size++;
    this.listOf[id] = list;
    this.linkTail(id, list);
    return id;
  }

  /** Returns a slot to the free stack (after unlinking it) and drops its names. */
  release(id: number): void {
    this.unlink(id);
    this.dnsQname[id] = null;
    this.tlsSni[id] = null;
    this.httpHost[id] = null;
    this.free[this.freeTop++] = id;
    this.size--;
  }

  /** Moves `id` to the tail (most recently seen end) of `list`. */
  touch(id: number, list: FlowList): void {
    if (this.tail[this.listOf[id]] === id && this.listOf[id] === list) return;
    this.unlink(id);
    this.listOf[id] = list;
    this.linkTail(id, list);
  }

  private linkTail(id: number, list: number): void {
    const t = this.tail[list];
    this.prev[id] = t;
    this.next[id] = -1;
    if (t === -1) this.head[list] = id;
    else this.next[t] = id;
    this.tail[list] = id;
  }

  private unlink(id: number): void {
    const list = this.listOf[id];
    const p = this.prev[id];
    const n = this.next[id];
    if (p === -1) this.head[list] = n;
    else this.next[p] = n;
    if (n === -1) this.tail[list] = p;
    else this.prev[n] = p;
  }
}
