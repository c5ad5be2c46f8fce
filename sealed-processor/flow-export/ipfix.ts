/**
 * IPFIX messages (RFC 7011).
 *
 * Header (§3.1, 16 bytes): 0 u16 version (10) · 2 u16 length (whole message) · 4 u32 export
 * time (s) · 8 u32 sequence (data records sent before this message, mod 2^32, per observation
 * domain) · 12 u32 observation domain id.
 * Sets (§3.3): 0 u16 set id · 2 u16 length (including these 4 bytes). 2: template set —
 * records of u16 template id (≥ 256) · u16 field count · fields. 3: options template set —
 * u16 template id · u16 field count · u16 scope field count (≥ 1) · fields. A field specifier
 * (§3.2) is u16 element id (bit 15: enterprise) · u16 length (65535: variable) · [u32 PEN].
 * A template record with field count 0 withdraws its id (§8.1); id 2 (template set) or 3
 * (options set) withdraws all of that kind. 4..255 reserved. ≥ 256: data set (§3.3.2).
 * Quirks: a length past the datagram is counted (`bad_header_length`) and the bytes present are
 * decoded; sequence numbers are only compared, never trusted (softflowd's are wrong).
 * Never: throws for wire input.
 */
import { decodeDataSet, decodeHeldSets, type EmitFlow } from './data-set.ts';
import { ExportSource, type ExporterAddress } from './exported-flow.ts';
import type { ExporterDomain, TemplateStore } from './template-store.ts';
import { refreshTemplate } from './template.ts';

export const IPFIX_HEADER_BYTES = 16;

/** Decodes one IPFIX message at [off, end) of `view`. */
export function decodeIpfix(
  view: DataView, off: number, end: number, exporter: ExporterAddress, receiveTimeUs: number, store: TemplateStore, emit: EmitFlow,
): void {
  if (end - off < IPFIX_HEADER_BYTES) {
    store.count(null, 'datagram_truncated');
    return;
  }
  const length = view.getUint16(off + 2);
  if (length < IPFIX_HEADER_BYTES) {
    store.count(null, 'bad_header_length');
    return;
  }
  const exportTimeUs = view.getUint32(off + 4) * 1e6;
  const sequence = view.getUint32(off + 8);
  const d = store.domain(exporter.address, exporter.port, 10, view.getUint32(off + 12));
  if (d === null) return;
  d.counters.datagrams++;
  if (off + length > end) store.count(d, 'bad_header_length');
  else end = off + length;
  store.flow.source = ExportSource.Ipfix;
  const ctx = { exportTimeUs, sysUptimeMs: -1 };
  let records = 0;
  let o = off + IPFIX_HEADER_BYTES;
  while (end - o >= 4) {
    const id = view.getUint16(o);
    const len = view.getUint16(o + 2);
    if (len < 4 || o + len > end) {
      store.count(d, 'set_truncated');
      break;
    }
    const body = o + 4;
    const setEnd = o + len;
    if (id === 2 || id === 3) readTemplates(view, body, setEnd, id === 3, d, store, emit);
    else if (id < 256) store.count(d, 'set_reserved_id');
    else {
      const tpl = d.templates.get(id);
      if (tpl !== undefined) records += decodeDataSet(view, body, setEnd, tpl, d, store, ctx, emit);
      else store.hold(d, id, new Uint8Array(view.buffer, view.byteOffset + body, setEnd - body), receiveTimeUs, exportTimeUs, -1);
    }
    o = setEnd;
  }
  if (d.expectedSequence >= 0 && sequence !== d.expectedSequence) store.count(d, 'sequence_gaps');
  d.expectedSequence = (sequence + records) >>> 0;
}

/**
 * Reads a (options) template set, decoding the sets held for each template learnt (their records
 * belong to earlier messages' sequence numbers, so they are not counted for this one).
 */
function readTemplates(view: DataView, o: number, end: number, options: boolean, d: ExporterDomain, store: TemplateStore, emit: EmitFlow): void {
  while (end - o >= 4) {
    const id = view.getUint16(o);
    const count = view.getUint16(o + 2);
    if (count === 0) {
      if (id === 0) return; // padding
      withdraw(id, options, d, store);
      o += 4;
      continue;
    }
    const head = options ? 6 : 4;
    if (id < 256 || o + head > end) {
      store.count(d, 'template_malformed');
      return;
    }
    const scopes = options ? view.getUint16(o + 4) : 0;
    if (options && (scopes === 0 || scopes > count)) {
      store.count(d, 'template_malformed');
      return;
    }
    o += head;
    const tooMany = count > store.limits.maxFieldsPerTemplate;
    const types = new Uint16Array(tooMany ? 0 : count);
    const lengths = new Uint16Array(tooMany ? 0 : count);
    const pens = new Uint32Array(tooMany ? 0 : count);
    for (let i = 0; i < count; i++) {
      if (o + 4 > end) {
        store.count(d, 'template_malformed');
        return;
      }
      const type = view.getUint16(o);
      const length = view.getUint16(o + 2);
      o += 4;
      let pen = 0;
      if (type & 0x8000) {
        if (o + 4 > end) {
          store.count(d, 'template_malformed');
          return;
        }
        pen = view.getUint32(o);
        o += 4;
      }
      if (!tooMany) {
        types[i] = type & 0x7fff;
        lengths[i] = length;
        pens[i] = pen;
      }
    }
    if (tooMany) {
      store.count(d, 'template_too_many_fields');
      continue;
    }
    const tpl = refreshTemplate(10, id, options, scopes, types, lengths, pens, d.templates.get(id));
    if (!store.putTemplate(d, tpl)) continue;
    store.count(d, options ? 'options_templates_added' : 'templates_added');
    decodeHeldSets(tpl, d, store, emit);
  }
}

/** §8.1: withdraws one template id, or all templates of the set's kind (id 2 / 3). */
function withdraw(id: number, options: boolean, d: ExporterDomain, store: TemplateStore): void {
  if (id === (options ? 3 : 2)) {
    for (const [tid, t] of d.templates) {
      if (t.options === options) {
        store.removeTemplate(d, tid);
        store.count(d, 'templates_withdrawn');
      }
    }
    return;
  }
  if (id < 256 || !store.removeTemplate(d, id)) {
    store.count(d, 'withdraw_unknown');
    return;
  }
  store.count(d, 'templates_withdrawn');
}
