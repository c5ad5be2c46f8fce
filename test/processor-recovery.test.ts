/**
 * The sealed processor under failure, driven through the real `flowseal process` and
 * `flowseal ingest` commands: a parser exception and a hard worker death on one record lose
 * exactly that record and nothing else (no duplicates); a tampered segment, or an authentic
 * one copied into another run, is quarantined while exactly the other segments' packets are
 * processed; a killed processor leaves no visible partial output, and
 * after a restart its old spool is crypto-shredded and new runs publish without duplicates.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { archiveTotals as datasetTotals } from './support/archive-facts.ts';
import { FLOWSEAL_BIN, runFlowseal } from './support/run-flowseal.ts';
import { fixturePath } from './support/capture-facts.ts';
import { iterateSpoolRecords } from '../schemas/spool.ts';
import { generateProcessorKeys } from '../sealed-processor/spool/keys.ts';
import { writePublicKey } from '../sealed-processor/spool/key-file.ts';
import { openSegment } from '../sealed-processor/spool/spool-reader.ts';

const CAPTURE = fixturePath('http-lo.pcap');
const CAPTURE_PACKETS = 68;
const VLAN_CAPTURE = fixturePath('vlan-tls.pcap');
const VLAN_CAPTURE_PACKETS = 55;

function startProcessor(spool: string, archive: string, untilRun: string, env: Record<string, string> = {}): { child: ChildProcess; exit: Promise<number>; stderr: () => string } {
  const child = spawn(process.execPath, [FLOWSEAL_BIN, 'process', '--spool', spool, '--archive', archive, '--dataset', 'd', '--until-run', untilRun], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NODE_ENV: 'test', ...env },
  });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exit = new Promise<number>((res) => child.on('exit', (c, s) => res(c ?? (s ? 128 : 1))));
  return { child, exit, stderr: () => err };
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}


/**
 * Records per segment file when `capture` is ingested as `runId` with `segmentBytes`: the test
 * ingests it once more, sealed to a key it holds, and opens every segment. Segments are cut by
 * record sizes only, so the copy sealed to the processor is cut identically (the callers check
 * that the file names agree).
 */
async function recordsPerSegment(dir: string, runId: string, segmentBytes: number, capture = CAPTURE, packets = CAPTURE_PACKETS): Promise<Map<string, number>> {
  const probe = join(dir, `probe-${runId}`);
  const keys = await generateProcessorKeys();
  await writePublicKey(probe, keys);
  const ing = await runFlowseal(['ingest', 'pcap', capture, '--spool', probe, '--run-id', runId, '--segment-bytes', String(segmentBytes)]);
  assert.equal(ing.code, 0, ing.stderr);
  const out = new Map<string, number>();
  for (const n of (await readdir(join(probe, 'segments'))).filter((x) => x.endsWith('.seg')).sort()) {
    const opened = await openSegment(new Uint8Array(await readFile(join(probe, 'segments', n))), keys);
    out.set(n, iterateSpoolRecords(opened.plaintext, () => undefined));
  }
  assert.equal([...out.values()].reduce((a, b) => a + b, 0), packets, 'the probe holds every packet once');
  return out;
}

async function manifest(archive: string, run: string): Promise<{ flows: number; counts: Record<string, number> }> {
  return JSON.parse(await readFile(join(archive, 'd', 'manifests', `${run}.json`), 'utf8')).manifest;
}

async function runCase(dir: string, run: string, env: Record<string, string>, segmentBytes = 4096) {
  const spool = join(dir, 'spool');
  const archive = join(dir, 'archive');
  const p = startProcessor(spool, archive, run, env);
  await waitFor(() => existsSync(join(spool, 'processor-key.json')));
  const ing = await runFlowseal(['ingest', 'pcap', CAPTURE, '--spool', spool, '--run-id', run, '--segment-bytes', String(segmentBytes)]);
  assert.equal(ing.code, 0, ing.stderr);
  assert.equal(await p.exit, 0, p.stderr());
  return { spool, archive, stderr: p.stderr() };
}

describe('sealed processor recovery', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'flowseal-recovery-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('clean run: every packet in exactly one flow', async () => {
    const { archive } = await runCase(join(root, 'clean'), 'clean', {});
    const t = await datasetTotals(archive, 'd');
    assert.equal(t.packets, CAPTURE_PACKETS);
    const m = await manifest(archive, 'clean');
    assert.equal(m.counts.records, CAPTURE_PACKETS);
    assert.equal(m.counts.poison_records ?? 0, 0);
  });

  test('a parser exception on one record skips exactly that record (once reproduced in careful mode) and replays the rest', async () => {
    const { archive } = await runCase(join(root, 'throw'), 'throwrun', { FLOWSEAL_FAULT: 'throw:1:3' });
    const t = await datasetTotals(archive, 'd');
    assert.equal(t.packets, CAPTURE_PACKETS - 1);
    const m = await manifest(archive, 'throwrun');
    assert.equal(m.counts.poison_records, 1);
    assert.equal(m.counts.poison_records_crash, 1);
    assert.equal(m.counts.records_skipped_poison, 1);
    // Reported once, reproduced once with the segment fed record by record.
    assert.equal(m.counts.worker_restarts, 2);
  });

  test('a hard worker death is narrowed to its record by acknowledged replay', async () => {
    const { archive, stderr } = await runCase(join(root, 'exit'), 'exitrun', { FLOWSEAL_FAULT: 'exit:0:5' });
    const t = await datasetTotals(archive, 'd');
    const m = await manifest(archive, 'exitrun');
    assert.equal(t.packets, CAPTURE_PACKETS - 1, JSON.stringify(m.counts) + stderr);
    assert.equal(m.counts.poison_records, 1);
    // Segment located, then the record located, then the record reproduced.
    assert.equal(m.counts.worker_restarts, 3);
    assert.match(stderr, /"event":"poison-record","run":"exitrun","seq":0,"index":5,"cause":"crash"/);
    assert.doesNotMatch(stderr, /127\.0\.0\.1/);
  });

  test('a tampered segment is quarantined; the other segments are processed', async () => {
    const dir = join(root, 'tamper');
    const spool = join(dir, 'spool');
    const side = join(dir, 'side');
    const archive = join(dir, 'archive');
    const p = startProcessor(spool, archive, 'tamp');
    await waitFor(() => existsSync(join(spool, 'processor-key.json')));
    // Seal into a side directory with the processor's public key, tamper, then hand over.
    await mkdir(side, { recursive: true });
    await copyFile(join(spool, 'processor-key.json'), join(side, 'processor-key.json'));
    const ing = await runFlowseal(['ingest', 'pcap', CAPTURE, '--spool', side, '--run-id', 'tamp', '--segment-bytes', '4096']);
    assert.equal(ing.code, 0, ing.stderr);
    const names = (await readdir(join(side, 'segments'))).filter((n) => n.endsWith('.seg')).sort();
    assert.ok(names.length >= 3, `expected several segments, got ${names.length}`);
    const perSegment = await recordsPerSegment(dir, 'tamp', 4096);
    assert.deepEqual([...perSegment.keys()], names, 'the probe is cut like the processor\'s copy');
    const lost = perSegment.get(names[1]!)!;
    assert.ok(lost > 0, 'the tampered segment holds packets');
    const victim = join(side, 'segments', names[1]!);
    const bytes = await readFile(victim);
    bytes[bytes.length - 20]! ^= 0x01;
    await writeFile(victim, bytes);
    await mkdir(join(spool, 'segments'), { recursive: true });
    for (const n of (await readdir(join(side, 'segments'))).sort()) await rename(join(side, 'segments', n), join(spool, 'segments', n));
    assert.equal(await p.exit, 0, p.stderr());
    const m = await manifest(archive, 'tamp');
    assert.equal(m.counts.segments_quarantined, 1);
    const t = await datasetTotals(archive, 'd');
    assert.equal(t.packets, CAPTURE_PACKETS - lost, 'exactly the packets of the other segments');
    assert.equal(m.counts.records, CAPTURE_PACKETS - lost);
    const q = await readdir(join(spool, 'quarantine'));
    assert.deepEqual(q.sort(), [names[1]!, `${names[1]!}.reason.json`].sort());
    const reason = JSON.parse(await readFile(join(spool, 'quarantine', `${names[1]!}.reason.json`), 'utf8'));
    assert.equal(reason.code, 'ERR_SPOOL_AUTH_FAILED');
    assert.match(p.stderr(), /"event":"segment-rejected".*"code":"ERR_SPOOL_AUTH_FAILED"/);
  });

  test('a segment copied into another run is refused as a replay; that run publishes exactly its own packets', async () => {
    const dir = join(root, 'moved');
    const spool = join(dir, 'spool');
    const side = join(dir, 'side');
    const archive = join(dir, 'archive');
    const p = startProcessor(spool, archive, 'mova,movb');
    await waitFor(() => existsSync(join(spool, 'processor-key.json')));
    await mkdir(side, { recursive: true });
    await copyFile(join(spool, 'processor-key.json'), join(side, 'processor-key.json'));
    // Two different captures, so a copy that got in would change movb's count.
    const captures = { mova: [VLAN_CAPTURE, VLAN_CAPTURE_PACKETS], movb: [CAPTURE, CAPTURE_PACKETS] } as const;
    const perSegment = new Map<string, number>();
    for (const [run, [capture, packets]] of Object.entries(captures)) {
      const ing = await runFlowseal(['ingest', 'pcap', capture, '--spool', side, '--run-id', run, '--segment-bytes', '4096']);
      assert.equal(ing.code, 0, ing.stderr);
      for (const [n, c] of await recordsPerSegment(dir, run, 4096, capture, packets)) perSegment.set(n, c);
    }
    const names = (await readdir(join(side, 'segments'))).filter((n) => n.endsWith('.seg')).sort();
    assert.deepEqual([...perSegment.keys()].sort(), names, 'the probes are cut like the processor\'s copies');
    const lost = perSegment.get('movb-00000001.seg')!;
    assert.ok(lost > 0 && perSegment.get('mova-00000001.seg')! > 0);
    // Run mova's (authentic) segment 1 takes the place of run movb's segment 1. mova is held
    // back until movb is published, so mova is not yet a finished run when the copy is read:
    // only the header's run id can tell that the copy is not movb's.
    await copyFile(join(side, 'segments', 'mova-00000001.seg'), join(side, 'segments', 'movb-00000001.seg'));
    await mkdir(join(spool, 'segments'), { recursive: true });
    const handOver = async (pick: (n: string) => boolean) => {
      for (const n of (await readdir(join(side, 'segments'))).filter(pick).sort()) await rename(join(side, 'segments', n), join(spool, 'segments', n));
    };
    await handOver((n) => n.startsWith('movb') || n === 'mova-00000000.seg');
    await waitFor(() => existsSync(join(archive, 'd', 'manifests', 'movb.json')), 60_000);
    assert.ok(!existsSync(join(archive, 'd', 'manifests', 'mova.json')), 'mova is still open');
    await handOver(() => true);
    assert.equal(await p.exit, 0, p.stderr());
    const a = await manifest(archive, 'mova');
    const b = await manifest(archive, 'movb');
    assert.equal(a.counts.records, VLAN_CAPTURE_PACKETS, 'mova keeps all of its own segments');
    assert.equal(a.counts.segments_quarantined ?? 0, 0);
    assert.equal(b.counts.records, CAPTURE_PACKETS - lost, 'movb: nothing of the copy, nothing of its replaced segment');
    assert.equal(b.counts.packets_decoded, CAPTURE_PACKETS - lost);
    assert.equal(b.counts.segments_quarantined, 1);
    assert.deepEqual((await readdir(join(spool, 'quarantine'))).sort(), ['movb-00000001.seg', 'movb-00000001.seg.reason.json']);
    const reason = JSON.parse(await readFile(join(spool, 'quarantine', 'movb-00000001.seg.reason.json'), 'utf8'));
    assert.equal(reason.code, 'ERR_SPOOL_REPLAYED');
    assert.match(p.stderr(), /"event":"segment-rejected","run":"movb","seq":1,"code":"ERR_SPOOL_REPLAYED"/);
  });

  test('a killed processor leaves no partial output; after restart old raw data is shredded and nothing is duplicated', async () => {
    const dir = join(root, 'kill');
    const spool = join(dir, 'spool');
    const archive = join(dir, 'archive');
    // First processor: exits hard in the worker forever (every restart), so it never publishes.
    const p1 = startProcessor(spool, archive, 'killed', { FLOWSEAL_FAULT: 'exit:*:*' });
    await waitFor(() => existsSync(join(spool, 'processor-key.json')));
    const ing = await runFlowseal(['ingest', 'pcap', CAPTURE, '--spool', spool, '--run-id', 'killed', '--segment-bytes', '4096']);
    assert.equal(ing.code, 0, ing.stderr);
    await waitFor(() => p1.stderr().includes('worker-restart'));
    p1.child.kill('SIGKILL');
    await p1.exit;
    assert.deepEqual(await datasetTotals(archive, 'd'), { flows: 0, packets: 0, files: 0 });
    const segmentsBefore = (await readdir(join(spool, 'segments'))).filter((n) => n.endsWith('.seg')).length;
    assert.ok(segmentsBefore > 0);
    // Second processor: new keys. The old segments cannot be read by anyone any more.
    const p2 = startProcessor(spool, archive, 'fresh');
    await waitFor(() => existsSync(join(spool, 'processor-key.json')) && p2.stderr().includes('"event":"started"'));
    const ing2 = await runFlowseal(['ingest', 'pcap', CAPTURE, '--spool', spool, '--run-id', 'fresh']);
    assert.equal(ing2.code, 0, ing2.stderr);
    assert.equal(await p2.exit, 0, p2.stderr());
    const t = await datasetTotals(archive, 'd');
    assert.equal(t.packets, CAPTURE_PACKETS, 'the new run exactly once, nothing of the killed one');
    assert.ok(!existsSync(join(archive, '.staging', 'killed')), 'unjournaled staging was discarded');
  });

  test('a run that never ends does not hold up other runs', async () => {
    const dir = join(root, 'stuck');
    const spool = join(dir, 'spool');
    const side = join(dir, 'side');
    const archive = join(dir, 'archive');
    const p = startProcessor(spool, archive, 'later');
    await waitFor(() => existsSync(join(spool, 'processor-key.json')));
    await mkdir(side, { recursive: true });
    await copyFile(join(spool, 'processor-key.json'), join(side, 'processor-key.json'));
    const ing = await runFlowseal(['ingest', 'pcap', CAPTURE, '--spool', side, '--run-id', 'aaa-stuck', '--segment-bytes', '4096']);
    assert.equal(ing.code, 0, ing.stderr);
    // Only the first segment of run 'aaa-stuck' arrives: the run can never complete.
    await mkdir(join(spool, 'segments'), { recursive: true });
    const first = (await readdir(join(side, 'segments'))).filter((n) => n.endsWith('.seg')).sort()[0]!;
    await rename(join(side, 'segments', first), join(spool, 'segments', first));
    const ing2 = await runFlowseal(['ingest', 'pcap', CAPTURE, '--spool', spool, '--run-id', 'later']);
    assert.equal(ing2.code, 0, ing2.stderr);
    assert.equal(await p.exit, 0, p.stderr());
    assert.equal((await manifest(archive, 'later')).flows > 0, true);
  });

  test('a reused run id never replaces a published run', async () => {
    const dir = join(root, 'reuse');
    const first = await runCase(dir, 'same', {});
    const before = await datasetTotals(first.archive, 'd');
    const manifestBefore = await readFile(join(first.archive, 'd', 'manifests', 'same.json'), 'utf8');
    // A new processor (new keys) on the same archive; the capture side reuses the run id.
    const spool = join(dir, 'spool');
    const p = startProcessor(spool, first.archive, 'other');
    await waitFor(() => p.stderr().includes('"event":"started"'));
    const again = await runFlowseal(['ingest', 'pcap', fixturePath('sll2-any.pcap'), '--spool', spool, '--run-id', 'same']);
    assert.equal(again.code, 0, again.stderr);
    const other = await runFlowseal(['ingest', 'pcap', fixturePath('sll2-any.pcap'), '--spool', spool, '--run-id', 'other']);
    assert.equal(other.code, 0, other.stderr);
    assert.equal(await p.exit, 0, p.stderr());
    assert.equal(await readFile(join(first.archive, 'd', 'manifests', 'same.json'), 'utf8'), manifestBefore);
    const after = await datasetTotals(first.archive, 'd');
    assert.equal(after.packets, before.packets + 19, 'only the run "other" was added');
    assert.match(p.stderr(), /"run":"same".*"code":"ERR_SPOOL_REPLAYED"/);
  });

  test('a segment sealed to a foreign key after our start is quarantined, not shredded', async () => {
    const dir = join(root, 'foreign');
    const spool = join(dir, 'spool');
    const side = join(dir, 'side');
    const archive = join(dir, 'archive');
    const p = startProcessor(spool, archive, 'mine');
    await waitFor(() => p.stderr().includes('"event":"started"'));
    // Another processor's public key (generated after ours), used by a misconfigured sender.
    const foreign = await generateProcessorKeys();
    await writePublicKey(side, foreign);
    const bad = await runFlowseal(['ingest', 'pcap', CAPTURE, '--spool', side, '--run-id', 'mine']);
    assert.equal(bad.code, 0, bad.stderr);
    await mkdir(join(spool, 'segments'), { recursive: true });
    for (const n of await readdir(join(side, 'segments'))) {
      if (n.endsWith('.seg')) await rename(join(side, 'segments', n), join(spool, 'segments', n));
    }
    await waitFor(() => p.stderr().includes('"code":"ERR_SPOOL_AUTH_FAILED"'));
    const q = await readdir(join(spool, 'quarantine'));
    assert.ok(q.some((n) => n.endsWith('.seg')), 'kept for inspection');
    assert.doesNotMatch(p.stderr(), /segments_shredded/);
    p.child.kill('SIGTERM');
    await p.exit;
  });

  test('a quiet live capture is not cut short while its ingest is alive', async () => {
    const dir = join(root, 'quiet');
    const spool = join(dir, 'spool');
    const archive = join(dir, 'archive');
    const child = spawn(process.execPath, [FLOWSEAL_BIN, 'process', '--spool', spool, '--archive', archive, '--dataset', 'd', '--until-run', 'quiet', '--idle-timeout', '1'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, NODE_ENV: 'test' },
    });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const exit = new Promise<number>((r) => child.on('exit', (c) => r(c ?? 1)));
    await waitFor(() => existsSync(join(spool, 'processor-key.json')));
    const ingest = spawn(process.execPath, [FLOWSEAL_BIN, 'ingest', 'pcap', '-', '--spool', spool, '--run-id', 'quiet', '--segment-bytes', '2000'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const ingestExit = new Promise<number>((r) => ingest.on('exit', (c) => r(c ?? 1)));
    const bytes = await readFile(CAPTURE);
    const half = Math.floor(bytes.length / 2);
    ingest.stdin!.write(bytes.subarray(0, half));
    // Quiet for three idle timeouts: segments so far are processed, but the run stays open.
    await new Promise((r) => setTimeout(r, 3500));
    assert.ok(!existsSync(join(archive, 'd', 'manifests', 'quiet.json')), 'not published while the capture is alive');
    ingest.stdin!.end(bytes.subarray(half));
    assert.equal(await ingestExit, 0);
    assert.equal(await exit, 0, err);
    assert.equal((await datasetTotals(archive, 'd')).packets, CAPTURE_PACKETS);
    assert.doesNotMatch(err, /run-idle-timeout/);
  });
});
