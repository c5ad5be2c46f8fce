/**
 * The live path a user types: `tcpdump -i lo -U -w - | flowseal pipeline - ...`, with real
 * HTTP connections made on loopback while the capture runs. Needs tcpdump and the right to
 * capture on lo (probed with `tcpdump -i lo -d`, not by uid); skips without them, and fails
 * under CI, where .ci/setup-system.sh installs tcpdump and the run has the capability. The
 * test counts the packets in the pcap stream it forwards, waits for the stream to go quiet
 * (never a fixed sleep), and then requires every forwarded packet in the archive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { FLOWSEAL_BIN } from './support/run-flowseal.ts';
import { archiveTotals } from './support/archive-facts.ts';
import { skipUnlessTools } from './support/required-tools.ts';

const skip = skipUnlessTools('tcpdump', 'capture-on-lo');

function get(port: number): Promise<number> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => ok(res.statusCode ?? 0));
    });
    req.on('error', fail);
    req.end();
  });
}

/** Counts the packet records of a pcap byte stream as it passes (24-byte file header, then 16-byte record headers whose caplen at offset 8 gives the record size). */
function pcapPacketCounter(): { feed(b: Buffer): void; readonly packets: number; readonly bytes: number } {
  let pending = Buffer.alloc(0);
  let packets = 0;
  let bytes = 0;
  let headerSeen = false;
  return {
    feed(b: Buffer) {
      bytes += b.length;
      pending = Buffer.concat([pending, b]);
      if (!headerSeen) {
        if (pending.length < 24) return;
        assert.equal(pending.readUInt32LE(0), 0xa1b2c3d4, 'tcpdump writes little-endian microsecond pcap here');
        pending = pending.subarray(24);
        headerSeen = true;
      }
      while (pending.length >= 16) {
        const size = 16 + pending.readUInt32LE(8);
        if (pending.length < size) break;
        pending = pending.subarray(size);
        packets++;
      }
    },
    get packets() { return packets; },
    get bytes() { return bytes; },
  };
}

async function until(what: string, cond: () => boolean, timeoutMs: number, detail: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${detail()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('tcpdump -w - | flowseal pipeline - archives the live connections', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-live-'));
  const server = createServer((_req, res) => res.end('x'.repeat(5000)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const children: ReturnType<typeof spawn>[] = [];
  try {
    const capture = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-n', '-w', '-', `tcp port ${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let capErr = '';
    capture.stderr.on('data', (b: Buffer) => (capErr += b.toString()));
    const spool = join(dir, 'spool');
    const pipeline = spawn(process.execPath, [FLOWSEAL_BIN, 'pipeline', '-', '--archive', join(dir, 'archive'), '--dataset', 'live', '--spool', spool], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    children.push(capture, pipeline);
    let pipeErr = '';
    pipeline.stderr.on('data', (b: Buffer) => (pipeErr += b.toString()));
    const counter = pcapPacketCounter();
    capture.stdout.on('data', (b: Buffer) => counter.feed(b));
    capture.stdout.pipe(pipeline.stdin);
    const pipelineExit = new Promise<number>((r) => pipeline.on('exit', (c) => r(c ?? 1)));
    // tcpdump says "listening on lo" once the capture is armed; the pipeline has its signal
    // handling armed once the processor key exists.
    await until('tcpdump to listen and the processor to publish its key', () => capErr.includes('listening on') && existsSync(join(spool, 'processor-key.json')), 30_000, () => `${capErr}\n${pipeErr}`);
    const connections = 4;
    for (let i = 0; i < connections; i++) assert.equal(await get(port), 200);
    // Every connection is at least SYN, SYN-ACK, ACK, request, response, FIN, FIN, ACK
    // (some may be coalesced): wait until that many packets have passed and the stream has
    // been quiet for 300 ms, so the SIGINT below cuts off nothing in flight.
    let last = -1;
    let quietSince = Date.now();
    await until(`${connections * 7} packets and a quiet stream`, () => {
      if (counter.packets !== last) { last = counter.packets; quietSince = Date.now(); }
      return counter.packets >= connections * 7 && Date.now() - quietSince >= 300;
    // (The counter sees bytes only as fast as the pipeline reads them: pipe() pauses tcpdump's
    // stream while the pipeline's stdin is full, which on a loaded machine can take a while.)
    }, 120_000, () => `${counter.packets} packets forwarded\n${capErr}`);
    // What Ctrl-C in a terminal does to the foreground pipeline: SIGINT to both processes.
    capture.kill('SIGINT');
    pipeline.kill('SIGINT');
    assert.equal(await pipelineExit, 0, pipeErr.slice(-1500));
    const t = await archiveTotals(join(dir, 'archive'), 'live');
    assert.equal(t.flows, connections, `one flow per TCP connection\n${pipeErr.slice(-3000)}\n${capErr}`);
    const captured = Number(/(\d+) packets? captured/.exec(capErr)?.[1]);
    assert.equal(captured, counter.packets, `tcpdump's own count matches the stream: ${capErr}`);
    assert.equal(t.packets, counter.packets, 'every packet tcpdump wrote is in an archived flow');
  } finally {
    // A failed wait must not leave tcpdump or the pipeline running (the test file would never exit).
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
