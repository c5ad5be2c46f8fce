/**
 * Attacks on worker checkpoints (branch i8-checkpoint: worker/worker-checkpoint.ts,
 * supervisor/run.ts #adoptCheckpoint/#checkpointLost/#startWorker, supervisor/probe-record.ts).
 * Each test fails while the hole it describes exists.
 *
 * 1. Isolation probes inherit `restoreThrough` from the run's config but get their own staging
 *    directory, so a probe looks for `<run>.probe-<seq>-<index>-<uuid>.checkpoint-<n>`, which
 *    never exists: every probe of a run with an adopted checkpoint dies at start-up with
 *    ERR_PROCESSOR_CHECKPOINT_INVALID, exit 1, which worker-death.ts classifies as a `crash`.
 *    Two such probes make any isolated record poison (crash-ledger.ts) — a record whose only
 *    "evidence" was kills from outside (or OOMs / stalls) is convicted and skipped. The
 *    ledger's rule "a kill from outside never marks a record" no longer holds in any run that
 *    publishes rolling parts (and even if the file were found, the probe would not be alone).
 * 2. A compromised worker (it holds the run's checkpoint key: config frame) re-seals the
 *    adopted checkpoint with a flow whose time_end is fractional. readState accepts any finite
 *    time; the row's BigInt conversion in parquet-sink.ts throws outside the worker's per-record
 *    try, so every record that expires that flow kills the worker: the crash ledger convicts
 *    innocent records as poison (and at FINISH the run loops forever). The checkpoint is never
 *    suspected: the supervisor records no digest of the file it adopted, and deaths after a
 *    restore are always blamed on records.
 * 3. The same with derived-identifier counts (an arbitrary JSON value, up to 1 MiB, checked only
 *    to be JSON): a deeply nested value restores fine, then every CUT and FINISH dies
 *    (JSON.stringify stack overflow when the part is reported). Deaths at a CUT or FINISH
 *    teach the ledger nothing, so the run restarts forever and never publishes again.
 * 4. A checkpoint that kills every worker during restore (here: names of 1 KiB, four times
 *    what extraction ever produces, in enough flows to exhaust a worker heap) is retried
 *    forever: a death before `ready` teaches nothing (site 'none'), is not
 *    ERR_PROCESSOR_CHECKPOINT_INVALID, so the checkpoint is never dropped and the run never
 *    moves again (its segments pile up in the spool).
 * 5. A checkpoint lost (damaged) while no part was committed yet (the cut's part was empty)
 *    and nothing readable follows: #finish sees `records` 0 in the last worker's counts (the
 *    lost checkpoint's counts sit in #workerBase) and takes the `#empty` path — no manifest at
 *    all, so the records read and the flows counted lost (flows_lost_checkpoint) are never
 *    reported, although #checkpointLost set #gapUnpublished so that "a final part carries the
 *    counts".
 *
 * Tests wait for conditions (log events, files, the supervisor's exit), never for fixed times.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SpoolWriter } from '../../ingest/spool/spool-writer.ts';
import { DEFAULT_POLICY } from '../../schemas/policy.ts';
import { encodeSpoolRecord, RecordKind, SpoolBuffer } from '../../schemas/spool.ts';
import { createFlowAnonymizer } from '../../sealed-processor/anonymize/flow-anonymizer.ts';
import { runManifests } from '../../sealed-processor/sinks/committed-parts.ts';
import { committedPorts, spoolSegments, startTestSupervisor, type TestSupervisor, udpPacket, waitFor as waitUntil } from '../../sealed-processor/supervisor/testing.test-util.ts';
import { RecordProcessor } from '../../sealed-processor/worker/record-processor.ts';
import { StateReader, StateWriter } from '../../sealed-processor/worker/state-bytes.ts';
import { checkpointPath, writeCheckpoint } from '../../sealed-processor/worker/worker-checkpoint.ts';

const T = 1_700_000_000;
const SPY = fileURLToPath(new URL('./checkpoint-key-spy.mjs', import.meta.url));

const packet = (port: number): Uint8Array => udpPacket(port, 'ckatk');

/** A writer whose segments are sealed when the test says so; `flows`: [source port, seconds after T]. */
async function openWriter(spool: string, runId: string) {
  let clock = 1;
  const w = await SpoolWriter.open(spool, { runId, segmentMaxAgeMs: 1, now: () => clock });
  return {
    async segment(flows: Array<[number, number]>, last = false): Promise<void> {
      for (const [port, t] of flows) {
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

const waitFor = (what: string, cond: () => boolean | Promise<boolean>, ms = 90_000): Promise<void> => waitUntil(what, cond, ms);

const checkpointFiles = async (archive: string) => (await readdir(join(archive, '.staging')).catch(() => [] as string[])).filter((n) => n.includes('.checkpoint-') && !n.endsWith('.tmp')).sort();
const events = (sup: TestSupervisor, event: string) => sup.logs.filter((e) => e.event === event);

/** Waits until segment 0 of the run was released by an adopted checkpoint (the spool is empty, one checkpoint file). */
async function checkpointAdopted(sup: TestSupervisor): Promise<void> {
  await waitFor('the checkpoint after segment 0 adopted', async () => (await spoolSegments(sup.spool)).length === 0 && (await checkpointFiles(sup.archive)).length === 1);
}

/** Stops the supervisor (as SIGTERM does) if it is still running. */
async function stopSupervisor(sup: TestSupervisor, finished: () => boolean): Promise<void> {
  if (!finished()) process.emit('SIGTERM');
  await sup.done;
}

// ---- crafting checkpoints as a compromised worker would ----------------------------------------

/** What the spy saw of the run's worker config (the checkpoint key a worker holds). */
async function spiedConfig(spyFile: string, runId: string): Promise<{ key: Uint8Array; stagingDir: string }> {
  const lines = (await readFile(spyFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { runId: string; stagingDir: string; key: string });
  const c = lines.filter((l) => l.runId === runId).at(-1);
  assert.ok(c, 'the spy saw the worker config');
  return { key: Uint8Array.from(Buffer.from(c.key, 'hex')), stagingDir: c.stagingDir };
}

/** The state image (after the header) of a processor that has seen `flows` ([port, seconds after T]). */
function legitBody(flows: Array<[number, number]>): Uint8Array {
  const p = new RecordProcessor(createFlowAnonymizer(DEFAULT_POLICY, new Uint8Array(32).fill(3)));
  for (const [port, t] of flows) {
    const data = packet(port);
    const buf = new SpoolBuffer();
    encodeSpoolRecord(buf, { kind: RecordKind.Packet, linkType: 1, ifIndex: 0, tsSec: T + t, tsNsec: 0, origLen: data.length, data });
    p.processPlaintext(buf.bytes.slice(), 0, new Set());
    p.drainRows();
  }
  const w = new StateWriter();
  p.writeState(w);
  return w.finish();
}

const f64 = (x: number) => {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(x);
  return b;
};
const u32 = (x: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(x);
  return b;
};

/** Offsets in a state image: where the derived-counts bytes start, and where the flow lists start (after the clock). */
function layout(body: Uint8Array): { derivedAt: number; listsAt: number } {
  const r = new StateReader(body);
  r.counts(65_536, 'counts');
  const derivedAt = body.length - r.remaining;
  r.bytes(1 << 20, 'derived');
  r.f64();
  return { derivedAt, listsAt: body.length - r.remaining };
}

/** Seals `body` as the run's checkpoint after segment `through`, exactly as a worker would. */
async function seal(body: Uint8Array, spy: { key: Uint8Array; stagingDir: string }, runId: string, through: number): Promise<void> {
  const forged = { writeState: (w: StateWriter) => w.raw(body) } as unknown as RecordProcessor;
  await writeCheckpoint(forged, checkpointPath(spy.stagingDir, through), spy.key, runId, through);
}

function spyEnv(spyFile: string, extraNodeArgs = ''): Record<string, string> {
  return { FLOWSEAL_WORKER_NODE_ARGS: `--import ${SPY} ${extraNodeArgs}`.trim(), CKATK_SPY_FILE: spyFile };
}

describe('worker checkpoint attacks', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'flowseal-ckatk-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('an isolation probe in a run with an adopted checkpoint is not a "crash" (a record killed only from outside is never convicted)', { timeout: 180_000 }, async () => {
    // Record 0 of segment 1 SIGKILLs every worker that reaches it (test-faults.ts `kill`: what the
    // kernel OOM killer does) — no evidence against it. Correct outcome: its probes end `killed`,
    // and after MAX_INCONCLUSIVE_ROUNDS segment 1 is quarantined as unprocessable with no record
    // marked. With the hole every probe dies at start-up (checkpoint file not found in the
    // probe's staging directory) and is classified `crash`: the record is convicted as poison.
    const sup = await startTestSupervisor(join(root, 'probe'), ['pr'], {
      publishEveryMs: 100,
      restartBackoffMs: 20,
      maxRestartBackoffMs: 200,
      workerEnv: { NODE_ENV: 'test', FLOWSEAL_FAULT: 'kill:1:0' },
    });
    let finished = false;
    void sup.done.then(() => (finished = true));
    try {
      const w = await openWriter(sup.spool, 'pr');
      await w.segment([[2000, 0]]);
      await checkpointAdopted(sup);
      await w.segment([[3000, 100], [3001, 101]]);
      await waitFor('a verdict on record 1:0', () => events(sup, 'poison-record').length > 0 || events(sup, 'segment-rejected').length > 0);
      const probes = events(sup, 'record-isolated');
      assert.deepEqual(
        probes.filter((p) => p.outcome === 'crash').map((p) => `${p.seq}:${p.index}`),
        [],
        `isolation probes of a record that was only ever killed from outside ended as crashes: ${JSON.stringify(probes)}`,
      );
      assert.deepEqual(events(sup, 'poison-record'), [], 'a record with no crash evidence was convicted as poison');
      await w.segment([[4000, 200]], true);
      assert.equal(await sup.done, 0);
      const counts = (await runManifests(sup.archive, 'd', 'pr')).at(-1)!.manifest.counts;
      assert.equal(counts.poison_records_crash ?? 0, 0, JSON.stringify(counts));
    } finally {
      await stopSupervisor(sup, () => finished);
    }
  });

  test('a checkpoint re-sealed by a compromised worker (a flow with a fractional time) does not get innocent records convicted', { timeout: 180_000 }, async () => {
    const spyFile = join(root, 'frac.spy');
    appendFileSync(spyFile, '');
    const sup = await startTestSupervisor(join(root, 'frac'), ['fr'], { publishEveryMs: 100, restartBackoffMs: 20, maxRestartBackoffMs: 200, workerEnv: spyEnv(spyFile) });
    let finished = false;
    void sup.done.then(() => (finished = true));
    try {
      const w = await openWriter(sup.spool, 'fr');
      // A=2000@0 stays open across the cut: the part is empty, the checkpoint holds A.
      await w.segment([[2000, 0]]);
      await checkpointAdopted(sup);
      // The compromised worker re-seals checkpoint-0: A's time_end + 0.5 µs (finite, so accepted).
      const body = legitBody([[2000, 0]]);
      const t = f64(T * 1e6);
      const pair = Buffer.concat([t, t]);
      const at = Buffer.from(body).indexOf(pair);
      assert.ok(at > 0, 'found A’s times in the image');
      Buffer.from(body.buffer, body.byteOffset, body.byteLength).set(f64(T * 1e6 + 0.5), at + 8);
      await seal(body, await spiedConfig(spyFile, 'fr'), 'fr', 0);
      // ... and dies (the poison record that compromised it).
      process.kill(events(sup, 'worker-started').at(-1)!.pid as number, 'SIGKILL');
      // Innocent traffic: B and C at 100 s expire A (idle 60 s); D ends the run.
      await w.segment([[3000, 100], [3001, 101]]);
      await w.segment([[4000, 200]], true);
      await waitFor('the run to end, or a record convicted', () => finished || events(sup, 'poison-record').length > 0 || events(sup, 'worker-restart').length >= 8);
      assert.deepEqual(events(sup, 'poison-record').map((e) => `${e.seq}:${e.index}`), [], 'innocent records were convicted because of a crafted checkpoint');
      assert.ok(finished, `the run never finished: ${JSON.stringify(events(sup, 'worker-restart'))}`);
      const ports = await committedPorts(sup.archive);
      assert.deepEqual(ports.filter((p) => p !== 2000), [3000, 3001, 4000], 'every innocent flow once');
    } finally {
      await stopSupervisor(sup, () => finished);
    }
  });

  test('a checkpoint re-sealed by a compromised worker (deeply nested derived counts) does not stop the run from ever publishing again', { timeout: 180_000 }, async () => {
    const spyFile = join(root, 'deep.spy');
    appendFileSync(spyFile, '');
    const sup = await startTestSupervisor(join(root, 'deep'), ['dp'], { publishEveryMs: 100, restartBackoffMs: 20, maxRestartBackoffMs: 200, workerEnv: spyEnv(spyFile) });
    let finished = false;
    void sup.done.then(() => (finished = true));
    try {
      const w = await openWriter(sup.spool, 'dp');
      await w.segment([[2000, 0]]);
      await checkpointAdopted(sup);
      const body = legitBody([[2000, 0]]);
      const { derivedAt } = layout(body);
      const oldLen = Buffer.from(body).readUInt32BE(derivedAt);
      const N = 150_000; // < 1 MiB of JSON: accepted by readState; JSON.stringify overflows the stack on it
      const deep = Buffer.from(`${'{"a":'.repeat(N)}1${'}'.repeat(N)}`);
      const crafted = Buffer.concat([body.subarray(0, derivedAt), u32(deep.length), deep, body.subarray(derivedAt + 4 + oldLen)]);
      await seal(crafted, await spiedConfig(spyFile, 'dp'), 'dp', 0);
      process.kill(events(sup, 'worker-started').at(-1)!.pid as number, 'SIGKILL');
      await w.segment([[3000, 100], [3001, 101]]);
      await w.segment([[4000, 200]], true);
      // Fixed: the checkpoint is refused (checkpoint-lost) or dropped after it kills workers; the run ends.
      await waitFor('the run to end, or the worker to die again and again', () => finished || events(sup, 'worker-restart').length >= 8);
      assert.ok(finished, `the run never finished; worker deaths after the crafted restore: ${JSON.stringify(events(sup, 'worker-restart'))}`);
      const ports = await committedPorts(sup.archive);
      assert.deepEqual(ports.filter((p) => p !== 2000), [3000, 3001, 4000]);
    } finally {
      await stopSupervisor(sup, () => finished);
    }
  });

  test('a checkpoint that kills every worker during restore is eventually given up (the run moves on)', { timeout: 240_000 }, async () => {
    // Workers run with a 96 MiB heap (as isolation.test.ts does for OOM probes). The crafted
    // checkpoint holds 40 000 UDP flows with three 1 KiB names each (readState allows 1024
    // bytes; extraction never yields more than 255): ≈ 120 MiB of strings at restore.
    const spyFile = join(root, 'oom.spy');
    appendFileSync(spyFile, '');
    const sup = await startTestSupervisor(join(root, 'oom'), ['om'], {
      publishEveryMs: 100,
      restartBackoffMs: 20,
      maxRestartBackoffMs: 200,
      workerEnv: spyEnv(spyFile, '--max-old-space-size=96'),
    });
    let finished = false;
    void sup.done.then(() => (finished = true));
    try {
      const w = await openWriter(sup.spool, 'om');
      await w.segment([[2000, 0]]);
      await checkpointAdopted(sup);
      const body = legitBody([]);
      const { listsAt } = layout(body);
      // An empty table: three u32 zero list counts follow the clock; keep the prefix and the suffix.
      const suffix = body.subarray(listsAt + 12);
      const FLOWS = 40_000;
      const name = Buffer.alloc(1024, 0x61);
      const flow = (i: number) => {
        const w = new StateWriter();
        for (let k = 0; k < 10; k++) w.u32(k === 3 ? 0x0a000000 + i : k === 7 ? 0xc0000201 : k === 8 ? (1000 << 16) | 9999 : k === 9 ? 17 : 0);
        w.u8(1);
        for (let k = 0; k < 4; k++) w.i32(-1);
        w.i16(0);
        w.i16(0);
        for (const c of [1, 60, 0, 0]) w.f64(c);
        w.f64(T * 1e6);
        w.f64(T * 1e6);
        w.u8(0);
        w.u8(0);
        w.u8(0);
        w.f64(0);
        w.f64(0);
        w.u8(255);
        for (let k = 0; k < 3; k++) {
          w.u16(name.length);
          w.raw(name);
        }
        return w.finish();
      };
      const one = flow(0);
      const flows = Buffer.alloc(one.length * FLOWS);
      for (let i = 0; i < FLOWS; i++) flows.set(i === 0 ? one : flow(i), i * one.length);
      const crafted = Buffer.concat([body.subarray(0, listsAt), u32(0), u32(FLOWS), flows, u32(0), suffix]);
      await seal(crafted, await spiedConfig(spyFile, 'om'), 'om', 0);
      process.kill(events(sup, 'worker-started').at(-1)!.pid as number, 'SIGKILL');
      await w.segment([[3000, 100]]);
      await w.segment([[4000, 200]], true);
      await waitFor('the run to end, or restores to keep dying', () => finished || events(sup, 'worker-restart').filter((e) => e.site === 'none').length >= 6);
      assert.ok(finished, `every restore of the checkpoint died and it was never given up: ${JSON.stringify(events(sup, 'worker-restart'))}`);
      assert.deepEqual((await committedPorts(sup.archive)).filter((p) => p >= 3000), [3000, 4000]);
    } finally {
      await stopSupervisor(sup, () => finished);
    }
  });

  test('a checkpoint lost before any part was committed, nothing readable after it: a final manifest still reports what was read and lost', { timeout: 120_000 }, async () => {
    const sup = await startTestSupervisor(join(root, 'lost-empty'), ['le'], { publishEveryMs: 100, restartBackoffMs: 20 });
    let finished = false;
    void sup.done.then(() => (finished = true));
    try {
      const w = await openWriter(sup.spool, 'le');
      // A=2000@0 is still open at the cut: the part is empty (nothing committed), the checkpoint holds A.
      await w.segment([[2000, 0]]);
      await checkpointAdopted(sup);
      const [file] = await checkpointFiles(sup.archive);
      const path = join(sup.archive, '.staging', file!);
      const bytes = await readFile(path);
      bytes[bytes.length - 20] ^= 0xff;
      await writeFile(path, bytes);
      process.kill(events(sup, 'worker-started').at(-1)!.pid as number, 'SIGKILL');
      await waitFor('the checkpoint refused', () => events(sup, 'checkpoint-lost').length > 0);
      // The capture ends with no more traffic (an empty final segment).
      await w.segment([], true);
      assert.equal(await sup.done, 0);
      assert.deepEqual(events(sup, 'run-empty'), [], 'a run that read a record and lost a flow was treated as empty');
      const manifests = await runManifests(sup.archive, 'd', 'le');
      assert.ok(manifests.length > 0, `no manifest reports the lost checkpoint: ${JSON.stringify(sup.logs.filter((e) => String(e.event).startsWith('run-')))}`);
      const counts = manifests.at(-1)!.manifest.counts;
      assert.equal(counts.flows_lost_checkpoint, 1);
      assert.equal(counts.checkpoints_lost, 1);
      assert.equal(counts.records, 1);
    } finally {
      await stopSupervisor(sup, () => finished);
    }
  });
});
