/**
 * The record reader of fixed-length templates: one bounds check per record, then each field
 * the template's compiled plan keeps (template.ts `RecordPlan`) read at its precomputed offset
 * by its op. Why: a NetFlow v9 / IPFIX record is one archive row, so this loop runs for every
 * record; walking the template field by field (length, bounds, element switch, integer-width
 * switch per field) cost about as much as the rest of the decoder.
 *
 * Each specialised op does exactly what record-fields.ts `applyField` does for its (element,
 * length) pair; `PlanOp.Field` calls `applyField` itself (record-plan.test.ts compares the two
 * readers on random templates and records).
 * Never: allocates, throws, or reads outside [off, off + plan.length) (checked against `end`).
 */
import { Ie, REVERSE_BIT, SKIP_FIELD } from './elements.ts';
import type { ExportedFlow } from './exported-flow.ts';
import { applyField, endReasonOf, readWords, resetScratch, TWO32, type RecordScratch } from './record-fields.ts';

/**
 * Reader ops of a compiled plan. Each specialised op is exactly `applyField` for one (element,
 * length) pair (tested against it). Declared here, beside the switch that reads them: V8 folds
 * `case PlanOp.X` into a jump table only for a module's own constants (imported ones measured
 * 2-4x slower per record).
 */
export const PlanOp = {
  Field: 0,
  SrcV4: 1, DstV4: 2, SrcV6: 3, DstV6: 4, NextHopV4: 5, NextHopV6: 6, BgpNextHopV4: 7, BgpNextHopV6: 8,
  BytesFwd4: 9, BytesFwd8: 10, PacketsFwd4: 11, PacketsFwd8: 12, BytesRev4: 13, BytesRev8: 14, PacketsRev4: 15, PacketsRev8: 16,
  Protocol: 17, Tos: 18, TcpFlags1: 19, TcpFlags2: 20, TcpFlagsRev1: 21, SrcPort2: 22, DstPort2: 23,
  InputInterface4: 24, InputInterface2: 25, OutputInterface4: 26, OutputInterface2: 27,
  SrcAs4: 28, SrcAs2: 29, DstAs4: 30, DstAs2: 31, StartUp4: 32, EndUp4: 33, IcmpTypeCode2: 34, IpVersion: 35,
  EndReason: 36, StartSeconds: 37, EndSeconds: 38, StartMs8: 39, EndMs8: 40,
} as const;
const O = PlanOp;

/** A fixed-length template's reader: `count` fields to read, at `offsets` in the record. */
export interface RecordPlan {
  /** Record length (= the template's fixedLength). */
  readonly length: number;
  readonly count: number;
  readonly ops: Uint8Array;
  readonly offsets: Int32Array;
  /** Element code and length per op (what `PlanOp.Field` hands to applyField). */
  readonly codes: Int32Array;
  readonly lengths: Int32Array;
}

/** Every element record-fields.ts `applyField` has a case for (its cases name `Ie` elements only). */
const READ_ELEMENTS = new Set<number>(Object.values(Ie));
/** Elements `applyField` also reads in their RFC 5103 reverse form. */
const READ_REVERSE = new Set<number>([Ie.octetDeltaCount, Ie.octetTotalCount, Ie.packetDeltaCount, Ie.packetTotalCount, Ie.tcpControlBits]);

/** The specialised op of one field, or `PlanOp.Field`. */
function planOp(code: number, len: number): number {
  switch (code) {
    case Ie.sourceIPv4Address: return len === 4 ? O.SrcV4 : O.Field;
    case Ie.destinationIPv4Address: return len === 4 ? O.DstV4 : O.Field;
    case Ie.sourceIPv6Address: return len === 16 ? O.SrcV6 : O.Field;
    case Ie.destinationIPv6Address: return len === 16 ? O.DstV6 : O.Field;
    case Ie.ipNextHopIPv4Address: return len === 4 ? O.NextHopV4 : O.Field;
    case Ie.ipNextHopIPv6Address: return len === 16 ? O.NextHopV6 : O.Field;
    case Ie.bgpNextHopIPv4Address: return len === 4 ? O.BgpNextHopV4 : O.Field;
    case Ie.bgpNextHopIPv6Address: return len === 16 ? O.BgpNextHopV6 : O.Field;
    case Ie.octetDeltaCount: case Ie.octetTotalCount: return len === 4 ? O.BytesFwd4 : len === 8 ? O.BytesFwd8 : O.Field;
    case Ie.packetDeltaCount: case Ie.packetTotalCount: return len === 4 ? O.PacketsFwd4 : len === 8 ? O.PacketsFwd8 : O.Field;
    case Ie.octetDeltaCount | REVERSE_BIT: case Ie.octetTotalCount | REVERSE_BIT: return len === 4 ? O.BytesRev4 : len === 8 ? O.BytesRev8 : O.Field;
    case Ie.packetDeltaCount | REVERSE_BIT: case Ie.packetTotalCount | REVERSE_BIT: return len === 4 ? O.PacketsRev4 : len === 8 ? O.PacketsRev8 : O.Field;
    case Ie.protocolIdentifier: return len === 1 ? O.Protocol : O.Field;
    case Ie.ipClassOfService: return len === 1 ? O.Tos : O.Field;
    case Ie.tcpControlBits: return len === 1 ? O.TcpFlags1 : len === 2 ? O.TcpFlags2 : O.Field;
    case Ie.tcpControlBits | REVERSE_BIT: return len === 1 ? O.TcpFlagsRev1 : O.Field;
    case Ie.sourceTransportPort: return len === 2 ? O.SrcPort2 : O.Field;
    case Ie.destinationTransportPort: return len === 2 ? O.DstPort2 : O.Field;
    case Ie.ingressInterface: return len === 4 ? O.InputInterface4 : len === 2 ? O.InputInterface2 : O.Field;
    case Ie.egressInterface: return len === 4 ? O.OutputInterface4 : len === 2 ? O.OutputInterface2 : O.Field;
    case Ie.bgpSourceAsNumber: return len === 4 ? O.SrcAs4 : len === 2 ? O.SrcAs2 : O.Field;
    case Ie.bgpDestinationAsNumber: return len === 4 ? O.DstAs4 : len === 2 ? O.DstAs2 : O.Field;
    case Ie.flowStartSysUpTime: return len === 4 ? O.StartUp4 : O.Field;
    case Ie.flowEndSysUpTime: return len === 4 ? O.EndUp4 : O.Field;
    case Ie.icmpTypeCodeIPv4: case Ie.icmpTypeCodeIPv6: return len === 2 ? O.IcmpTypeCode2 : O.Field;
    case Ie.ipVersion: return len === 1 ? O.IpVersion : O.Field;
    case Ie.flowEndReason: return len === 1 ? O.EndReason : O.Field;
    case Ie.flowStartSeconds: return len === 4 ? O.StartSeconds : O.Field;
    case Ie.flowEndSeconds: return len === 4 ? O.EndSeconds : O.Field;
    case Ie.flowStartMilliseconds: return len === 8 ? O.StartMs8 : O.Field;
    case Ie.flowEndMilliseconds: return len === 8 ? O.EndMs8 : O.Field;
    default: return O.Field;
  }
}

/** The plan of a fixed-length template of `length` bytes (template.ts compileTemplate). */
export function compilePlan(codes: Int32Array, lengths: Uint16Array, length: number): RecordPlan {
  const keep: number[] = [];
  const offsets: number[] = [];
  for (let i = 0, at = 0; i < codes.length; at += lengths[i], i++) {
    const code = codes[i];
    if (code === SKIP_FIELD || lengths[i] === 0) continue;
    if ((code & REVERSE_BIT) !== 0 ? !READ_REVERSE.has(code & ~REVERSE_BIT) : !READ_ELEMENTS.has(code)) continue;
    keep.push(i);
    offsets.push(at);
  }
  return {
    length,
    count: keep.length,
    ops: Uint8Array.from(keep, (i) => planOp(codes[i], lengths[i])),
    offsets: Int32Array.from(offsets),
    codes: Int32Array.from(keep, (i) => codes[i]),
    lengths: Int32Array.from(keep, (i) => lengths[i]),
  };
}

/**
 * Reads one record of a fixed-length template at `off` into `f` (already reset) and `s` (reset
 * here). @returns the offset after the record, or -1 when it runs past `end`.
 */
export function readPlannedRecord(view: DataView, off: number, end: number, plan: RecordPlan, f: ExportedFlow, s: RecordScratch): number {
  resetScratch(s);
  if (off + plan.length > end) return -1;
  const { ops, offsets, count } = plan;
  for (let k = 0; k < count; k++) {
    const o = off + offsets[k];
    switch (ops[k]) {
      case O.SrcV4: f.srcV4 = view.getUint32(o); break;
      case O.DstV4: f.dstV4 = view.getUint32(o); break;
      case O.SrcV6: readWords(view, o, f.src6); s.ipVersion ||= 6; break;
      case O.DstV6: readWords(view, o, f.dst6); s.ipVersion ||= 6; break;
      case O.NextHopV4: f.nextHopV4 = view.getUint32(o); f.nextHopVersion = 4; break;
      case O.NextHopV6: readWords(view, o, f.nextHop6); f.nextHopVersion = 6; break;
      case O.BgpNextHopV4: f.bgpNextHopV4 = view.getUint32(o); f.bgpNextHopVersion = 4; break;
      case O.BgpNextHopV6: readWords(view, o, f.bgpNextHop6); f.bgpNextHopVersion = 6; break;
      case O.BytesFwd4: f.bytesFwd = view.getUint32(o); break;
      case O.BytesFwd8: f.bytesFwd = view.getUint32(o) * TWO32 + view.getUint32(o + 4); break;
      case O.PacketsFwd4: f.packetsFwd = view.getUint32(o); break;
      case O.PacketsFwd8: f.packetsFwd = view.getUint32(o) * TWO32 + view.getUint32(o + 4); break;
      case O.BytesRev4: f.bytesRev = view.getUint32(o); break;
      case O.BytesRev8: f.bytesRev = view.getUint32(o) * TWO32 + view.getUint32(o + 4); break;
      case O.PacketsRev4: f.packetsRev = view.getUint32(o); break;
      case O.PacketsRev8: f.packetsRev = view.getUint32(o) * TWO32 + view.getUint32(o + 4); break;
      case O.Protocol: f.protocol = view.getUint8(o); break;
      case O.Tos: f.tos = view.getUint8(o); break;
      case O.TcpFlags1: f.tcpFlagsFwd = view.getUint8(o); break;
      case O.TcpFlags2: f.tcpFlagsFwd = view.getUint16(o) & 0xff; break;
      case O.TcpFlagsRev1: f.tcpFlagsRev = view.getUint8(o); break;
      case O.SrcPort2: f.srcPort = view.getUint16(o); break;
      case O.DstPort2: f.dstPort = view.getUint16(o); break;
      case O.InputInterface4: f.inputInterface = view.getUint32(o); break;
      case O.InputInterface2: f.inputInterface = view.getUint16(o); break;
      case O.OutputInterface4: f.outputInterface = view.getUint32(o); break;
      case O.OutputInterface2: f.outputInterface = view.getUint16(o); break;
      case O.SrcAs4: f.srcAs = view.getUint32(o); break;
      case O.SrcAs2: f.srcAs = view.getUint16(o); break;
      case O.DstAs4: f.dstAs = view.getUint32(o); break;
      case O.DstAs2: f.dstAs = view.getUint16(o); break;
      case O.StartUp4: s.startUp = view.getUint32(o); break;
      case O.EndUp4: s.endUp = view.getUint32(o); break;
      case O.IcmpTypeCode2: s.icmpTypeCode = view.getUint16(o); break;
      case O.IpVersion: s.ipVersion = view.getUint8(o); break;
      case O.EndReason: f.endReason = endReasonOf(view.getUint8(o)); break;
      case O.StartSeconds: s.startUs = view.getUint32(o) * 1e6; break;
      case O.EndSeconds: s.endUs = view.getUint32(o) * 1e6; break;
      case O.StartMs8: s.startUs = (view.getUint32(o) * TWO32 + view.getUint32(o + 4)) * 1000; break;
      case O.EndMs8: s.endUs = (view.getUint32(o) * TWO32 + view.getUint32(o + 4)) * 1000; break;
      default: applyField(plan.codes[k], view, o, plan.lengths[k], f, s);
    }
  }
  return off + plan.length;
}
