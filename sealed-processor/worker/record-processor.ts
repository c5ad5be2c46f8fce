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
import { StateError, type StateReader, type StateWriter } from './state-bytes.ts';
import { TunnelMode } from '../decode/decoded-packet.ts';

/** Counter entries a checkpoint may carry (a worker's counts are a few hundred names). */
const MAX_STATE_COUNTS = 65_536;

/** Derived-identifier counts as `group.name` → number (they are two levels deep: derivedCounts()). */
function flattenCounts(x: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (x === null || typeof x !== 'object') return out;
  for (const [k, v] of Object.entries(x as Record<string, unknown>)) {
    if (typeof v === 'number') out[k] = v;
    else if (v !== null && typeof v === 'object') for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) if (typeof v2 === 'number') out[`${k}.${k2}`] = v2;
  }
  return out;
}

/** The inverse of `flattenCounts` (at most two levels, numbers only). */
function unflattenCounts(flat: Record<string, number>): Record<string, unknown> {
  const out: Record<string, Record<string, number> | number> = {};
  for (const [k, v] of Object.entries(flat)) {
    const [a, b, ...rest] = k.split('.');
    const bad = (n: string | undefined) => n !== undefined && (!/^[A-Za-z][A-Za-z0-9_]*$/.test(n) || n in Object.prototype);
    if (rest.length > 0 || !a || bad(a) || bad(b)) throw new StateError('derived counts: bad name');
    if (b === undefined) {
      if (a in out) throw new StateError('derived counts: bad name');
      out[a] = v;
      continue;
    }
    const group = (out[a] ??= {});
    if (typeof group === 'number') throw new StateError('derived counts: bad name');
    group[b] = v;
  }
  return out;
}

/** `base + now`, recursively over plain objects whose leaves are numbers (other leaves: `now`'s). */
export function addNumbers(base: unknown, now: unknown): unknown {
  if (typeof base === 'number' && typeof now === 'number') return base + now;
  if (base === null || now === null || typeof base !== 'object' || typeof now !== 'object' || Array.isArray(base) || Array.isArray(now)) return now;
  const out: Record<string, unknown> = { ...(now as Record<string, unknown>) };
  for (const [k, v] of Object.entries(base as Record<string, unknown>)) out[k] = k in out ? addNumbers(v, out[k]) : v;
  return out;
}

/** Exporter domains listed in the release notes (the rest are counted in `exportersOmitted`). */
const MAX_EXPORTERS_NOTED = 256;

export class RecordProcessor {
  readonly #anonymizer: FlowAnonymizer;
  readonly #packets: PacketFlowProducer;
  readonly #export: ExportFlowProducer;
  #rows: AnonFlowRow[] = [];
  #records = 0;
  #skipped = 0;
  #flowsByReason: Record<string, number> = {};
  #flowsBySource: Record<string, number> = {};
  #anonymizeErrors = 0;
  /** Rows dropped because a committed part already holds them (a replay, see worker-main.ts). */
  #replayed = 0;
  /** Counts of the workers before a restored checkpoint (added to `counts()`). */
  #countsBase: Record<string, number> = {};
  /** Their derived-identifier counts (added to the release notes'). */
  #derivedBase: unknown = null;
  /** Index (within the current segment) of the record being processed: names a poison record. */
  currentIndex = 0;

  /** @param tunnels what tunnelled packets count as (policy `tunnels`, flow-producers.ts tunnelModeOf). */
  constructor(anonymizer: FlowAnonymizer, flowOptions: FlowTableOptions = {}, tunnels: TunnelMode = TunnelMode.Inner) {
    this.#anonymizer = anonymizer;
    const onFlow = (flow: RawFlow): void => this.#onFlow(flow);
    this.#packets = new PacketFlowProducer(onFlow, flowOptions, tunnels);
    this.#export = new ExportFlowProducer(onFlow);
  }

  #onFlow(flow: RawFlow): void {
    if (flow.endReason !== null) this.#flowsByReason[flow.endReason] = (this.#flowsByReason[flow.endReason] ?? 0) + 1;
    this.#flowsBySource[flow.recordSource] = (this.#flowsBySource[flow.recordSource] ?? 0) + 1;
    // One try per flow (not per packet): a flow the anonymizer cannot handle is dropped and
    // counted instead of being blamed on whichever packet happened to expire it.
    try {
      this.#rows.push(this.#anonymizer.anonymizeFlow(flow));
    } catch {
      this.#anonymizeErrors++;
    }
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

  /**
   * This processor's state for a worker checkpoint (worker-checkpoint.ts), taken at a CUT (no
   * rows pending): the counts so far, the derived-identifier counts of the release notes (two
   * levels, flattened to `group.name` counts),
   * the packet producer's flow table, the export producer's template store.
   */
  writeState(w: StateWriter): void {
    if (this.#rows.length > 0) throw new TypeError('RecordProcessor.writeState: rows not drained');
    w.counts(this.counts());
    const notes = this.#anonymizer.releaseNotes() as { derivedIdentifiers?: unknown };
    w.counts(flattenCounts(addNumbers(this.#derivedBase, notes.derivedIdentifiers ?? null)));
    this.#packets.writeState(w);
    this.#export.writeState(w);
  }

  /** Loads `writeState`'s output into this fresh processor. @throws StateError */
  readState(r: StateReader): void {
    this.#countsBase = r.counts(MAX_STATE_COUNTS, 'counts');
    const derived = r.counts(256, 'derived counts');
    this.#derivedBase = Object.keys(derived).length === 0 ? null : unflattenCounts(derived);
    this.#packets.readState(r);
    this.#export.readState(r);
  }

  /** `n` rows drained and dropped: a committed part already holds them. */
  countReplayed(n: number): void {
    this.#replayed += n;
  }

  /** Anonymized rows produced since the last call. */
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
      flows_replayed_committed: this.#replayed,
    };
    this.#packets.counts(out);
    this.#export.counts(out);
    for (const [k, v] of Object.entries(this.#flowsByReason)) out[`flows_${k}`] = v;
    for (const [k, v] of Object.entries(this.#flowsBySource)) out[`flows_source_${k}`] = v;
    for (const [k, v] of Object.entries(this.#countsBase)) out[k] = (out[k] ?? 0) + v;
    return out;
  }

  /**
   * The anonymizer's release notes, plus (when the run had export datagrams) counters per
   * exporter domain: the exporter as `exporter_addr` is anonymized (null when the policy drops
   * it), the protocol version, the observation domain, and its counters.
   */
  releaseNotes(): Record<string, unknown> {
    const own = this.#anonymizer.releaseNotes();
    const notes = this.#derivedBase === null ? own : { ...own, derivedIdentifiers: addNumbers(this.#derivedBase, own.derivedIdentifiers) };
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
