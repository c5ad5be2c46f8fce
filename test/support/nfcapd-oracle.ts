/**
 * The nfcapd + nfdump oracle for flow export: replays captured export datagrams over loopback
 * UDP into a real nfcapd and sums nfdump's records per protocol (flows, and packets/bytes in
 * each direction), for comparison with what flowseal decodes or archives.
 *
 * nfcapd listens on 127.0.0.1 on a free port, writes into a temporary directory, and is
 * stopped by its pid (SIGTERM makes it close its file). Datagrams are paced (nfcapd loses
 * bursts over UDP).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CapturedDatagram } from '../../sealed-processor/flow-export/export-builders.test-util.ts';

/**
 * The softflowd export fixtures in test/fixtures/netflow/ (make-export-fixtures.sh) and the
 * sampling rate each was exported with. nfcapd 1.7.1 applies neither softflowd's v9 nor its
 * PSAMP sampling announcement, flowseal applies both: for sampled fixtures flowseal's totals are
 * `rate` times nfdump's (see test/flow-export-nfdump-oracle.test.ts).
 */
export const EXPORT_FIXTURE_CASES: [file: string, rate: number][] = [['v5.pcap', 1], ['v9.pcap', 1], ['ipfix.pcap', 1], ['ipfix-bidir.pcap', 1], ['v9-sampled.pcap', 2], ['ipfix-sampled.pcap', 2]];

const PROTO_NAMES: Record<string, number> = { TCP: 6, UDP: 17, ICMP: 1, ICMP6: 58 };

/** Per protocol: flows, packets and bytes in both directions. */
export type Totals = Map<number, { flows: number; ipkt: number; ibyt: number; opkt: number; obyt: number }>;

export function addTotals(t: Totals, proto: number, ipkt: number, ibyt: number, opkt: number, obyt: number): void {
  let e = t.get(proto);
  if (!e) t.set(proto, (e = { flows: 0, ipkt: 0, ibyt: 0, opkt: 0, obyt: 0 }));
  e.flows++;
  e.ipkt += ipkt;
  e.ibyt += ibyt;
  e.opkt += opkt;
  e.obyt += obyt;
}

export function scaledTotals(t: Totals, rate: number): Totals {
  const out: Totals = new Map();
  for (const [p, e] of t) out.set(p, { flows: e.flows, ipkt: e.ipkt * rate, ibyt: e.ibyt * rate, opkt: e.opkt * rate, obyt: e.obyt * rate });
  return out;
}

async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Runs nfcapd on loopback, sends the datagrams (paced: nfcapd loses bursts), returns nfdump's totals. */
export async function nfcapdTotals(datagrams: CapturedDatagram[]): Promise<Totals> {
  const dir = mkdtempSync(join(tmpdir(), 'flowseal-nfcapd-'));
  try {
    const port = await freePort();
    const child = spawn('nfcapd', ['-p', String(port), '-b', '127.0.0.1', '-w', dir, '-t', '3600'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (b) => (log += b));
    child.stderr.on('data', (b) => (log += b));
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    // nfcapd logs "Startup" once its socket is bound.
    for (let i = 0; i < 100 && !/Startup/.test(log); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(log, /Startup/, `nfcapd did not start: ${log}`);
    const sock = dgram.createSocket('udp4');
    for (const d of datagrams) {
      await new Promise<void>((r, j) => sock.send(d.payload, port, '127.0.0.1', (e) => (e ? j(e) : r())));
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise<void>((r) => sock.close(() => r()));
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGTERM');
    await exited;
    const files = readdirSync(dir).filter((f) => f.startsWith('nfcapd.') && !f.includes('current'));
    assert.equal(files.length, 1, `nfcapd files: ${files.join(', ')}; log: ${log}`);
    const r = spawnSync('nfdump', ['-r', join(dir, files[0]!), '-q', '-o', 'csv'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const totals: Totals = new Map();
    for (const line of r.stdout.split('\n')) {
      const c = line.split(',');
      if (c.length < 15 || c[0] === 'ts') continue;
      const proto = PROTO_NAMES[c[7]!.trim()] ?? Number(c[7]);
      addTotals(totals, proto, Number(c[11]), Number(c[12]), Number(c[13]), Number(c[14]));
    }
    return totals;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function sortedTotals(t: Totals): [number, object][] {
  return [...t.entries()].sort((a, b) => a[0] - b[0]);
}

