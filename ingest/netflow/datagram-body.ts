/**
 * Builds the body of a flow-export datagram spool record (schemas/spool.ts): the 16-byte
 * exporter address (IPv6, or IPv4-mapped `::ffff:a.b.c.d`, RFC 4291 §2.5.5.2) followed by the
 * UDP payload exactly as received.
 *
 * Owns: one reused body buffer and a small cache from the socket's address text to its 16
 * bytes (a collector hears few exporters; parsing text per datagram would be the only
 * per-datagram string work). Pure: no IO. Never: reads or changes the payload bytes, or
 * returns an address as text.
 */
import { parseIpv4, parseIpv6 } from '../../schemas/ip-address.ts';
import { SPOOL_DATAGRAM_ADDRESS_BYTES } from '../../schemas/spool.ts';

/** Largest UDP payload (65,535 − 8-byte UDP header; IPv6 jumbograms are not NetFlow). */
export const MAX_UDP_PAYLOAD = 65_527;
/** Distinct exporter texts cached before the cache is reset (a bound, not a tuning knob). */
const CACHE_LIMIT = 4096;

/** Reusable builder; `bytes(len)` is valid until the next call on this object. */
export class DatagramBody {
  readonly #buf = new Uint8Array(SPOOL_DATAGRAM_ADDRESS_BYTES + MAX_UDP_PAYLOAD);
  readonly #view = new DataView(this.#buf.buffer);
  readonly #cache = new Map<string, Uint8Array | null>();
  readonly #words = new Uint32Array(4);

  /**
   * Sets the exporter from the text Node's dgram reports (`rinfo.address`: dotted IPv4, IPv6,
   * `::ffff:a.b.c.d` on a dual-stack socket, `fe80::1%eth0` with a zone, which is dropped).
   * Returns false if the text is not an address (then the address bytes are zeros).
   */
  setExporterText(text: string): boolean {
    const bytes = this.exporterAddress(text);
    if (bytes === null) {
      this.#buf.fill(0, 0, SPOOL_DATAGRAM_ADDRESS_BYTES);
      return false;
    }
    this.#buf.set(bytes, 0);
    return true;
  }

  /**
   * The 16 address bytes for the socket's text (as `setExporterText` takes it), or null if it is
   * not an address. Cached: the array is shared, never change it.
   */
  exporterAddress(text: string): Uint8Array | null {
    let bytes = this.#cache.get(text);
    if (bytes === undefined) {
      bytes = this.#parse(text);
      if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
      this.#cache.set(text, bytes);
    }
    return bytes;
  }

  /** Sets an IPv4 exporter (u32, host order of the number: 0x7f000001 is 127.0.0.1). */
  setExporterV4(v4: number): void {
    const v = this.#view;
    v.setUint32(0, 0);
    v.setUint32(4, 0);
    v.setUint32(8, 0x0000ffff);
    v.setUint32(12, v4 >>> 0);
  }

  /** Sets an IPv6 exporter from 16 wire bytes at `off` in `src`. */
  setExporterV6(src: Uint8Array, off: number): void {
    this.#buf.set(src.subarray(off, off + 16), 0);
  }

  /** Copies the payload after the address; returns the whole body (a view into the buffer). */
  withPayload(payload: Uint8Array): Uint8Array {
    if (payload.length > MAX_UDP_PAYLOAD) throw new TypeError('DatagramBody: payload larger than a UDP datagram');
    this.#buf.set(payload, SPOOL_DATAGRAM_ADDRESS_BYTES);
    return this.#buf.subarray(0, SPOOL_DATAGRAM_ADDRESS_BYTES + payload.length);
  }

  #parse(text: string): Uint8Array | null {
    const zone = text.indexOf('%');
    const bare = zone >= 0 ? text.slice(0, zone) : text;
    const out = new Uint8Array(16);
    const v = new DataView(out.buffer);
    const v4 = parseIpv4(bare);
    if (v4 !== null) {
      v.setUint32(8, 0x0000ffff);
      v.setUint32(12, v4);
      return out;
    }
    if (!parseIpv6(bare, this.#words)) return null;
    for (let i = 0; i < 4; i++) v.setUint32(i * 4, this.#words[i]!);
    return out;
  }
}
