/**
 * nfdump as an oracle for filter semantics (not a test file itself): writes a synthetic pcap of
 * one-directional packet trains, turns it into an nfcapd file with `nfpcapd -r`, reads nfdump's
 * view of every flow back (`nfdump -o csv`), and answers which flows an expression selects
 * according to nfdump itself (`nfdump -r file 'expr'`). The flows it hands back carry nfdump's
 * own counts, flags and durations, so an archive built from them differs from nfdump's records
 * only in layout.
 *
 * Values are chosen so that nfdump's integer arithmetic is exact: every packet of a flow has one
 * size (bytes per packet is whole) and durations divide 1000 ms (bits and packets per second
 * are whole), where flowseal computes the same quantities as reals. Test-only.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addressHalves } from '../../test/support/make-archive.ts';
import type { Flow } from './filter-flows.test-util.ts';

interface Train {
  readonly v: 4 | 6;
  readonly proto: 6 | 17;
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
  readonly packets: number;
  /** IP total length of every packet. */
  readonly size: number;
  /** TCP flags of each packet (unions to the flow's flags). */
  readonly flags: readonly number[];
  readonly durMs: number;
  readonly startMs: number;
}

const V4 = ['10.0.0.1', '10.0.0.2', '10.1.2.3', '10.200.0.9', '192.168.1.10', '192.168.1.200', '172.16.5.4', '8.8.8.8', '1.2.3.4'];
const V6 = ['2001:db8::1', '2001:db8::2', '2001:db8:1::5', '2001:db8:ffff::1', '2606:4700::1111', 'fd00::7'];
const PORTS = [22, 53, 80, 443, 1023, 1024, 8080, 40000, 65535];
const DURATIONS = [1, 2, 4, 5, 8, 10, 20, 25, 40, 50, 100, 125, 200, 250, 500, 1000];
const FLAG_SETS = [2, 18, 16, 24, 17, 20, 4, 1, 41, 63, 8, 32];

/** A fixed, varied set of packet trains (seeded, so the oracle's flow set never changes). */
function trains(): Train[] {
  let seed = 0x5eed1;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!;
  const out: Train[] = [];
  const base = Date.parse('2026-03-01T10:00:00.000Z');
  for (let i = 0; i < 64; i += 1) {
    const v = rnd(3) === 0 ? 6 : 4;
    const proto = rnd(4) === 0 ? 17 : 6;
    const packets = 1 + rnd(5);
    const header = (v === 4 ? 20 : 40) + (proto === 6 ? 20 : 8);
    const size = header + pick([0, 10, 100, 472, 1000, 1400]);
    const flags = proto === 6 ? Array.from({ length: packets }, () => pick(FLAG_SETS)) : [];
    // Unique source ports keep the 5-tuples apart; every fourth flow uses a well-known one.
    const sport = i % 4 === 0 ? pick(PORTS) : 30000 + i;
    out.push({ v, proto, src: pick(v === 4 ? V4 : V6), dst: pick(v === 4 ? V4 : V6), sport, dport: pick(PORTS), packets, size, flags, durMs: packets === 1 ? 0 : pick(DURATIONS), startMs: base + i * 1000 });
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

/** One Ethernet frame of `t` (payload zeros; checksums other than IPv4's header are left 0). */
function frame(t: Train, flags: number): Uint8Array {
  const ipHeader = t.v === 4 ? 20 : 40;
  const buf = new Uint8Array(14 + t.size);
  const view = new DataView(buf.buffer);
  buf.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], 0);
  view.setUint16(12, t.v === 4 ? 0x0800 : 0x86dd);
  const ip = 14;
  if (t.v === 4) {
    view.setUint8(ip, 0x45);
    view.setUint16(ip + 2, t.size);
    view.setUint8(ip + 8, 64);
    view.setUint8(ip + 9, t.proto);
    buf.set(addressBytes(t.src), ip + 12);
    buf.set(addressBytes(t.dst), ip + 16);
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += view.getUint16(ip + i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    view.setUint16(ip + 10, ~sum & 0xffff);
  } else {
    view.setUint32(ip, 0x6000_0000);
    view.setUint16(ip + 4, t.size - 40);
    view.setUint8(ip + 6, t.proto);
    view.setUint8(ip + 7, 64);
    buf.set(addressBytes(t.src), ip + 8);
    buf.set(addressBytes(t.dst), ip + 24);
  }
  const l = ip + ipHeader;
  view.setUint16(l, t.sport);
  view.setUint16(l + 2, t.dport);
  if (t.proto === 6) {
    view.setUint32(l + 4, 1);
    view.setUint8(l + 12, 5 << 4);
    view.setUint8(l + 13, flags);
    view.setUint16(l + 14, 65535);
  } else {
    view.setUint16(l + 4, t.size - ipHeader);
  }
  return buf;
}

/** A classic little-endian pcap (Ethernet, microsecond stamps) of every train, packets in time order. */
function pcap(all: readonly Train[]): Uint8Array {
  const packets: { us: number; data: Uint8Array }[] = [];
  for (const t of all) {
    for (let k = 0; k < t.packets; k += 1) {
      const atMs = t.startMs + (k === t.packets - 1 ? t.durMs : 0);
      packets.push({ us: atMs * 1000, data: frame(t, t.flags[k] ?? 0) });
    }
  }
  packets.sort((a, b) => a.us - b.us);
  const size = 24 + packets.reduce((n, p) => n + 16 + p.data.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0xa1b2c3d4, true);
  view.setUint16(4, 2, true);
  view.setUint16(6, 4, true);
  view.setUint32(16, 65535, true);
  view.setUint32(20, 1, true);
  let at = 24;
  for (const p of packets) {
    view.setUint32(at, Math.floor(p.us / 1e6), true);
    view.setUint32(at + 4, p.us % 1e6, true);
    view.setUint32(at + 8, p.data.length, true);
    view.setUint32(at + 12, p.data.length, true);
    out.set(p.data, at + 16);
    at += 16 + p.data.length;
  }
  return out;
}

const key = (src: string, dst: string, sport: number, dport: number, proto: number) => {
  const a = addressHalves(src);
  const b = addressHalves(dst);
  return `${a.hi}:${a.lo}|${b.hi}:${b.lo}|${sport}|${dport}|${proto}`;
};

export interface NfdumpOracle {
  /** nfdump's records as flows (ids `n0`…), built from nfdump's own counts, flags and durations. */
  readonly flows: readonly Flow[];
  /** Ids of the flows `nfdump -r file expr` prints, sorted; null when nfdump rejects `expr`. */
  ids(expr: string): string[] | null;
  close(): void;
}

function nfdumpCsv(file: string, expr: string | null): string[][] | null {
  const r = spawnSync('nfdump', ['-q', '-r', file, '-o', 'csv', ...(expr === null ? [] : [expr])], { encoding: 'utf8', timeout: 30_000, maxBuffer: 16 << 20 });
  if (r.status !== 0) return null;
  return r.stdout.split('\n').filter((l) => /^\d{4}-/.test(l)).map((l) => l.split(','));
}

/**
 * Builds the pcap and the nfcapd file and reads nfdump's flows back.
 * @throws Error when nfpcapd or nfdump fail, or nfdump's flows do not line up with the trains.
 */
export function openNfdumpOracle(): NfdumpOracle {
  const dir = mkdtempSync(join(tmpdir(), 'flowseal-nfdump-'));
  const all = trains();
  writeFileSync(join(dir, 'cap.pcap'), pcap(all));
  const out = join(dir, 'flows');
  spawnSync('mkdir', ['-p', out]);
  const made = spawnSync('nfpcapd', ['-r', join(dir, 'cap.pcap'), '-w', out, '-t', '3600'], { encoding: 'utf8', timeout: 60_000 });
  const file = readdirSync(out).filter((f) => f.startsWith('nfcapd.') && !f.includes('current')).map((f) => join(out, f))[0];
  if (made.status !== 0 || file === undefined) throw new Error(`nfpcapd failed: ${made.stderr}`);
  const byKey = new Map(all.map((t, i) => [key(t.src, t.dst, t.sport, t.dport, t.proto), { t, id: `n${i}` }]));
  const rows = nfdumpCsv(file, null) ?? [];
  const idOf = (r: string[]) => byKey.get(key(r[3]!, r[4]!, Number(r[5]), Number(r[6]), r[7] === 'TCP' ? 6 : 17))?.id;
  const flows: Flow[] = rows.map((r) => {
    const known = byKey.get(key(r[3]!, r[4]!, Number(r[5]), Number(r[6]), r[7] === 'TCP' ? 6 : 17));
    if (!known) throw new Error('nfdump returned a flow that is not in the capture');
    // nfdump prints flags as 8 letters CEUAPRSF, '.' where unset: bit 7 first.
    const flags = [...r[8]!].reduce((m, c, i) => (c === '.' ? m : m | (1 << (7 - i))), 0);
    return {
      id: known.id, v: known.t.v, proto: known.t.proto, src: known.t.src, dst: known.t.dst, sport: known.t.sport, dport: known.t.dport,
      vlan: null, pf: Number(r[11]), bf: Number(r[12]), pr: 0, br: 0, ff: flags, fr: 0, durMs: Math.round(Number(r[2]) * 1000), reason: 'idle',
    };
  });
  if (flows.length !== all.length) throw new Error(`nfdump returned ${flows.length} flows for ${all.length} trains`);
  return {
    flows,
    ids(expr) {
      const matched = nfdumpCsv(file, expr);
      return matched === null ? null : matched.map((r) => idOf(r) ?? '?').sort();
    },
    close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
