/**
 * Test-only encoders for NetFlow v5, NetFlow v9 and IPFIX datagrams (the inverse of the
 * decoders, written from the RFCs, not from the decoders), a reader for the pcap fixtures of
 * captured export, and a collector that copies emitted flows.
 */
import { decodeExportDatagram } from './export-datagram.ts';
import type { ExportedFlow, ExporterAddress } from './exported-flow.ts';
import type { TemplateStore } from './template-store.ts';

/** A field specifier: element id, length, Private Enterprise Number (0: IANA). */
export type Field = readonly [type: number, length: number, pen?: number];
/** One value of a record: its encoded length and value (number, bigint or raw bytes). */
export type Value = readonly [length: number, value: number | bigint | Uint8Array];

function u16(n: number): number[] { return [(n >>> 8) & 255, n & 255]; }
function u32(n: number): number[] { return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]; }

export function concat(parts: (Uint8Array | number[])[]): Uint8Array {
  const len = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** Encodes record values big-endian; a `varlen` length of -1 writes an IPFIX variable-length prefix. */
export function record(...values: Value[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [len, v] of values) {
    if (v instanceof Uint8Array) {
      if (len === -1) parts.push(v.length < 255 ? Uint8Array.of(v.length) : Uint8Array.of(255, v.length >>> 8, v.length & 255));
      parts.push(v);
      continue;
    }
    const b = new Uint8Array(len);
    let x = BigInt(v);
    for (let i = len - 1; i >= 0; i--) { b[i] = Number(x & 255n); x >>= 8n; }
    parts.push(b);
  }
  return concat(parts);
}

export function ipv4(a: number, b: number, c: number, d: number): number { return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0; }
export function exporterV4(a: number, b: number, c: number, d: number, port = 40000): ExporterAddress {
  return { address: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, a, b, c, d), port };
}

function specs(fields: readonly Field[], ipfix: boolean): number[] {
  const out: number[] = [];
  for (const [t, l, pen = 0] of fields) {
    out.push(...u16(pen && ipfix ? t | 0x8000 : t), ...u16(l));
    if (pen && ipfix) out.push(...u32(pen));
  }
  return out;
}

export function set(id: number, body: Uint8Array | number[], pad = 0): Uint8Array {
  return concat([u16(id), u16(4 + body.length + pad), body, new Array(pad).fill(0)]);
}

export function dataSet(id: number, records: Uint8Array[], pad = 0): Uint8Array { return set(id, concat(records), pad); }

// NetFlow v9 (RFC 3954)
export interface V9Header { sysUptime?: number; unixSecs?: number; sequence?: number; sourceId?: number; count?: number }
export function v9Packet(h: V9Header, sets: Uint8Array[]): Uint8Array {
  return concat([u16(9), u16(h.count ?? sets.length), u32(h.sysUptime ?? 100_000), u32(h.unixSecs ?? 1_700_000_000), u32(h.sequence ?? 0), u32(h.sourceId ?? 0), ...sets]);
}
export function v9TemplateSet(templates: { id: number; fields: readonly Field[] }[]): Uint8Array {
  return set(0, templates.flatMap((t) => [...u16(t.id), ...u16(t.fields.length), ...specs(t.fields, false)]));
}
export function v9OptionsTemplateSet(id: number, scopes: readonly Field[], options: readonly Field[]): Uint8Array {
  const body = [...u16(id), ...u16(scopes.length * 4), ...u16(options.length * 4), ...specs(scopes, false), ...specs(options, false)];
  return set(1, body, (4 - ((body.length + 4) % 4)) % 4);
}

// IPFIX (RFC 7011)
export interface IpfixHeader { exportTime?: number; sequence?: number; domain?: number; length?: number }
export function ipfixMessage(h: IpfixHeader, sets: Uint8Array[]): Uint8Array {
  const body = concat(sets);
  return concat([u16(10), u16(h.length ?? 16 + body.length), u32(h.exportTime ?? 1_700_000_000), u32(h.sequence ?? 0), u32(h.domain ?? 0), body]);
}
export function ipfixTemplateSet(templates: { id: number; fields: readonly Field[] }[]): Uint8Array {
  return set(2, templates.flatMap((t) => [...u16(t.id), ...u16(t.fields.length), ...specs(t.fields, true)]));
}
export function ipfixOptionsTemplateSet(templates: { id: number; scopeCount: number; fields: readonly Field[] }[]): Uint8Array {
  return set(3, templates.flatMap((t) => [...u16(t.id), ...u16(t.fields.length), ...u16(t.scopeCount), ...specs(t.fields, true)]));
}
export function ipfixWithdrawal(ids: number[], options = false): Uint8Array {
  return set(options ? 3 : 2, ids.flatMap((id) => [...u16(id), ...u16(0)]));
}

// NetFlow v5
export interface V5Record { src: number; dst: number; nextHop?: number; input?: number; output?: number; packets: number; octets: number; first: number; last: number; srcPort?: number; dstPort?: number; tcpFlags?: number; protocol: number; tos?: number; srcAs?: number; dstAs?: number }
export interface V5Header { count?: number; sysUptime?: number; unixSecs?: number; unixNsecs?: number; sequence?: number; engineType?: number; engineId?: number; sampling?: number }
export function v5Packet(h: V5Header, records: V5Record[]): Uint8Array {
  const head = [...u16(5), ...u16(h.count ?? records.length), ...u32(h.sysUptime ?? 100_000), ...u32(h.unixSecs ?? 1_700_000_000), ...u32(h.unixNsecs ?? 0), ...u32(h.sequence ?? 0), h.engineType ?? 0, h.engineId ?? 0, ...u16(h.sampling ?? 0)];
  return concat([head, ...records.map((r) => [
    ...u32(r.src), ...u32(r.dst), ...u32(r.nextHop ?? 0), ...u16(r.input ?? 0), ...u16(r.output ?? 0), ...u32(r.packets), ...u32(r.octets),
    ...u32(r.first), ...u32(r.last), ...u16(r.srcPort ?? 0), ...u16(r.dstPort ?? 0), 0, r.tcpFlags ?? 0, r.protocol, r.tos ?? 0,
    ...u16(r.srcAs ?? 0), ...u16(r.dstAs ?? 0), 24, 24, 0, 0,
  ])]);
}

/** A plain copy of an emitted flow (the decoder reuses its object). */
export type FlowCopy = Omit<ExportedFlow, 'src6' | 'dst6' | 'nextHop6' | 'bgpNextHop6' | 'exporter'> & { src6: number[]; dst6: number[]; nextHop6: number[]; bgpNextHop6: number[]; exporter: number[] };
export function copyFlow(f: ExportedFlow): FlowCopy {
  return { ...f, src6: [...f.src6], dst6: [...f.dst6], nextHop6: [...f.nextHop6], bgpNextHop6: [...f.bgpNextHop6], exporter: [...f.exporter] };
}

/** Decodes datagrams in order, returning copies of every flow emitted. */
export function decodeAll(store: TemplateStore, datagrams: Uint8Array[], exporter = exporterV4(192, 0, 2, 1), receiveTimeUs = 1_700_000_000_000_000): FlowCopy[] {
  const out: FlowCopy[] = [];
  for (const d of datagrams) decodeExportDatagram(d, exporter, receiveTimeUs, store, (f) => out.push(copyFlow(f)));
  return out;
}

/** A UDP datagram from a pcap of export traffic. */
export interface CapturedDatagram { payload: Uint8Array; exporter: ExporterAddress; dstPort: number; timeUs: number }

/** Reads the UDP/IPv4 datagrams of a classic pcap (Ethernet link type, as `tcpdump -i lo` writes). */
export function readExportPcap(bytes: Uint8Array): CapturedDatagram[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = v.getUint32(0, true);
  if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) throw new Error('not a little-endian pcap');
  const nano = magic === 0xa1b23c4d;
  if (v.getUint32(20, true) !== 1) throw new Error('expected Ethernet link type');
  const out: CapturedDatagram[] = [];
  for (let o = 24; o + 16 <= bytes.length;) {
    const sec = v.getUint32(o, true);
    const frac = v.getUint32(o + 4, true);
    const capLen = v.getUint32(o + 8, true);
    const p = o + 16;
    o = p + capLen;
    if (v.getUint16(p + 12) !== 0x0800) continue;
    const ip = p + 14;
    const ihl = (v.getUint8(ip) & 15) * 4;
    if (v.getUint8(ip + 9) !== 17) continue;
    const udp = ip + ihl;
    const udpLen = v.getUint16(udp + 4);
    const a = bytes.subarray(ip + 12, ip + 16);
    out.push({
      payload: bytes.slice(udp + 8, udp + udpLen),
      exporter: { address: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, a[0], a[1], a[2], a[3]), port: v.getUint16(udp) },
      dstPort: v.getUint16(udp + 2),
      timeUs: sec * 1e6 + (nano ? Math.floor(frac / 1000) : frac),
    });
  }
  return out;
}
