/**
 * The data-set loop NetFlow v9 and IPFIX share: records of one template, back to back, until
 * fewer bytes remain than the shortest record (padding, RFC 7011 §3.3.1 / RFC 3954 §5.3); and
 * the set held when its template is not known yet, decoded when it arrives.
 * Never: throws for wire input, reads outside [off, end), or allocates per record.
 */
import { resetExportedFlow, type ExportedFlow } from './exported-flow.ts';
import { applyOptionsRecord, finishRecord, readRecord, type RecordContext } from './record.ts';
import type { ExporterDomain, TemplateStore } from './template-store.ts';
import type { Template } from './template.ts';

export type EmitFlow = (flow: ExportedFlow) => void;

/**
 * Decodes the records of one data set body [off, end).
 * @returns the number of records read (flows and options records), for sequence accounting.
 */
export function decodeDataSet(
  view: DataView, off: number, end: number, tpl: Template, d: ExporterDomain, store: TemplateStore, ctx: RecordContext, emit: EmitFlow,
): number {
  if (tpl.minLength === 0) {
    store.count(d, 'record_zero_length');
    return 0;
  }
  const f = store.flow;
  const s = store.scratch;
  f.exporter = d.exporter;
  f.exporterPort = d.port;
  f.observationDomain = d.domain;
  // `flows` counted as store.count(d, 'flows') would, by name: once per record.
  const total = store.counters;
  const own = d.counters;
  let records = 0;
  while (end - off >= tpl.minLength) {
    resetExportedFlow(f);
    const next = readRecord(view, off, end, tpl, f, s);
    if (next < 0) {
      store.count(d, 'record_truncated');
      break;
    }
    off = next;
    records++;
    if (tpl.options) {
      applyOptionsRecord(s, d, store);
      continue;
    }
    finishRecord(f, s, ctx, d, store);
    total.flows++;
    own.flows++;
    emit(f);
  }
  return records;
}

/** Decodes the sets held for a template that just arrived. @returns records read. */
export function decodeHeldSets(tpl: Template, d: ExporterDomain, store: TemplateStore, emit: EmitFlow): number {
  const held = store.takePending(d, tpl.id);
  let records = 0;
  for (const p of held) {
    const view = new DataView(p.body.buffer, p.body.byteOffset, p.body.byteLength);
    records += decodeDataSet(view, 0, p.body.length, tpl, d, store, { exportTimeUs: p.exportTimeUs, sysUptimeMs: p.sysUptimeMs }, emit);
    store.count(d, 'pending_decoded');
  }
  return records;
}
