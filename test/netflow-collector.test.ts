/**
 * The collector against a real exporter: softflowd (`-r` the repository's small fixture
 * captures, NetFlow v5, v9 and IPFIX) sends to `flowseal`'s collector on 127.0.0.1 and on
 * ::1 while tcpdump records the export on lo. Oracles: softflowd's own "in N packets" count
 * and tcpdump's capture, parsed here with fixed offsets (independently of ingest's
 * extractor). Every datagram softflowd sent is in the spool byte-exact with softflowd's
 * address and source port; then `ingest netflow --pcap` of tcpdump's capture seals the same
 * datagrams again. Skips without softflowd, tcpdump or the right to capture on lo (and fails
 * under CI, where .ci/setup-system.sh installs them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runIngestNetflowListen } from '../ingest/netflow/ingest-netflow-listen.ts';
import { runIngestNetflowPcap } from '../ingest/netflow/ingest-netflow-pcap.ts';
import { parseListenAddress } from '../ingest/netflow/listen-address.ts';
import { lineSink, readDatagrams, until, withSpool, type SpooledDatagram } from '../ingest/netflow/netflow-test-helpers.test-util.ts';
import { fixturePath } from './support/capture-facts.ts';
import { skipUnlessTools } from './support/required-tools.ts';

const skip = skipUnlessTools('softflowd', 'tcpdump', 'capture-on-lo');

/** What softflowd exports per run: fixture × version, to IPv4 or IPv6. */
const RUNS: { fixture: string; version: 5 | 9 | 10; family: 4 | 6 }[] = [
  ...(['http-lo.pcap', 'vlan-tls.pcap', 'dns-ns.pcapng'] as const).flatMap((fixture) => ([5, 9, 10] as const).map((version) => ({ fixture, version, family: 4 as const }))),
  { fixture: 'http-lo.pcap', version: 9, family: 6 },
  { fixture: 'dns-ns.pcapng', version: 10, family: 6 },
];

/** Sends one fixture's flows; returns the datagram count softflowd reports ("in N packets"). */
function softflowd(fixture: string, version: number, target: string): number {
  // -a: packet times, not the clock (FACTS); -A milli: v9/IPFIX time format.
  const r = spawnSync('softflowd', ['-r', fixturePath(fixture), '-n', target, '-v', String(version), '-a', '-A', 'milli'], { encoding: 'utf8', timeout: 20_000 });
  const m = /Flows exported: \d+ \(\d+ records\) in (\d+) packets \(0 failures\)/.exec(`${r.stdout}${r.stderr}`);
  assert.ok(m, `softflowd reports its export: ${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

/** UDP datagrams of a tcpdump -i lo capture (little-endian µs pcap, Ethernet), by fixed offsets. */
function datagramsOf(pcap: Buffer): { exporter: string; port: number; dport: number; payload: Buffer }[] {
  if (pcap.length < 24) return [];
  assert.equal(pcap.readUInt32LE(0), 0xa1b2c3d4);
  assert.equal(pcap.readUInt32LE(20), 1, 'Ethernet');
  const out = [];
  for (let o = 24; o + 16 <= pcap.length; ) {
    const cap = pcap.readUInt32LE(o + 8);
    if (o + 16 + cap > pcap.length) break; // a record still being written
    const f = pcap.subarray(o + 16, o + 16 + cap);
    o += 16 + cap;
    const type = f.readUInt16BE(12);
    if (type === 0x0800) {
      const ihl = (f[14]! & 15) * 4;
      const u = 14 + ihl;
      out.push({ exporter: [...f.subarray(26, 30)].join('.'), port: f.readUInt16BE(u), dport: f.readUInt16BE(u + 2), payload: f.subarray(u + 8, u + f.readUInt16BE(u + 4)) });
    } else if (type === 0x86dd) {
      assert.equal(f[20], 17, 'softflowd sends plain UDP over IPv6');
      const u = 54;
      const src = f.subarray(22, 38);
      out.push({ exporter: src.equals(Buffer.from([...Array(15).fill(0), 1])) ? '::1' : 'other', port: f.readUInt16BE(u), dport: f.readUInt16BE(u + 2), payload: f.subarray(u + 8, u + f.readUInt16BE(u + 4)) });
    }
  }
  return out;
}

test('softflowd → collector on 127.0.0.1 and ::1: every exported datagram sealed byte-exact; the tcpdump capture of it replays to the same', { skip }, async () => {
  await withSpool(async (spoolDir, keys, tmp) => {
    const stop = new AbortController();
    const started = { 4: 0, 6: 0 };
    const progress = { 4: lineSink(), 6: lineSink() };
    const collectors = ([4, 6] as const).map((family) =>
      runIngestNetflowListen({
        listen: parseListenAddress(family === 4 ? '127.0.0.1:0' : '[::1]:0'),
        spoolDir,
        runId: `live${family}`,
        signal: stop.signal,
        log: () => undefined,
        progress: { intervalMs: 20, tty: false, write: progress[family].write },
        onListening: (p) => (started[family] = p),
      }),
    );
    const capPath = join(tmp, 'export.pcap');
    let tcpdump: ReturnType<typeof spawn> | null = null;
    try {
      await until('both collectors to listen', () => started[4] > 0 && started[6] > 0);
      let tcpdumpErr = '';
      tcpdump = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-n', '-w', capPath, `udp and (dst port ${started[4]} or dst port ${started[6]})`], { stdio: ['ignore', 'ignore', 'pipe'] });
      tcpdump.stderr!.on('data', (b: Buffer) => (tcpdumpErr += b.toString()));
      await until('tcpdump to listen', () => tcpdumpErr.includes('listening on'), 20_000);
      const sent = { 4: 0, 6: 0 };
      for (const r of RUNS) sent[r.family] += softflowd(r.fixture, r.version, r.family === 4 ? `127.0.0.1:${started[4]}` : `[::1]:${started[6]}`);
      assert.ok(sent[4] >= 9 && sent[6] >= 2);
      const seen = (f: 4 | 6) => (progress[f].lines().filter((l) => l.event === 'progress').at(-1)?.datagrams as number | undefined) ?? 0;
      await until('the collectors to receive everything softflowd sent', () => seen(4) === sent[4] && seen(6) === sent[6], 20_000);
      stop.abort();
      const [r4, r6] = await Promise.all(collectors);
      assert.deepEqual([r4!.records, r4!.queueDrops, r6!.records, r6!.queueDrops], [sent[4], 0, sent[6], 0]);
      // tcpdump -U writes each packet as it is captured: wait for all of them in the file.
      let onWire: ReturnType<typeof datagramsOf> = [];
      const total = sent[4] + sent[6];
      await until('tcpdump to have written every datagram', () => {
        onWire = datagramsOf(readFileSync(capPath));
        return onWire.length >= total;
      }, 20_000);
      const exited = new Promise((r) => tcpdump!.on('exit', r));
      tcpdump.kill('SIGINT');
      await exited;
      tcpdump = null;
      onWire = datagramsOf(await readFile(capPath));
      assert.equal(onWire.length, total, `tcpdump saw every datagram: ${tcpdumpErr}`);
      const live = [...(await readDatagrams(spoolDir, keys, 'live4')).datagrams, ...(await readDatagrams(spoolDir, keys, 'live6')).datagrams];
      const key = (d: { exporter: string; port: number; payload: Buffer }) => `${d.exporter} ${d.port} ${d.payload.toString('hex')}`;
      assert.deepEqual(live.map(key).sort(), onWire.map(key).sort(), 'the spool holds exactly what was on the wire');
      assert.ok(live.every((d) => d.exporter === '127.0.0.1' || d.exporter === '::1'));
      // NetFlow version in the first two bytes: 5, 9 and 10 all arrived.
      assert.deepEqual([...new Set(live.map((d) => d.payload.readUInt16BE(0)))].sort((a, b) => a - b), [5, 9, 10]);

      const replay = await runIngestNetflowPcap({ input: capPath, spoolDir, runId: 'replay', log: () => undefined, port: started[4] });
      assert.equal(replay.datagrams, sent[4]);
      assert.equal(replay.skipped.other_port, sent[6]);
      const replayed: SpooledDatagram[] = (await readDatagrams(spoolDir, keys, 'replay')).datagrams;
      const live4 = (await readDatagrams(spoolDir, keys, 'live4')).datagrams;
      assert.deepEqual(replayed.map(key), live4.map(key), 'the replay seals the same datagrams in the same order');
      replayed.forEach((d, i) => {
        const dt = Math.abs(d.tsSec + d.tsNsec / 1e9 - (live4[i]!.tsSec + live4[i]!.tsNsec / 1e9));
        assert.ok(dt < 1, 'capture time ≈ receive time');
      });
    } finally {
      if (!stop.signal.aborted) stop.abort();
      if (tcpdump && tcpdump.exitCode === null) tcpdump.kill('SIGKILL');
      await Promise.allSettled(collectors);
    }
  });
});
