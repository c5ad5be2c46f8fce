/**
 * Rolling publication (supervisor/run.ts, worker/worker-main.ts): a live run fed over time
 * publishes committed parts while it continues, visible to the API's catalog; a flow open at a
 * part boundary continues and appears exactly once, in the part during which it was emitted;
 * a worker killed after a part was committed — continuing from the worker checkpoint taken at
 * the cut, from a replay of the whole run when no checkpoint could be written, or with the
 * checkpoint's flows counted lost when it was damaged — and a processor killed and restarted
 * mid-run, lose no committed part and publish no flow twice. A checkpoint releases the
 * segments it covers while the run goes on.
 *
 * The writer seals segments on demand (a fake clock and `rotateIfOld`), so every boundary is
 * where the test puts it; the tests wait for conditions (manifests, log events), never for
 * fixed times.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { RecordKind } from '../../schemas/spool.ts';
import { SpoolWriter } from '../../ingest/spool/spool-writer.ts';
import { createManifestCatalog } from '../../api/engine/manifest-catalog.ts';
import { runManifests } from '../sinks/committed-parts.ts';
import { manifestNames, spoolSegments, startTestSupervisor, udpPacket, waitFor as waitUntil } from './testing.test-util.ts';

const T = 1_700_000_000;
/** Checkpoint writes fail (worker/test-faults.ts): a worker death replays the run from its first segment. */
const NO_CHECKPOINTS = { NODE_ENV: 'test', FLOWSEAL_FAULT_CHECKPOINT: 'write' };
const FLOWSEAL_BIN = new URL('../../bin/flowseal.mjs', import.meta.url).pathname;

const packet = (port: number): Uint8Array => udpPacket(port, 'rolling');

/**
 * Three segments (UDP idle timeout 60 s, times in seconds after T, flows by source port):
 * 0: A=2000@0, L=1000@50, X=3000@70 — A ends (idle) while this segment is processed;
 * 1: L=1000@100, Y=4000@165 — X and L (both packets) end here;
 * 2 (final): Z=5000@170 — Y and Z end with the run.
 */
const SEGMENTS: Array<Array<[number, number]>> = [
  [[2000, 0], [1000, 50], [3000, 70]],
  [[1000, 100], [4000, 165]],
  [[5000, 170]],
];

/** A writer whose segments are sealed when the test says so. */
async function openWriter(spool: string, runId: string) {
  let clock = 1;
  const w = await SpoolWriter.open(spool, { runId, segmentMaxAgeMs: 1, now: () => clock });
  return {
    async segment(i: number, last = false): Promise<void> {
      for (const [port, t] of SEGMENTS[i]!) {
        const data = packet(port);
        await w.append({ kind: RecordKind.Packet, linkType: 1, ifIndex: 0, tsSec: T + t, tsNsec: 0, origLen: data.length, data });
      }
      if (last) await w.close();
      else {
        clock++;
        await w.rotateIfOld();
      }
    },
  };
}

const waitFor = (what: string, cond: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> => waitUntil(what, cond, ms);

/** Source port → packets of every flow row committed for the dataset (a port twice: a duplicate). */
async function committedFlows(archive: string): Promise<Array<[number, number]>> {
  const catalog = await createManifestCatalog({ root: await realpath(archive), pinnedKeys: null }).build();
  const files = catalog.datasets.get('d')?.files ?? [];
  if (files.length === 0) return [];
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const list = files.map((f) => `'${f}'`).join(', ');
  const r = await c.runAndReadAll(`SELECT src_port::INTEGER, (packets_fwd + packets_rev)::INTEGER FROM read_parquet([${list}]) ORDER BY 1`);
  const rows = r.getRows() as Array<[number, number]>;
  c.closeSync();
  db.closeSync();
  return rows;
}

const checkpointFiles = async (archive: string) => (await readdir(join(archive, '.staging')).catch(() => [] as string[])).filter((n) => n.includes('.checkpoint-')).sort();
const partsOf = async (archive: string, run: string) => (await runManifests(archive, 'd', run)).map((s) => s.manifest);

describe('a live run publishes rolling parts', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'flowseal-rolling-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('each part is committed while the run goes on; a flow spanning a boundary appears once', { timeout: 120_000 }, async () => {
    const dir = join(root, 'plain');
    const sup = await startTestSupervisor(dir, ['live'], { publishEveryMs: 100 });
    let finished = false;
    void sup.done.then(() => (finished = true));
    const w = await openWriter(sup.spool, 'live');
    await w.segment(0);
    await waitFor('part 1', async () => (await manifestNames(sup.archive)).includes('live.p000001.json'));
    // Visible to the API's reader while the run is still open; only A has ended so far.
    assert.deepEqual(await committedFlows(sup.archive), [[2000, 1]]);
    assert.equal(finished, false);
    await w.segment(1);
    await waitFor('part 2', async () => (await manifestNames(sup.archive)).includes('live.p000002.json'));
    assert.deepEqual(await committedFlows(sup.archive), [[1000, 2], [2000, 1], [3000, 1]], 'L continued across the boundary: one row, both packets');
    await w.segment(2, true);
    assert.equal(await sup.done, 0, JSON.stringify(sup.logs));
    const parts = await partsOf(sup.archive, 'live');
    assert.deepEqual(parts.map((m) => [m.part?.number, m.part?.final, m.flows]), [[1, false, 1], [2, false, 2], [3, true, 2]]);
    assert.deepEqual(parts.map((m) => m.part?.throughSegment), [0, 1, null]);
    assert.equal(parts.at(-1)!.counts.records, 6, 'the last part carries the run totals');
    assert.deepEqual(await committedFlows(sup.archive), [[1000, 2], [2000, 1], [3000, 1], [4000, 1], [5000, 1]]);
    assert.deepEqual(await readdir(join(sup.spool, 'segments')).then((n) => n.filter((x) => x.endsWith('.seg'))), [], 'segments removed once the run is finished');
  });

  test('a worker killed after a part was committed continues from the checkpoint; the covered segment left the spool', { timeout: 120_000 }, async () => {
    const dir = join(root, 'worker-kill-checkpoint');
    const sup = await startTestSupervisor(dir, ['ck'], { publishEveryMs: 100, restartBackoffMs: 20 });
    const w = await openWriter(sup.spool, 'ck');
    await w.segment(0);
    await waitFor('part 1', async () => (await manifestNames(sup.archive)).includes('ck.p000001.json'));
    // Segment 0 is released while the run is still live (before: kept until the run ended).
    await waitFor('segment 0 released', async () => (await spoolSegments(sup.spool)).length === 0);
    const started = sup.logs.filter((e) => e.event === 'worker-started');
    assert.equal(started.length, 1);
    process.kill(started[0]!.pid as number, 'SIGKILL');
    await waitFor('a new worker', () => sup.logs.filter((e) => e.event === 'worker-started').length === 2);
    assert.equal(sup.logs.filter((e) => e.event === 'worker-started')[1]!.from_checkpoint, 0, 'the new worker starts from the checkpoint after segment 0');
    await w.segment(1);
    await waitFor('part 2', async () => (await manifestNames(sup.archive)).includes('ck.p000002.json'));
    await w.segment(2, true);
    assert.equal(await sup.done, 0, JSON.stringify(sup.logs));
    assert.deepEqual(await committedFlows(sup.archive), [[1000, 2], [2000, 1], [3000, 1], [4000, 1], [5000, 1]], 'every flow once, L whole across the restore');
    const parts = await partsOf(sup.archive, 'ck');
    assert.deepEqual(parts.map((m) => m.part?.number), [1, 2, 3]);
    const counts = parts.at(-1)!.counts;
    assert.equal(counts.worker_restarts, 1);
    assert.equal(counts.flows_replayed_committed, 0, 'nothing was replayed');
    assert.equal(counts.records, 6, 'the checkpoint carried the counts of segment 0');
    assert.equal(counts.flows_source_packets, 5);
    assert.ok((counts.checkpoints ?? 0) >= 2, JSON.stringify(counts));
    assert.equal(counts.checkpoints_lost ?? 0, 0);
    assert.deepEqual(await checkpointFiles(sup.archive), [], 'checkpoints removed with the run');
  });

  test('a damaged checkpoint: the run continues without it, its open flows counted lost, nothing published twice', { timeout: 120_000 }, async () => {
    const dir = join(root, 'checkpoint-damaged');
    const sup = await startTestSupervisor(dir, ['cd'], { publishEveryMs: 100, restartBackoffMs: 20 });
    const w = await openWriter(sup.spool, 'cd');
    await w.segment(0);
    await waitFor('part 1', async () => (await manifestNames(sup.archive)).includes('cd.p000001.json'));
    await waitFor('the checkpoint', async () => (await checkpointFiles(sup.archive)).length === 1);
    // The staging area is the processor's own, but a checkpoint is checked like untrusted input.
    const [file] = await checkpointFiles(sup.archive);
    const path = join(sup.archive, '.staging', file!);
    const bytes = await readFile(path);
    bytes[bytes.length - 40] ^= 0xff;
    await writeFile(path, bytes);
    const started = sup.logs.filter((e) => e.event === 'worker-started');
    process.kill(started[0]!.pid as number, 'SIGKILL');
    await waitFor('the checkpoint refused', () => sup.logs.some((e) => e.event === 'checkpoint-lost'));
    await w.segment(1);
    await w.segment(2, true);
    assert.equal(await sup.done, 0, JSON.stringify(sup.logs));
    const flows = await committedFlows(sup.archive);
    const ports = flows.map(([p]) => p);
    assert.deepEqual(ports, [...new Set(ports)], 'no flow twice');
    // L (first packet) and X were held by the lost checkpoint; L's second packet starts anew.
    assert.deepEqual(flows, [[1000, 1], [2000, 1], [4000, 1], [5000, 1]], JSON.stringify(sup.logs));
    const counts = (await partsOf(sup.archive, 'cd')).at(-1)!.counts;
    assert.equal(counts.checkpoints_lost, 1);
    assert.equal(counts.flows_lost_checkpoint, 2, 'L and X were open at the cut');
    assert.equal(counts.records, 6, 'segment 0 still counted');
  });

  test('without checkpoints (every write fails), a worker killed after a part was committed replays without publishing that part again', { timeout: 120_000 }, async () => {
    const dir = join(root, 'worker-kill');
    const sup = await startTestSupervisor(dir, ['wk'], { publishEveryMs: 100, restartBackoffMs: 20, workerEnv: NO_CHECKPOINTS });
    const w = await openWriter(sup.spool, 'wk');
    await w.segment(0);
    await waitFor('part 1', async () => (await manifestNames(sup.archive)).includes('wk.p000001.json'));
    const started = sup.logs.filter((e) => e.event === 'worker-started');
    assert.equal(started.length, 1);
    // The worker holds L and X open: kill it from outside.
    process.kill(started[0]!.pid as number, 'SIGKILL');
    await waitFor('a new worker', () => sup.logs.filter((e) => e.event === 'worker-started').length === 2);
    await w.segment(1);
    await waitFor('part 2', async () => (await manifestNames(sup.archive)).includes('wk.p000002.json'));
    await w.segment(2, true);
    assert.equal(await sup.done, 0, JSON.stringify(sup.logs));
    assert.deepEqual(await committedFlows(sup.archive), [[1000, 2], [2000, 1], [3000, 1], [4000, 1], [5000, 1]], 'every flow once, L whole');
    const parts = await partsOf(sup.archive, 'wk');
    assert.deepEqual(parts.map((m) => m.part?.number), [1, 2, 3]);
    assert.equal(parts.at(-1)!.counts.worker_restarts, 1);
    assert.equal(parts.at(-1)!.counts.flows_replayed_committed, 1, 'A was emitted again in the replay and dropped');
  });

  test('a processor killed mid-run: committed parts stay, the restarted one resumes with the next part and duplicates nothing', { timeout: 120_000 }, async () => {
    const dir = join(root, 'processor-kill');
    const spool = join(dir, 'spool');
    const archive = join(dir, 'archive');
    const start = () => {
      const child = spawn(process.execPath, [FLOWSEAL_BIN, 'process', '--spool', spool, '--archive', archive, '--dataset', 'd', '--until-run', 'pk', '--publish-every', '100ms'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
      const exit = new Promise<number>((res) => child.on('exit', (c, s) => res(c ?? (s ? 128 : 1))));
      return { child, exit, err: () => err };
    };
    const first = start();
    await waitFor('the key', () => existsSync(join(spool, 'processor-key.json')));
    const w = await openWriter(spool, 'pk');
    await w.segment(0);
    await waitFor('part 1', async () => (await manifestNames(archive)).includes('pk.p000001.json'));
    first.child.kill('SIGKILL');
    await first.exit;
    const keyBefore = existsSync(join(spool, 'processor-key.json'));
    assert.ok(keyBefore);
    const second = start();
    await waitFor('a new key', () => second.err().includes('"event":"started"'));
    await w.segment(1);
    await w.segment(2, true);
    assert.equal(await second.exit, 0, second.err());
    const parts = await partsOf(archive, 'pk');
    const numbers = parts.map((m) => m.part?.number);
    assert.deepEqual(numbers, numbers.map((_, i) => i + 1), 'parts numbered 1, 2, ... without a gap or a repeat');
    assert.deepEqual(parts.map((m) => m.part?.final), numbers.map((_, i) => i === numbers.length - 1));
    const flows = await committedFlows(archive);
    const ports = flows.map(([p]) => p);
    assert.deepEqual(ports, [...new Set(ports)], 'no flow twice');
    assert.deepEqual(flows.filter(([p]) => p === 2000), [[2000, 1]], 'the committed part 1 is still there');
    // L's first packet and X died with the first processor's key (crypto-shredding); what came after is published.
    assert.deepEqual(flows.filter(([p]) => p !== 2000), [[1000, 1], [4000, 1], [5000, 1]]);
    assert.equal(parts.at(-1)!.counts.records, 6, 'totals: 3 records before the restart, 3 after');
  });
});
