/**
 * Test helpers for the filter language (not a test file itself): a small flow set as plain JS
 * objects (packet rows, exported records with the router-export columns — some of them NULL —
 * and rows as an older file reads, every export column NULL), the same flows as a real Parquet
 * archive, an independent reference evaluator of the
 * structured filter over the JS objects, and a runner that compiles a filter with
 * api/query/compile-filter.ts and asks DuckDB which flows match.
 *
 * Independence: addresses are turned into integers by test/support/make-archive.ts's own
 * expansion (not api/query/cidr.ts), CIDR matching, the derived quantities (duration, bps, pps,
 * bpp) and flag tests are computed here from their definitions, and nothing here imports the
 * parser, the printer or the compiler's helpers. Test-only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, BIGINT, DOUBLE, UBIGINT, VARCHAR } from '@duckdb/node-api';
import type { DuckDBType } from '@duckdb/node-api';
import { QueryFilter } from '../../schemas/query.ts';
import type { QueryFilterInput } from '../../schemas/query.ts';
import { addressHalves, makeArchive, type FlowRowInput } from '../../test/support/make-archive.ts';
import type { QueryParam } from '../ports.ts';
import { ParamList, compileFilter } from './compile-filter.ts';

/** One flow as the reference sees it. Durations in whole milliseconds (the archive helper's resolution). */
export interface Flow {
  readonly id: string;
  readonly v: 4 | 6;
  readonly proto: number;
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
  readonly vlan: number | null;
  readonly pf: number;
  readonly bf: number;
  readonly pr: number;
  readonly br: number;
  readonly ff: number;
  readonly fr: number;
  readonly durMs: number;
  readonly reason: 'idle' | 'active' | 'fin' | 'rst' | 'eof';
  /** Router export (schema version 2); absent: a packet row (source `packets`, the rest null). `source: null` is a row of an older file. */
  readonly export?: ExportFields;
}

/** The router-export columns of a flow; null = the row lacks the value. */
export interface ExportFields {
  readonly source: 'packets' | 'netflow5' | 'netflow9' | 'ipfix' | null;
  readonly exporter: string | null;
  readonly nextHop: string | null;
  readonly bgpNextHop: string | null;
  readonly srcAs: number | null;
  readonly dstAs: number | null;
  readonly inIf: number | null;
  readonly outIf: number | null;
  readonly tos: number | null;
  readonly domain: number | null;
}

const PACKET_ROW: ExportFields = { source: 'packets', exporter: null, nextHop: null, bgpNextHop: null, srcAs: null, dstAs: null, inIf: null, outIf: null, tos: null, domain: null };
/** A flow's export columns (a packet row's when it has none). */
export const exportOf = (f: Flow): ExportFields => f.export ?? PACKET_ROW;

const V4 = ['10.0.0.1', '10.0.0.2', '10.1.2.3', '10.255.255.255', '192.168.1.10', '192.168.1.200', '172.16.5.4', '8.8.8.8', '1.2.3.4'];
const V6 = ['2001:db8::1', '2001:db8::2', '2001:db8:1::5', '2001:db8:ffff::1', 'fe80::1', '::1', '2606:4700::1111', '2001:db8::ff00:1'];
const PORTS = [0, 22, 53, 80, 443, 1023, 1024, 8080, 40000, 65535];
const FLAGS = [0, 2, 18, 17, 24, 4, 20, 41, 194, 63, 255, 16];
const VLANS = [null, 10, 20, 4095];
const BYTES = [0, 40, 60, 1000, 1001, 1500, 999_999, 1_000_000, 2_500_000, 1_000_000_001];
const PACKETS = [0, 1, 2, 3, 10, 1000, 1001];
const DURATIONS = [0, 1, 500, 1000, 2500, 60_000];
const REASONS = ['idle', 'active', 'fin', 'rst', 'eof'] as const;

/** Hand-picked flows for edges, then pseudo-random ones from the pools above (fixed seed). */
function buildFlows(): Flow[] {
  const base = { vlan: null, pr: 0, br: 0, ff: 0, fr: 0, reason: 'idle' } as const;
  const flows: Flow[] = [
    { ...base, id: 'syn', v: 4, proto: 6, src: '10.0.0.1', dst: '192.168.1.10', sport: 40000, dport: 443, pf: 1, bf: 60, ff: 2, durMs: 0 },
    { ...base, id: 'web', v: 4, proto: 6, src: '10.0.0.2', dst: '8.8.8.8', sport: 40001, dport: 80, pf: 10, bf: 1500, pr: 8, br: 999_999, ff: 27, fr: 26, durMs: 1000, reason: 'fin' },
    { ...base, id: 'rst', v: 4, proto: 6, src: '192.168.1.200', dst: '10.1.2.3', sport: 1024, dport: 22, pf: 3, bf: 180, ff: 2, fr: 20, durMs: 1, reason: 'rst' },
    { ...base, id: 'dns', v: 4, proto: 17, src: '172.16.5.4', dst: '8.8.8.8', sport: 53000, dport: 53, pf: 1, bf: 70, pr: 1, br: 200, durMs: 2, vlan: 10 },
    { ...base, id: 'udpflags', v: 4, proto: 17, src: '1.2.3.4', dst: '10.0.0.1', sport: 5000, dport: 5001, pf: 2, bf: 2000, ff: 18, durMs: 500 },
    { ...base, id: 'ping', v: 4, proto: 1, src: '10.0.0.1', dst: '1.2.3.4', sport: 0, dport: 0, pf: 4, bf: 336, pr: 4, br: 336, durMs: 3000, vlan: 20 },
    { ...base, id: 'gre', v: 4, proto: 47, src: '10.255.255.255', dst: '172.16.5.4', sport: 0, dport: 0, pf: 1000, bf: 1_000_000, durMs: 60_000, reason: 'active' },
    { ...base, id: 'v6web', v: 6, proto: 6, src: '2001:db8::1', dst: '2606:4700::1111', sport: 50000, dport: 443, pf: 20, bf: 3000, pr: 30, br: 2_500_000, ff: 218, fr: 82, durMs: 2500, reason: 'fin' },
    { ...base, id: 'v6ssh', v: 6, proto: 6, src: '2001:db8:1::5', dst: '2001:db8::2', sport: 60000, dport: 22, pf: 5, bf: 500, ff: 24, durMs: 10, vlan: 4095 },
    { ...base, id: 'v6nd', v: 6, proto: 58, src: 'fe80::1', dst: 'fe80::1', sport: 0, dport: 0, pf: 1, bf: 72, durMs: 0, reason: 'eof' },
    { ...base, id: 'v6udp', v: 6, proto: 17, src: '::1', dst: '2001:db8:ffff::1', sport: 65535, dport: 8080, pf: 0, bf: 0, durMs: 100 },
    { ...base, id: 'allflags', v: 4, proto: 6, src: '192.168.1.10', dst: '10.0.0.2', sport: 1023, dport: 65535, pf: 2, bf: 1001, ff: 255, durMs: 5, vlan: 10 },
    { ...base, id: 'big', v: 4, proto: 6, src: '8.8.8.8', dst: '10.0.0.1', sport: 443, dport: 40002, pf: 1001, bf: 1_000_000_001, pr: 500, br: 20_000, ff: 16, fr: 17, durMs: 2000, reason: 'fin' },
  ];
  let seed = 0x2545f491;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!;
  for (let i = 0; i < 48; i += 1) {
    const v = rnd(3) === 0 ? 6 : 4;
    const proto = pick(v === 4 ? [6, 6, 17, 1, 47] : [6, 6, 17, 58]);
    const ported = proto === 6 || proto === 17;
    flows.push({
      id: `r${i}`, v, proto, src: pick(v === 4 ? V4 : V6), dst: pick(v === 4 ? V4 : V6),
      sport: ported ? pick(PORTS) : 0, dport: ported ? pick(PORTS) : 0, vlan: pick(VLANS),
      pf: pick(PACKETS), bf: pick(BYTES), pr: pick(PACKETS), br: pick(BYTES),
      ff: proto === 6 ? pick(FLAGS) : 0, fr: proto === 6 ? pick(FLAGS) : 0, durMs: pick(DURATIONS), reason: pick(REASONS),
    });
  }
  // Rows of a file older than schema version 2: every export column (record_source too) NULL.
  const old = { source: null, exporter: null, nextHop: null, bgpNextHop: null, srcAs: null, dstAs: null, inIf: null, outIf: null, tos: null, domain: null } as const;
  flows.push({ ...base, id: 'old1', v: 4, proto: 6, src: '10.0.0.1', dst: '8.8.8.8', sport: 40003, dport: 443, pf: 3, bf: 180, ff: 18, durMs: 10, export: old });
  flows.push({ ...base, id: 'old2', v: 6, proto: 17, src: '2001:db8::1', dst: '2001:db8::2', sport: 53, dport: 53, pf: 1, bf: 80, durMs: 0, export: old });
  return [...flows, ...exportFlows()];
}

const ROUTERS = ['192.0.2.1', '192.0.2.2', '198.51.100.254', '2001:db8:e::1'];
const HOPS = ['10.0.0.1', '10.1.2.3', '192.168.1.200', '0.0.0.0', '2001:db8::1', '2001:db8:ffff::1', 'fe80::1', '::', null];
const AS_NUMBERS = [0, 1, 13_335, 64_512, 65_001, 4_200_000_000, 0xffff_ffff, null];
const INTERFACES = [0, 1, 2, 3, 9, 70_000, 0xffff_ffff, null];
const TOS = [0, 32, 40, 184, 255, null];
const DOMAINS = [0, 7, 258, 4_000_000_000, null];

/** Exported records (own seed, so the packet flows above stay as they were). */
function exportFlows(): Flow[] {
  let seed = 0x1f2e3d4c;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!;
  const out: Flow[] = [];
  for (let i = 0; i < 36; i += 1) {
    const source = pick(['netflow5', 'netflow9', 'ipfix'] as const);
    // NetFlow v5 is IPv4 only, with 16-bit AS numbers and interfaces.
    const v = source === 'netflow5' || rnd(3) > 0 ? 4 : 6;
    const proto = pick(v === 4 ? [6, 6, 17, 1] : [6, 17, 58]);
    const ported = proto === 6 || proto === 17;
    const small = <T extends number | null>(x: T): T => (source === 'netflow5' && x !== null && x > 0xffff ? (0xffff as T) : x);
    out.push({
      id: `x${i}`, v, proto, src: pick(v === 4 ? V4 : V6), dst: pick(v === 4 ? V4 : V6),
      sport: ported ? pick(PORTS) : 0, dport: ported ? pick(PORTS) : 0, vlan: null,
      pf: pick(PACKETS), bf: pick(BYTES), pr: 0, br: 0, ff: proto === 6 ? pick(FLAGS) : 0, fr: 0, durMs: pick(DURATIONS), reason: 'idle',
      export: {
        source, exporter: pick(ROUTERS), nextHop: pick(HOPS), bgpNextHop: source === 'netflow5' ? null : pick(HOPS),
        srcAs: small(pick(AS_NUMBERS)), dstAs: small(pick(AS_NUMBERS)), inIf: small(pick(INTERFACES)), outIf: small(pick(INTERFACES)),
        tos: pick(TOS), domain: source === 'netflow5' ? pick([0, 258]) : pick(DOMAINS),
      },
    });
  }
  return out;
}

export const FLOWS: readonly Flow[] = buildFlows();
export const ALL_IDS: readonly string[] = FLOWS.map((f) => f.id).sort();

// ---- independent definitions ----

function addr128(text: string): { v: 4 | 6; x: bigint } {
  const h = addressHalves(text);
  return { v: h.version, x: (h.hi << 64n) | h.lo };
}

/** `addr` in `cidr` (a bare address is a host route); families never mix. */
export function inCidr(addr: string, cidr: string): boolean {
  const [net, len] = cidr.split('/') as [string, string | undefined];
  const a = addr128(addr);
  const n = addr128(net);
  if (a.v !== n.v) return false;
  const bits = BigInt((a.v === 4 ? 96 : 0) + (len === undefined ? (a.v === 4 ? 32 : 128) : Number(len)));
  const shift = 128n - bits;
  return a.x >> shift === n.x >> shift;
}

export const bytesOf = (f: Flow): number => f.bf + f.br;
export const packetsOf = (f: Flow): number => f.pf + f.pr;
export const flagsOf = (f: Flow): number => f.ff | f.fr;
const durUs = (f: Flow): number => f.durMs * 1000;
export const durationOf = (f: Flow): number => durUs(f) / 1000;
export const bpsOf = (f: Flow): number => (durUs(f) > 0 ? (bytesOf(f) * 8_000_000) / durUs(f) : 0);
export const ppsOf = (f: Flow): number => (durUs(f) > 0 ? (packetsOf(f) * 1_000_000) / durUs(f) : 0);
export const bppOf = (f: Flow): number => (packetsOf(f) > 0 ? bytesOf(f) / packetsOf(f) : 0);

type Int = number | readonly number[] | { min: number; max: number };
function intMatch(v: number | null, m: Int): boolean {
  if (v === null) return false;
  if (typeof m === 'number') return v === m;
  if (Array.isArray(m)) return m.includes(v);
  const r = m as { min: number; max: number };
  return v >= r.min && v <= r.max;
}
function bounds(v: number, c: { min?: number; max?: number; gt?: number; lt?: number }): boolean {
  return (c.min === undefined || v >= c.min) && (c.max === undefined || v <= c.max) && (c.gt === undefined || v > c.gt) && (c.lt === undefined || v < c.lt);
}
const nets = (m: string | readonly string[]): readonly string[] => (typeof m === 'string' ? [m] : m);

const anyNet = (a: string | null, m: string | readonly string[] | undefined): boolean => m === undefined || (a !== null && nets(m).some((c) => inCidr(a, c)));
const anyInt = (vs: readonly (number | null)[], m: Int | undefined): boolean => m === undefined || vs.some((v) => intMatch(v, m));

/** The router-export keys (a NULL value never matches). */
function matchesExport(f: QueryFilter, x: ExportFields): boolean {
  if (f.recordSource !== undefined && (x.source === null || !(typeof f.recordSource === 'string' ? [f.recordSource] : f.recordSource).includes(x.source))) return false;
  return anyNet(x.exporter, f.exporterNet) && anyNet(x.nextHop, f.nextHopNet) && anyNet(x.bgpNextHop, f.bgpNextHopNet)
    && anyInt([x.srcAs], f.srcAs) && anyInt([x.dstAs], f.dstAs) && anyInt([x.srcAs, x.dstAs], f.as)
    && anyInt([x.inIf], f.inputInterface) && anyInt([x.outIf], f.outputInterface) && anyInt([x.inIf, x.outIf], f.interface)
    && anyInt([x.tos], f.tos) && anyInt([x.domain], f.observationDomain);
}

/** Whether `flow` matches a validated structured filter: the reference semantics, key by key. */
export function matches(f: QueryFilter, flow: Flow): boolean {
  if (f.protocol !== undefined && !intMatch(flow.proto, f.protocol as Int)) return false;
  if (f.ipVersion !== undefined && flow.v !== f.ipVersion) return false;
  if (f.srcPort !== undefined && !intMatch(flow.sport, f.srcPort)) return false;
  if (f.dstPort !== undefined && !intMatch(flow.dport, f.dstPort)) return false;
  if (f.port !== undefined && !intMatch(flow.sport, f.port) && !intMatch(flow.dport, f.port)) return false;
  if (f.srcNet !== undefined && !nets(f.srcNet).some((c) => inCidr(flow.src, c))) return false;
  if (f.dstNet !== undefined && !nets(f.dstNet).some((c) => inCidr(flow.dst, c))) return false;
  if (f.net !== undefined && !nets(f.net).some((c) => inCidr(flow.src, c) || inCidr(flow.dst, c))) return false;
  if (f.vlanId !== undefined && !intMatch(flow.vlan, f.vlanId)) return false;
  if (f.bytes !== undefined && !bounds(bytesOf(flow), f.bytes)) return false;
  if (f.packets !== undefined && !bounds(packetsOf(flow), f.packets)) return false;
  if (f.endReason !== undefined && !(typeof f.endReason === 'string' ? [f.endReason] : f.endReason).includes(flow.reason)) return false;
  if (f.tcpFlags !== undefined) {
    const { all, any } = typeof f.tcpFlags === 'number' ? { all: f.tcpFlags, any: undefined } : f.tcpFlags;
    if (flow.proto !== 6) return false;
    if (all !== undefined && (flagsOf(flow) & all) !== all) return false;
    if (any !== undefined && (flagsOf(flow) & any) === 0) return false;
  }
  if (f.duration !== undefined && !bounds(durationOf(flow), f.duration)) return false;
  if (f.bps !== undefined && !bounds(bpsOf(flow), f.bps)) return false;
  if (f.pps !== undefined && !bounds(ppsOf(flow), f.pps)) return false;
  if (f.bpp !== undefined && !bounds(bppOf(flow), f.bpp)) return false;
  if (!matchesExport(f, exportOf(flow))) return false;
  if (f.and !== undefined && !f.and.every((x) => matches(x, flow))) return false;
  if (f.or !== undefined && !f.or.some((x) => matches(x, flow))) return false;
  if (f.not !== undefined && matches(f.not, flow)) return false;
  return true;
}

/** Ids of the flows (default FLOWS) a filter, as a client sends it, matches by the reference, sorted. */
export function referenceIds(filter: QueryFilterInput, flows: readonly Flow[] = FLOWS): string[] {
  const f = QueryFilter.parse(filter);
  return flows.filter((flow) => matches(f, flow)).map((flow) => flow.id).sort();
}

// ---- the same flows in a real archive ----

function row(f: Flow, i: number): FlowRowInput {
  const startMs = Date.parse('2026-03-01T10:00:00.000Z') + i * 10;
  return {
    time_start: new Date(startMs).toISOString(), time_end: new Date(startMs + f.durMs).toISOString(),
    protocol: f.proto, src_addr: f.src, dst_addr: f.dst, src_port: f.sport, dst_port: f.dport, vlan_id: f.vlan,
    packets_fwd: f.pf, bytes_fwd: f.bf, packets_rev: f.pr, bytes_rev: f.br, tcp_flags_fwd: f.ff, tcp_flags_rev: f.fr,
    end_reason: f.reason, tls_sni: f.id, ...exportRow(exportOf(f)),
  };
}

function exportRow(x: ExportFields): Partial<FlowRowInput> {
  return {
    record_source: x.source, exporter_addr: x.exporter, next_hop_addr: x.nextHop, bgp_next_hop_addr: x.bgpNextHop, src_as: x.srcAs, dst_as: x.dstAs,
    input_interface: x.inIf, output_interface: x.outIf, tos: x.tos, observation_domain: x.domain,
  };
}

function paramType(v: QueryParam): DuckDBType {
  if (typeof v === 'bigint') return UBIGINT;
  if (typeof v === 'string') return VARCHAR;
  if (typeof v === 'number') return Number.isInteger(v) ? BIGINT : DOUBLE;
  throw new TypeError(`unexpected filter parameter ${typeof v}`);
}

export interface FlowArchive {
  /** Ids of the flows DuckDB returns for the compiled filter, sorted. */
  ids(filter: QueryFilterInput): Promise<string[]>;
  close(): void;
}

/** Writes `flows` (default FLOWS) as a Parquet archive and opens DuckDB over it. */
export async function openFlowArchive(flows: readonly Flow[] = FLOWS): Promise<FlowArchive> {
  const dir = mkdtempSync(join(tmpdir(), 'flowseal-filter-'));
  const [file] = await makeArchive(dir, { dataset: 'lab', rows: flows.map(row), manifest: false });
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  return {
    async ids(filter) {
      const p = new ParamList();
      const source = p.add(file!);
      const where = compileFilter(QueryFilter.parse(filter), p, 100_000);
      const sql = `SELECT tls_sni FROM read_parquet(${source}) WHERE ${where} ORDER BY tls_sni`;
      const values = p.values as (string | number | bigint)[];
      const reader = await conn.runAndReadAll(sql, values, values.map(paramType));
      return reader.getRows().map((r) => String(r[0])).sort();
    },
    close() {
      conn.closeSync();
      instance.closeSync();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
