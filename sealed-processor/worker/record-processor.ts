/**
 * Spool records → flow producers → anonymized rows, in the worker.
 *
 * Owns: the per-record loop and record-kind dispatch (flow-producers.ts): packet records go to
 * the packet decoder and flow table, flow-export datagrams (NetFlow v5/v9/IPFIX) to the export
 * decoder and its template store. Both producers emit the same `RawFlow` shape into `#onFlow`,
 * which hands it straight to the anonymizer; only `AnonFlowRow`s leave this class. The packet
 * hot path stays as it was: one DataView per plaintext buffer, no per-packet allocation.
 * Never: logs or returns anything derived from record content but counts; per-exporter
 * diagnostics (release notes) carry the exporter address only as the anonymizer maps it.
 */
import { iterateSpoolRecords, RecordKind, type SpoolRecordView } from '../../schemas/spool.ts';
import type { FlowTableOptions } from '../flows/flow-table.ts';
import type { AnonFlowRow, RawFlow } from '../flows/flow-record.ts';
import type { FlowAnonymizer } from '../anonymize/flow-anonymizer.ts';
import { exportCountersSnapshot } from '../flow-export/export-counters.ts';
import { ExportFlowProducer, PacketFlowProducer, setExporterAddress } from './flow-producers.ts';
import { newRawFlow } from '../flows/flow-record.ts';

/** Exporter domains listed in the release notes (the rest are counted in `exportersOmitted`). */
const MAX_EXPORTERS_NOTED = 256;

export class RecordProcessor {
  readonly #anonymizer: FlowAnonymizer;
  readonly #packets: PacketFlowProducer;
  readonly #export: ExportFlowProducer;
  #rows: AnonFlowRow[] = [];
  #rowSink: ((row: AnonFlowRow) => void) | null = null;
  #records = 0;
  #skipped = 0;
  #flowsByReason: Record<string, number> = {};
  #flowsBySource: Record<string, number> = {};
  #anonymizeErrors = 0;
  /** Index (within the current segment) of the record being processed: names a poison record. */
  currentIndex = 0;

  constructor(anonymizer: FlowAnonymizer, flowOptions: FlowTableOptions = {}) {
    this.#anonymizer = anonymizer;
    const onFlow = (flow: RawFlow): void => this.#onFlow(flow);
    this.#packets = new PacketFlowProducer(onFlow, flowOptions);
    this.#export = new ExportFlowProducer(onFlow);
  }

  #onFlow(flow: RawFlow): void {
    if (flow.endReason !== null) this.#flowsByReason[flow.endReason] = (this.#flowsByReason[flow.endReason] ?? 0) + 1;
    this.#flowsBySource[flow.recordSource] = (this.#flowsBySource[flow.recordSource] ?? 0) + 1;
    // One try per flow (not per packet): a flow the anonymizer cannot handle is dropped and
    // counted instead of being blamed on whichever packet happened to expire it.
    let row: AnonFlowRow;
    try {
      row = this.#anonymizer.anonymizeFlow(flow);
    } catch {
      this.#anonymizeErrors++;
      return;
    }
    if (this.#rowSink !== null) this.#rowSink(row);
    else this.#rows.push(row);
  }

  /**
   * Where rows go from now on, one by one as they are made (it must not throw: ParquetSink.stage
   * keeps a failure for its next drain); null: kept until `drainRows`.
   */
  setRowSink(sink: ((row: AnonFlowRow) => void) | null): void {
    this.#rowSink = sink;
  }

  /**
   * Processes the records of one RECORDS frame. `firstIndex` is the segment-relative index of
   * its first record; records whose index is in `skip` are not processed (known poison).
   * `beforeRecord` runs before each record with its index and bytes (fault injection in tests). Returns the number of
   * records in the frame. Exceptions propagate with `currentIndex` naming the record.
   */
  processPlaintext(plaintext: Uint8Array, firstIndex: number, skip: ReadonlySet<number>, beforeRecord?: (index: number, data: Uint8Array) => void): number {
    const view = new DataView(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
    const base = plaintext.byteOffset;
    let index = firstIndex;
    const packets = this.#packets;
    const exported = this.#export;
    iterateSpoolRecords(plaintext, (rec: SpoolRecordView) => {
      this.currentIndex = index;
      if (skip.has(index++)) {
        this.#skipped++;
        return;
      }
      beforeRecord?.(this.currentIndex, rec.data);
      this.#records++;
      if (rec.kind === RecordKind.Packet) packets.observe(view, plaintext, base, rec);
      else exported.observe(rec);
    });
    return index - firstIndex;
  }

  /** End of input: every live flow is emitted with reason 'eof'; held export sets expire. */
  finish(): void {
    this.#packets.finish();
    this.#export.finish();
  }

  /**
   * What is held and not emitted yet: open flows of the flow table, and export data sets
   * waiting for their template. A CUT reports it (a replay gap loses exactly this, see
   * supervisor/run.ts).
   */
  openState(): { flows: number; exportSets: number } {
    return { flows: this.#packets.openFlows, exportSets: this.#export.store.pendingSize().sets };
  }

  /** Anonymized rows produced since the last call (while no row sink is set). */
  drainRows(): AnonFlowRow[] {
    const rows = this.#rows;
    this.#rows = [];
    return rows;
  }

  counts(): Record<string, number> {
    const out: Record<string, number> = {
      records: this.#records,
      records_skipped_poison: this.#skipped,
      flows_dropped_anonymize_error: this.#anonymizeErrors,
    };
    this.#packets.counts(out);
    this.#export.counts(out);
    for (const [k, v] of Object.entries(this.#flowsByReason)) out[`flows_${k}`] = v;
    for (const [k, v] of Object.entries(this.#flowsBySource)) out[`flows_source_${k}`] = v;
    return out;
  }

  /**
   * The anonymizer's release notes, plus (when the run had export datagrams) counters per
   * exporter domain: the exporter as `exporter_addr` is anonymized (null when the policy drops
   * it), the protocol version, the observation domain, and its counters.
   */
  releaseNotes(): Record<string, unknown> {
    const notes = this.#anonymizer.releaseNotes();
    const domains = this.#export.exporterCounters();
    if (domains.length === 0) return notes;
    const scratch = newRawFlow();
    // Bounded: a manifest is not a per-exporter database (the store allows 4096 domains).
    const exporters = domains.slice(0, MAX_EXPORTERS_NOTED).map((d) => {
      setExporterAddress(d.exporter, scratch);
      return {
        exporter: this.#anonymizer.anonymizeAddress('exporter_addr', scratch),
        version: d.version,
        observationDomain: d.observationDomain,
        counters: exportCountersSnapshot(d.counters),
      };
    });
    return { ...notes, flowExport: { exporters, exportersOmitted: domains.length - exporters.length } };
  }
}
