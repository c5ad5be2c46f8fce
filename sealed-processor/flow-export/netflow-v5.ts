/**
 * NetFlow v5 export packets (Cisco "NetFlow Export Datagram Format", version 5).
 *
 * Header (24 bytes): 0 u16 version (5) · 2 u16 count (1..30 records) · 4 u32 sysUptime (ms) ·
 * 8 u32 UNIX seconds · 12 u32 residual nanoseconds · 16 u32 flow sequence (flows seen before
 * this packet) · 20 u8 engine type · 21 u8 engine id · 22 u16 sampling (2-bit mode, 14-bit
 * interval).
 * Record (48 bytes): 0 srcaddr · 4 dstaddr · 8 nexthop · 12 u16 input · 14 u16 output ·
 * 16 u32 packets · 20 u32 octets · 24 u32 first (sysUptime ms) · 28 u32 last · 32 u16 srcport ·
 * 34 u16 dstport · 36 pad · 37 u8 tcp flags · 38 u8 protocol · 39 u8 tos · 40 u16 src AS ·
 * 42 u16 dst AS · 44 u8 src mask · 45 u8 dst mask · 46 u16 pad.
 * A count beyond the bytes present (or > 30) is counted `bad_header_length` and the whole records
 * present are decoded. A header sampling interval > 1 multiplies packets and bytes (as nfcapd).
 * Never: throws for wire input, allocates per record.
 */
import type { EmitFlow } from './data-set.ts';
import { ExportSource, resetExportedFlow, type ExporterAddress } from './exported-flow.ts';
import type { TemplateStore } from './template-store.ts';

export const NETFLOW_V5_HEADER_BYTES = 24;
export const NETFLOW_V5_RECORD_BYTES = 48;
const MAX_V5_RECORDS = 30;

export function decodeNetflowV5(
  view: DataView, off: number, end: number, exporter: ExporterAddress, _receiveTimeUs: number, store: TemplateStore, emit: EmitFlow,
): void {
  if (end - off < NETFLOW_V5_HEADER_BYTES) {
    store.count(null, 'datagram_truncated');
    return;
  }
  const count = view.getUint16(off + 2);
  const sysUptime = view.getUint32(off + 4);
  const exportUs = view.getUint32(off + 8) * 1e6 + Math.floor(view.getUint32(off + 12) / 1000);
  const sequence = view.getUint32(off + 16);
  const d = store.domain(exporter.address, exporter.port, 5, (view.getUint8(off + 20) << 8) | view.getUint8(off + 21));
  if (d === null) return;
  d.counters.datagrams++;
  const interval = view.getUint16(off + 22) & 0x3fff;
  const rate = interval > 1 ? interval : 1;
  if (d.expectedSequence >= 0 && sequence !== d.expectedSequence) store.count(d, 'sequence_gaps');
  d.expectedSequence = (sequence + count) >>> 0;
  let n = count;
  const present = Math.floor((end - off - NETFLOW_V5_HEADER_BYTES) / NETFLOW_V5_RECORD_BYTES);
  if (n > MAX_V5_RECORDS || n > present) {
    store.count(d, 'bad_header_length');
    n = Math.min(n, present);
  }
  const f = store.flow;
  f.source = ExportSource.Netflow5;
  f.exporter = d.exporter;
  f.exporterPort = d.port;
  f.observationDomain = d.domain;
  // `flows` counted as store.count(d, 'flows') would, by name: once per record.
  const total = store.counters;
  const own = d.counters;
  for (let i = 0, o = off + NETFLOW_V5_HEADER_BYTES; i < n; i++, o += NETFLOW_V5_RECORD_BYTES) {
    resetExportedFlow(f);
    f.srcV4 = view.getUint32(o);
    f.dstV4 = view.getUint32(o + 4);
    const nextHop = view.getUint32(o + 8);
    if (nextHop !== 0) {
      f.nextHopVersion = 4;
      f.nextHopV4 = nextHop;
    }
    f.inputInterface = view.getUint16(o + 12);
    f.outputInterface = view.getUint16(o + 14);
    f.packetsFwd = view.getUint32(o + 16) * rate;
    f.bytesFwd = view.getUint32(o + 20) * rate;
    // Signed 32-bit distance to the header's sysUptime: survives the uptime counter wrapping.
    f.timeStartUs = exportUs + ((view.getUint32(o + 24) - sysUptime) | 0) * 1000;
    f.timeEndUs = exportUs + ((view.getUint32(o + 28) - sysUptime) | 0) * 1000;
    f.srcPort = view.getUint16(o + 32);
    f.dstPort = view.getUint16(o + 34);
    f.tcpFlagsFwd = view.getUint8(o + 37);
    f.protocol = view.getUint8(o + 38);
    f.tos = view.getUint8(o + 39);
    f.srcAs = view.getUint16(o + 40);
    f.dstAs = view.getUint16(o + 42);
    f.samplingInterval = rate;
    if (f.protocol === 1) {
      f.icmpType = f.dstPort >>> 8;
      f.icmpCode = f.dstPort & 0xff;
      f.srcPort = 0;
      f.dstPort = 0;
    }
    total.flows++;
    own.flows++;
    emit(f);
  }
}
