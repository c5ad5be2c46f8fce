/**
 * Test-only packet encoders: build link, IP, transport and application bytes field by field
 * so decoder tests can check every field. Independent of the decoders (written from the
 * RFC layouts, not from the decoding code).
 *
 * Never: imported by production code.
 */

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function be16(v: number): number[] {
  return [(v >> 8) & 0xff, v & 0xff];
}
function be32(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

/** Dotted quad to u32. */
export function ip4(text: string): number {
  return text.split('.').reduce((a, p) => ((a << 8) | Number(p)) >>> 0, 0);
}

/** IPv6 text (with ::) to four big-endian u32 words. */
export function ip6(text: string): Uint32Array {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, ''];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t].map((g) => parseInt(g, 16));
  const w = new Uint32Array(4);
  for (let i = 0; i < 4; i++) w[i] = ((groups[2 * i] << 16) | groups[2 * i + 1]) >>> 0;
  return w;
}

/** MAC text to 6 bytes. */
export function mac(text: string): number[] {
  return text.split(':').map((x) => parseInt(x, 16));
}

export interface VlanTag {
  tpid: number;
  vid: number;
  pcp?: number;
}

export function ethernet(o: { dst: string; src: string; etherType: number; vlans?: VlanTag[] }, payload: Uint8Array): Uint8Array {
  const bytes = [...mac(o.dst), ...mac(o.src)];
  const tags = o.vlans ?? [];
  if (tags.length === 0) bytes.push(...be16(o.etherType));
  else {
    bytes.push(...be16(tags[0].tpid));
    tags.forEach((t, i) => {
      bytes.push(...be16(((t.pcp ?? 0) << 13) | t.vid));
      bytes.push(...be16(i + 1 < tags.length ? tags[i + 1].tpid : o.etherType));
    });
  }
  return concat(Uint8Array.from(bytes), payload);
}

export function linuxSll(o: { protocol: number; addr?: number[]; arphrd?: number; packetType?: number }, payload: Uint8Array): Uint8Array {
  const addr = o.addr ?? [];
  const padded = [...addr, ...Array(8 - Math.min(8, addr.length)).fill(0)].slice(0, 8);
  const h = [...be16(o.packetType ?? 0), ...be16(o.arphrd ?? 1), ...be16(addr.length), ...padded, ...be16(o.protocol)];
  return concat(Uint8Array.from(h), payload);
}

export function linuxSll2(o: { protocol: number; addr?: number[]; arphrd?: number; ifindex?: number }, payload: Uint8Array): Uint8Array {
  const addr = o.addr ?? [];
  const padded = [...addr, ...Array(8 - Math.min(8, addr.length)).fill(0)].slice(0, 8);
  const h = [...be16(o.protocol), 0, 0, ...be32(o.ifindex ?? 1), ...be16(o.arphrd ?? 1), 0, addr.length, ...padded];
  return concat(Uint8Array.from(h), payload);
}

export function loopback(af: number, littleEndian: boolean, payload: Uint8Array): Uint8Array {
  const h = new Uint8Array(4);
  new DataView(h.buffer).setUint32(0, af, littleEndian);
  return concat(h, payload);
}

export interface Ipv4Opts {
  src: string;
  dst: string;
  protocol: number;
  id?: number;
  moreFragments?: boolean;
  fragmentOffset?: number;
  options?: number[];
  totalLength?: number;
  ihl?: number;
  version?: number;
  ttl?: number;
}

export function ipv4(o: Ipv4Opts, payload: Uint8Array): Uint8Array {
  const opts = o.options ?? [];
  const hl = 20 + opts.length;
  const ihl = o.ihl ?? hl / 4;
  const total = o.totalLength ?? hl + payload.length;
  const frag = ((o.moreFragments ? 1 : 0) << 13) | ((o.fragmentOffset ?? 0) >> 3);
  const h = [((o.version ?? 4) << 4) | ihl, 0, ...be16(total), ...be16(o.id ?? 0), ...be16(frag), o.ttl ?? 64, o.protocol, 0, 0, ...be32(ip4(o.src)), ...be32(ip4(o.dst)), ...opts];
  return concat(Uint8Array.from(h), payload);
}

export interface Ipv6Ext {
  type: number;
  /** Body after the 2-byte next/length prefix (fragment: use `fragment`). */
  body?: number[];
  fragment?: { offset: number; more: boolean; id: number };
}

export function ipv6(o: { src: string; dst: string; nextHeader: number; ext?: Ipv6Ext[]; payloadLength?: number }, payload: Uint8Array): Uint8Array {
  const exts = o.ext ?? [];
  const chain: number[] = [];
  exts.forEach((e, i) => {
    const next = i + 1 < exts.length ? exts[i + 1].type : o.nextHeader;
    if (e.type === 44) {
      const f = e.fragment ?? { offset: 0, more: false, id: 0 };
      chain.push(next, 0, ...be16((f.offset & 0xfff8) | (f.more ? 1 : 0)), ...be32(f.id));
    } else if (e.type === 51) {
      const body = e.body ?? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
      chain.push(next, (body.length + 2) / 4 - 2, ...body);
    } else {
      const body = e.body ?? [0, 0, 0, 0, 0, 0];
      chain.push(next, (body.length + 2) / 8 - 1, ...body);
    }
  });
  const first = exts.length > 0 ? exts[0].type : o.nextHeader;
  const plen = o.payloadLength ?? chain.length + payload.length;
  const s = ip6(o.src);
  const d = ip6(o.dst);
  const h = [0x60, 0, 0, 0, ...be16(plen), first, 64, ...[...s].flatMap(be32), ...[...d].flatMap(be32), ...chain];
  return concat(Uint8Array.from(h), payload);
}

export function tcp(o: { sport: number; dport: number; seq?: number; ack?: number; flags: number; options?: number[]; dataOffset?: number }, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const opts = o.options ?? [];
  const doff = o.dataOffset ?? (20 + opts.length) / 4;
  const h = [...be16(o.sport), ...be16(o.dport), ...be32(o.seq ?? 0), ...be32(o.ack ?? 0), doff << 4, o.flags, ...be16(65535), 0, 0, 0, 0, ...opts];
  return concat(Uint8Array.from(h), payload);
}

export function udp(o: { sport: number; dport: number; length?: number }, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const h = [...be16(o.sport), ...be16(o.dport), ...be16(o.length ?? 8 + payload.length), 0, 0];
  return concat(Uint8Array.from(h), payload);
}

export function icmp(o: { type: number; code: number; id?: number; seq?: number }, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const h = [o.type, o.code, 0, 0, ...be16(o.id ?? 0), ...be16(o.seq ?? 0)];
  return concat(Uint8Array.from(h), payload);
}

/** DNS name as uncompressed labels (+ root). */
export function dnsName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split('.').filter(Boolean)) out.push(label.length, ...Array.from(label, (c) => c.charCodeAt(0)));
  out.push(0);
  return out;
}

/** DNS message: header + one question with `qname` bytes given raw (so tests can inject pointers). */
export function dnsMessage(qnameBytes: number[], opts: { id?: number; qdcount?: number; response?: boolean; extra?: number[] } = {}): Uint8Array {
  const h = [...be16(opts.id ?? 0x1234), opts.response ? 0x81 : 0x01, opts.response ? 0x80 : 0x00, ...be16(opts.qdcount ?? 1), 0, 0, 0, 0, 0, 0];
  return Uint8Array.from([...h, ...qnameBytes, ...be16(1), ...be16(1), ...(opts.extra ?? [])]);
}

/** DNS over TCP framing. */
export function dnsTcp(msg: Uint8Array): Uint8Array {
  return concat(Uint8Array.from(be16(msg.length)), msg);
}

/** A minimal TLS 1.3-style ClientHello with the given SNI and a few other extensions around it. */
export function tlsClientHello(sni: string | null, opts: { sessionIdLength?: number } = {}): Uint8Array {
  const exts: number[] = [];
  exts.push(...be16(0x000a), ...be16(4), ...be16(2), ...be16(0x001d)); // supported_groups
  if (sni !== null) {
    const name = Array.from(sni, (c) => c.charCodeAt(0));
    const entry = [0, ...be16(name.length), ...name];
    exts.push(...be16(0), ...be16(entry.length + 2), ...be16(entry.length), ...entry);
  }
  exts.push(...be16(0x002b), ...be16(3), 2, 0x03, 0x04); // supported_versions
  const sid = Array(opts.sessionIdLength ?? 32).fill(7);
  const body = [0x03, 0x03, ...Array(32).fill(1), sid.length, ...sid, ...be16(4), 0x13, 0x01, 0x13, 0x02, 1, 0, ...be16(exts.length), ...exts];
  const hs = [1, (body.length >> 16) & 0xff, ...be16(body.length & 0xffff), ...body];
  return Uint8Array.from([0x16, 0x03, 0x01, ...be16(hs.length), ...hs]);
}

export function text(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
