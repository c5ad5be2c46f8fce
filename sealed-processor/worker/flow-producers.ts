/**
 * The worker's flow producers: each turns one kind of spool record into raw flows of the one
 * shape the anonymizer takes (`RawFlow`), and hands each to `onFlow`.
 *
 * - `PacketFlowProducer` (RecordKind.Packet): decodes the packet and feeds the flow table, which
 *   emits bidirectional flows when they end (record source `packets`).
 * - `ExportFlowProducer` (RecordKind.FlowDatagram): decodes a NetFlow v5 / v9 / IPFIX datagram
 *   with the worker's template store; every exported data record becomes one `RawFlow` at once
 *   (one record = one archive row, never re-assembled).
 *
 * State persistence: the flow table and the template store live in the worker's memory and
 * survive across segments because one worker processes a run's segments in order. Across
 * worker restarts they travel in the worker checkpoint taken at each CUT (writeState /
 * readState; worker-checkpoint.ts, sealed to a key only the processor holds), and a restarted
 * worker continues from it. Without a checkpoint the supervisor replays the run from its first
 * segment (supervisor/run.ts): a template is always in an earlier datagram than the data
 * records it describes, so the rebuilt store holds exactly what the first attempt's held at
 * every record (poison records are skipped in both).
 *
 * Owns: record-kind dispatch targets and their counters. Raw flows exist only inside `onFlow`.
 * Never: logs or returns anything derived from record content but counts (per-exporter counters
 * leave only through `exporterCounters`, with the exporter address anonymized by the caller).
 */
import { RecordKind, SPOOL_DATAGRAM_ADDRESS_BYTES, type SpoolRecordView } from '../../schemas/spool.ts';
import { RecordSource } from '../../schemas/columns.ts';
import { decodePacket } from '../decode/decode-packet.ts';
import { newDecodedPacket, TunnelMode } from '../decode/decoded-packet.ts';
import type { Policy } from '../../schemas/policy.ts';
import { countDecode, decodeCountersSnapshot, newDecodeCounters } from '../decode/decode-counters.ts';
import { FlowTable, type FlowTableOptions } from '../flows/flow-table.ts';
import { newRawFlow, type RawFlow } from '../flows/flow-record.ts';
import { decodeExportDatagram } from '../flow-export/export-datagram.ts';
import { EXPORT_DROPS, EXPORT_EVENTS, type ExportCounters } from '../flow-export/export-counters.ts';
import { SHARED_RAW_FLOW_FIELDS, type ExportedFlow, type ExporterAddress, ExportSource } from '../flow-export/exported-flow.ts';
import { TemplateStore, type TemplateStoreLimits } from '../flow-export/template-store.ts';
import { readTemplateStoreState, writeTemplateStoreState } from '../flow-export/template-store-state.ts';
import type { StateReader, StateWriter } from './state-bytes.ts';

export type OnRawFlow = (flow: RawFlow) => void;

// Every export source is a record source (the column's enum covers both producers).
const _sources: readonly RecordSource[] = Object.values(ExportSource) satisfies readonly RecordSource[];
void _sources;

/** The decoder's tunnel mode a policy asks for (`tunnels`, default inner). */
export function tunnelModeOf(policy: Policy): TunnelMode {
  return policy.tunnels === 'outer' ? TunnelMode.Outer : TunnelMode.Inner;
}

/** Packets → decoder → flow table. */
export class PacketFlowProducer {
  readonly #table: FlowTable;
  readonly #packet = newDecodedPacket();
  readonly #decode = newDecodeCounters();
  readonly #tunnels: TunnelMode;

  constructor(onFlow: OnRawFlow, options: FlowTableOptions = {}, tunnels: TunnelMode = TunnelMode.Inner) {
    this.#table = new FlowTable(options, onFlow);
    this.#tunnels = tunnels;
  }

  /** One packet record; `view` spans `plaintext`, `base` is plaintext's byteOffset. */
  observe(view: DataView, plaintext: Uint8Array, base: number, rec: SpoolRecordView): void {
    const off = rec.data.byteOffset - base;
    const pkt = this.#packet;
    const status = decodePacket(view, plaintext, off, off + rec.capLen, rec.linkType, rec.origLen, pkt, this.#tunnels);
    countDecode(this.#decode, rec.linkType, status);
    if (status !== 0) return;
    this.#table.observe(pkt, rec.tsSec * 1e6 + Math.floor(rec.tsNsec / 1000));
  }

  /** End of input: every live flow is emitted with reason 'eof'. */
  finish(): void {
    this.#table.flush('eof');
  }

  /** Flows in the table now (not emitted yet). */
  get openFlows(): number {
    return this.#table.size;
  }

  /** The flow table's state (worker checkpoint); counters travel with the worker's counts. */
  writeState(w: StateWriter): void {
    this.#table.writeState(w);
  }

  /** Loads `writeState`'s output into this (fresh) producer. @throws StateError */
  readState(r: StateReader): void {
    this.#table.readState(r);
  }

  counts(out: Record<string, number>): void {
    const d = decodeCountersSnapshot(this.#decode);
    out.packets_decoded = d.decoded;
    for (const [k, v] of Object.entries(d.dropped)) out[`drop_${k}`] = v;
    for (const [k, v] of Object.entries(d.byLinkType)) {
      out[`linktype_${k}`] = v.packets;
      for (const [reason, n] of Object.entries(v.byReason)) out[`linktype_${k}_drop_${reason}`] = n;
    }
    for (const [k, v] of Object.entries(this.#table.counters)) if (typeof v === 'number') out[`flowtable_${k}`] = v;
  }
}

/** Per exporter domain diagnostics, exporter address still raw (the caller anonymizes it). */
export interface ExporterCounters {
  readonly exporter: Uint8Array;
  readonly version: 5 | 9 | 10;
  readonly observationDomain: number;
  readonly counters: ExportCounters;
}

/** FlowDatagram records → NetFlow/IPFIX decoder with a per-worker template store. */
export class ExportFlowProducer {
  readonly store: TemplateStore;
  readonly #onFlow: OnRawFlow;
  readonly #raw = newRawFlow();
  readonly #exporter: ExporterAddress = { address: new Uint8Array(16), port: 0 };
  readonly #emit = (f: ExportedFlow): void => this.#copy(f);
  /** The exporter address last converted (decoders pass their domain's own copy: stable). */
  #lastExporter: Uint8Array | null = null;

  constructor(onFlow: OnRawFlow, limits: Partial<TemplateStoreLimits> = {}) {
    this.#onFlow = onFlow;
    this.store = new TemplateStore(limits);
  }

  /** One datagram record: body = 16-byte exporter address, then the UDP payload; port in ifIndex. */
  observe(rec: SpoolRecordView): void {
    if (rec.kind !== RecordKind.FlowDatagram) throw new TypeError('ExportFlowProducer: not a datagram record');
    const body = rec.data;
    this.#exporter.address = body.subarray(0, SPOOL_DATAGRAM_ADDRESS_BYTES);
    this.#exporter.port = rec.ifIndex;
    const receiveUs = rec.tsSec * 1e6 + Math.floor(rec.tsNsec / 1000);
    decodeExportDatagram(body.subarray(SPOOL_DATAGRAM_ADDRESS_BYTES), this.#exporter, receiveUs, this.store, this.#emit);
  }

  /** The template store's state (worker checkpoint). */
  writeState(w: StateWriter): void {
    writeTemplateStoreState(this.store, w);
  }

  /** Loads `writeState`'s output into this (fresh) producer. @throws StateError */
  readState(r: StateReader): void {
    readTemplateStoreState(this.store, r);
  }

  /** End of input: sets still waiting for their template are counted `pending_expired`. */
  finish(): void {
    this.store.flushPending();
  }

  /** Totals as `export_<event>` and `export_drop_<reason>` (non-zero drops only); nothing before the first datagram. */
  counts(out: Record<string, number>): void {
    const c = this.store.counters;
    if (c.datagrams === 0) return;
    for (const n of EXPORT_EVENTS) out[`export_${n}`] = c[n];
    let drops = 0;
    for (const n of EXPORT_DROPS) {
      drops += c[n];
      if (c[n] > 0) out[`export_drop_${n}`] = c[n];
    }
    out.export_drops = drops;
  }

  exporterCounters(): ExporterCounters[] {
    return [...this.store.domains()].map((d) => ({ exporter: d.exporter, version: d.version, observationDomain: d.domain, counters: d.counters }));
  }

  #copy(f: ExportedFlow): void {
    const r = this.#raw;
    for (const k of SHARED_RAW_FLOW_FIELDS) {
      if (k === 'src6' || k === 'dst6') r[k].set(f[k]);
      else (r as unknown as Record<string, number>)[k] = f[k];
    }
    r.endReason = f.endReason;
    r.recordSource = f.source;
    if (f.exporter !== this.#lastExporter) {
      setExporterAddress(f.exporter, r);
      this.#lastExporter = f.exporter;
    }
    r.observationDomain = f.observationDomain;
    r.inputInterface = f.inputInterface;
    r.outputInterface = f.outputInterface;
    r.nextHopVersion = f.nextHopVersion;
    r.nextHopV4 = f.nextHopV4;
    r.nextHop6.set(f.nextHop6);
    r.bgpNextHopVersion = f.bgpNextHopVersion;
    r.bgpNextHopV4 = f.bgpNextHopV4;
    r.bgpNextHop6.set(f.bgpNextHop6);
    r.srcAs = f.srcAs;
    r.dstAs = f.dstAs;
    r.tos = f.tos;
    r.samplingInterval = f.samplingInterval;
    this.#onFlow(r);
  }
}

/**
 * A 16-byte exporter address (IPv4-mapped ::ffff:a.b.c.d for IPv4) into `exporterVersion`,
 * `exporterV4`, `exporter6`: IPv4-mapped becomes version 4, so an exporter's address is
 * anonymized exactly as the same address in src_addr/dst_addr.
 */
export function setExporterAddress(a: Uint8Array, r: RawFlow): void {
  const w = r.exporter6;
  for (let i = 0; i < 4; i++) w[i] = ((a[i * 4] << 24) | (a[i * 4 + 1] << 16) | (a[i * 4 + 2] << 8) | a[i * 4 + 3]) >>> 0;
  const mapped = w[0] === 0 && w[1] === 0 && w[2] === 0xffff;
  r.exporterVersion = mapped ? 4 : 6;
  r.exporterV4 = mapped ? w[3] : 0;
}
