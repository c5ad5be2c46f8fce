/**
 * Isolation: a record fed alone to a fresh, real worker (probe-record.ts), and whole runs in
 * which a record hangs the worker, or gets it SIGKILLed (as the kernel OOM killer would). A
 * hang is no evidence by itself (the supervisor's own timeout); only a record that hangs fresh
 * workers alone, twice, is skipped. A kill is never evidence: a segment where workers are
 * killed at the same record round after round, even alone, is quarantined instead, no record
 * marked. Either way everything else of the run is published.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_POLICY } from '../../schemas/policy.ts';
import { RecordKind, segmentFileName, spoolRecordBytes } from '../../schemas/spool.ts';
import { SpoolWriter } from '../../ingest/spool/spool-writer.ts';
import { ethernet, ipv4, text, udp } from '../decode/testing/packet-builders.ts';
import { generateProcessorKeys, type ProcessorKeys } from '../spool/keys.ts';
import { writePublicKey } from '../spool/key-file.ts';
import { probeRecord, type ProbeContext } from './probe-record.ts';
import { startTestSupervisor } from './testing.test-util.ts';
import { ErrorCode } from '../../schemas/errors.ts';
import { DeathCause } from './worker-death.ts';

/** A UDP packet from source port `port` carrying `payload` (padded: every packet is equally long). */
function packet(port: number, payload: string): Uint8Array {
  return ethernet({ dst: '02:00:00:00:00:01', src: '02:00:00:00:00:02', etherType: 0x0800 }, ipv4({ src: '192.0.2.1', dst: '198.51.100.1', protocol: 17 }, udp({ sport: port, dport: 9999 }, text(payload.padEnd(32, '.')))));
}

/** Writes run `runId` with segments of `perSegment` packets (one flow each, port 10000 + n). */
async function writeRun(spoolDir: string, runId: string, payloads: string[], perSegment: number): Promise<void> {
  const w = await SpoolWriter.open(spoolDir, { runId, segmentMaxBytes: perSegment * spoolRecordBytes(packet(0, '').length) });
  for (const [n, p] of payloads.entries()) {
    const data = packet(10_000 + n, p);
    await w.append({ kind: RecordKind.Packet, linkType: 1, ifIndex: 0, tsSec: 1_700_000_000, tsNsec: n * 1000, origLen: data.length, data });
  }
  await w.close();
}

const PROBE_PAYLOADS = ['healthy', 'FLOWSEAL-POISON-THROW', 'FLOWSEAL-POISON-ABORT', 'FLOWSEAL-POISON-OOM', 'FLOWSEAL-POISON-HANG'];

describe('a record alone in a fresh worker', () => {
  let root: string;
  let keys: ProcessorKeys;
  let ctx: (stallMs: number) => ProbeContext;
  const probes: Array<import('./worker-handle.ts').WorkerHandle | null> = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'flowseal-probe-'));
    keys = await generateProcessorKeys();
    const spool = join(root, 'spool');
    await writePublicKey(spool, keys);
    await writeRun(spool, 'p', PROBE_PAYLOADS, PROBE_PAYLOADS.length);
    ctx = (stallMs) => ({
      spoolDir: spool,
      keys,
      runId: 'p',
      isPublished: () => false,
      count: () => undefined,
      log: () => undefined,
      config: { runId: 'p', dataset: 'd', stagingDir: join(root, 'archive', '.staging', 'p'), policy: DEFAULT_POLICY, masterKeyHex: '11'.repeat(32), processorVersion: 'test' },
      worker: { env: { NODE_ENV: 'test', FLOWSEAL_FAULT: 'marker', FLOWSEAL_WORKER_NODE_ARGS: '--max-old-space-size=96' }, stallMs },
      track: (w) => void (w && probes.push(w)),
    });
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('completes, crashes, aborts, runs out of memory or hangs — and each is told apart', { timeout: 120_000 }, async () => {
    const seg = { name: segmentFileName('p', 0), seq: 0 };
    const outcomes = await Promise.all(PROBE_PAYLOADS.map((_, i) => probeRecord(ctx(3_000), seg, i)));
    assert.deepEqual(outcomes, ['ok', DeathCause.Crash, DeathCause.Crash, DeathCause.Oom, DeathCause.Timeout]);
    assert.deepEqual(await readdir(join(root, 'archive', '.staging')), [], 'probe output is never kept');
  });

  test('a probe killed from outside is `killed`, not a hang', { timeout: 60_000 }, async () => {
    const seg = { name: segmentFileName('p', 0), seq: 0 };
    const before = probes.length;
    const pending = probeRecord(ctx(60_000), seg, 4);
    // Once it holds the hanging record (it reported ready; the record follows at once).
    while (probes.length === before || !probes.at(-1)!.ready) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    process.kill(probes.at(-1)!.pid!, 'SIGKILL');
    assert.equal(await pending, DeathCause.Killed);
  });
});

/** A supervisor (fault hook on) over a run of one packet per payload, 3 per segment; resolves to its manifest. */
async function processRun(root: string, run: string, payloads: string[]) {
  const { spool, archive, logs, done } = await startTestSupervisor(root, [run], {
    workerEnv: { NODE_ENV: 'test', FLOWSEAL_FAULT: 'marker' },
    workerStallMs: 2_500,
    restartBackoffMs: 20,
    maxRestartBackoffMs: 200,
  });
  const side = join(root, 'side');
  await mkdir(side, { recursive: true });
  await copyFile(join(spool, 'processor-key.json'), join(side, 'processor-key.json'));
  await writeRun(side, run, payloads, 3);
  await mkdir(join(spool, 'segments'), { recursive: true });
  for (const n of await readdir(join(side, 'segments'))) await rename(join(side, 'segments', n), join(spool, 'segments', n));
  assert.equal(await done, 0, JSON.stringify(logs));
  const m = JSON.parse(await readFile(join(archive, 'd', 'manifests', `${run}.json`), 'utf8')).manifest;
  return { m, logs, spool, why: JSON.stringify(logs.filter((e) => e.event !== 'started')) };
}

describe('a run with a record that hangs the worker', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'flowseal-hang-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('is published without exactly that record, once it hung fresh workers alone twice', { timeout: 180_000 }, async () => {
    const { m, logs, why } = await processRun(root, 'h', ['a', 'b', 'c', 'd', 'FLOWSEAL-POISON-HANG', 'f', 'g']);
    assert.equal(m.flows, 6, why);
    assert.equal(m.counts.records, 6, why);
    assert.equal(m.counts.records_skipped_poison, 1, why);
    assert.equal(m.counts.poison_records, 1, why);
    assert.equal(m.counts.poison_records_timeout, 1, why);
    // Located at its segment, then twice at the record (careful), then two probes alone.
    assert.equal(m.counts.worker_restarts_timeout, 3, why);
    assert.equal(m.counts.isolation_probes_timeout, 2, why);
    assert.equal(m.counts.segments_quarantined ?? 0, 0, why);
    assert.deepEqual(
      logs.filter((e) => e.event === 'poison-record'),
      [{ event: 'poison-record', run: 'h', seq: 1, index: 1, cause: DeathCause.Timeout }],
    );
  });
});

describe('a run with a record at which the worker is always SIGKILLed', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'flowseal-oomkill-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('marks no record: after two rounds of killed probes its segment is quarantined and the rest published', { timeout: 180_000 }, async () => {
    const { m, logs, spool, why } = await processRun(root, 'k', ['a', 'b', 'c', 'd', 'FLOWSEAL-POISON-KILL', 'f', 'g']);
    assert.equal(m.flows, 4, why);
    assert.equal(m.counts.records, 4, why);
    assert.equal(m.counts.poison_records ?? 0, 0, why);
    assert.equal(m.counts.segments_quarantined, 1, why);
    assert.equal(m.counts.segments_quarantined_unprocessable, 1, why);
    // Located at its segment, then twice at the record per round; each round's probe killed too.
    assert.equal(m.counts.worker_restarts_killed, 5, why);
    assert.equal(m.counts.isolation_probes_killed, 2, why);
    assert.deepEqual(logs.filter((e) => e.event === 'poison-record'), []);
    const reason = JSON.parse(await readFile(join(spool, 'quarantine', `${segmentFileName('k', 1)}.reason.json`), 'utf8'));
    assert.equal(reason.code, ErrorCode.ProcessorSegmentUnprocessable);
  });
});
