/**
 * The two shapes a flow takes inside the sealed processor.
 *
 * `RawFlow` holds raw addresses, MACs and names: it exists only between `decode/` +
 * `flows/` and `anonymize/`, and must never be logged, serialized or passed to a sink.
 * `AnonFlowRow` is what the anonymizer returns: one value per column of schemas/columns.ts,
 * every value branded `Anon`, so the archive sink (which accepts only `AnonFlowRow`) cannot
 * receive a raw value by accident. A column the policy drops is `null`.
 */
import { RecordSource, type EndReason, type FlowColumnName } from '../../schemas/columns.ts';

declare const anonBrand: unique symbol;
/** A value that has been through the anonymization policy. */
export type Anon<T> = T & { readonly [anonBrand]: true };

/** Marks a value as policy-processed. Only `anonymize/` may call this. */
export function asAnon<T>(value: T): Anon<T> {
  return value as Anon<T>;
}

/**
 * A completed (or timed-out) bidirectional flow with raw identifiers.
 * Absent optional numeric fields are -1; absent names are null.
 * IPv4 addresses are u32 numbers in `srcV4`/`dstV4`; IPv6 addresses are four big-endian u32
 * words in `src6`/`dst6` (unused for IPv4 flows).
 *
 * One shape for both flow producers (sealed-processor/worker/flow-producers.ts): the flow table
 * fills the packet fields and leaves the export fields absent (`recordSource` 'packets');
 * an exported record fills what its exporter sent. Optional addresses (exporter, next hops)
 * have a version, 0 when absent, and are stored like src/dst.
 */
export interface RawFlow {
  ipVersion: 4 | 6;
  protocol: number;
  srcV4: number;
  dstV4: number;
  src6: Uint32Array;
  dst6: Uint32Array;
  srcPort: number;
  dstPort: number;
  icmpType: number;
  icmpCode: number;
  vlanId: number;
  /** MAC as two 24-bit halves: OUI (vendor) and NIC. -1 when the link type has no MAC. */
  srcMacHi: number;
  srcMacLo: number;
  dstMacHi: number;
  dstMacLo: number;
  packetsFwd: number;
  bytesFwd: number;
  packetsRev: number;
  bytesRev: number;
  tcpFlagsFwd: number;
  tcpFlagsRev: number;
  /** Microseconds since the Unix epoch (UTC). */
  timeStartUs: number;
  timeEndUs: number;
  /** null: an exported record without flowEndReason. */
  endReason: EndReason | null;
  dnsQname: string | null;
  tlsSni: string | null;
  httpHost: string | null;
  recordSource: RecordSource;
  exporterVersion: 0 | 4 | 6;
  exporterV4: number;
  exporter6: Uint32Array;
  /** -1 when absent (all numeric export fields below). */
  observationDomain: number;
  inputInterface: number;
  outputInterface: number;
  nextHopVersion: 0 | 4 | 6;
  nextHopV4: number;
  nextHop6: Uint32Array;
  bgpNextHopVersion: 0 | 4 | 6;
  bgpNextHopV4: number;
  bgpNextHop6: Uint32Array;
  srcAs: number;
  dstAs: number;
  tos: number;
  /** 1-in-N rate (may be fractional); -1 for packet flows. */
  samplingInterval: number;
  /**
   * The outermost tunnel a packet flow came through (`TunnelType` of decode/decoded-packet.ts,
   * 0 = none) and its endpoints: `tunnelSrc*` on the initiator's side. Version 0 when absent.
   */
  tunnelType: number;
  tunnelVersion: 0 | 4 | 6;
  tunnelSrcV4: number;
  tunnelDstV4: number;
  tunnelSrc6: Uint32Array;
  tunnelDst6: Uint32Array;
}

/** Column values ready for the archive. Timestamps are microseconds since epoch; u64 as bigint. */
export type AnonValue = Anon<string> | Anon<number> | Anon<bigint> | null;
export type AnonFlowRow = { [K in FlowColumnName]: AnonValue };

export function newRawFlow(): RawFlow {
  return {
    ipVersion: 4,
    protocol: 0,
    srcV4: 0,
    dstV4: 0,
    src6: new Uint32Array(4),
    dst6: new Uint32Array(4),
    srcPort: 0,
    dstPort: 0,
    icmpType: -1,
    icmpCode: -1,
    vlanId: -1,
    srcMacHi: -1,
    srcMacLo: -1,
    dstMacHi: -1,
    dstMacLo: -1,
    packetsFwd: 0,
    bytesFwd: 0,
    packetsRev: 0,
    bytesRev: 0,
    tcpFlagsFwd: 0,
    tcpFlagsRev: 0,
    timeStartUs: 0,
    timeEndUs: 0,
    endReason: 'eof',
    dnsQname: null,
    tlsSni: null,
    httpHost: null,
    recordSource: RecordSource.Packets,
    exporterVersion: 0,
    exporterV4: 0,
    exporter6: new Uint32Array(4),
    observationDomain: -1,
    inputInterface: -1,
    outputInterface: -1,
    nextHopVersion: 0,
    nextHopV4: 0,
    nextHop6: new Uint32Array(4),
    bgpNextHopVersion: 0,
    bgpNextHopV4: 0,
    bgpNextHop6: new Uint32Array(4),
    srcAs: -1,
    dstAs: -1,
    tos: -1,
    samplingInterval: -1,
    tunnelType: 0,
    tunnelVersion: 0,
    tunnelSrcV4: 0,
    tunnelDstV4: 0,
    tunnelSrc6: new Uint32Array(4),
    tunnelDst6: new Uint32Array(4),
  };
}
