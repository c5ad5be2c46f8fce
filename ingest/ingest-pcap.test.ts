import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError, ErrorCode } from '../schemas/errors.ts';
import { iterateSpoolRecords, RecordKind } from '../schemas/spool.ts';
import { generateProcessorKeys, type ProcessorKeys } from '../sealed-processor/spool/keys.ts';
import { writePublicKey } from '../sealed-processor/spool/key-file.ts';
import { openSegment } from '../sealed-processor/spool/spool-reader.ts';
import { listSegments } from '../sealed-processor/spool/spool-files.ts';
import { encodePcap, encodePcapng, type FixtureBlock, type FixturePacket } from './capture/capture-fixtures.ts';
import { runIngestPcap } from './ingest-pcap.ts';

const MARKER = new TextEncoder().encode('SECRET-PAYLOAD-10.1.2.3');

function payload(i: number): Uint8Array {
  const d = new Uint8Array(MARKER.length + 40 + (i % 50));
  d.set(MARKER);
  d.fill(i & 0xff, MARKER.length);
  return d;
}

async function withSpool(fn: (dir: string, keys: ProcessorKeys) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-ingest-test-'));
  try {
    const keys = await generateProcessorKeys();
    await writePublicKey(join(dir, 'spool'), keys);
    await fn(dir, keys);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface Read {
  final: boolean;
  records: { kind: number; linkType: number; ifIndex: number; tsSec: number; tsNsec: number; origLen: number; data: Uint8Array }[];
}

async function readRun(spoolDir: string, keys: ProcessorKeys, runId: string): Promise<Read[]> {
  const out: Read[] = [];
  for (const s of (await listSegments(spoolDir)).filter((x) => x.runId === runId)) {
    const opened = await openSegment(new Uint8Array(await readFile(join(spoolDir, 'segments', s.name))), keys);
    const records: Read['records'] = [];
    iterateSpoolRecords(opened.plaintext, (r) => records.push({ kind: r.kind, linkType: r.linkType, ifIndex: r.ifIndex, tsSec: r.tsSec, tsNsec: r.tsNsec, origLen: r.origLen, data: r.data.slice() }));
    out.push({ final: opened.header.final, records });
  }
  return out;
}

const blocks: FixtureBlock[] = Array.from({ length: 300 }, (_, i) => ({
  type: 'epb',
  ifIndex: i % 2,
  tsSec: 1_700_000_000 + i,
  tsNsec: (i * 7919) % 1_000_000_000,
  origLen: 1500,
  data: payload(i),
}));
const pcapng = encodePcapng([{ littleEndian: false, interfaces: [{ linkType: 1, tsresol: 9 }, { linkType: 276, tsresol: 9 }], blocks }]);

test('a pcapng capture ends up sealed in the spool, every packet intact, logs with counts only', async () => {
  await withSpool(async (dir, keys) => {
    const input = join(dir, 'in.pcapng');
    await writeFile(input, pcapng);
    const logs: object[] = [];
    const res = await runIngestPcap({ input, spoolDir: join(dir, 'spool'), runId: 'e2e', log: (o) => logs.push(o), segmentMaxBytes: 8000 });
    assert.equal(res.records, 300);
    assert.deepEqual(res.linkTypes, { 1: 150, 276: 150 });
    const segs = await readRun(join(dir, 'spool'), keys, 'e2e');
    assert.equal(segs.length, res.segments);
    assert.ok(segs.length >= 4);
    assert.deepEqual(segs.map((s) => s.final), segs.map((_, i) => i === segs.length - 1));
    const records = segs.flatMap((s) => s.records);
    assert.equal(records.length, 300);
    records.forEach((r, i) => {
      const b = blocks[i] as FixturePacket;
      assert.deepEqual(r, { kind: RecordKind.Packet, linkType: i % 2 ? 276 : 1, ifIndex: b.ifIndex, tsSec: b.tsSec, tsNsec: b.tsNsec, origLen: 1500, data: b.data });
    });
    const text = JSON.stringify(logs);
    assert.ok(!text.includes('SECRET') && !text.includes('10.1.2.3'));
    // The spool holds no plaintext payload either.
    for (const s of await listSegments(join(dir, 'spool'))) {
      const bytes = await readFile(join(dir, 'spool', 'segments', s.name));
      assert.equal(bytes.includes(Buffer.from(MARKER)), false);
    }
  });
});

test('a truncated capture: earlier packets are sealed with a final segment, then TRUNCATED is thrown', async () => {
  await withSpool(async (dir, keys) => {
    const input = join(dir, 'cut.pcapng');
    await writeFile(input, pcapng.subarray(0, pcapng.length - 30));
    const logs: Record<string, unknown>[] = [];
    await assert.rejects(
      runIngestPcap({ input, spoolDir: join(dir, 'spool'), runId: 'cut', log: (o) => logs.push(o as Record<string, unknown>) }),
      (e: unknown) => e instanceof AppError && e.code === ErrorCode.CaptureTruncated,
    );
    const segs = await readRun(join(dir, 'spool'), keys, 'cut');
    assert.equal(segs[segs.length - 1]!.final, true);
    assert.equal(segs.flatMap((s) => s.records).length, 299);
    assert.ok(logs.some((l) => l.event === 'capture-error' && l.code === ErrorCode.CaptureTruncated && l.records === 299));
  });
});

test('stdin input ("-") in small pieces; classic pcap', async () => {
  await withSpool(async (dir, keys) => {
    const packets = Array.from({ length: 40 }, (_, i) => ({ ifIndex: 0, tsSec: i, tsNsec: i * 1000, origLen: 100, data: payload(i) }));
    const bytes = encodePcap({ littleEndian: true, nanos: false, linkType: 113, packets });
    async function* pieces() {
      for (let i = 0; i < bytes.length; i += 13) yield bytes.slice(i, i + 13);
    }
    const res = await runIngestPcap({ input: '-', stdin: pieces(), spoolDir: join(dir, 'spool'), runId: 'stdin', log: () => undefined });
    assert.deepEqual(res.linkTypes, { 113: 40 });
    const segs = await readRun(join(dir, 'spool'), keys, 'stdin');
    assert.deepEqual(segs.flatMap((s) => s.records.map((r) => r.tsSec)), packets.map((p) => p.tsSec));
  });
});

test('not a capture: refused by its first bytes, naming the path, before a run is opened', async () => {
  await withSpool(async (dir, keys) => {
    const input = join(dir, 'x.txt');
    await writeFile(input, 'hello, this is not a capture');
    await assert.rejects(
      runIngestPcap({ input, spoolDir: join(dir, 'spool'), runId: 'bad', log: () => undefined }),
      (e: unknown) => e instanceof AppError && e.code === ErrorCode.InputNotCapture && e.message === `capture file ${JSON.stringify(input)} is not a capture (no pcap, pcapng, gzip, zstd or xz signature)`,
    );
    assert.deepEqual(await readRun(join(dir, 'spool'), keys, 'bad'), [], 'no segment: the processor has no run to publish');
  });
});

test('no processor key, or no such file: clear errors before anything is written', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-ingest-test-'));
  try {
    const input = join(dir, 'in.pcapng');
    await writeFile(input, pcapng);
    await assert.rejects(runIngestPcap({ input, spoolDir: join(dir, 'spool'), log: () => undefined }), (e: unknown) => e instanceof AppError && e.code === ErrorCode.SpoolNoPublicKey);
    await assert.rejects(runIngestPcap({ input: join(dir, 'missing.pcap'), spoolDir: join(dir, 'spool'), log: () => undefined }), (e: unknown) => e instanceof AppError && e.code === ErrorCode.InputNotFound && e.message.includes('missing.pcap'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('progress while reading: NDJSON lines with packets/s, records/s and bytes that only grow, up to the totals', async () => {
  await withSpool(async (dir) => {
    const packets = Array.from({ length: 60 }, (_, i) => ({ ifIndex: 0, tsSec: i, tsNsec: 0, origLen: 100, data: payload(i) }));
    const bytes = encodePcap({ littleEndian: true, nanos: true, linkType: 1, packets });
    async function* slow() {
      for (let i = 0; i < bytes.length; i += 400) {
        await new Promise((r) => setTimeout(r, 4));
        yield bytes.slice(i, i + 400);
      }
    }
    let text = '';
    const res = await runIngestPcap({ input: '-', stdin: slow(), spoolDir: join(dir, 'spool'), runId: 'prog', log: () => undefined, progress: { intervalMs: 5, tty: false, write: (s) => void (text += s) } });
    assert.equal(res.records, 60);
    assert.equal(res.inputBytes, bytes.length);
    const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.ok(lines.length >= 3, text);
    for (const [i, l] of lines.entries()) {
      assert.equal(l.event, 'progress');
      for (const k of ['packets', 'packetsPerSec', 'records', 'recordsPerSec', 'bytes', 'bytesPerSec', 'drops']) assert.equal(typeof l[k], 'number', k);
      assert.ok(l.packets <= 60 && l.bytes <= bytes.length && l.drops === 0);
      if (i > 0) assert.ok(l.packets >= lines[i - 1].packets && l.bytes >= lines[i - 1].bytes);
    }
    assert.ok(lines.at(-1).bytes > 0);
  });
});
