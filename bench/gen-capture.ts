// Synthetic benchmark capture: a classic little-endian pcap (Ethernet, microseconds) with
// complete TCP connections (handshake, data both ways, FIN or RST), DNS-over-UDP exchanges
// and ICMP/ICMPv6 echo, over IPv4 and IPv6, many connections open at once. Checksums are
// correct and payloads well-formed for the ports used (HTTP on 80, TLS records on 443, DNS
// on 53), so tshark reports no malformed packet. Deterministic for a given seed. Streams to
// disk through one reused buffer; never holds the capture in memory, never touches the
// network. Addresses come from documentation/private ranges (192.0.2.0/24 etc. and others).
//
// CLI: node bin/run-ts.mjs bench/gen-capture.ts OUT.pcap [PACKETS] [CONNECTIONS] [SEED]
import { open } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** Options of `generateCapture`. */
export type GenerateOptions = {
  /** Exact number of packets to write (the benchmark uses ≥ 1 000 000). */
  packets: number;
  /** Number of TCP connections + DNS exchanges + ICMP echo sequences, e.g. 50 000. */
  connections: number;
  /** PRNG seed (32-bit integer); same seed and options give the same file. */
  seed: number;
  /** Connections open at the same time. Default 1000. */
  concurrency?: number;
  /** Time of the first packet, microseconds since epoch. Default 2025-01-01T00:58:00Z. */
  startUs?: number;
  /** Capture duration in seconds (packet times spread evenly on average). Default 300. */
  durationSeconds?: number;
};

/** What was written: packets, link-layer bytes (sum of frame lengths), IP-layer bytes, connections by kind. */
export type GenerateResult = { packets: number; bytes: number; ipBytes: number; connections: number; tcp: number; udp: number; icmp: number };

const Kind = { Tcp: 0, Udp: 1, Icmp: 2 } as const;
const MIN_TCP = 8; // SYN, SYN-ACK, ACK, ≥1 data, FIN, ACK, FIN, ACK
const CHUNK = 4 << 20;

/** mulberry32: small, fast, good enough for traffic shapes. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Host = { mac: Uint8Array; v4: Uint8Array; v6: Uint8Array };

function makeHosts(n: number, rnd: () => number, client: boolean): Host[] {
  const hosts: Host[] = [];
  const v4Nets = client ? [[10], [172, 16 + ((rnd() * 16) | 0)], [192, 168]] : [[192, 0, 2], [198, 51, 100], [203, 0, 113], [198, 18 + ((rnd() * 2) | 0)]];
  for (let i = 0; i < n; i++) {
    const mac = Uint8Array.from({ length: 6 }, () => (rnd() * 256) | 0);
    mac[0] &= 0xfe; // unicast
    const net = v4Nets[i % v4Nets.length];
    const v4 = Uint8Array.from({ length: 4 }, (_, k) => (k < net.length ? net[k] : 1 + ((rnd() * 254) | 0)));
    const v6 = Uint8Array.from({ length: 16 }, () => (rnd() * 256) | 0);
    if (client) v6.set([0xfd, 0x00, 0x00, 0x42]);
    else v6.set([0x20, 0x01, 0x0d, 0xb8]);
    hosts.push({ mac, v4, v6 });
  }
  return hosts;
}

/** Per-connection state; one shape for every kind so the hot loop stays monomorphic. */
class Conn {
  kind = 0;
  v6 = false;
  client: Host | null = null;
  server: Host | null = null;
  cport = 0;
  sport = 0;
  total = 0; // packets this connection will emit
  sent = 0;
  cseq = 0;
  sseq = 0;
  rst = false;
  lastFromClient = true;
  ident = 0; // DNS id / ICMP identifier
  name = ''; // DNS query name
  qtype = 1;
}

// Only services whose payloads are generated well-formed (HTTP or TLS records). Client ports
// are Linux ephemeral ports (32768–60999), above every service port, so tshark picks the
// service's dissector and never a random one registered on the client port.
const SERVICES = [80, 443, 443, 443, 8443, 8080, 993] as const;
const NAMES_TLD = ['example.com', 'example.net', 'example.org', 'corp.test', 'cdn.example'] as const;

/**
 * Writes a synthetic capture to `path` (overwriting it).
 * @throws RangeError when `packets` cannot fit the requested connections (each TCP connection
 * needs ≥ 8 packets, DNS 2, ICMP ≥ 2) or options are not positive integers.
 */
export async function generateCapture(path: string, opts: GenerateOptions): Promise<GenerateResult> {
  const { packets, connections, seed } = opts;
  if (!Number.isInteger(packets) || !Number.isInteger(connections) || packets < 1 || connections < 1) {
    throw new RangeError('packets and connections must be positive integers');
  }
  const rnd = prng(seed);
  const kinds = new Uint8Array(connections);
  const counts = new Uint32Array(connections);
  let fixed = 0;
  let nTcp = 0;
  for (let i = 0; i < connections; i++) {
    const r = rnd();
    const kind = i === 0 || r < 0.7 ? Kind.Tcp : r < 0.95 ? Kind.Udp : Kind.Icmp;
    kinds[i] = kind;
    counts[i] = kind === Kind.Tcp ? MIN_TCP : kind === Kind.Udp ? 2 : 2 * (1 + ((rnd() * 4) | 0));
    fixed += counts[i];
    if (kind === Kind.Tcp) nTcp++;
  }
  let extra = packets - fixed;
  if (extra < 0) throw new RangeError(`${packets} packets cannot hold ${connections} connections (need ≥ ${fixed})`);
  // Heavy-tailed share of the remaining packets for TCP connections (Pareto-like weights).
  const weights = new Float64Array(connections);
  let wsum = 0;
  for (let i = 0; i < connections; i++) if (kinds[i] === Kind.Tcp) wsum += weights[i] = Math.min(1e4, 1 / Math.pow(rnd() + 1e-9, 0.9));
  let given = 0;
  for (let i = 0; i < connections; i++) {
    if (kinds[i] !== Kind.Tcp) continue;
    const add = Math.floor((extra * weights[i]) / wsum);
    counts[i] += add;
    given += add;
  }
  for (let i = 0; given < extra; i = (i + 1) % connections) if (kinds[i] === Kind.Tcp) (counts[i]++, given++);

  const clients = makeHosts(Math.max(16, Math.min(4096, connections >> 3)), rnd, true);
  const servers = makeHosts(Math.max(16, Math.min(8192, connections >> 2)), rnd, false);
  const dnsServers = servers.slice(0, 8);
  const names = Array.from({ length: 2000 }, (_, i) => `${randLabel(rnd)}${i}.${NAMES_TLD[i % NAMES_TLD.length]}`);
  const pattern = new Uint8Array(65536).map(() => (rnd() * 256) | 0);

  const fh = await open(path, 'w');
  const buf = Buffer.allocUnsafe(CHUNK);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  // pcap global header (little-endian, µs, snaplen 65535, LINKTYPE_ETHERNET)
  view.setUint32(0, 0xa1b2c3d4, true);
  view.setUint16(4, 2, true);
  view.setUint16(6, 4, true);
  view.setUint32(8, 0, true);
  view.setUint32(12, 0, true);
  view.setUint32(16, 65535, true);
  view.setUint32(20, 1, true);
  off = 24;

  const result: GenerateResult = { packets: 0, bytes: 0, ipBytes: 0, connections, tcp: nTcp, udp: 0, icmp: 0 };
  for (let i = 0; i < connections; i++) if (kinds[i] === Kind.Udp) result.udp++; else if (kinds[i] === Kind.Icmp) result.icmp++;

  const concurrency = Math.max(1, Math.min(opts.concurrency ?? 1000, connections));
  const active: Conn[] = [];
  let next = 0;
  const startConn = (c: Conn) => {
    const i = next++;
    c.kind = kinds[i];
    c.total = counts[i];
    c.sent = 0;
    c.v6 = rnd() < 0.2;
    c.client = clients[(rnd() * clients.length) | 0];
    c.server = c.kind === Kind.Udp ? dnsServers[(rnd() * dnsServers.length) | 0] : servers[(rnd() * servers.length) | 0];
    c.cport = 32768 + ((rnd() * 28232) | 0);
    c.sport = c.kind === Kind.Udp ? 53 : SERVICES[(rnd() * SERVICES.length) | 0];
    c.cseq = (rnd() * 4294967296) >>> 0;
    c.sseq = (rnd() * 4294967296) >>> 0;
    c.rst = c.kind === Kind.Tcp && rnd() < 0.05;
    c.lastFromClient = true;
    c.ident = (rnd() * 65536) | 0;
    c.name = names[(rnd() * names.length) | 0];
    c.qtype = rnd() < 0.7 ? 1 : 28;
  };
  while (active.length < concurrency) {
    const c = new Conn();
    startConn(c);
    active.push(c);
  }

  let tUs = opts.startUs ?? Date.UTC(2025, 0, 1, 0, 58, 0) * 1000;
  const meanGapUs = ((opts.durationSeconds ?? 300) * 1e6) / packets;
  const pkt = { fromClient: true, flags: 0, payload: 0 };
  for (let p = 0; p < packets; p++) {
    if (off + 2048 > CHUNK) {
      await fh.write(buf, 0, off);
      off = 0;
    }
    const ai = (rnd() * active.length) | 0;
    const c = active[ai];
    tUs += Math.floor(-Math.log(1 - rnd()) * meanGapUs);
    const start = off + 16;
    let end: number;
    if (c.kind === Kind.Tcp) {
      planTcp(c, rnd, pkt);
      end = writeTcp(buf, view, start, c, pkt, pattern, rnd);
    } else if (c.kind === Kind.Udp) {
      end = writeDns(buf, view, start, c, c.sent === 0);
    } else {
      end = writeEcho(buf, view, start, c, (c.sent & 1) === 0, pattern);
    }
    const len = end - start;
    view.setUint32(off, Math.floor(tUs / 1e6), true);
    view.setUint32(off + 4, tUs % 1e6, true);
    view.setUint32(off + 8, len, true);
    view.setUint32(off + 12, len, true);
    off = end;
    result.packets++;
    result.bytes += len;
    result.ipBytes += len - 14;
    if (++c.sent === c.total) {
      if (next < connections) startConn(c);
      else {
        active[ai] = active[active.length - 1];
        active.pop();
      }
    }
  }
  await fh.write(buf, 0, off);
  await fh.close();
  return result;
}

function randLabel(rnd: () => number): string {
  let s = '';
  const n = 3 + ((rnd() * 8) | 0);
  for (let i = 0; i < n; i++) s += String.fromCharCode(97 + ((rnd() * 26) | 0));
  return s;
}

/** Chooses direction, flags and payload size of a TCP connection's next packet. */
function planTcp(c: Conn, rnd: () => number, out: { fromClient: boolean; flags: number; payload: number }): void {
  const k = c.sent;
  const left = c.total - k;
  out.payload = 0;
  if (k === 0) (out.fromClient = true), (out.flags = 0x02);
  else if (k === 1) (out.fromClient = false), (out.flags = 0x12);
  else if (k === 2) (out.fromClient = true), (out.flags = 0x10);
  else if (c.rst && left === 1) (out.fromClient = false), (out.flags = 0x14);
  else if (!c.rst && left <= 4) {
    out.fromClient = left === 4 || left === 1;
    out.flags = left === 4 || left === 2 ? 0x11 : 0x10;
  } else if (k === 3) (out.fromClient = true), (out.flags = 0x18), (out.payload = 1);
  else if (rnd() < 0.3) (out.fromClient = !c.lastFromClient), (out.flags = 0x10);
  else {
    out.fromClient = rnd() < 0.3;
    out.flags = 0x18;
    out.payload = 1;
  }
  if (out.payload) c.lastFromClient = out.fromClient;
}

/** Ethernet + IPv4/IPv6 header for c in the given direction; returns the L4 offset. */
function writeIp(buf: Buffer, view: DataView, o: number, c: Conn, fromClient: boolean, proto: number, l4len: number): number {
  const src = fromClient ? c.client! : c.server!;
  const dst = fromClient ? c.server! : c.client!;
  buf.set(dst.mac, o);
  buf.set(src.mac, o + 6);
  if (c.v6) {
    view.setUint16(o + 12, 0x86dd);
    view.setUint32(o + 14, 0x60000000 | (c.cport * 31 + c.sport) & 0xfffff);
    view.setUint16(o + 18, l4len);
    buf[o + 20] = proto;
    buf[o + 21] = fromClient ? 64 : 57;
    buf.set(src.v6, o + 22);
    buf.set(dst.v6, o + 38);
    return o + 54;
  }
  view.setUint16(o + 12, 0x0800);
  view.setUint32(o + 14, 0x45000000 | (20 + l4len));
  view.setUint32(o + 18, ((c.ident + c.sent) & 0xffff) << 16 | 0x4000);
  view.setUint32(o + 22, (fromClient ? 64 : 52) << 24 | proto << 16);
  buf.set(src.v4, o + 26);
  buf.set(dst.v4, o + 30);
  view.setUint16(o + 24, ~sum16(view, o + 14, 20, 0) & 0xffff);
  return o + 34;
}

/** One's-complement 16-bit sum of len bytes at o, folded, added to acc. */
function sum16(view: DataView, o: number, len: number, acc: number): number {
  let s = acc;
  const end = o + (len & ~1);
  for (let i = o; i < end; i += 2) s += view.getUint16(i);
  if (len & 1) s += view.getUint8(end) << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Sets the L4 checksum at l4 + at, over the pseudo-header and the L4 segment. */
function l4Checksum(view: DataView, ipStart: number, l4: number, l4len: number, proto: number, v6: boolean, at: number): void {
  let acc = v6 ? sum16(view, ipStart + 8, 32, 0) : sum16(view, ipStart + 12, 8, 0);
  acc += proto + l4len;
  const s = sum16(view, l4, l4len, acc);
  view.setUint16(l4 + at, (~s & 0xffff) || 0xffff);
}

function writeTcp(buf: Buffer, view: DataView, o: number, c: Conn, p: { fromClient: boolean; flags: number; payload: number }, pattern: Uint8Array, rnd: () => number): number {
  const syn = (p.flags & 0x02) !== 0;
  const hdr = syn ? 28 : 20;
  const mss = c.v6 ? 1440 : 1460;
  let payload = 0;
  if (p.payload) payload = rnd() < 0.45 ? mss : 6 + ((rnd() * 600) | 0);
  const l4 = writeIp(buf, view, o, c, p.fromClient, 6, hdr + payload);
  view.setUint16(l4, p.fromClient ? c.cport : c.sport);
  view.setUint16(l4 + 2, p.fromClient ? c.sport : c.cport);
  view.setUint32(l4 + 4, p.fromClient ? c.cseq : c.sseq);
  view.setUint32(l4 + 8, (p.flags & 0x10) ? (p.fromClient ? c.sseq : c.cseq) : 0);
  view.setUint16(l4 + 12, (hdr / 4) << 12 | p.flags);
  view.setUint32(l4 + 14, 0xfaf00000); // window 64240, checksum 0 for now
  view.setUint16(l4 + 18, 0);
  if (syn) view.setUint32(l4 + 20, 0x02040000 | mss), view.setUint32(l4 + 24, 0x01030307);
  const d = l4 + hdr;
  if (payload) fillPayload(buf, view, d, payload, c, p.fromClient, pattern);
  const adv = payload + (syn || (p.flags & 0x01) ? 1 : 0);
  if (p.fromClient) c.cseq = (c.cseq + adv) >>> 0;
  else c.sseq = (c.sseq + adv) >>> 0;
  l4Checksum(view, o + 14, l4, hdr + payload, 6, c.v6, 16);
  return d + payload;
}

/** HTTP messages on 80/8080, one whole TLS application-data record (n ≥ 6) on 443/993/8443. */
function fillPayload(buf: Buffer, view: DataView, d: number, n: number, c: Conn, fromClient: boolean, pattern: Uint8Array): void {
  const src = (c.cseq ^ c.sseq) & 0x7fff;
  buf.set(pattern.subarray(src, src + n), d);
  if (c.sport === 443 || c.sport === 993 || c.sport === 8443) {
    view.setUint32(d, 0x17030300 | ((n - 5) >> 8));
    buf[d + 4] = (n - 5) & 0xff;
  } else if (c.sport === 80 || c.sport === 8080) {
    const head = httpHead(n, c.ident, fromClient);
    if (head) {
      buf.write(head, d, 'latin1');
      buf.fill(0x61, d + head.length, d + n); // 'a'…: request padding header value or response body
      if (fromClient) buf.write('\r\n\r\n', d + n - 4, 'latin1');
    } else buf.fill(0x61, d, d + n);
  }
}

/**
 * Start of an HTTP message of exactly n bytes: a GET whose `X-Pad` header fills it (the
 * caller writes the padding and the final CRLFCRLF), or a response whose Content-Length is
 * the rest of the segment. Null when n is too small for a message.
 */
function httpHead(n: number, id: number, request: boolean): string | null {
  if (request) {
    const head = `GET /${id} HTTP/1.1\r\nHost: h${id}.example.com\r\nX-Pad: `;
    return head.length + 4 <= n ? head : null;
  }
  for (let digits = 1; digits <= 5; digits++) {
    const base = 'HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n'.length + digits;
    const body = n - base;
    if (body >= 0 && String(body).length === digits) return `HTTP/1.1 200 OK\r\nContent-Length: ${body}\r\n\r\n`;
  }
  return null;
}

/** A DNS query (first packet) or its response with one A/AAAA answer. */
function writeDns(buf: Buffer, view: DataView, o: number, c: Conn, query: boolean): number {
  const q = Buffer.from(c.name, 'latin1');
  const qlen = q.length + 2 + 4; // labels + root + type/class
  const alen = query ? 0 : 12 + (c.qtype === 1 ? 4 : 16);
  const udpLen = 8 + 12 + qlen + alen;
  const l4 = writeIp(buf, view, o, c, query, 17, udpLen);
  view.setUint16(l4, query ? c.cport : 53);
  view.setUint16(l4 + 2, query ? 53 : c.cport);
  view.setUint16(l4 + 4, udpLen);
  view.setUint16(l4 + 6, 0);
  let d = l4 + 8;
  view.setUint16(d, c.ident);
  view.setUint16(d + 2, query ? 0x0100 : 0x8180);
  view.setUint32(d + 4, query ? 0x00010000 : 0x00010001);
  view.setUint32(d + 8, 0);
  d += 12;
  let start = 0;
  for (let i = 0; i <= q.length; i++) {
    if (i === q.length || q[i] === 0x2e) {
      buf[d++] = i - start;
      buf.set(q.subarray(start, i), d);
      d += i - start;
      start = i + 1;
    }
  }
  buf[d++] = 0;
  view.setUint32(d, (c.qtype << 16) | 1);
  d += 4;
  if (!query) {
    view.setUint32(d, 0xc00c0000 | c.qtype); // pointer to the question name, type
    view.setUint32(d + 4, 0x00010000); // class IN, TTL high half
    view.setUint32(d + 8, 0x012c0000 | (c.qtype === 1 ? 4 : 16)); // TTL 300, rdlength
    d += 12;
    const addr = c.qtype === 1 ? c.server!.v4 : c.server!.v6;
    buf.set(addr, d);
    d += addr.length;
  }
  l4Checksum(view, o + 14, l4, udpLen, 17, c.v6, 6);
  return d;
}

/** ICMP echo request/reply (ICMPv6 128/129 on IPv6) with 56 bytes of data. */
function writeEcho(buf: Buffer, view: DataView, o: number, c: Conn, request: boolean, pattern: Uint8Array): number {
  const len = 8 + 56;
  const l4 = writeIp(buf, view, o, c, request, c.v6 ? 58 : 1, len);
  buf[l4] = c.v6 ? (request ? 128 : 129) : request ? 8 : 0;
  buf[l4 + 1] = 0;
  view.setUint16(l4 + 2, 0);
  view.setUint16(l4 + 4, c.ident);
  view.setUint16(l4 + 6, 1 + (c.sent >> 1));
  buf.set(pattern.subarray(0, 56), l4 + 8);
  if (c.v6) l4Checksum(view, o + 14, l4, len, 58, true, 2);
  else view.setUint16(l4 + 2, ~sum16(view, l4, len, 0) & 0xffff);
  return l4 + len;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [out, pk = '1000000', conns, seed = '1'] = process.argv.slice(2);
  if (!out) {
    console.error('usage: gen-capture.ts OUT.pcap [PACKETS] [CONNECTIONS] [SEED]');
    process.exit(2);
  }
  const packets = Number(pk);
  const t0 = performance.now();
  const r = await generateCapture(out, { packets, connections: Number(conns ?? Math.max(1, Math.floor(packets / 20))), seed: Number(seed) });
  console.log(JSON.stringify({ ...r, seconds: +((performance.now() - t0) / 1000).toFixed(2) }));
}
