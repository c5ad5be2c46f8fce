/**
 * A live rolling run under a spool quota with `pause` (from the issue-8 attack review, branch
 * i8-attack): before worker checkpoints, the processor kept every segment of a live run until
 * the run ended (a replay started from segment 0), and the quota may only drop segments the
 * processor has not taken, so a collector running for weeks filled any --spool-max with
 * processed segments and then paused for good. With checkpoints each committed part releases
 * the segments it covers, and ingest goes on.
 *
 * The writer is stopped by a deadline only to fail loudly instead of hanging the suite; nothing
 * is asserted about speed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpoolWriter } from '../../ingest/spool/spool-writer.ts';
import { RecordKind, parseSegmentFileName } from '../../schemas/spool.ts';
import { committedPorts, startTestSupervisor, udpPacket } from './testing.test-util.ts';

const T = 1_700_000_000;

const packet = (port: number): Uint8Array => udpPacket(port, 'quota');

describe('a live rolling run under a spool quota', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'flowseal-ckpt-quota-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('--spool-full pause keeps going: the segments a committed part covers free their room', { timeout: 180_000 }, async () => {
    // Every packet is its own UDP flow, 100 s after the previous one, so each flow ends (idle,
    // 60 s) at the next packet. ≈ 7 segments of 4 KiB against room for 3.
    const sup = await startTestSupervisor(join(root, 'quota'), ['qt'], { publishEveryMs: 50 });
    const w = await SpoolWriter.open(sup.spool, { runId: 'qt', segmentMaxBytes: 4096, quota: { maxBytes: 16_384, policy: 'pause', pollMs: 20 } });
    const N = 400;
    let written = 0;
    const writing = (async () => {
      for (let i = 0; i < N; i++) {
        const data = packet(1000 + i);
        await w.append({ kind: RecordKind.Packet, linkType: 1, ifIndex: 0, tsSec: T + i * 100, tsNsec: 0, origLen: data.length, data });
        written = i + 1;
      }
    })();
    const deadline = new Promise<'stuck'>((r) => setTimeout(() => r('stuck'), 90_000).unref());
    const outcome = await Promise.race([writing.then(() => 'done' as const), deadline]);
    if (outcome === 'stuck') {
      const stuckAt = written;
      process.emit('SIGTERM');
      await sup.done;
      // Keep the spool empty until the writer is through, so that this file can end.
      const segs = join(sup.spool, 'segments');
      const sweep = setInterval(() => {
        void readdir(segs).then((names) => Promise.all(names.filter((n) => parseSegmentFileName(n)?.runId === 'qt').map((n) => unlink(join(segs, n)).catch(() => undefined))));
      }, 20);
      await writing;
      await w.close();
      clearInterval(sweep);
      assert.fail(`ingest paused for good after ${stuckAt} of ${N} records`);
    }
    await w.close();
    assert.equal(await sup.done, 0, JSON.stringify(sup.logs));
    const ports = await committedPorts(sup.archive);
    assert.equal(ports.length, N, 'every flow once');
    assert.deepEqual(ports, [...new Set(ports)]);
    const released = sup.logs.find((e) => e.event === 'run-published')?.counts as Record<string, number>;
    assert.ok(released.segments_released_checkpoint > 0, JSON.stringify(released));
  });
});
