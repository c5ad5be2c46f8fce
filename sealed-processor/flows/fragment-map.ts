/**
 * Attributes non-first IP fragments to their datagram's transport ports.
 *
 * Choice: a small direct-mapped cache (default 4096 entries) keyed by (source, destination,
 * protocol, fragment id). The first fragment stores its key ports; a later fragment that finds
 * a matching, recent (≤ `FRAGMENT_TTL_US`) entry gets them, so all fragments of a datagram
 * count toward one flow. A later fragment whose first fragment was not seen first (reordering,
 * cache collision) falls back to ports 0, i.e. the (src, dst, proto) flow — counted as
 * unattributed. No reassembly, no payload kept.
 * Never: allocates per packet, grows, or holds anything but numbers.
 */
import type { DecodedPacket } from '../decode/decoded-packet.ts';
import { StateError, type StateReader, type StateWriter } from '../worker/state-bytes.ts';

/** Entries live this long after their first fragment (RFC 8200 §4.5 reassembly timeout is 60 s). */
export const FRAGMENT_TTL_US = 30_000_000;
const WORDS = 10; // source (4 words), destination (4), fragment id, version<<8|protocol

export class FragmentMap {
  private readonly mask: number;
  private readonly ids: Uint32Array;
  private readonly ports: Float64Array;
  private readonly times: Float64Array;

  /** @param size entries (rounded up to a power of two). */
  constructor(size = 4096) {
    let n = 16;
    while (n < size) n *= 2;
    this.mask = n - 1;
    this.ids = new Uint32Array(n * WORDS);
    this.ports = new Float64Array(n);
    this.times = new Float64Array(n).fill(-Infinity);
  }

  private slot(pkt: DecodedPacket): number {
    let h = Math.imul(pkt.fragmentId ^ (pkt.protocol << 24), 0x9e3779b1);
    if (pkt.ipVersion === 4) h ^= Math.imul(pkt.srcV4 ^ Math.imul(pkt.dstV4, 0x85ebca6b), 0xc2b2ae35);
    else for (let i = 0; i < 4; i++) h = Math.imul(h ^ pkt.src6[i] ^ Math.imul(pkt.dst6[i], 0x85ebca6b), 0xc2b2ae35);
    h ^= h >>> 15;
    return h & this.mask;
  }

  private fill(pkt: DecodedPacket, base: number, write: boolean): boolean {
    const ids = this.ids;
    let same = true;
    const v4 = pkt.ipVersion === 4;
    for (let i = 0; i < 4; i++) {
      const s = v4 ? (i === 3 ? pkt.srcV4 : 0) : pkt.src6[i];
      const d = v4 ? (i === 3 ? pkt.dstV4 : 0) : pkt.dst6[i];
      if (write) {
        ids[base + i] = s;
        ids[base + 4 + i] = d;
      } else if (ids[base + i] !== s >>> 0 || ids[base + 4 + i] !== d >>> 0) same = false;
    }
    const tag = (pkt.ipVersion << 8) | pkt.protocol;
    if (write) {
      ids[base + 8] = pkt.fragmentId;
      ids[base + 9] = tag;
    } else if (ids[base + 8] !== pkt.fragmentId >>> 0 || ids[base + 9] !== tag) same = false;
    return same;
  }

  /**
   * Remembers what a first fragment seen at `tsUs` contributed to its flow key: a non-negative
   * number < 2^53 chosen by the caller (the flow table packs ports and the ICMP echo bit).
   */
  put(pkt: DecodedPacket, packedPorts: number, tsUs: number): void {
    const s = this.slot(pkt);
    this.fill(pkt, s * WORDS, true);
    this.ports[s] = packedPorts;
    this.times[s] = tsUs;
  }

  /** The value stored for a later fragment's datagram, or -1 when its first fragment is unknown. */
  get(pkt: DecodedPacket, tsUs: number): number {
    const s = this.slot(pkt);
    if (tsUs - this.times[s] > FRAGMENT_TTL_US || tsUs < this.times[s] - FRAGMENT_TTL_US) return -1;
    return this.fill(pkt, s * WORDS, false) ? this.ports[s] : -1;
  }

  /** The map's entries (worker checkpoint): size, then every entry's words, value and time. */
  writeState(w: StateWriter): void {
    const n = this.mask + 1;
    w.u32(n);
    for (let i = 0; i < n * WORDS; i++) w.u32(this.ids[i]);
    for (let i = 0; i < n; i++) w.f64(this.ports[i]);
    for (let i = 0; i < n; i++) w.f64(this.times[i]);
  }

  /** Replaces the entries with a checkpoint's (same size only). @throws StateError */
  readState(r: StateReader): void {
    const n = this.mask + 1;
    if (r.u32() !== n) throw new StateError('fragment map: size differs');
    for (let i = 0; i < n * WORDS; i++) this.ids[i] = r.u32();
    for (let i = 0; i < n; i++) {
      const p = r.f64();
      if (!(Number.isInteger(p) && p >= 0 && p < 2 ** 53)) throw new StateError('fragment map: bad value');
      this.ports[i] = p;
    }
    for (let i = 0; i < n; i++) {
      const t = r.f64();
      if (t !== -Infinity && !(Number.isInteger(t) && t >= 0 && t <= 2 ** 32 * 1e6)) throw new StateError('fragment map: bad time');
      this.times[i] = t;
    }
  }
}
