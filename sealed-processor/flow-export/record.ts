/**
 * Decodes one NetFlow v9 / IPFIX data record through its template into the reused
 * `ExportedFlow`, then turns what was read into archive semantics: times to µs since epoch,
 * sampling applied, ICMP type/code, IP version.
 *
 * Wire rules: each field as record-fields.ts reads it; variable-length fields (IPFIX only,
 * RFC 7011 §7) have a 1-byte length, or 255 and a 2-byte length; a template without any is
 * read through its compiled plan (record-plan.ts). Times: 21/22 ms of sysUpTime are relative
 * to the header's sysUpTime and export time (v9, RFC 3954 §5.1) or to
 * systemInitTimeMilliseconds 160 from the record or options data (IPFIX). Sampling (nfcapd's
 * order): a rate in the record itself, else the sampler named by the record's
 * samplerId/selectorId (48/302, non-zero), else the exporter-wide sampler (options data with
 * 34/35 and no id), else 1; packets and bytes, both directions, are multiplied by it (nfcapd 1.7.1 scales the forward counters only). Sampler
 * ids are u32 (a wider encoding is accepted up to 0xffffffff): a larger id is counted
 * `sampler_id_too_large`, and an options record with one stores no sampler while a data
 * record with one is unsampled (it names a sampler that cannot exist).
 * Never: allocates, throws, or reads at or beyond `end`.
 */
import type { ExportedFlow } from './exported-flow.ts';
import { applyField, resetScratch, SAMPLER_ID_TOO_LARGE, type RecordScratch } from './record-fields.ts';
import { readPlannedRecord } from './record-plan.ts';
import type { ExporterDomain, TemplateStore } from './template-store.ts';
import { SKIP_FIELD, VARIABLE_LENGTH, type Template } from './template.ts';

export { newRecordScratch, type RecordScratch } from './record-fields.ts';

/** Header context of the datagram a record came in. */
export interface RecordContext {
  exportTimeUs: number;
  /** NetFlow v9 header sysUpTime (ms); -1 for IPFIX. */
  sysUptimeMs: number;
}

/**
 * Reads one record of `tpl` at `off` into `f` (already reset) and `s` (reset here): through the
 * template's compiled plan when it has one (no variable-length field), else field by field.
 * @returns the offset after the record, or -1 when it runs past `end`.
 */
export function readRecord(view: DataView, off: number, end: number, tpl: Template, f: ExportedFlow, s: RecordScratch): number {
  const plan = tpl.plan;
  return plan !== null ? readPlannedRecord(view, off, end, plan, f, s) : readRecordFields(view, off, end, tpl, f, s);
}

/**
 * `readRecord` one field at a time through `applyField`, for any template (the reference the
 * compiled plans are tested against).
 */
export function readRecordFields(view: DataView, off: number, end: number, tpl: Template, f: ExportedFlow, s: RecordScratch): number {
  resetScratch(s);
  const { codes, lengths } = tpl;
  const variable = tpl.fixedLength < 0;
  for (let i = 0; i < codes.length; i++) {
    let len = lengths[i];
    if (variable && len === VARIABLE_LENGTH) {
      if (off >= end) return -1;
      len = view.getUint8(off++);
      if (len === 255) {
        if (off + 2 > end) return -1;
        len = view.getUint16(off);
        off += 2;
      }
    }
    if (off + len > end) return -1;
    const code = codes[i];
    if (code !== SKIP_FIELD && len > 0) applyField(code, view, off, len, f, s);
    off += len;
  }
  return off;
}

/** Completes a data record: IP version, ICMP, times, sampling. */
export function finishRecord(f: ExportedFlow, s: RecordScratch, ctx: RecordContext, d: ExporterDomain, store: TemplateStore): void {
  f.ipVersion = s.ipVersion === 6 ? 6 : 4;
  if (f.protocol === 1 || f.protocol === 58) {
    if (f.icmpType < 0) {
      // Cisco and softflowd export ICMP type << 8 | code in the destination port (some in the source port).
      const tc = s.icmpTypeCode >= 0 ? s.icmpTypeCode : f.dstPort !== 0 ? f.dstPort : f.srcPort;
      f.icmpType = tc >>> 8;
      f.icmpCode = tc & 0xff;
    } else if (f.icmpCode < 0) f.icmpCode = 0;
    f.srcPort = 0;
    f.dstPort = 0;
  }
  let start = s.startUs;
  let end = s.endUs;
  if (start <= -2) start = ctx.exportTimeUs - (-2 - start);
  if (end <= -2) end = ctx.exportTimeUs - (-2 - end);
  if (start < 0 && s.startUp >= 0) start = upTimeToUs(s.startUp, s, ctx, d);
  if (end < 0 && s.endUp >= 0) end = upTimeToUs(s.endUp, s, ctx, d);
  if ((start < 0 && s.startUp >= 0) || (end < 0 && s.endUp >= 0)) store.count(d, 'time_unresolved');
  if (start < 0) start = end >= 0 ? end : ctx.exportTimeUs;
  if (end < 0) end = start;
  f.timeStartUs = start;
  f.timeEndUs = end;
  let rate = 1;
  if (s.recordInterval > 0) rate = samplingRate(s);
  else if (s.samplerId === SAMPLER_ID_TOO_LARGE) store.count(d, 'sampler_id_too_large');
  else {
    // A record naming a sampler uses that one only (unknown: unsampled), as nfcapd does.
    const sampler = d.samplers.get(s.samplerId > 0 ? s.samplerId : -1);
    if (sampler !== undefined && sampler.interval > 0) rate = sampler.interval;
  }
  if (rate > 1) {
    // A PSAMP rate may be fractional ((interval + space) / interval): counts stay integers.
    f.packetsFwd = Math.round(f.packetsFwd * rate);
    f.bytesFwd = Math.round(f.bytesFwd * rate);
    f.packetsRev = Math.round(f.packetsRev * rate);
    f.bytesRev = Math.round(f.bytesRev * rate);
  }
  f.samplingInterval = rate;
}

/** A sysUpTime-relative time (ms) in µs since epoch; -1 when IPFIX gives no systemInitTime. */
function upTimeToUs(up: number, s: RecordScratch, ctx: RecordContext, d: ExporterDomain): number {
  // v9: the signed 32-bit distance to the header's sysUpTime survives the uptime counter wrapping.
  if (ctx.sysUptimeMs >= 0) return ctx.exportTimeUs + ((up - ctx.sysUptimeMs) | 0) * 1000;
  const init = s.systemInitMs >= 0 ? s.systemInitMs : d.systemInitTimeMs;
  return init >= 0 ? (init + up) * 1000 : -1;
}

/**
 * 1-in-N of a record's sampling elements: samplingInterval / samplingPacketInterval alone is N;
 * with samplingPacketSpace (PSAMP systematic count-based, RFC 5476 §6.5.2.1: take `interval`
 * packets, skip `space`) N = (interval + space) / interval, which softflowd -s exports
 * (interval 1, space N-1) and nfcapd 1.7.1 reads as N = 1.
 */
function samplingRate(s: RecordScratch): number {
  return s.packetSpace > 0 ? (s.recordInterval + s.packetSpace) / s.recordInterval : s.recordInterval;
}

/** Applies an options data record (already read into `s`): sampler tables, systemInitTime. */
export function applyOptionsRecord(s: RecordScratch, d: ExporterDomain, store: TemplateStore): void {
  store.count(d, 'option_records');
  if (s.samplerId === SAMPLER_ID_TOO_LARGE) store.count(d, 'sampler_id_too_large');
  else if (s.recordInterval > 0) store.putSampler(d, s.samplerId >= 0 ? s.samplerId : -1, s.samplingMode >= 0 ? s.samplingMode : 0, samplingRate(s));
  if (s.systemInitMs >= 0) d.systemInitTimeMs = s.systemInitMs;
}
