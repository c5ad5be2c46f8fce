/**
 * Spool records → decoded packets → bidirectional flows → anonymized rows, in the worker.
 *
 * Owns: the per-record loop (the packet hot path: one DataView per plaintext buffer, one
 * reused DecodedPacket, no per-packet allocation) and the worker's counters. Raw flows exist
 * only inside `#onFlow`, which hands them straight to the anonymizer; only `AnonFlowRow`s
 * leave this class. Never: logs or returns anything derived from packet content but counts.
 */
import { iterateSpoolRecords, RecordKind, type SpoolRecordView } from '../../schemas/spool.ts';
import { decodePacket } from '../decode/decode-packet.ts';
import { newDecodedPacket } from '../decode/decoded-packet.ts';
import { countDecode, decodeCountersSnapshot, newDecodeCounters } from '../decode/decode-counters.ts';
import { FlowTable, type FlowTableOptions } from '../flows/flow-table.ts';
import type { AnonFlowRow, RawFlow } from '../flows/flow-record.ts';
import type { FlowAnonymizer } from '../anonymize/flow-anonymizer.ts';

export class RecordProcessor {
  readonly #anonymizer: FlowAnonymizer;
  readonly #table: FlowTable;
  readonly #packet = newDecodedPacket();
  readonly #decode = newDecodeCounters();
  #rows: AnonFlowRow[] = [];
  #records = 0;
  #skipped = 0;
  #datagrams = 0;
  #flowsByReason: Record<string, number> = {};
  #anonymizeErrors = 0;
  /** Index (within the current segment) of the record being processed: names a poison record. */
  currentIndex = 0;

  constructor(anonymizer: FlowAnonymizer, flowOptions: FlowTableOptions = {}) {
    this.#anonymizer = anonymizer;
    this.#table = new FlowTable(flowOptions, (flow) => this.#onFlow(flow));
  }

  #onFlow(flow: RawFlow): void {
    this.#flowsByReason[flow.endReason] = (this.#flowsByReason[flow.endReason] ?? 0) + 1;
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
    const pkt = this.#packet;
    iterateSpoolRecords(plaintext, (rec: SpoolRecordView) => {
      this.currentIndex = index;
      if (skip.has(index++)) {
        this.#skipped++;
        return;
      }
      beforeRecord?.(this.currentIndex, rec.data);
      this.#records++;
      if (rec.kind !== RecordKind.Packet) {
        // Flow-export datagrams (NetFlow/IPFIX) are spooled by a later ingest source.
        this.#datagrams++;
        return;
      }
      const off = rec.data.byteOffset - base;
      const status = decodePacket(view, plaintext, off, off + rec.capLen, rec.linkType, rec.origLen, pkt);
      countDecode(this.#decode, rec.linkType, status);
      if (status !== 0) return;
      this.#table.observe(pkt, rec.tsSec * 1e6 + Math.floor(rec.tsNsec / 1000));
    });
    return index - firstIndex;
  }

  /** End of input: every live flow is emitted with reason 'eof'. */
  finish(): void {
    this.#table.flush('eof');
  }

  /** Anonymized rows produced since the last call. */
  drainRows(): AnonFlowRow[] {
    const rows = this.#rows;
    this.#rows = [];
    return rows;
  }

  counts(): Record<string, number> {
    const d = decodeCountersSnapshot(this.#decode);
    const out: Record<string, number> = {
      records: this.#records,
      records_skipped_poison: this.#skipped,
      datagrams_unprocessed: this.#datagrams,
      packets_decoded: d.decoded,
      flows_dropped_anonymize_error: this.#anonymizeErrors,
    };
    for (const [k, v] of Object.entries(d.dropped)) out[`drop_${k}`] = v;
    for (const [k, v] of Object.entries(d.byLinkType)) out[`linktype_${k}`] = v.packets;
    for (const [k, v] of Object.entries(this.#flowsByReason)) out[`flows_${k}`] = v;
    for (const [k, v] of Object.entries(this.#table.counters)) if (typeof v === 'number') out[`flowtable_${k}`] = v;
    return out;
  }

  releaseNotes(): Record<string, unknown> {
    return this.#anonymizer.releaseNotes();
  }
}
