/**
 * The live collector on real UDP sockets on loopback (IPv4 127.0.0.1 and IPv6 ::1): every
 * datagram sent is in the spool, byte-exact, with the sender's address and port; progress
 * lines parse and their counts match; a burst that overflows the bounded queue is counted
 * (sent = sealed + queue drops + kernel drops), never silently lost, and the counts reach the
 * run collector report the processor's manifest reads; and bad listen addresses are refused
 * with their own codes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { RunCollector, runCollectorName } from '../../schemas/spool.ts';
import { runIngestNetflowListen, type IngestNetflowListenResult } from './ingest-netflow-listen.ts';
import { parseListenAddress } from './listen-address.ts';
import { lineSink, readDatagrams, until, withSpool } from './netflow-test-helpers.test-util.ts';
import type { ProcessorKeys } from '../../sealed-processor/spool/keys.ts';

function datagram(i: number): Buffer {
  // A NetFlow v9-looking header (version 9, count, uptime, secs, sequence, source id) and filler.
  const b = Buffer.alloc(20 + ((i * 37) % 1400));
  b.writeUInt16BE(9, 0);
  b.writeUInt16BE(1, 2);
  b.writeUInt32BE(i, 12);
  for (let k = 20; k < b.length; k++) b[k] = (i * 7 + k) & 0xff;
  return b;
}

async function sender(family: 4 | 6): Promise<Socket> {
  const s = createSocket(family === 6 ? 'udp6' : 'udp4');
  await new Promise<void>((r) => s.bind(0, family === 6 ? '::1' : '127.0.0.1', () => r()));
  return s;
}

function send(s: Socket, msg: Buffer, port: number, host: string): Promise<void> {
  return new Promise((res, rej) => s.send(msg, port, host, (e) => (e ? rej(e) : res())));
}

interface Started {
  port: number;
  stop: () => void;
  done: Promise<IngestNetflowListenResult>;
  progress: ReturnType<typeof lineSink>;
  logs: Record<string, unknown>[];
}

async function start(spoolDir: string, listen: string, runId: string, extra: { queueDatagrams?: number; segmentMaxBytes?: number } = {}): Promise<Started> {
  const ctl = new AbortController();
  const progress = lineSink();
  const logs: Record<string, unknown>[] = [];
  let port = -1;
  const done = runIngestNetflowListen({
    listen: parseListenAddress(listen),
    spoolDir,
    runId,
    signal: ctl.signal,
    log: (o) => logs.push(o as Record<string, unknown>),
    progress: { intervalMs: 20, tty: false, write: progress.write },
    onListening: (p) => (port = p),
    ...extra,
  });
  // Fail fast if it rejects before listening.
  await Promise.race([until('the collector to listen', () => port > 0), done.then(() => undefined)]);
  return { port, stop: () => ctl.abort(), done, progress, logs };
}

async function checkRun(spoolDir: string, keys: ProcessorKeys, runId: string, sent: Buffer[], from: { address: string; port: number }, res: IngestNetflowListenResult): Promise<void> {
  const { datagrams, finals } = await readDatagrams(spoolDir, keys, runId);
  assert.equal(datagrams.length, sent.length, 'every datagram sent is in the spool');
  datagrams.forEach((d, i) => {
    assert.ok(d.payload.equals(sent[i]!), `datagram ${i} byte-exact`);
    assert.equal(d.exporter, from.address);
    assert.equal(d.port, from.port);
    assert.equal(d.origLen, 16 + sent[i]!.length);
  });
  const now = Date.now() / 1000;
  assert.ok(datagrams.every((d) => Math.abs(d.tsSec - now) < 120 && d.tsNsec < 1e9), 'receive times are wall-clock now');
  assert.ok(datagrams.every((d, i) => i === 0 || d.tsSec * 1e9 + d.tsNsec >= datagrams[i - 1]!.tsSec * 1e9 + datagrams[i - 1]!.tsNsec), 'in arrival order');
  assert.deepEqual(finals, finals.map((_, i) => i === finals.length - 1), 'only the last segment is final');
  assert.equal(res.segments, finals.length);
  assert.ok(existsSync(join(spoolDir, 'segments', `${runId}.end`)), 'run-end marker written');
  assert.deepEqual(JSON.parse(await readFile(join(spoolDir, 'segments', `${runId}.end`), 'utf8')), { segments: finals.length });
  await checkCollectorReport(spoolDir, runId, res);
}

/** The run collector report (for the processor's manifest) carries the run's final loss counts. */
async function checkCollectorReport(spoolDir: string, runId: string, res: IngestNetflowListenResult): Promise<void> {
  const report = RunCollector.parse(JSON.parse(await readFile(join(spoolDir, 'segments', runCollectorName(runId)), 'utf8')));
  assert.deepEqual(report, { datagrams: res.datagrams, queueDrops: res.queueDrops, kernelDrops: res.kernelDrops, unreadAtCloseBytes: res.unreadAtCloseBytes, final: true });
}

for (const family of [4, 6] as const) {
  const host = family === 6 ? '::1' : '127.0.0.1';
  test(`IPv${family} on ${host}: every datagram sealed byte-exact with exporter address and port; progress counts match`, async () => {
    await withSpool(async (spoolDir, keys) => {
      const c = await start(spoolDir, family === 6 ? '[::1]:0' : '127.0.0.1:0', `v${family}`, { segmentMaxBytes: 20_000 });
      const s = await sender(family);
      const sent = Array.from({ length: 300 }, (_, i) => datagram(i));
      try {
        // Paced in small groups: this test is about exactness, the burst test about overload.
        for (let i = 0; i < sent.length; i++) {
          await send(s, sent[i]!, c.port, host);
          if (i % 20 === 19) await until('the collector to catch up', () => c.progress.lines().some((l) => l.event === 'progress' && (l.datagrams as number) > i), 10_000);
        }
      } finally {
        c.stop();
      }
      const res = await c.done;
      const from = { address: host, port: s.address().port };
      s.close();
      assert.equal(res.datagrams, sent.length);
      assert.equal(res.records, sent.length);
      assert.equal(res.queueDrops, 0);
      assert.equal(res.kernelDrops ?? 0, 0);
      assert.equal(res.datagramBytes, sent.reduce((n, b) => n + b.length, 0));
      assert.ok(res.recvBufferGranted > 0);
      assert.ok(res.segments >= 3, 'segments rotate by size as for packet ingest');
      await checkRun(spoolDir, keys, `v${family}`, sent, from, res);
      const lines = c.progress.lines();
      assert.ok(lines.length > 0 && lines.every((l) => l.component === 'ingest' && (l.event === 'progress' || l.event === 'drops')));
      for (const l of lines.filter((x) => x.event === 'progress')) {
        for (const k of ['elapsedMs', 'datagrams', 'datagramsPerSec', 'records', 'recordsPerSec', 'bytes', 'bytesPerSec', 'drops', 'queued', 'queueDrops', 'kernelDrops']) assert.equal(typeof l[k], 'number', k);
      }
      const last = lines.filter((x) => x.event === 'progress').at(-1)!;
      assert.equal(last.datagrams, sent.length, 'the last progress line counts every datagram');
      assert.equal(last.drops, 0);
      const listening = c.logs.find((l) => l.event === 'listening')!;
      assert.equal(listening.address, family === 6 ? `[::1]:${c.port}` : `127.0.0.1:${c.port}`);
      assert.equal(listening.recvBufferGranted, res.recvBufferGranted);
    });
  });
}

test('a burst that overflows the bounded queue: drops are counted and reported, the rest sealed in order', async () => {
  await withSpool(async (spoolDir, keys) => {
    // A 4-slot queue and 4 KiB segments (a seal + fsync + rename every few datagrams) cannot
    // keep up with 3,000 datagrams sent back to back.
    const c = await start(spoolDir, '127.0.0.1:0', 'burst', { queueDatagrams: 4, segmentMaxBytes: 4096 });
    const s = await sender(4);
    const sent = Array.from({ length: 3000 }, (_, i) => datagram(i));
    await Promise.all(sent.map((b) => send(s, b, c.port, '127.0.0.1')));
    // Everything the kernel did not drop is delivered once the socket goes quiet.
    let last = -1;
    let quietSince = Date.now();
    await until('the stream to go quiet', () => {
      const n = (c.progress.lines().filter((l) => l.event === 'progress').at(-1)?.datagrams as number | undefined) ?? 0;
      if (n !== last) {
        last = n;
        quietSince = Date.now();
      }
      return Date.now() - quietSince > 300;
    }, 30_000);
    c.stop();
    const res = await c.done;
    s.close();
    assert.ok(res.queueDrops > 0, 'the queue overflowed');
    assert.equal(res.records, res.datagrams - res.queueDrops, 'what the queue took is sealed');
    if (res.kernelDrops !== null) assert.equal(res.datagrams + res.kernelDrops, sent.length, 'sent = delivered + kernel drops: nothing unaccounted');
    const lines = c.progress.lines();
    const dropLines = lines.filter((l) => l.event === 'drops');
    assert.ok(dropLines.length > 0, 'a drops line is written when drops grow');
    assert.equal(lines.filter((l) => l.event === 'progress').at(-1)!.queueDrops, res.queueDrops);
    await checkCollectorReport(spoolDir, 'burst', res);
    const { datagrams } = await readDatagrams(spoolDir, keys, 'burst');
    assert.equal(datagrams.length, res.records);
    // Sealed datagrams are a subsequence of what was sent, in order, byte-exact.
    let j = 0;
    for (const d of datagrams) {
      const seq = d.payload.readUInt32BE(12);
      assert.ok(seq >= j, 'in order');
      assert.ok(d.payload.equals(sent[seq]!));
      j = seq + 1;
    }
  });
});

test('no processor key: refused before binding; a port in use: ERR_LISTEN_FAILED', async () => {
  await withSpool(async (spoolDir, _keys, tmp) => {
    const ctl = new AbortController();
    await assert.rejects(
      runIngestNetflowListen({ listen: parseListenAddress('127.0.0.1:0'), spoolDir: join(tmp, 'no-key'), signal: ctl.signal, log: () => undefined }),
      (e: unknown) => e instanceof AppError && e.code === ErrorCode.SpoolNoPublicKey,
    );
    const taken = await sender(4);
    await assert.rejects(
      runIngestNetflowListen({ listen: parseListenAddress(`127.0.0.1:${taken.address().port}`), spoolDir, signal: ctl.signal, log: () => undefined }),
      (e: unknown) => e instanceof AppError && e.code === ErrorCode.ListenFailed && /EADDRINUSE/.test(e.message),
    );
    taken.close();
    await assert.rejects(
      runIngestNetflowListen({ listen: parseListenAddress('192.0.2.1:0'), spoolDir, signal: ctl.signal, log: () => undefined }),
      (e: unknown) => e instanceof AppError && e.code === ErrorCode.ListenFailed && /EADDRNOTAVAIL/.test(e.message),
    );
  });
});
