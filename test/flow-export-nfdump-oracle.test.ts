/**
 * Ground truth for the flow-export decoders: the softflowd export captured in
 * test/fixtures/netflow/ (make-export-fixtures.sh) is replayed over loopback UDP into a real
 * nfcapd, and nfdump's per-protocol flow counts and packet/byte totals (forward and reverse
 * separately, after sampling) must equal what `decodeExportDatagram` emits for the same
 * datagrams.
 *
 * Sampled export (softflowd -s 2) is the one place the two differ by design: softflowd announces
 * its rate as NetFlow v9 options data (interface-scoped SAMPLING_INTERVAL 34) and as IPFIX PSAMP
 * (samplingPacketInterval 305 = 1, samplingPacketSpace 306 = 1), and nfcapd 1.7.1 applies
 * neither (it reads 305 as the rate and ignores 306). The decoder applies both, so for those
 * fixtures every flow must carry rate 2 and every total must be exactly twice nfdump's.
 *
 * nfcapd listens on 127.0.0.1 on a free port, writes into a temporary directory, and
 * is stopped by its pid (SIGTERM makes it close its file).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeExportDatagram } from '../sealed-processor/flow-export/export-datagram.ts';
import { readExportPcap, type CapturedDatagram } from '../sealed-processor/flow-export/export-builders.test-util.ts';
import { TemplateStore } from '../sealed-processor/flow-export/template-store.ts';
import { skipUnlessTools } from './support/required-tools.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'netflow');
/** Fixture and the sampling rate softflowd exported it with. */
const CASES: [string, number][] = [['v5.pcap', 1], ['v9.pcap', 1], ['ipfix.pcap', 1], ['ipfix-bidir.pcap', 1], ['v9-sampled.pcap', 2], ['ipfix-sampled.pcap', 2]];
const PROTO_NAMES: Record<string, number> = { TCP: 6, UDP: 17, ICMP: 1, ICMP6: 58 };

/** Per protocol: flows, packets and bytes in both directions. */
type Totals = Map<number, { flows: number; ipkt: number; ibyt: number; opkt: number; obyt: number }>;

function add(t: Totals, proto: number, ipkt: number, ibyt: number, opkt: number, obyt: number): void {
  let e = t.get(proto);
  if (!e) t.set(proto, (e = { flows: 0, ipkt: 0, ibyt: 0, opkt: 0, obyt: 0 }));
  e.flows++;
  e.ipkt += ipkt;
  e.ibyt += ibyt;
  e.opkt += opkt;
  e.obyt += obyt;
}

function ours(datagrams: CapturedDatagram[]): { totals: Totals; store: TemplateStore; rates: Set<number> } {
  const store = new TemplateStore();
  const totals: Totals = new Map();
  const rates = new Set<number>();
  for (const d of datagrams) {
    decodeExportDatagram(d.payload, d.exporter, d.timeUs, store, (f) => {
      rates.add(f.samplingInterval);
      add(totals, f.protocol, f.packetsFwd, f.bytesFwd, f.packetsRev, f.bytesRev);
    });
  }
  return { totals, store, rates };
}

function scaled(t: Totals, rate: number): Totals {
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
async function nfcapd(datagrams: CapturedDatagram[]): Promise<Totals> {
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
      add(totals, proto, Number(c[11]), Number(c[12]), Number(c[13]), Number(c[14]));
    }
    return totals;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function sorted(t: Totals): [number, object][] {
  return [...t.entries()].sort((a, b) => a[0] - b[0]);
}

for (const [name, rate] of CASES) {
  test(`${name}: per-protocol flows, packets and bytes equal nfcapd + nfdump's`, { skip: skipUnlessTools('nfdump') }, async () => {
    const datagrams = readExportPcap(readFileSync(join(FIXTURES, name)));
    assert.ok(datagrams.length > 0);
    const { totals, store, rates } = ours(datagrams);
    assert.ok(totals.size > 0, 'the decoder found flows');
    assert.deepEqual([...rates], [rate]);
    const theirs = await nfcapd(datagrams);
    assert.deepEqual(sorted(totals), sorted(scaled(theirs, rate)));
    const { sequence_gaps: _gaps, ...rest } = store.counters;
    assert.equal(rest.pending_expired + rest.record_truncated + rest.set_truncated + rest.template_malformed, 0, JSON.stringify(store.counters));
  });
}
