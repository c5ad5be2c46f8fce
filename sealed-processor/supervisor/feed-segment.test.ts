/**
 * A spool segment's file name is not authenticated, its header is: a valid sealed segment
 * (written by the real ingest SpoolWriter) that is renamed into another run or into another
 * sequence slot of its own run must be refused — quarantined as ERR_SPOOL_REPLAYED, nothing
 * of it sent to a worker, no flow of it published — while correctly placed segments around
 * it are processed as usual.
 *
 * Every packet is a UDP datagram whose source port names the run, segment and record it was
 * written in, so the tests can say exactly which records reached the archive.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { ErrorCode } from '../../schemas/errors.ts';
import { iterateSpoolRecords, RecordKind, segmentFileName, spoolRecordBytes } from '../../schemas/spool.ts';
import { SpoolWriter } from '../../ingest/spool/spool-writer.ts';
import { ethernet, ipv4, udp } from '../decode/testing/packet-builders.ts';
import { generateProcessorKeys, type ProcessorKeys } from '../spool/keys.ts';
import { writePublicKey } from '../spool/key-file.ts';
import { startTestSupervisor } from './testing.test-util.ts';
import { FrameDecoder, FrameType } from '../worker/protocol.ts';
import { feedSegment, type FeedContext } from './feed-segment.ts';
import type { WorkerHandle } from './worker-handle.ts';
import { committedFiles } from '../../test/support/archive-facts.ts';

/** Records per segment (the writer rotates after exactly this many equal-sized records). */
const PER_SEGMENT = 5;
const PAYLOAD = 12;
const RUNS = { alpha: 1, beta: 2, gamma: 3 } as const;
type RunName = keyof typeof RUNS;

/** The source port of record `i` of segment `seq` of run `run`. */
function portOf(run: RunName, seq: number, i: number): number {
  return 10_000 + RUNS[run] * 1000 + seq * 100 + i;
}

function packet(run: RunName, seq: number, i: number): Uint8Array {
  return ethernet(
    { dst: '02:00:00:00:00:01', src: '02:00:00:00:00:02', etherType: 0x0800 },
    ipv4({ src: '192.0.2.1', dst: '198.51.100.1', protocol: 17 }, udp({ sport: portOf(run, seq, i), dport: 9999 }, new Uint8Array(PAYLOAD))),
  );
}

/** Writes `segments` segments of run `run` with the real SpoolWriter (sealed to the key in `spoolDir`). */
async function writeRun(spoolDir: string, run: RunName, segments: number): Promise<void> {
  const frameLen = packet(run, 0, 0).length;
  const w = await SpoolWriter.open(spoolDir, { runId: run, segmentMaxBytes: PER_SEGMENT * spoolRecordBytes(frameLen) });
  for (let seq = 0; seq < segments; seq++) {
    for (let i = 0; i < PER_SEGMENT; i++) {
      const data = packet(run, seq, i);
      await w.append({ kind: RecordKind.Packet, linkType: 1, ifIndex: 0, tsSec: 1_700_000_000 + seq, tsNsec: i * 1000, origLen: data.length, data });
    }
  }
  const res = await w.close();
  assert.equal(res.segments, segments, 'one segment per PER_SEGMENT records');
}

/** Source ports of every record of the listed segments of `run`. */
function portsOf(run: RunName, seqs: number[]): number[] {
  return seqs.flatMap((seq) => Array.from({ length: PER_SEGMENT }, (_, i) => portOf(run, seq, i))).sort((a, b) => a - b);
}

/** The UDP source port of an Ethernet/IPv4 (no options)/UDP frame. */
function sourcePort(frame: Uint8Array): number {
  return (frame[34]! << 8) | frame[35]!;
}

/** A stand-in worker that keeps every frame the supervisor sends it. */
function recordingWorker(): { worker: WorkerHandle; frames: Array<{ type: number; payload: Uint8Array }> } {
  const frames: Array<{ type: number; payload: Uint8Array }> = [];
  const decoder = new FrameDecoder();
  const worker = {
    send: async (frame: Uint8Array) => {
      decoder.push(frame.slice(), (type, payload) => frames.push({ type, payload: payload.slice() }));
      return true;
    },
  } as unknown as WorkerHandle;
  return { worker, frames };
}

async function listOrEmpty(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).sort();
}

describe('feedSegment: a segment is accepted only in the run and slot its header names', () => {
  let root: string;
  let keys: ProcessorKeys;
  /** Sealed bytes by original file name (alpha and beta, three segments each). */
  const sealed = new Map<string, Uint8Array>();

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'flowseal-feed-'));
    keys = await generateProcessorKeys();
    const src = join(root, 'source');
    await writePublicKey(src, keys);
    await writeRun(src, 'alpha', 3);
    await writeRun(src, 'beta', 3);
    for (const name of await readdir(join(src, 'segments'))) {
      if (name.endsWith('.seg')) sealed.set(name, new Uint8Array(await readFile(join(src, 'segments', name))));
    }
    assert.equal(sealed.size, 6);
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** A spool holding `bytes` under `name`; feeds it as slot `seq` of `runId`. */
  async function feedAs(dir: string, bytes: Uint8Array, runId: string, seq: number) {
    const spoolDir = join(root, dir);
    await mkdir(join(spoolDir, 'segments'), { recursive: true });
    const name = segmentFileName(runId, seq);
    await writeFile(join(spoolDir, 'segments', name), bytes);
    const counts: Record<string, number> = {};
    const logs: Array<Record<string, unknown>> = [];
    const ctx: FeedContext = {
      spoolDir,
      keys,
      runId,
      isPublished: () => false,
      poison: new Set(),
      careful: false,
      count: (k, n = 1) => void (counts[k] = (counts[k] ?? 0) + n),
      log: (e) => void logs.push(e),
    };
    const { worker, frames } = recordingWorker();
    const result = await feedSegment(ctx, worker, { name, seq });
    return { spoolDir, name, result, frames, counts, logs };
  }

  async function assertRefused(r: Awaited<ReturnType<typeof feedAs>>, runId: string, seq: number): Promise<void> {
    assert.equal(r.result, 'rejected');
    assert.deepEqual(r.frames, [], 'nothing of the segment reaches the worker');
    assert.deepEqual(r.counts, { segments_quarantined: 1 });
    assert.deepEqual(r.logs, [{ event: 'segment-rejected', run: runId, seq, code: ErrorCode.SpoolReplayed }]);
    assert.deepEqual(await listOrEmpty(join(r.spoolDir, 'segments')), []);
    assert.deepEqual(await listOrEmpty(join(r.spoolDir, 'quarantine')), [r.name, `${r.name}.reason.json`]);
    const reason = JSON.parse(await readFile(join(r.spoolDir, 'quarantine', `${r.name}.reason.json`), 'utf8'));
    assert.deepEqual({ ...reason, quarantinedAt: undefined }, { code: ErrorCode.SpoolReplayed, segment: r.name, runId, seq, quarantinedAt: undefined });
  }

  test('in its own place a segment is fed whole: one segment frame, then exactly its records', async () => {
    const r = await feedAs('own-place', sealed.get('alpha-00000001.seg')!, 'alpha', 1);
    assert.equal(r.result, 'ok');
    assert.equal(r.frames[0]!.type, FrameType.Segment);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(r.frames[0]!.payload)), { seq: 1, careful: false, skip: [] });
    const ports: number[] = [];
    for (const f of r.frames.slice(1)) {
      assert.equal(f.type, FrameType.Records);
      iterateSpoolRecords(f.payload, (rec) => ports.push(sourcePort(rec.data)));
    }
    assert.deepEqual(ports, portsOf('alpha', [1]));
    assert.deepEqual(r.logs, []);
    const last = await feedAs('own-place-final', sealed.get('alpha-00000002.seg')!, 'alpha', 2);
    assert.equal(last.result, 'final');
  });

  test('a segment renamed into another run (same slot number) is refused and quarantined', async () => {
    // alpha's segment 1 under beta's name for slot 1: only the run id differs.
    const r = await feedAs('other-run', sealed.get('alpha-00000001.seg')!, 'beta', 1);
    await assertRefused(r, 'beta', 1);
  });

  test('a segment renamed into another slot of its own run is refused and quarantined', async () => {
    // alpha's segment 0 as alpha's slot 2, and its final segment 2 as slot 0: only the seq differs.
    await assertRefused(await feedAs('other-slot', sealed.get('alpha-00000000.seg')!, 'alpha', 2), 'alpha', 2);
    await assertRefused(await feedAs('other-slot-final', sealed.get('alpha-00000002.seg')!, 'alpha', 0), 'alpha', 0);
  });
});

/** Source ports of the flows a committed manifest lists (read from its Parquet files). */
async function publishedPorts(archive: string, dataset: string, run: string): Promise<number[]> {
  const files = await committedFiles(archive, dataset, run);
  if (files.length === 0) return [];
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const list = files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ');
    const r = await c.runAndReadAll(`SELECT src_port::INTEGER, (packets_fwd + packets_rev)::INTEGER FROM read_parquet([${list}]) ORDER BY 1`);
    return r.getRows().map(([port, packets]) => {
      assert.equal(packets, 1, 'one packet per flow');
      return Number(port);
    });
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

describe('the supervisor refuses misplaced segments and publishes none of their flows', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'flowseal-misplaced-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('moved into another run, or swapped between slots of its run: quarantined, the rest published exactly', { timeout: 120_000 }, async () => {
    const { spool, archive, logs, done } = await startTestSupervisor(root, ['alpha', 'beta', 'gamma']);
    const side = join(root, 'side');
    // Seal with the running processor's key into a side directory, rearrange, then hand over.
    await mkdir(side, { recursive: true });
    await copyFile(join(spool, 'processor-key.json'), join(side, 'processor-key.json'));
    await writeRun(side, 'alpha', 3);
    await writeRun(side, 'beta', 3);
    await writeRun(side, 'gamma', 4);
    const seg = (name: string) => join(side, 'segments', name);
    // (a) alpha's segment 1 replaces beta's segment 1 (alpha now has a gap at 1).
    await rename(seg('alpha-00000001.seg'), seg('beta-00000001.seg'));
    // (b) gamma's segments 1 and 2 change places.
    await rename(seg('gamma-00000001.seg'), seg('gamma-tmp.seg'));
    await rename(seg('gamma-00000002.seg'), seg('gamma-00000001.seg'));
    await rename(seg('gamma-tmp.seg'), seg('gamma-00000002.seg'));
    // alpha last: when beta reads alpha's segment, alpha is no finished run, so only the
    // header's run id can tell the copy is not beta's (the replay check cannot).
    await mkdir(join(spool, 'segments'), { recursive: true });
    for (const n of (await listOrEmpty(join(side, 'segments'))).reverse()) await rename(seg(n), join(spool, 'segments', n));
    assert.equal(await done, 0, JSON.stringify(logs));
    const published = logs.filter((e) => e.event === 'run-published').map((e) => e.run);
    assert.ok(published.indexOf('beta') < published.indexOf('alpha'), `beta was published before alpha: ${published.join(',')}`);

    assert.deepEqual(await publishedPorts(archive, 'd', 'beta'), portsOf('beta', [0, 2]), 'beta: its own segments 0 and 2, nothing of alpha');
    assert.deepEqual(await publishedPorts(archive, 'd', 'gamma'), portsOf('gamma', [0, 3]), 'gamma: neither swapped segment');
    assert.deepEqual(await publishedPorts(archive, 'd', 'alpha'), portsOf('alpha', [0, 2]), 'alpha: its moved segment nowhere');
    const manifest = async (run: string) => JSON.parse(await readFile(join(archive, 'd', 'manifests', `${run}.json`), 'utf8')).manifest;
    const [alpha, beta, gamma] = [await manifest('alpha'), await manifest('beta'), await manifest('gamma')];
    assert.equal(beta.flows, 2 * PER_SEGMENT);
    assert.equal(beta.counts.segments_quarantined, 1);
    assert.equal(beta.counts.records, 2 * PER_SEGMENT);
    assert.equal(gamma.flows, 2 * PER_SEGMENT);
    assert.equal(gamma.counts.segments_quarantined, 2);
    assert.equal(gamma.counts.records, 2 * PER_SEGMENT);
    assert.equal(alpha.flows, 2 * PER_SEGMENT);
    assert.equal(alpha.counts.segments_missing, 1);
    assert.equal(alpha.counts.segments_quarantined ?? 0, 0);

    const rejected = logs.filter((e) => e.event === 'segment-rejected').map((e) => `${e.run}/${e.seq}/${e.code}`).sort();
    assert.deepEqual(rejected, [`beta/1/${ErrorCode.SpoolReplayed}`, `gamma/1/${ErrorCode.SpoolReplayed}`, `gamma/2/${ErrorCode.SpoolReplayed}`]);
    const q = await listOrEmpty(join(spool, 'quarantine'));
    assert.deepEqual(q, ['beta-00000001.seg', 'beta-00000001.seg.reason.json', 'gamma-00000001.seg', 'gamma-00000001.seg.reason.json', 'gamma-00000002.seg', 'gamma-00000002.seg.reason.json']);
    for (const name of ['beta-00000001.seg', 'gamma-00000001.seg', 'gamma-00000002.seg']) {
      const reason = JSON.parse(await readFile(join(spool, 'quarantine', `${name}.reason.json`), 'utf8'));
      assert.equal(reason.code, ErrorCode.SpoolReplayed, name);
    }
    assert.deepEqual((await listOrEmpty(join(spool, 'segments'))).filter((n) => n.endsWith('.seg')), [], 'published segments are removed');
  });
});
