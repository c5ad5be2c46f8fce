/**
 * One field of a NetFlow v9 / IPFIX data record into the reused `ExportedFlow`, or into the
 * `RecordScratch` when it needs the header or the domain first (times, sampling, ICMP, IP
 * version): the per-element rules every record reader shares (record.ts's generic loop and
 * the compiled plans of record-plan.ts).
 *
 * Wire rules: unsigned integers may use reduced-size encoding (RFC 7011 §6.2: any length 1..8,
 * big-endian); addresses must be 4 or 16 bytes and MACs 6, else the field is skipped. Time
 * elements: 150/151 s, 152/153 ms, 154..157 NTP 64-bit (RFC 7011 §6.1.9/10), 158/159 µs
 * before the export time (kept negative-coded until record.ts `finishRecord`), 21/22 ms of
 * sysUpTime, 160 systemInitTimeMilliseconds. Every case of `applyField` names an `Ie` element
 * (record-plan.ts relies on it to leave out fields no case reads).
 * Never: allocates, throws, or reads outside [off, off + len).
 */
import { EndReason } from '../../schemas/columns.ts';
import { Ie, REVERSE_BIT } from './elements.ts';
import type { ExportedFlow } from './exported-flow.ts';

/** Values read from a record that need the header or the domain before they mean anything. */
export interface RecordScratch {
  startUs: number;
  endUs: number;
  startUp: number;
  endUp: number;
  systemInitMs: number;
  icmpTypeCode: number;
  ipVersion: number;
  samplerId: number;
  recordInterval: number;
  samplingMode: number;
  packetSpace: number;
}

export function newRecordScratch(): RecordScratch {
  return { startUs: -1, endUs: -1, startUp: -1, endUp: -1, systemInitMs: -1, icmpTypeCode: -1, ipVersion: 0, samplerId: -1, recordInterval: -1, samplingMode: -1, packetSpace: -1 };
}

export function resetScratch(s: RecordScratch): void {
  s.startUs = -1;
  s.endUs = -1;
  s.startUp = -1;
  s.endUp = -1;
  s.systemInitMs = -1;
  s.icmpTypeCode = -1;
  s.ipVersion = 0;
  s.samplerId = -1;
  s.recordInterval = -1;
  s.samplingMode = -1;
  s.packetSpace = -1;
}

export const TWO32 = 4294967296;
/** `RecordScratch.samplerId` of a samplerId/selectorId above 0xffffffff. */
export const SAMPLER_ID_TOO_LARGE = -2;
const NTP_TO_UNIX_S = 2208988800;

/** Big-endian unsigned integer of 1..8 bytes (exact up to 2^53). */
export function readUint(view: DataView, off: number, len: number): number {
  switch (len) {
    case 1: return view.getUint8(off);
    case 2: return view.getUint16(off);
    case 4: return view.getUint32(off);
    case 8: return view.getUint32(off) * TWO32 + view.getUint32(off + 4);
    default: {
      let v = 0;
      for (let i = 0; i < len; i++) v = v * 256 + view.getUint8(off + i);
      return v;
    }
  }
}

/** NTP-format timestamp (32-bit seconds since 1900 + 32-bit fraction) to µs since 1970. */
export function ntpToUs(view: DataView, off: number): number {
  const sec = view.getUint32(off) - NTP_TO_UNIX_S;
  return sec * 1e6 + Math.floor((view.getUint32(off + 4) * 1e6) / TWO32);
}

export function readWords(view: DataView, off: number, out: Uint32Array): void {
  out[0] = view.getUint32(off);
  out[1] = view.getUint32(off + 4);
  out[2] = view.getUint32(off + 8);
  out[3] = view.getUint32(off + 12);
}

export function applyField(code: number, view: DataView, off: number, len: number, f: ExportedFlow, s: RecordScratch): void {
  const uint = len <= 8;
  switch (code) {
    case Ie.octetDeltaCount: case Ie.octetTotalCount: if (uint) f.bytesFwd = readUint(view, off, len); return;
    case Ie.packetDeltaCount: case Ie.packetTotalCount: if (uint) f.packetsFwd = readUint(view, off, len); return;
    case Ie.octetDeltaCount | REVERSE_BIT: case Ie.octetTotalCount | REVERSE_BIT: if (uint) f.bytesRev = readUint(view, off, len); return;
    case Ie.packetDeltaCount | REVERSE_BIT: case Ie.packetTotalCount | REVERSE_BIT: if (uint) f.packetsRev = readUint(view, off, len); return;
    case Ie.tcpControlBits: if (len <= 2) f.tcpFlagsFwd = readUint(view, off, len) & 0xff; return;
    case Ie.tcpControlBits | REVERSE_BIT: if (len <= 2) f.tcpFlagsRev = readUint(view, off, len) & 0xff; return;
    case Ie.protocolIdentifier: if (len === 1) f.protocol = view.getUint8(off); return;
    case Ie.ipClassOfService: if (len === 1) f.tos = view.getUint8(off); return;
    case Ie.sourceTransportPort: if (len <= 2) f.srcPort = readUint(view, off, len); return;
    case Ie.destinationTransportPort: if (len <= 2) f.dstPort = readUint(view, off, len); return;
    case Ie.sourceIPv4Address: if (len === 4) f.srcV4 = view.getUint32(off); return;
    case Ie.destinationIPv4Address: if (len === 4) f.dstV4 = view.getUint32(off); return;
    case Ie.sourceIPv6Address: if (len === 16) { readWords(view, off, f.src6); s.ipVersion ||= 6; } return;
    case Ie.destinationIPv6Address: if (len === 16) { readWords(view, off, f.dst6); s.ipVersion ||= 6; } return;
    case Ie.ingressInterface: if (len <= 4) f.inputInterface = readUint(view, off, len); return;
    case Ie.egressInterface: if (len <= 4) f.outputInterface = readUint(view, off, len); return;
    case Ie.ipNextHopIPv4Address: if (len === 4) { f.nextHopV4 = view.getUint32(off); f.nextHopVersion = 4; } return;
    case Ie.ipNextHopIPv6Address: if (len === 16) { readWords(view, off, f.nextHop6); f.nextHopVersion = 6; } return;
    case Ie.bgpNextHopIPv4Address: if (len === 4) { f.bgpNextHopV4 = view.getUint32(off); f.bgpNextHopVersion = 4; } return;
    case Ie.bgpNextHopIPv6Address: if (len === 16) { readWords(view, off, f.bgpNextHop6); f.bgpNextHopVersion = 6; } return;
    case Ie.bgpSourceAsNumber: if (len <= 4) f.srcAs = readUint(view, off, len); return;
    case Ie.bgpDestinationAsNumber: if (len <= 4) f.dstAs = readUint(view, off, len); return;
    case Ie.flowStartSysUpTime: if (len <= 4) s.startUp = readUint(view, off, len); return;
    case Ie.flowEndSysUpTime: if (len <= 4) s.endUp = readUint(view, off, len); return;
    case Ie.icmpTypeCodeIPv4: case Ie.icmpTypeCodeIPv6: if (len <= 2) s.icmpTypeCode = readUint(view, off, len); return;
    case Ie.icmpTypeIPv4: case Ie.icmpTypeIPv6: if (len === 1) f.icmpType = view.getUint8(off); return;
    case Ie.icmpCodeIPv4: case Ie.icmpCodeIPv6: if (len === 1) f.icmpCode = view.getUint8(off); return;
    case Ie.samplingInterval: case Ie.samplingPacketInterval: case Ie.samplerRandomInterval:
      if (len <= 4) s.recordInterval = readUint(view, off, len);
      return;
    case Ie.samplingPacketSpace: if (len <= 4) s.packetSpace = readUint(view, off, len); return;
    case Ie.samplingAlgorithm: case Ie.samplerMode: case Ie.selectorAlgorithm: if (len <= 4) s.samplingMode = readUint(view, off, len); return;
    case Ie.samplerId: case Ie.selectorId:
      if (uint) {
        const id = readUint(view, off, len);
        s.samplerId = id <= 0xffffffff ? id : SAMPLER_ID_TOO_LARGE;
      }
      return;
    case Ie.sourceMacAddress: if (len === 6) { f.srcMacHi = (view.getUint16(off) << 8) | view.getUint8(off + 2); f.srcMacLo = (view.getUint16(off + 3) << 8) | view.getUint8(off + 5); } return;
    case Ie.destinationMacAddress: if (len === 6) { f.dstMacHi = (view.getUint16(off) << 8) | view.getUint8(off + 2); f.dstMacLo = (view.getUint16(off + 3) << 8) | view.getUint8(off + 5); } return;
    case Ie.vlanId: case Ie.dot1qVlanId: if (len === 2 && f.vlanId < 0) f.vlanId = view.getUint16(off) & 0x0fff; return;
    case Ie.ipVersion: if (len === 1) s.ipVersion = view.getUint8(off); return;
    case Ie.flowEndReason: if (len === 1) f.endReason = endReasonOf(view.getUint8(off)); return;
    case Ie.flowStartSeconds: if (len === 4) s.startUs = view.getUint32(off) * 1e6; return;
    case Ie.flowEndSeconds: if (len === 4) s.endUs = view.getUint32(off) * 1e6; return;
    case Ie.flowStartMilliseconds: if (uint) s.startUs = readUint(view, off, len) * 1000; return;
    case Ie.flowEndMilliseconds: if (uint) s.endUs = readUint(view, off, len) * 1000; return;
    case Ie.flowStartMicroseconds: case Ie.flowStartNanoseconds: if (len === 8) s.startUs = ntpToUs(view, off); return;
    case Ie.flowEndMicroseconds: case Ie.flowEndNanoseconds: if (len === 8) s.endUs = ntpToUs(view, off); return;
    // Deltas are negative offsets from the export time: kept negative-coded until finishRecord.
    case Ie.flowStartDeltaMicroseconds: if (len === 4) s.startUs = -2 - view.getUint32(off); return;
    case Ie.flowEndDeltaMicroseconds: if (len === 4) s.endUs = -2 - view.getUint32(off); return;
    case Ie.systemInitTimeMilliseconds: if (uint) s.systemInitMs = readUint(view, off, len); return;
    default: return;
  }
}

/** IPFIX flowEndReason (IANA IE 136: 1 idle, 2 active, 3 end detected, 4 forced, 5 lack of resources). */
export function endReasonOf(v: number): EndReason | null {
  switch (v) {
    case 1: return EndReason.Idle;
    case 2: return EndReason.Active;
    case 3: return EndReason.Fin;
    case 4: return EndReason.Eof;
    default: return null;
  }
}
