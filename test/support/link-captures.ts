// Shared by the link-type / encapsulation tests: the script-made captures of
// test/fixtures/links/ (what each holds), flowseal's decoder + flow table run in process over
// one of them, and tshark's view of the same file with every IP layer read, so tunnelled
// packets can be compared on their innermost (or outermost) conversation.
// Reads only the files it is given; never captures, never writes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CaptureReader } from '../../ingest/capture/capture-reader.ts';
import { decodePacket } from '../../sealed-processor/decode/decode-packet.ts';
import { countDecode, decodeCountersSnapshot, newDecodeCounters } from '../../sealed-processor/decode/decode-counters.ts';
import { newDecodedPacket, TunnelMode } from '../../sealed-processor/decode/decoded-packet.ts';
import { FlowTable } from '../../sealed-processor/flows/flow-table.ts';
import type { RawFlow } from '../../sealed-processor/flows/flow-record.ts';
import { ip4, ip6 } from '../../sealed-processor/decode/testing/packet-builders.ts';
import { tsharkFields } from './tshark.ts';

export const LINKS_DIR = new URL('../fixtures/links/', import.meta.url).pathname;

/** One capture: its link type, and what flowseal must count instead of turning into flows. */
export type LinkCapture = {
  file: string;
  linkType: number;
  /** Drop reasons (DropReason names) and counts flowseal must report. */
  dropped: Record<string, number>;
  /** Tunnel type name the inner flows carry (inner mode), if any. */
  tunnel?: string;
  /** Flows that are not TCP/UDP conversations of tshark's (e.g. a GRE flow not opened). */
  extraFlows?: number;
};

export const LINK_CAPTURES: LinkCapture[] = [
  { file: 'ppp.pcap', linkType: 9, dropped: { NotIp: 1 } },
  { file: 'ppp-hdlc.pcap', linkType: 50, dropped: { NotIp: 1 } },
  { file: 'chdlc.pcap', linkType: 104, dropped: { NotIp: 1 } },
  { file: 'frelay.pcap', linkType: 107, dropped: { NotIp: 1 } },
  { file: 'nflog.pcap', linkType: 239, dropped: {} },
  { file: 'ipoib.pcap', linkType: 242, dropped: { NotIp: 1 } },
  { file: 'ppi.pcap', linkType: 192, dropped: { UnsupportedEncapsulation: 1 } },
  { file: 'raw4.pcap', linkType: 228, dropped: {} },
  { file: 'raw6.pcap', linkType: 229, dropped: {} },
  { file: 'pppoe.pcap', linkType: 1, dropped: { NotIp: 2 } },
  { file: 'mpls.pcap', linkType: 1, dropped: { NotIp: 1 } },
  { file: 'gre.pcap', linkType: 1, dropped: {}, tunnel: 'gre', extraFlows: 1 },
  { file: 'erspan.pcap', linkType: 1, dropped: {}, tunnel: 'erspan' },
  { file: 'ipip.pcap', linkType: 1, dropped: {}, tunnel: 'ipip' },
  { file: 'vxlan.pcap', linkType: 1, dropped: {}, tunnel: 'vxlan' },
  { file: 'geneve.pcap', linkType: 1, dropped: {}, tunnel: 'geneve' },
];

/** A finished flow, copied out of the reused RawFlow. */
export type FlowCopy = {
  key: string;
  protocol: number;
  srcKey: string;
  dstKey: string;
  srcPort: number;
  dstPort: number;
  packetsFwd: number;
  bytesFwd: number;
  packetsRev: number;
  bytesRev: number;
  raw: RawFlow;
};

function addrKey(version: number, v4: number, v6: Uint32Array): string {
  return version === 4 ? `4:${v4 >>> 0}` : `6:${Array.from(v6).join('.')}`;
}

/** Address text as tshark prints it, in the form `addrKey` makes. */
export function textAddrKey(text: string): string {
  return text.includes(':') ? `6:${Array.from(ip6(text)).join('.')}` : `4:${ip4(text)}`;
}

/** Unordered conversation key (protocol, both endpoints). */
export function convKey(protocol: number, a: string, ap: number, b: string, bp: number): string {
  const x = `${a}/${ap}`;
  const y = `${b}/${bp}`;
  return x < y ? `${protocol}|${x}|${y}` : `${protocol}|${y}|${x}`;
}

/** Runs flowseal's decoder and flow table over `file`; returns the flows and the decode counters. */
export function flowsealFlows(file: string, tunnels: TunnelMode = TunnelMode.Inner): {
  flows: FlowCopy[];
  counters: ReturnType<typeof decodeCountersSnapshot>;
} {
  const flows: FlowCopy[] = [];
  const table = new FlowTable({}, (f) => {
    const raw: RawFlow = { ...f, src6: f.src6.slice(), dst6: f.dst6.slice(), tunnelSrc6: f.tunnelSrc6.slice(), tunnelDst6: f.tunnelDst6.slice() } as RawFlow;
    const srcKey = addrKey(f.ipVersion, f.srcV4, f.src6);
    const dstKey = addrKey(f.ipVersion, f.dstV4, f.dst6);
    flows.push({
      key: convKey(f.protocol, srcKey, f.srcPort, dstKey, f.dstPort),
      protocol: f.protocol, srcKey, dstKey, srcPort: f.srcPort, dstPort: f.dstPort,
      packetsFwd: f.packetsFwd, bytesFwd: f.bytesFwd, packetsRev: f.packetsRev, bytesRev: f.bytesRev, raw,
    });
  });
  const counters = newDecodeCounters();
  const pkt = newDecodedPacket();
  const reader = new CaptureReader((rec) => {
    const bytes = Uint8Array.from(rec.data);
    const view = new DataView(bytes.buffer);
    const status = decodePacket(view, bytes, 0, bytes.length, rec.linkType, rec.origLen, pkt, tunnels);
    countDecode(counters, rec.linkType, status);
    if (status === 0) table.observe(pkt, rec.tsSec * 1e6 + Math.floor(rec.tsNsec / 1000));
  });
  reader.push(readFileSync(join(LINKS_DIR, file)));
  reader.end();
  table.flush('eof');
  return { flows, counters: decodeCountersSnapshot(counters) };
}

/** Per-direction totals of one conversation as tshark sees it. */
export type TsharkConv = { key: string; packetsAtoB: number; bytesAtoB: number; packetsBtoA: number; bytesBtoA: number; a: string; ap: number };

/**
 * tshark's TCP/UDP conversations of `file`, keyed like `convKey`, on the innermost IP layer
 * (`layer: 'inner'`) or the outermost (`'outer'`, with the outermost transport when it belongs
 * to that IP layer, else ports 0 and the outer IP protocol). Bytes are IP-layer bytes
 * (ip.len / ipv6.plen + 40) of that layer.
 */
export async function tsharkConvs(file: string, layer: 'inner' | 'outer'): Promise<Map<string, TsharkConv>> {
  const convs = new Map<string, TsharkConv>();
  const fields = ['frame.protocols', 'ip.src', 'ip.dst', 'ip.len', 'ip.proto', 'ipv6.src', 'ipv6.dst', 'ipv6.plen', 'ipv6.nxt', 'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport'];
  await tsharkFields(join(LINKS_DIR, file), fields, (v) => {
    if (v.length < fields.length) return;
    const layers = v[0].split(':');
    const ipLayers = layers.map((p, i) => ({ p, i })).filter((x) => x.p === 'ip' || x.p === 'ipv6');
    if (ipLayers.length === 0) return;
    const chosen = layer === 'inner' ? ipLayers[ipLayers.length - 1] : ipLayers[0];
    const v4 = chosen.p === 'ip';
    const nth = ipLayers.slice(0, ipLayers.indexOf(chosen) + 1).filter((x) => x.p === chosen.p).length - 1;
    const pick = (col: number, n: number) => v[col].split('|')[n] ?? '';
    const src = pick(v4 ? 1 : 5, nth);
    const dst = pick(v4 ? 2 : 6, nth);
    const ipBytes = v4 ? Number(pick(3, nth)) : Number(pick(7, nth)) + 40;
    // The transport right after the chosen IP layer, if it is TCP or UDP.
    const next = layers[chosen.i + 1];
    let protocol = Number(pick(v4 ? 4 : 8, nth));
    let sp = 0;
    let dp = 0;
    if (next === 'tcp' || next === 'udp') {
      const col = next === 'tcp' ? 9 : 11;
      const before = layers.slice(0, chosen.i + 1).filter((p) => p === next).length;
      sp = Number(pick(col, before));
      dp = Number(pick(col + 1, before));
      protocol = next === 'tcp' ? 6 : 17;
    } else if (layer === 'inner') return;
    const a = textAddrKey(src);
    const b = textAddrKey(dst);
    const key = convKey(protocol, a, sp, b, dp);
    let c = convs.get(key);
    if (!c) convs.set(key, (c = { key, packetsAtoB: 0, bytesAtoB: 0, packetsBtoA: 0, bytesBtoA: 0, a, ap: sp }));
    if (c.a === a && c.ap === sp) {
      c.packetsAtoB++;
      c.bytesAtoB += ipBytes;
    } else {
      c.packetsBtoA++;
      c.bytesBtoA += ipBytes;
    }
  }, { allOccurrences: true });
  return convs;
}
