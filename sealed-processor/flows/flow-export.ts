/**
 * Copies one live flow slot into the reused `RawFlow` handed to `onFlow`.
 *
 * Owns: orienting the canonical key (endpoint A/B) to initiator/responder (RFC 5103 §4.2:
 * source = initiator), and the record-level port rule (ICMP flows report ports 0; their key
 * ports hold the echo id or type/code and stay internal).
 * Never: allocates (the record and its two Uint32Arrays are reused), logs or keeps the record.
 */
import type { EndReason } from '../../schemas/columns.ts';
import type { RawFlow } from './flow-record.ts';
import { KEY_WORDS, type FlowStore } from './flow-store.ts';

/** Key word 9 layout: protocol (bits 0-7), IPv6 (bit 8), ICMP echo (bit 9), VLAN + 1 (bits 16-28). */
export const META_V6 = 0x100;
export const META_ECHO = 0x200;

/** Fills `r` from slot `id` of `store`. */
export function exportFlow(store: FlowStore, id: number, reason: EndReason, r: RawFlow): void {
  const keys = store.keys;
  const base = id * KEY_WORDS;
  const initIsA = store.initIsA[id] === 1;
  const s = initIsA ? base : base + 4;
  const d = initIsA ? base + 4 : base;
  const meta = keys[base + 9];
  const protocol = meta & 0xff;
  if ((meta & META_V6) !== 0) {
    r.ipVersion = 6;
    r.srcV4 = 0;
    r.dstV4 = 0;
    for (let i = 0; i < 4; i++) {
      r.src6[i] = keys[s + i];
      r.dst6[i] = keys[d + i];
    }
  } else {
    r.ipVersion = 4;
    r.srcV4 = keys[s + 3];
    r.dstV4 = keys[d + 3];
    r.src6.fill(0);
    r.dst6.fill(0);
  }
  r.protocol = protocol;
  const ports = keys[base + 8];
  if (protocol === 1 || protocol === 58) {
    r.srcPort = 0;
    r.dstPort = 0;
  } else {
    r.srcPort = initIsA ? ports >>> 16 : ports & 0xffff;
    r.dstPort = initIsA ? ports & 0xffff : ports >>> 16;
  }
  r.icmpType = store.icmp[id * 2];
  r.icmpCode = store.icmp[id * 2 + 1];
  r.vlanId = (meta >>> 16) - 1;
  const m = id * 4;
  r.srcMacHi = store.macs[m];
  r.srcMacLo = store.macs[m + 1];
  r.dstMacHi = store.macs[m + 2];
  r.dstMacLo = store.macs[m + 3];
  r.packetsFwd = store.counts[m];
  r.bytesFwd = store.counts[m + 1];
  r.packetsRev = store.counts[m + 2];
  r.bytesRev = store.counts[m + 3];
  r.tcpFlagsFwd = store.flags[id * 2];
  r.tcpFlagsRev = store.flags[id * 2 + 1];
  r.timeStartUs = store.times[id * 2];
  r.timeEndUs = store.times[id * 2 + 1];
  r.endReason = reason;
  exportTunnel(store, id, r);
  r.dnsQname = store.dnsQname[id];
  r.tlsSni = store.tlsSni[id];
  r.httpHost = store.httpHost[id];
}

function exportTunnel(store: FlowStore, id: number, r: RawFlow): void {
  const version = store.tunnelVersion[id];
  r.tunnelType = store.tunnelType[id];
  r.tunnelVersion = version === 4 || version === 6 ? version : 0;
  const t = id * 8;
  const a = store.tunnelAddrs;
  r.tunnelSrcV4 = version === 4 ? a[t + 3] : 0;
  r.tunnelDstV4 = version === 4 ? a[t + 7] : 0;
  for (let i = 0; i < 4; i++) {
    r.tunnelSrc6[i] = version === 6 ? a[t + i] : 0;
    r.tunnelDst6[i] = version === 6 ? a[t + 4 + i] : 0;
  }
}
