/**
 * nfdump as an oracle for the router-export filters (not a test file itself): a fixed set of
 * exported records — IPFIX from two exporters (IPv4 and IPv6 flows, next hops of either family,
 * the observation domain also as element 149, which is where nfdump reads it), NetFlow v9 from a
 * third and NetFlow v5 from a fourth — is sent over loopback UDP from 127.0.0.2-5 to a real
 * nfcapd, nfdump's view of every record is read back (`-o fmt:`), and the oracle answers which
 * records an expression selects according to `nfdump -r file 'expr'`.
 *
 * The flows it hands back carry nfdump's own values, with what the protocol cannot carry left
 * NULL as flowseal stores it (NetFlow v5 has no BGP next hop; nfdump shows 0.0.0.0 there, so no
 * expression should name that address). Addresses stay short: nfdump's fmt output shortens
 * IPv6 addresses longer than 16 characters. Test-only.
 */
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataSet, ipfixMessage, ipfixTemplateSet, ipv4, record, v5Packet, v9Packet, v9TemplateSet, type Field, type Value } from '../../sealed-processor/flow-export/export-builders.test-util.ts';
import { addressHalves } from '../../test/support/make-archive.ts';
import type { Flow } from './filter-flows.test-util.ts';

type Source = 'ipfix' | 'netflow9' | 'netflow5';
interface ExportRecord {
  readonly source: Source;
  /** Loopback address the datagram is sent from: nfdump's router ip, flowseal's exporter_addr. */
  readonly exporter: string;
  readonly domain: number;
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
  readonly proto: 6 | 17;
  readonly flags: number;
  readonly packets: number;
  readonly bytes: number;
  readonly nextHop: string;
  readonly bgpNextHop: string;
  readonly inIf: number;
  readonly outIf: number;
  readonly srcAs: number;
  readonly dstAs: number;
  readonly tos: number;
}

export const EXPORTERS = { ipfixA: '127.0.0.2', ipfixB: '127.0.0.3', v9: '127.0.0.4', v5: '127.0.0.5' } as const;
const DOMAINS = { [EXPORTERS.ipfixA]: 7, [EXPORTERS.ipfixB]: 4_000_000_000, [EXPORTERS.v9]: 0, [EXPORTERS.v5]: 0 } as const;
export const HOPS4 = ['10.0.0.1', '10.1.2.3', '192.0.2.1', '198.51.100.7'];
export const HOPS6 = ['2001:db8::1', '2001:db8::2', 'fd00::7'];
export const INTERFACES = [0, 1, 2, 3, 9, 70_000, 0xffff_ffff];
export const TOS_VALUES = [0, 32, 40, 184, 255];
const AS_NUMBERS = [0, 1, 13_335, 64_512, 65_001, 4_200_000_000];
const V4 = ['10.0.0.1', '10.0.0.2', '172.16.5.4', '192.168.1.10', '8.8.8.8'];
const V6 = ['2001:db8::1', '2001:db8::2', '2606:4700::1111', 'fd00::7'];
const T0 = Date.parse('2026-03-01T10:00:00.000Z');

/** The records (seeded, so the set never changes); source ports are unique and name each record. */
function records(): ExportRecord[] {
  let seed = 0xe4a0;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!;
  const out: ExportRecord[] = [];
  for (let i = 0; i < 56; i += 1) {
    const exporter = [EXPORTERS.ipfixA, EXPORTERS.ipfixA, EXPORTERS.ipfixB, EXPORTERS.ipfixB, EXPORTERS.v9, EXPORTERS.v5][i % 6]!;
    const source: Source = exporter === EXPORTERS.v9 ? 'netflow9' : exporter === EXPORTERS.v5 ? 'netflow5' : 'ipfix';
    const v6 = source === 'ipfix' && rnd(3) === 0;
    // IPFIX records may carry a next hop of the other family (templates below).
    const hop6 = source === 'ipfix' ? rnd(2) === 0 : false;
    const narrow = <T extends number>(x: T): number => (source === 'netflow5' ? x & 0xffff : x);
    const proto = rnd(3) === 0 ? 17 : 6;
    out.push({
      source, exporter, domain: DOMAINS[exporter], src: pick(v6 ? V6 : V4), dst: pick(v6 ? V6 : V4), sport: 20_000 + i, dport: pick([22, 53, 80, 443]), proto,
      flags: proto === 6 ? pick([2, 18, 16, 17]) : 0, packets: 1 + rnd(9), bytes: 100 * (1 + rnd(20)),
      nextHop: pick(hop6 ? HOPS6 : HOPS4), bgpNextHop: pick(hop6 ? HOPS6 : HOPS4), inIf: narrow(pick(INTERFACES)), outIf: narrow(pick(INTERFACES)),
      srcAs: narrow(pick(AS_NUMBERS)), dstAs: narrow(pick(AS_NUMBERS)), tos: pick(TOS_VALUES),
    });
  }
  return out;
}

function addressBytes(text: string): Uint8Array {
  const { version, hi, lo } = addressHalves(text);
  if (version === 4) return Uint8Array.from(text.split('.').map(Number));
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i += 1) {
    out[i] = Number((hi >> BigInt(56 - 8 * i)) & 0xffn);
    out[8 + i] = Number((lo >> BigInt(56 - 8 * i)) & 0xffn);
  }
  return out;
}
const addr = (text: string): Value => (text.includes(':') ? [16, addressBytes(text)] : [4, addressHalves(text).lo & 0xffff_ffffn]);

// IPFIX (RFC 7011) element ids.
const E = { octets: 1, packets: 2, proto: 4, tos: 5, flags: 6, sport: 7, src4: 8, inIf: 10, dport: 11, dst4: 12, outIf: 14, hop4: 15, srcAs: 16, dstAs: 17, bgp4: 18, src6: 27, dst6: 28, hop6: 62, bgp6: 63, domainId: 149, startMs: 152, endMs: 153 } as const;

/** One IPFIX template per (flow family, next-hop family). */
function ipfixTemplate(v6: boolean, hop6: boolean): { id: number; fields: Field[] } {
  return {
    id: 256 + (v6 ? 2 : 0) + (hop6 ? 1 : 0),
    fields: [
      v6 ? [E.src6, 16] : [E.src4, 4], v6 ? [E.dst6, 16] : [E.dst4, 4], [E.sport, 2], [E.dport, 2], [E.proto, 1], [E.tos, 1], [E.flags, 1],
      [E.packets, 8], [E.octets, 8], [E.inIf, 4], [E.outIf, 4], [E.srcAs, 4], [E.dstAs, 4],
      hop6 ? [E.hop6, 16] : [E.hop4, 4], hop6 ? [E.bgp6, 16] : [E.bgp4, 4], [E.domainId, 4], [E.startMs, 8], [E.endMs, 8],
    ],
  };
}

const startMs = (i: number) => T0 + i * 1000;

function ipfixRecord(r: ExportRecord, i: number): Uint8Array {
  return record(addr(r.src), addr(r.dst), [2, r.sport], [2, r.dport], [1, r.proto], [1, r.tos], [1, r.flags], [8, r.packets], [8, r.bytes],
    [4, r.inIf], [4, r.outIf], [4, r.srcAs], [4, r.dstAs], addr(r.nextHop), addr(r.bgpNextHop), [4, r.domain], [8, startMs(i)], [8, startMs(i) + 500]);
}

/** NetFlow v9 (RFC 3954): the same fields with sysUptime-relative times (21 last, 22 first switched). */
const V9_FIELDS: Field[] = [[E.src4, 4], [E.dst4, 4], [E.sport, 2], [E.dport, 2], [E.proto, 1], [E.tos, 1], [E.flags, 1], [E.packets, 4], [E.octets, 4], [E.inIf, 4], [E.outIf, 4], [E.srcAs, 4], [E.dstAs, 4], [E.hop4, 4], [E.bgp4, 4], [22, 4], [21, 4]];
const UPTIME_MS = 1_000_000;

function v9Record(r: ExportRecord, i: number): Uint8Array {
  const up = UPTIME_MS - (T0 + 60_000 - startMs(i));
  return record(addr(r.src), addr(r.dst), [2, r.sport], [2, r.dport], [1, r.proto], [1, r.tos], [1, r.flags], [4, r.packets], [4, r.bytes],
    [4, r.inIf], [4, r.outIf], [4, r.srcAs], [4, r.dstAs], addr(r.nextHop), addr(r.bgpNextHop), [4, up], [4, up + 500]);
}

/** The datagrams each exporter sends, in order. */
function datagrams(all: readonly ExportRecord[]): Map<string, Uint8Array[]> {
  const out = new Map<string, Uint8Array[]>();
  const add = (exporter: string, d: Uint8Array) => out.set(exporter, [...(out.get(exporter) ?? []), d]);
  const exportSecs = Math.floor((T0 + 60_000) / 1000);
  for (const exporter of [EXPORTERS.ipfixA, EXPORTERS.ipfixB]) {
    const mine = all.map((r, i) => ({ r, i })).filter(({ r }) => r.exporter === exporter);
    const templates = [false, true].flatMap((v6) => [false, true].map((hop6) => ipfixTemplate(v6, hop6)));
    const sets = templates.map((t) => ({ t, rs: mine.filter(({ r }) => 256 + (r.src.includes(':') ? 2 : 0) + (r.nextHop.includes(':') ? 1 : 0) === t.id) })).filter((x) => x.rs.length > 0);
    add(exporter, ipfixMessage({ domain: DOMAINS[exporter], exportTime: exportSecs, sequence: 0 }, [ipfixTemplateSet(templates), ...sets.map((x) => dataSet(x.t.id, x.rs.map(({ r, i }) => ipfixRecord(r, i))))]));
  }
  const v9 = all.map((r, i) => ({ r, i })).filter(({ r }) => r.source === 'netflow9');
  add(EXPORTERS.v9, v9Packet({ sysUptime: UPTIME_MS, unixSecs: exportSecs, sourceId: 0, count: 1 + v9.length }, [v9TemplateSet([{ id: 300, fields: V9_FIELDS }]), dataSet(300, v9.map(({ r, i }) => v9Record(r, i)))]));
  const v5 = all.map((r, i) => ({ r, i })).filter(({ r }) => r.source === 'netflow5');
  for (let k = 0; k < v5.length; k += 30) {
    const chunk = v5.slice(k, k + 30);
    add(EXPORTERS.v5, v5Packet({ sysUptime: UPTIME_MS, unixSecs: exportSecs, sequence: k }, chunk.map(({ r, i }) => {
      const first = UPTIME_MS - (T0 + 60_000 - startMs(i));
      return { src: Number(addressHalves(r.src).lo & 0xffff_ffffn), dst: Number(addressHalves(r.dst).lo & 0xffff_ffffn), nextHop: Number(addressHalves(r.nextHop).lo & 0xffff_ffffn), input: r.inIf, output: r.outIf, packets: r.packets, octets: r.bytes, first, last: first + 500, srcPort: r.sport, dstPort: r.dport, tcpFlags: r.flags, protocol: r.proto, tos: r.tos, srcAs: r.srcAs, dstAs: r.dstAs };
    })));
  }
  return out;
}

async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs nfcapd on 127.0.0.1, sends each exporter's datagrams from its own address, returns the closed file. */
async function collect(byExporter: Map<string, Uint8Array[]>, dir: string): Promise<string> {
  const port = await freePort();
  const child = spawn('nfcapd', ['-p', String(port), '-b', '127.0.0.1', '-w', dir, '-t', '3600'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (b) => (log += b));
  child.stderr.on('data', (b) => (log += b));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  for (let i = 0; i < 100 && !/Startup/.test(log); i++) await sleep(50);
  if (!/Startup/.test(log)) throw new Error(`nfcapd did not start: ${log}`);
  for (const [exporter, list] of byExporter) {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, exporter, () => r()));
    for (const d of list) {
      await new Promise<void>((r, j) => sock.send(d, port, '127.0.0.1', (e) => (e ? j(e) : r())));
      await sleep(20);
    }
    await new Promise<void>((r) => sock.close(() => r()));
  }
  await sleep(300);
  child.kill('SIGTERM');
  await exited;
  const file = readdirSync(dir).filter((f) => f.startsWith('nfcapd.') && !f.includes('current'))[0];
  if (file === undefined) throw new Error(`nfcapd wrote no file: ${log}`);
  return join(dir, file);
}

const FORMAT = 'fmt:%sp|%sa|%da|%dp|%pr|%flg|%ipkt|%ibyt|%td|%in|%out|%sas|%das|%nh|%nhb|%ra|%tos|%odid|%nfv';

function nfdumpRows(file: string, expr: string | null): string[][] | null {
  const r = spawnSync('nfdump', ['-q', '-N', '-r', file, '-o', FORMAT, ...(expr === null ? [] : [expr])], { encoding: 'utf8', timeout: 30_000, maxBuffer: 16 << 20 });
  if (r.status !== 0) return null;
  return r.stdout.split('\n').map((l) => l.split('|').map((c) => c.trim())).filter((c) => c.length > 10);
}

export interface NfdumpExportOracle {
  /** nfdump's records as flows (ids `e<source port>`). */
  readonly flows: readonly Flow[];
  /** The same records as sent, as flowseal's decoders store them (to check nfdump read every field as sent). */
  readonly sent: readonly Flow[];
  /** Ids of the records `nfdump -r file expr` prints, sorted; null when nfdump refuses `expr`. */
  ids(expr: string): string[] | null;
  close(): void;
}

const SOURCE_OF: Record<string, Source> = { Nv5: 'netflow5', Nv9: 'netflow9', Nv10: 'ipfix' };

function sentFlow(r: ExportRecord): Flow {
  return {
    id: `e${r.sport}`, v: r.src.includes(':') ? 6 : 4, proto: r.proto, src: r.src, dst: r.dst, sport: r.sport, dport: r.dport, vlan: null,
    pf: r.packets, bf: r.bytes, pr: 0, br: 0, ff: r.flags, fr: 0, durMs: 500, reason: 'idle',
    export: {
      source: r.source, exporter: r.exporter, nextHop: r.nextHop, bgpNextHop: r.source === 'netflow5' ? null : r.bgpNextHop,
      srcAs: r.srcAs, dstAs: r.dstAs, inIf: r.inIf, outIf: r.outIf, tos: r.tos, domain: r.domain,
    },
  };
}

/**
 * Sends the records through nfcapd and reads nfdump's view back.
 * @throws Error when nfcapd or nfdump fail, or nfdump's records do not line up with those sent.
 */
export async function openNfdumpExportOracle(): Promise<NfdumpExportOracle> {
  const dir = mkdtempSync(join(tmpdir(), 'flowseal-nfdump-export-'));
  const sent = records();
  const file = await collect(datagrams(sent), dir);
  const bySport = new Map(sent.map((r) => [String(r.sport), r]));
  const flows: Flow[] = (nfdumpRows(file, null) ?? []).map((c) => {
    const [sport, src, dst, dport, proto, flg, pkt, byt, td, inIf, outIf, srcAs, dstAs, nh, nhb, ra, tos, odid, nfv] = c as [string, ...string[]];
    const r = bySport.get(sport);
    const source = SOURCE_OF[nfv!];
    if (r === undefined || source !== r.source || src !== r.src || nh !== r.nextHop) throw new Error(`nfdump's record ${c.join('|')} is not one sent`);
    // nfdump prints flags as 8 letters CEUAPRSF, '.' where unset: bit 7 first.
    const flags = [...flg!].reduce((m, ch, k) => (ch === '.' ? m : m | (1 << (7 - k))), 0);
    return {
      id: `e${sport}`, v: src.includes(':') ? 6 : 4, proto: Number(proto) === 6 ? 6 : 17, src, dst: dst!, sport: Number(sport), dport: Number(dport),
      vlan: null, pf: Number(pkt), bf: Number(byt), pr: 0, br: 0, ff: flags, fr: 0, durMs: Math.round(Number(td) * 1000), reason: 'idle',
      export: {
        source, exporter: ra!, nextHop: nh!, bgpNextHop: source === 'netflow5' ? null : nhb!, srcAs: Number(srcAs), dstAs: Number(dstAs),
        inIf: Number(inIf), outIf: Number(outIf), tos: Number(tos), domain: Number(odid),
      },
    } satisfies Flow;
  });
  if (flows.length !== sent.length) throw new Error(`nfdump returned ${flows.length} records for ${sent.length} sent`);
  return {
    flows,
    sent: sent.map(sentFlow),
    ids(expr) {
      const rows = nfdumpRows(file, expr);
      return rows === null ? null : rows.map((c) => `e${c[0]}`).sort();
    },
    close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
