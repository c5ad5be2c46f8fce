/**
 * A replay that cannot re-read the committed segments as the first pass did (supervisor/run.ts,
 * "Replay gaps"): the spool is untrusted, so a committed segment may be damaged, deleted or
 * replaced before a worker death. The replay then resumes after the committed part with an
 * empty flow table (as a restarted processor does) and counts the flows it loses; it never
 * publishes a committed flow again. From the issue-8 attack review (test/attack, branch
 * i8-attack), adapted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, open as openFile, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpoolWriter } from '../../ingest/spool/spool-writer.ts';
import { RecordKind, parseSegmentFileName, runEndMarkerName } from '../../schemas/spool.ts';
import { runManifests } from '../sinks/committed-parts.ts';
import { committedPorts, manifestNames, startTestSupervisor, type TestSupervisor, udpPacket, waitFor as waitUntil } from './testing.test-util.ts';

const T = 1_700_000_000;
/** Checkpoint writes fail (worker/test-faults.ts): committed segments stay and a death replays them. */
const NO_CHECKPOINTS = { NODE_ENV: 'test', FLOWSEAL_FAULT_CHECKPOINT: 'write' };

const packet = (port: number): Uint8Array => udpPacket(port, 'attack');

const waitFor = (what: string, cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> => waitUntil(what, cond, ms);


async function segmentPath(spool: string, runId: string, seq: number): Promise<string> {
  const name = (await readdir(join(spool, 'segments'))).find((n) => parseSegmentFileName(n)?.runId === runId && parseSegmentFileName(n)?.seq === seq);
  assert.ok(name, `segment ${seq} of ${runId} is in the spool`);
  return join(spool, 'segments', name);
}

/**
 * UDP idle timeout 60 s. Segment 0: A=2000@0. Segment 1: X=3000@100 (A ends while segment 1 is
 * processed, so part 1 = {A}, throughSegment 1). `damage` then changes the spool, the worker is
 * killed from outside, and segment 2 (final): Z=5000@200 (`tail` false: the writer is aborted there, no final segment; a run-end marker naming 2
 * segments ends the run, with nothing left to feed after the gap).
 */
async function scenario(sup: TestSupervisor, runId: string, damage: (spool: string) => Promise<void>, tail = true): Promise<void> {
  let clock = 1;
  const w = await SpoolWriter.open(sup.spool, { runId, segmentMaxAgeMs: 1, now: () => clock });
  const put = async (port: number, t: number) => {
    const data = packet(port);
    await w.append({ kind: RecordKind.Packet, linkType: 1, ifIndex: 0, tsSec: T + t, tsNsec: 0, origLen: data.length, data });
  };
  await put(2000, 0);
  clock++;
  await w.rotateIfOld();
  await put(3000, 100);
  clock++;
  await w.rotateIfOld();
  await waitFor('part 1', async () => (await manifestNames(sup.archive)).includes(`${runId}.p000001.json`));
  assert.deepEqual(await committedPorts(sup.archive), [2000]);
  await damage(sup.spool);
  const started = sup.logs.filter((e) => e.event === 'worker-started' && e.run === runId);
  process.kill(started.at(-1)!.pid as number, 'SIGKILL');
  await waitFor('a new worker', () => sup.logs.filter((e) => e.event === 'worker-started' && e.run === runId).length > started.length);
  if (tail) {
    await put(5000, 200);
    await w.close();
  } else {
    await w.abort();
    await writeFile(join(sup.spool, 'segments', runEndMarkerName(runId)), JSON.stringify({ segments: 2 }));
  }
}

async function lastCounts(archive: string, runId: string): Promise<Record<string, number>> {
  const manifests = await runManifests(archive, 'd', runId);
  return manifests.at(-1)!.manifest.counts;
}

describe('replay gaps: a committed segment the replay cannot re-read', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'flowseal-replay-gap-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('a committed segment tampered with in the spool, then any worker death: the replay publishes no flow twice', { timeout: 90_000 }, async () => {
    // Without the fix the replay reads segment 0, rejects segment 1, and A is still open when
    // segment 2 (Z@200) is fed: A ends during segment 2 > throughSegment, so it is published
    // again in part 2 (and X, open at the cut, is lost without a count).
    const sup = await startTestSupervisor(join(root, 'tamper'), ['tm'], { publishEveryMs: 100, restartBackoffMs: 20, workerEnv: NO_CHECKPOINTS });
    await scenario(sup, 'tm', async (spool) => {
      // One byte in the sealed body of the committed segment 1.
      const seg1 = await segmentPath(spool, 'tm', 1);
      const size = (await stat(seg1)).size;
      const fh = await openFile(seg1, 'r+');
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, size - 8);
      b[0] ^= 0xff;
      await fh.write(b, 0, 1, size - 8);
      await fh.close();
    });
    assert.equal(await sup.done, 0, JSON.stringify(sup.logs));
    const ports = await committedPorts(sup.archive);
    assert.deepEqual(ports.filter((p) => p === 2000), [2000], `flow A committed in part 1 was published again after the replay: ${JSON.stringify(ports)}`);
    assert.deepEqual(ports, [2000, 5000], 'X (open at the committed cut) is lost, Z is published');
    const counts = await lastCounts(sup.archive, 'tm');
    assert.equal(counts.flows_lost_replay_gap, 1, `X is counted as lost: ${JSON.stringify(counts)}`);
    assert.equal(counts.replay_gaps, 1);
    const gap = sup.logs.find((e) => e.event === 'replay-gap');
    assert.ok(gap, 'the gap is logged');
    assert.deepEqual(Object.keys(gap).sort(), ['event', 'flows_lost', 'export_sets_lost', 'run', 'segments_dropped', 'through'].sort());
  });

  test('a committed segment deleted from the spool, then a worker death: no flow twice, the loss counted', { timeout: 90_000 }, async () => {
    const sup = await startTestSupervisor(join(root, 'delete'), ['dl'], { publishEveryMs: 100, restartBackoffMs: 20, workerEnv: NO_CHECKPOINTS });
    await scenario(sup, 'dl', async (spool) => unlink(await segmentPath(spool, 'dl', 1)));
    assert.equal(await sup.done, 0, JSON.stringify(sup.logs));
    assert.deepEqual(await committedPorts(sup.archive), [2000, 5000]);
    assert.equal((await lastCounts(sup.archive, 'dl')).flows_lost_replay_gap, 1);
  });

  test('a committed segment replaced by another authentic segment of the same slot: the replay notices, no flow twice', { timeout: 90_000 }, async () => {
    // The capture side seals segments itself, so it can forge an authentic segment 1 of the
    // run (here: a second writer for run 'rp' in a scratch spool holding the same processor
    // key) whose only packet (Y=4000@10) does not end A. Replayed as is, A would end in
    // segment 2 and be published again.
    const sup = await startTestSupervisor(join(root, 'replace'), ['rp'], { publishEveryMs: 100, restartBackoffMs: 20, workerEnv: NO_CHECKPOINTS });
    await scenario(sup, 'rp', async (spool) => {
      const scratch = await mkdtemp(join(root, 'forge-'));
      await copyFile(join(spool, 'processor-key.json'), join(scratch, 'processor-key.json'));
      let clock = 1;
      const f = await SpoolWriter.open(scratch, { runId: 'rp', segmentMaxAgeMs: 1, now: () => clock });
      for (const [port, t] of [[2000, 0], [4000, 10]] as const) {
        const data = packet(port);
        await f.append({ kind: RecordKind.Packet, linkType: 1, ifIndex: 0, tsSec: T + t, tsNsec: 0, origLen: data.length, data });
        clock++;
        await f.rotateIfOld();
      }
      await copyFile(await segmentPath(scratch, 'rp', 1), await segmentPath(spool, 'rp', 1));
    });
    assert.equal(await sup.done, 0, JSON.stringify(sup.logs));
    assert.deepEqual(await committedPorts(sup.archive), [2000, 5000]);
    assert.equal((await lastCounts(sup.archive, 'rp')).flows_lost_replay_gap, 1);
  });

  test('nothing follows the gap: the run still ends with a final part whose manifest counts the loss', { timeout: 90_000 }, async () => {
    const sup = await startTestSupervisor(join(root, 'end'), ['en'], { publishEveryMs: 100, restartBackoffMs: 20, workerEnv: NO_CHECKPOINTS });
    await scenario(sup, 'en', async (spool) => unlink(await segmentPath(spool, 'en', 1)), false);
    assert.equal(await sup.done, 0, JSON.stringify(sup.logs));
    assert.deepEqual(await committedPorts(sup.archive), [2000]);
    const manifests = await runManifests(sup.archive, 'd', 'en');
    assert.equal(manifests.at(-1)!.manifest.part?.final, true, 'the run is finished');
    assert.equal(manifests.at(-1)!.manifest.counts.flows_lost_replay_gap, 1);
    assert.deepEqual((await readdir(join(sup.spool, 'segments'))).filter((n) => parseSegmentFileName(n)?.runId === 'en'), [], 'no segment of the run is left in the spool');
  });

  test('a plain worker death with the committed segments intact is an exact replay: nothing lost, nothing twice', { timeout: 90_000 }, async () => {
    const sup = await startTestSupervisor(join(root, 'intact'), ['ok'], { publishEveryMs: 100, restartBackoffMs: 20, workerEnv: NO_CHECKPOINTS });
    await scenario(sup, 'ok', async () => undefined);
    assert.equal(await sup.done, 0, JSON.stringify(sup.logs));
    assert.deepEqual(await committedPorts(sup.archive), [2000, 3000, 5000]);
    const counts = await lastCounts(sup.archive, 'ok');
    assert.equal(counts.flows_lost_replay_gap ?? 0, 0);
    assert.equal(counts.replay_gaps ?? 0, 0);
  });
});
