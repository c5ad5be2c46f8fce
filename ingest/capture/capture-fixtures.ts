/**
 * TEST-ONLY capture encoders: write classic pcap and pcapng bytes from a description, so
 * tests can build any capture (byte orders, resolutions, several sections and interfaces,
 * skipped blocks) and check the reader round-trips it.
 *
 * Owns: a deliberately independent, straightforward writer (BigInt for tick arithmetic, one
 * DataView per block). Never imported by production code.
 */

export interface FixturePacket {
  ifIndex: number;
  tsSec: number;
  tsNsec: number;
  origLen: number;
  data: Uint8Array;
}

export interface PcapFixture {
  littleEndian: boolean;
  nanos: boolean;
  linkType: number;
  snapLen?: number;
  packets: FixturePacket[];
}

/** Classic pcap bytes. */
export function encodePcap(f: PcapFixture): Uint8Array {
  const size = 24 + f.packets.reduce((n, p) => n + 16 + p.data.length, 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  const le = f.littleEndian;
  v.setUint32(0, f.nanos ? 0xa1b23c4d : 0xa1b2c3d4, le);
  v.setUint16(4, 2, le);
  v.setUint16(6, 4, le);
  v.setUint32(16, f.snapLen ?? 262144, le);
  v.setUint32(20, f.linkType, le);
  let o = 24;
  for (const p of f.packets) {
    v.setUint32(o, p.tsSec, le);
    v.setUint32(o + 4, f.nanos ? p.tsNsec : Math.floor(p.tsNsec / 1000), le);
    v.setUint32(o + 8, p.data.length, le);
    v.setUint32(o + 12, p.origLen, le);
    out.set(p.data, o + 16);
    o += 16 + p.data.length;
  }
  return out;
}

export interface FixtureInterface {
  linkType: number;
  snapLen?: number;
  /** Raw if_tsresol byte (MSB set = binary). Omitted: default microseconds. */
  tsresol?: number;
  /** if_tsoffset seconds. */
  tsoffset?: number;
}

export type FixtureBlock =
  | ({ type: 'epb' | 'opb'; withOptions?: boolean } & FixturePacket)
  | { type: 'spb'; origLen: number; data: Uint8Array }
  | { type: 'other'; blockType: number; bodyLength: number };

export interface FixtureSection {
  littleEndian: boolean;
  interfaces: FixtureInterface[];
  blocks: FixtureBlock[];
  /** Bytes of (comment) options to put into the section header. */
  shbOptionBytes?: number;
}

const pad4 = (n: number) => (n + 3) & ~3;

function block(type: number, body: Uint8Array, le: boolean): Uint8Array {
  const len = 12 + pad4(body.length);
  const out = new Uint8Array(len);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, le);
  v.setUint32(4, len, le);
  out.set(body, 8);
  v.setUint32(len - 4, len, le);
  return out;
}

function option(code: number, value: Uint8Array, le: boolean): Uint8Array {
  const out = new Uint8Array(4 + pad4(value.length));
  const v = new DataView(out.buffer);
  v.setUint16(0, code, le);
  v.setUint16(2, value.length, le);
  out.set(value, 4);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Ticks for (sec, nsec) on an interface clock, truncated to its resolution. */
export function toTicks(iface: FixtureInterface, sec: number, nsec: number): bigint {
  const r = iface.tsresol ?? 6;
  const s = BigInt(sec - (iface.tsoffset ?? 0));
  if (r & 0x80) {
    const unit = 1n << BigInt(r & 0x7f);
    return s * unit + (BigInt(nsec) * unit) / 1_000_000_000n;
  }
  const unit = 10n ** BigInt(r);
  return s * unit + (BigInt(nsec) * unit) / 1_000_000_000n;
}

/** The nanoseconds the reader should report for `nsec` on this interface (exact arithmetic). */
export function expectedNsec(iface: FixtureInterface, nsec: number): number {
  const r = iface.tsresol ?? 6;
  const unit = r & 0x80 ? 1n << BigInt(r & 0x7f) : 10n ** BigInt(r);
  const ticks = (BigInt(nsec) * unit) / 1_000_000_000n;
  return Number((ticks * 1_000_000_000n) / unit);
}

function packetBody(b: Extract<FixtureBlock, { type: 'epb' | 'opb' }>, iface: FixtureInterface, le: boolean): Uint8Array {
  const opts = b.withOptions ? concat([option(1, new TextEncoder().encode('comment'), le), option(0, new Uint8Array(0), le)]) : new Uint8Array(0);
  const body = new Uint8Array(20 + pad4(b.data.length) + opts.length);
  const v = new DataView(body.buffer);
  if (b.type === 'epb') v.setUint32(0, b.ifIndex, le);
  else {
    v.setUint16(0, b.ifIndex, le);
    v.setUint16(2, 0, le);
  }
  const t = toTicks(iface, b.tsSec, b.tsNsec);
  if (t < 0n || t >= 1n << 64n) throw new RangeError('fixture timestamp does not fit 64 bits at this resolution');
  v.setUint32(4, Number(t >> 32n), le);
  v.setUint32(8, Number(t & 0xffffffffn), le);
  v.setUint32(12, b.data.length, le);
  v.setUint32(16, b.origLen, le);
  body.set(b.data, 20);
  body.set(opts, 20 + pad4(b.data.length));
  return body;
}

function sectionBytes(s: FixtureSection): Uint8Array {
  const le = s.littleEndian;
  const parts: Uint8Array[] = [];
  const shbOpts = s.shbOptionBytes ? concat([option(1, new Uint8Array(s.shbOptionBytes).fill(0x61), le), option(0, new Uint8Array(0), le)]) : new Uint8Array(0);
  const shb = new Uint8Array(16 + shbOpts.length);
  const sv = new DataView(shb.buffer);
  sv.setUint32(0, 0x1a2b3c4d, le);
  sv.setUint16(4, 1, le);
  sv.setUint16(6, 0, le);
  sv.setInt32(8, -1, le);
  sv.setInt32(12, -1, le);
  shb.set(shbOpts, 16);
  parts.push(block(0x0a0d0d0a, shb, le));
  for (const i of s.interfaces) {
    const opts: Uint8Array[] = [];
    if (i.tsresol !== undefined) opts.push(option(9, Uint8Array.of(i.tsresol), le));
    if (i.tsoffset !== undefined) {
      const val = new Uint8Array(8);
      new DataView(val.buffer).setBigInt64(0, BigInt(i.tsoffset), le);
      opts.push(option(14, val, le));
    }
    if (opts.length) opts.push(option(0, new Uint8Array(0), le));
    const o = concat(opts);
    const body = new Uint8Array(8 + o.length);
    const v = new DataView(body.buffer);
    v.setUint16(0, i.linkType, le);
    v.setUint32(4, i.snapLen ?? 0, le);
    body.set(o, 8);
    parts.push(block(1, body, le));
  }
  for (const b of s.blocks) {
    if (b.type === 'epb' || b.type === 'opb') {
      parts.push(block(b.type === 'epb' ? 6 : 2, packetBody(b, s.interfaces[b.ifIndex]!, le), le));
    } else if (b.type === 'spb') {
      const body = new Uint8Array(4 + b.data.length);
      new DataView(body.buffer).setUint32(0, b.origLen, le);
      body.set(b.data, 4);
      parts.push(block(3, body, le));
    } else if (b.type === 'other') {
      parts.push(block(b.blockType, new Uint8Array(b.bodyLength).fill(0x55), le));
    }
  }
  return concat(parts);
}

/** pcapng bytes: the sections one after another. */
export function encodePcapng(sections: FixtureSection[]): Uint8Array {
  return concat(sections.map(sectionBytes));
}

/** Feeds `bytes` to `push` in pieces split at the given cut points (sorted, deduplicated). */
export function pushInPieces(bytes: Uint8Array, cuts: number[], push: (chunk: Uint8Array) => void): void {
  const points = [...new Set(cuts.map((c) => Math.max(0, Math.min(bytes.length, c))))].sort((a, b) => a - b);
  let prev = 0;
  for (const c of [...points, bytes.length]) {
    if (c > prev) push(bytes.slice(prev, c));
    prev = c;
  }
}
