/**
 * The one record every flow-export decoder (NetFlow v5, NetFlow v9, IPFIX) writes: the part of
 * `RawFlow` a router can export, plus where the record came from and the routing fields packets
 * do not have.
 *
 * Owns: the `ExportedFlow` shape (every field initialised with a stable type so V8 keeps one
 * hidden class), `ExportSource`, and `resetExportedFlow`, which only writes numbers. Absent
 * numeric values are -1 (as in `RawFlow`), absent next hops have version 0.
 * Never: leaves this process as-is — it holds raw data-plane, exporter and next-hop addresses and
 * must go through the anonymizer like a `RawFlow`.
 */
import type { EndReason } from '../../schemas/columns.ts';
import type { RawFlow } from '../flows/flow-record.ts';

/** Where an archive row came from (the record-source column; `packets` is the packet path). */
export const ExportSource = { Netflow5: 'netflow5', Netflow9: 'netflow9', Ipfix: 'ipfix' } as const;
export type ExportSource = (typeof ExportSource)[keyof typeof ExportSource];

/**
 * The `RawFlow` fields an export record fills, under the same names and with the same meaning,
 * so a column table can map both shapes with one entry per column.
 */
export const SHARED_RAW_FLOW_FIELDS = [
  'ipVersion', 'protocol', 'srcV4', 'dstV4', 'src6', 'dst6', 'srcPort', 'dstPort', 'icmpType', 'icmpCode',
  'vlanId', 'srcMacHi', 'srcMacLo', 'dstMacHi', 'dstMacLo', 'packetsFwd', 'bytesFwd', 'packetsRev', 'bytesRev',
  'tcpFlagsFwd', 'tcpFlagsRev', 'timeStartUs', 'timeEndUs',
] as const satisfies readonly (keyof RawFlow)[];
export type SharedRawFlowField = (typeof SHARED_RAW_FLOW_FIELDS)[number];

/**
 * One decoded data record. The decoders reuse one instance per call: copy what you keep before
 * the `emit` callback returns.
 *
 * Units: packets and bytes are already multiplied by `samplingInterval` (nfcapd's rule);
 * times are µs since the Unix epoch (UTC); a record without any time element gets the export
 * time of its datagram for both. u64 counters are numbers (exact up to 2^53).
 */
export interface ExportedFlow extends Pick<RawFlow, SharedRawFlowField> {
  source: ExportSource;
  /** Exporter address, 16 bytes, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d). Shared, do not mutate. */
  exporter: Uint8Array;
  exporterPort: number;
  /**
   * IPFIX observation domain id; NetFlow v9 source id; NetFlow v5 engine type << 8 | engine id.
   */
  observationDomain: number;
  /** ingressInterface (10) / egressInterface (14), SNMP ifIndex; -1 when absent. */
  inputInterface: number;
  outputInterface: number;
  /** 0 when absent, else 4 (in `nextHopV4`) or 6 (in `nextHop6`). */
  nextHopVersion: 0 | 4 | 6;
  nextHopV4: number;
  nextHop6: Uint32Array;
  bgpNextHopVersion: 0 | 4 | 6;
  bgpNextHopV4: number;
  bgpNextHop6: Uint32Array;
  /** bgpSourceAsNumber (16) / bgpDestinationAsNumber (17); -1 when absent. */
  srcAs: number;
  dstAs: number;
  /** ipClassOfService (5): the whole ToS / traffic-class byte; -1 when absent. */
  tos: number;
  /** The 1-in-N rate applied to packets and bytes; 1 when unsampled or unknown. */
  samplingInterval: number;
  /** flowEndReason (136) mapped to the archive's end reasons; null when absent or unmapped. */
  endReason: EndReason | null;
}

export function newExportedFlow(): ExportedFlow {
  // The per-datagram fields and the arrays here; every per-record field from the reset, so the
  // two never disagree on what "absent" is.
  const flow = {
    source: ExportSource.Ipfix,
    exporter: new Uint8Array(16),
    exporterPort: 0,
    observationDomain: 0,
    src6: new Uint32Array(4),
    dst6: new Uint32Array(4),
    nextHop6: new Uint32Array(4),
    bgpNextHop6: new Uint32Array(4),
  } as ExportedFlow;
  resetExportedFlow(flow);
  return flow;
}

/** Clears the per-record fields (not source/exporter/domain, which the caller sets per datagram). */
export function resetExportedFlow(f: ExportedFlow): void {
  f.ipVersion = 4;
  f.protocol = 0;
  f.srcV4 = 0;
  f.dstV4 = 0;
  zero4(f.src6);
  zero4(f.dst6);
  f.srcPort = 0;
  f.dstPort = 0;
  f.icmpType = -1;
  f.icmpCode = -1;
  f.vlanId = -1;
  f.srcMacHi = -1;
  f.srcMacLo = -1;
  f.dstMacHi = -1;
  f.dstMacLo = -1;
  f.packetsFwd = 0;
  f.bytesFwd = 0;
  f.packetsRev = 0;
  f.bytesRev = 0;
  f.tcpFlagsFwd = 0;
  f.tcpFlagsRev = 0;
  f.timeStartUs = 0;
  f.timeEndUs = 0;
  f.inputInterface = -1;
  f.outputInterface = -1;
  f.nextHopVersion = 0;
  f.nextHopV4 = 0;
  zero4(f.nextHop6);
  f.bgpNextHopVersion = 0;
  f.bgpNextHopV4 = 0;
  zero4(f.bgpNextHop6);
  f.srcAs = -1;
  f.dstAs = -1;
  f.tos = -1;
  f.samplingInterval = 1;
  f.endReason = null;
}

/** Why not `fill(0)`: this runs once per exported record, and four stores beat a builtin call. */
function zero4(w: Uint32Array): void {
  w[0] = 0;
  w[1] = 0;
  w[2] = 0;
  w[3] = 0;
}

/** The exporter a datagram came from, as the spool records it. */
export interface ExporterAddress {
  /** 16 bytes: IPv6, or IPv4-mapped IPv6 for IPv4 exporters. */
  address: Uint8Array;
  port: number;
}
