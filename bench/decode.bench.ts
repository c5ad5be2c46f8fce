/**
 * Benchmark: packet decoding alone, and decoding + bidirectional flow assembly.
 *
 * Generates in memory ~1 M Ethernet frames (IPv4 and IPv6, TCP and UDP, a few VLAN-tagged)
 * across ~50 k interleaved connections — TCP with handshake, data, FIN exchange and a TLS
 * ClientHello or HTTP request as first payload; UDP as DNS-like request/response pairs —
 * captured with a 128-byte snaplen except the first payload packet of each connection.
 * The same packets are then re-framed inside encapsulations and timed again (decode + flows):
 * an MPLS stack of two labels, and IPv4 GRE with a key (the tunnel opened: inner flows), so
 * the cost of those paths is measured against plain Ethernet on identical traffic.
 * Not a test: no thresholds. Run: `node bin/run-ts.mjs bench/decode.bench.ts`
 * (BENCH_DECODE_PACKETS overrides the packet count).
 */
import { pathToFileURL } from 'node:url';
import { decodePacket } from '../sealed-processor/decode/decode-packet.ts';
import { newDecodedPacket } from '../sealed-processor/decode/decoded-packet.ts';
import { FlowTable } from '../sealed-processor/flows/flow-table.ts';

const SNAPLEN = 128;

interface Capture {
  buf: Uint8Array;
  offsets: Float64Array;
  capLens: Uint32Array;
  origLens: Uint32Array;
  times: Float64Array;
  count: number;
  connections: number;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function clientHello(name: string): Uint8Array {
  const n = Array.from(name, (c) => c.charCodeAt(0));
  const sni = [0, 0, 0, n.length + 5, 0, n.length + 3, 0, 0, n.length, ...n];
  const body = [3, 3, ...new Array(32).fill(9), 0, 0, 2, 0x13, 1, 1, 0, 0, sni.length, ...sni];
  const hs = [1, 0, body.length >> 8, body.length & 255, ...body];
  return Uint8Array.from([0x16, 3, 1, hs.length >> 8, hs.length & 255, ...hs]);
}

interface Conn {
  v6: boolean;
  tcp: boolean;
  vlan: number;
  a: number;
  b: number;
  pa: number;
  pb: number;
  first: Uint8Array;
  packets: number;
  start: number;
}

/** Writes one frame; returns its captured length. `dir` 0 = client → server. */
function writeFrame(buf: Uint8Array, view: DataView, off: number, c: Conn, dir: number, flags: number, payload: Uint8Array | null, payloadLen: number): { cap: number; orig: number } {
  let o = off;
  view.setUint32(o, 0x02000000 | (dir ? c.b : c.a) >>> 8);
  view.setUint16(o + 4, dir ? c.b & 0xffff : c.a & 0xffff);
  view.setUint32(o + 6, 0x02000000 | (dir ? c.a : c.b) >>> 8);
  view.setUint16(o + 10, dir ? c.a & 0xffff : c.b & 0xffff);
  o += 12;
  if (c.vlan >= 0) {
    view.setUint16(o, 0x8100);
    view.setUint16(o + 2, c.vlan);
    o += 4;
  }
  view.setUint16(o, c.v6 ? 0x86dd : 0x0800);
  o += 2;
  const l4Len = (c.tcp ? 20 : 8) + payloadLen;
  const src = dir ? c.b : c.a;
  const dst = dir ? c.a : c.b;
  if (c.v6) {
    view.setUint32(o, 0x60000000);
    view.setUint16(o + 4, l4Len);
    buf[o + 6] = c.tcp ? 6 : 17;
    buf[o + 7] = 64;
    view.setUint32(o + 8, 0x20010db8);
    view.setUint32(o + 20, src);
    view.setUint32(o + 24, 0x20010db8);
    view.setUint32(o + 36, dst);
    o += 40;
  } else {
    buf[o] = 0x45;
    view.setUint16(o + 2, 20 + l4Len);
    buf[o + 8] = 64;
    buf[o + 9] = c.tcp ? 6 : 17;
    view.setUint32(o + 12, src);
    view.setUint32(o + 16, dst);
    o += 20;
  }
  view.setUint16(o, dir ? c.pb : c.pa);
  view.setUint16(o + 2, dir ? c.pa : c.pb);
  if (c.tcp) {
    view.setUint32(o + 4, dir ? 5000 : 1000);
    view.setUint32(o + 8, dir ? 1001 : 5001);
    buf[o + 12] = 0x50;
    buf[o + 13] = flags;
    o += 20;
  } else {
    view.setUint16(o + 4, l4Len);
    o += 8;
  }
  const headers = o - off;
  const orig = headers + payloadLen;
  let cap = orig > SNAPLEN ? SNAPLEN : orig;
  if (payload) {
    buf.set(payload, o);
    cap = headers + payload.length;
  }
  return { cap, orig };
}

/** Builds the synthetic capture (deterministic for a given seed). */
export function generateDecodeCapture(targetPackets: number, seed = 7): Capture {
  const rand = rng(seed);
  const conns: Conn[] = [];
  let total = 0;
  const duration = 600e6;
  const hellos = ['www.example.com', 'api.example.net', 'cdn.example.org'].map(clientHello);
  const http = Uint8Array.from('GET / HTTP/1.1\r\nHost: intranet.example\r\n\r\n', (ch) => ch.charCodeAt(0));
  while (total < targetPackets) {
    const tcp = rand() < 0.8;
    const packets = tcp ? 8 + Math.floor(rand() * 30) : 2 * (1 + Math.floor(rand() * 3));
    const https = rand() < 0.7;
    conns.push({
      v6: rand() < 0.25,
      tcp,
      vlan: rand() < 0.1 ? 100 : -1,
      a: (0x0a000000 + Math.floor(rand() * 65536)) >>> 0,
      b: (0xc0000200 + Math.floor(rand() * 256)) >>> 0,
      pa: 1024 + Math.floor(rand() * 60000),
      pb: tcp ? (https ? 443 : 80) : 53,
      first: tcp ? (https ? hellos[conns.length % 3] : http) : new Uint8Array(40),
      packets,
      start: rand() * duration,
    });
    total += packets;
  }
  const count = total;
  const buf = new Uint8Array(count * SNAPLEN + conns.length * 700);
  const view = new DataView(buf.buffer);
  const offsets = new Float64Array(count);
  const capLens = new Uint32Array(count);
  const origLens = new Uint32Array(count);
  const times = new Float64Array(count);
  let off = 0;
  let i = 0;
  for (const c of conns) {
    for (let k = 0; k < c.packets; k++) {
      let dir = k % 2;
      let flags = 0x10;
      let payload: Uint8Array | null = null;
      let len = 0;
      if (c.tcp) {
        const last = c.packets - 1;
        if (k === 0) flags = 0x02;
        else if (k === 1) flags = 0x12;
        else if (k === 2) dir = 0;
        else if (k === 3) { dir = 0; flags = 0x18; payload = c.first; len = payload.length; }
        else if (k === last - 2) { dir = 0; flags = 0x11; }
        else if (k === last - 1) { dir = 1; flags = 0x11; }
        else if (k === last) dir = 0;
        else len = dir ? 1448 : 100;
      } else {
        flags = 0;
        payload = k === 0 ? c.first : null;
        len = k === 0 ? c.first.length : 120;
      }
      const { cap, orig } = writeFrame(buf, view, off, c, dir, flags, payload, len);
      offsets[i] = off;
      capLens[i] = cap;
      origLens[i] = orig;
      times[i] = 1.7e15 + c.start + k * 20_000;
      off += cap;
      i++;
    }
  }
  // Interleave connections: replay in timestamp order.
  const order = Array.from({ length: count }, (_, j) => j).sort((x, y) => times[x] - times[y]);
  const perm = (src: Float64Array | Uint32Array) => {
    const copy = src.slice();
    for (let j = 0; j < count; j++) src[j] = copy[order[j]];
  };
  perm(offsets);
  perm(capLens);
  perm(origLens);
  perm(times);
  return { buf, offsets, capLens, origLens, times, count, connections: conns.length };
}

/**
 * The capture's frames re-framed: Ethernet (tags dropped) + `kind` header + the IP packet.
 * MPLS: EtherType 0x8847, labels 100 and 200 (bottom). GRE: EtherType 0x0800, outer IPv4
 * 192.0.2.1 → 192.0.2.2 protocol 47, GRE with key (flags 0x2000), protocol = inner EtherType.
 */
function encapsulate(cap: Capture, kind: 'mpls' | 'gre'): Capture {
  const extra = kind === 'mpls' ? 8 : 28;
  const src = new DataView(cap.buf.buffer, cap.buf.byteOffset);
  const buf = new Uint8Array(cap.buf.length + cap.count * extra);
  const view = new DataView(buf.buffer);
  const offsets = new Float64Array(cap.count);
  const capLens = new Uint32Array(cap.count);
  const origLens = new Uint32Array(cap.count);
  let o = 0;
  for (let i = 0; i < cap.count; i++) {
    const off = cap.offsets[i];
    let l3 = off + 14;
    let type = src.getUint16(off + 12);
    while (type === 0x8100 || type === 0x88a8) {
      type = src.getUint16(l3 + 2);
      l3 += 4;
    }
    const ipLen = cap.capLens[i] - (l3 - off);
    const ipWire = cap.origLens[i] - (l3 - off);
    offsets[i] = o;
    buf.set(cap.buf.subarray(off, off + 12), o);
    if (kind === 'mpls') {
      view.setUint16(o + 12, 0x8847);
      view.setUint32(o + 14, (100 << 12) | 64);
      view.setUint32(o + 18, (200 << 12) | 0x100 | 64);
    } else {
      view.setUint16(o + 12, 0x0800);
      view.setUint8(o + 14, 0x45);
      view.setUint16(o + 16, 20 + 8 + ipWire);
      view.setUint8(o + 22, 64);
      view.setUint8(o + 23, 47);
      view.setUint32(o + 26, 0xc0000201);
      view.setUint32(o + 30, 0xc0000202);
      view.setUint16(o + 34, 0x2000);
      view.setUint16(o + 36, type);
      view.setUint32(o + 38, 7);
    }
    const hdr = 14 + extra;
    buf.set(cap.buf.subarray(l3, l3 + ipLen), o + hdr);
    capLens[i] = hdr + ipLen;
    origLens[i] = hdr + ipWire;
    o += hdr + ipLen;
  }
  return { ...cap, buf, offsets, capLens, origLens };
}

function timeDecode(cap: Capture): number {
  const view = new DataView(cap.buf.buffer);
  const pkt = newDecodedPacket();
  let ok = 0;
  const t0 = performance.now();
  for (let i = 0; i < cap.count; i++) {
    const off = cap.offsets[i];
    if (decodePacket(view, cap.buf, off, off + cap.capLens[i], 1, cap.origLens[i], pkt) === 0) ok++;
  }
  const s = (performance.now() - t0) / 1000;
  if (ok !== cap.count) throw new Error(`decode failed for ${cap.count - ok} generated packets`);
  return s;
}

function timeDecodeFlows(cap: Capture): { seconds: number; flows: number; packetsInFlows: number; names: number } {
  const view = new DataView(cap.buf.buffer);
  const pkt = newDecodedPacket();
  let flows = 0;
  let packetsInFlows = 0;
  let names = 0;
  const table = new FlowTable({}, (f) => {
    flows++;
    packetsInFlows += f.packetsFwd + f.packetsRev;
    if (f.tlsSni !== null || f.httpHost !== null || f.dnsQname !== null) names++;
  });
  const t0 = performance.now();
  for (let i = 0; i < cap.count; i++) {
    const off = cap.offsets[i];
    if (decodePacket(view, cap.buf, off, off + cap.capLens[i], 1, cap.origLens[i], pkt) === 0) table.observe(pkt, cap.times[i]);
  }
  table.flush('eof');
  return { seconds: (performance.now() - t0) / 1000, flows, packetsInFlows, names };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs the benchmark (3 rounds each, medians) and prints a table. */
export async function runDecodeBench(): Promise<Record<string, number>> {
  const target = Number(process.env.BENCH_DECODE_PACKETS ?? 1_000_000);
  const g0 = performance.now();
  const cap = generateDecodeCapture(target);
  const generateSeconds = (performance.now() - g0) / 1000;
  const decodeS: number[] = [];
  const flowS: number[] = [];
  let last = { seconds: 0, flows: 0, packetsInFlows: 0, names: 0 };
  for (let round = 0; round < 3; round++) {
    decodeS.push(timeDecode(cap));
    last = timeDecodeFlows(cap);
    flowS.push(last.seconds);
  }
  const result = {
    packets: cap.count,
    connections: cap.connections,
    generateSeconds,
    decodeSeconds: median(decodeS),
    decodePacketsPerSecond: cap.count / median(decodeS),
    decodeFlowSeconds: median(flowS),
    decodeFlowPacketsPerSecond: cap.count / median(flowS),
    flows: last.flows,
    packetsInFlows: last.packetsInFlows,
    flowsWithName: last.names,
  } as Record<string, number>;
  // The same packets inside MPLS and GRE (decode + flow assembly, medians of 3).
  for (const kind of ['mpls', 'gre'] as const) {
    const enc = encapsulate(cap, kind);
    const times: number[] = [];
    let flows = 0;
    for (let round = 0; round < 3; round++) {
      const r = timeDecodeFlows(enc);
      times.push(r.seconds);
      flows = r.flows;
    }
    if (flows !== last.flows) throw new Error(`${kind}: ${flows} flows, plain Ethernet ${last.flows}`);
    result[`${kind}DecodeFlowPacketsPerSecond`] = enc.count / median(times);
  }
  console.table(Object.fromEntries(Object.entries(result).map(([k, v]) => [k, { value: Number.isInteger(v) ? v : Number(v.toFixed(3)) }])));
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runDecodeBench();
