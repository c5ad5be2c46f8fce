/**
 * NetFlow v9 export packets (RFC 3954).
 *
 * Header (§5.1, 20 bytes): 0 u16 version (9) · 2 u16 count (records in the packet; exporters
 * get it wrong, so it is not checked) · 4 u32 sysUpTime (ms) · 8 u32 UNIX seconds ·
 * 12 u32 sequence (export packets, per source id) · 16 u32 source id.
 * FlowSets (§5.2): 0 u16 id · 2 u16 length (including these 4 bytes). Id 0: template
 * FlowSet — records of u16 template id (≥ 256) · u16 field count · count × (u16 type · u16 length).
 * Id 1: options template FlowSet (§6.1) — u16 template id · u16 scope length (bytes) ·
 * u16 option length (bytes) · scope fields · option fields (each u16 type · u16 length) · padding.
 * Ids 2..255 reserved (skipped). ≥ 256: data FlowSet of that template (§5.3).
 * Never: throws for wire input; a bad set is counted and skipped by its length, and only a set
 * whose length cannot be trusted ends the packet.
 */
import { decodeDataSet, decodeHeldSets, type EmitFlow } from './data-set.ts';
import { ExportSource, type ExporterAddress } from './exported-flow.ts';
import type { ExporterDomain, TemplateStore } from './template-store.ts';
import { refreshTemplate } from './template.ts';

export const NETFLOW_V9_HEADER_BYTES = 20;

/** Decodes one v9 packet at [off, end) of `view`. Counters and templates go to `store`. */
export function decodeNetflowV9(
  view: DataView, off: number, end: number, exporter: ExporterAddress, receiveTimeUs: number, store: TemplateStore, emit: EmitFlow,
): void {
  if (end - off < NETFLOW_V9_HEADER_BYTES) {
    store.count(null, 'datagram_truncated');
    return;
  }
  const sysUptimeMs = view.getUint32(off + 4);
  const exportTimeUs = view.getUint32(off + 8) * 1e6;
  const sequence = view.getUint32(off + 12);
  const d = store.domain(exporter.address, exporter.port, 9, view.getUint32(off + 16));
  if (d === null) return;
  d.counters.datagrams++;
  if (d.expectedSequence >= 0 && sequence !== d.expectedSequence) store.count(d, 'sequence_gaps');
  d.expectedSequence = (sequence + 1) >>> 0;
  store.flow.source = ExportSource.Netflow9;
  const ctx = { exportTimeUs, sysUptimeMs };
  let o = off + NETFLOW_V9_HEADER_BYTES;
  while (end - o >= 4) {
    const id = view.getUint16(o);
    const len = view.getUint16(o + 2);
    if (len < 4 || o + len > end) {
      store.count(d, 'set_truncated');
      return;
    }
    const body = o + 4;
    const setEnd = o + len;
    if (id === 0) readTemplates(view, body, setEnd, d, store, emit);
    else if (id === 1) readOptionsTemplates(view, body, setEnd, d, store, emit);
    else if (id < 256) store.count(d, 'set_reserved_id');
    else {
      const tpl = d.templates.get(id);
      if (tpl !== undefined) decodeDataSet(view, body, setEnd, tpl, d, store, ctx, emit);
      else store.hold(d, id, new Uint8Array(view.buffer, view.byteOffset + body, setEnd - body), receiveTimeUs, exportTimeUs, sysUptimeMs);
    }
    o = setEnd;
  }
}

function learn(d: ExporterDomain, store: TemplateStore, emit: EmitFlow, id: number, options: boolean, scopes: number, types: Uint16Array, lengths: Uint16Array): void {
  const tpl = refreshTemplate(9, id, options, scopes, types, lengths, new Uint32Array(types.length), d.templates.get(id));
  if (!store.putTemplate(d, tpl)) return;
  store.count(d, options ? 'options_templates_added' : 'templates_added');
  decodeHeldSets(tpl, d, store, emit);
}

function readTemplates(view: DataView, o: number, end: number, d: ExporterDomain, store: TemplateStore, emit: EmitFlow): void {
  while (end - o >= 4) {
    const id = view.getUint16(o);
    const count = view.getUint16(o + 2);
    if (id === 0 && count === 0) return; // padding
    if (id < 256 || count === 0 || o + 4 + count * 4 > end) {
      store.count(d, 'template_malformed');
      return;
    }
    o += 4;
    const fields = fieldList(view, o, count, d, store);
    o += count * 4;
    if (fields) learn(d, store, emit, id, false, 0, fields.types, fields.lengths);
  }
}

/** The `count` (type, length) pairs of a template at `o`; null, counted, beyond the per-template cap. */
function fieldList(view: DataView, o: number, count: number, d: ExporterDomain, store: TemplateStore): { types: Uint16Array; lengths: Uint16Array } | null {
  if (count > store.limits.maxFieldsPerTemplate) {
    store.count(d, 'template_too_many_fields');
    return null;
  }
  const types = new Uint16Array(count);
  const lengths = new Uint16Array(count);
  for (let i = 0; i < count; i++, o += 4) {
    types[i] = view.getUint16(o);
    lengths[i] = view.getUint16(o + 2);
  }
  return { types, lengths };
}

function readOptionsTemplates(view: DataView, o: number, end: number, d: ExporterDomain, store: TemplateStore, emit: EmitFlow): void {
  while (end - o >= 6) {
    const id = view.getUint16(o);
    const scopeBytes = view.getUint16(o + 2);
    const optionBytes = view.getUint16(o + 4);
    if (id === 0 && scopeBytes === 0) return; // padding
    if (id < 256 || scopeBytes % 4 !== 0 || optionBytes % 4 !== 0 || scopeBytes + optionBytes === 0 || o + 6 + scopeBytes + optionBytes > end) {
      store.count(d, 'template_malformed');
      return;
    }
    o += 6;
    const count = (scopeBytes + optionBytes) / 4;
    const fields = fieldList(view, o, count, d, store);
    o += count * 4;
    if (fields) learn(d, store, emit, id, true, scopeBytes / 4, fields.types, fields.lengths);
  }
}
