/**
 * The spool quota (spool-quota.ts) through the SpoolWriter: `pause` holds the writer back until
 * the processor frees room, `drop-oldest` deletes this run's oldest segment the processor has
 * not taken (never a processed one, never the one it takes next); both are counted in the run
 * quota file. And through the real supervisor: the counts reach the manifest, and dropped
 * segments are skipped at once (the gap timeout here is longer than the test's).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordKind, RunQuota, runProgressName, runQuotaName, spoolRecordBytes } from '../../schemas/spool.ts';
import { generateProcessorKeys } from '../../sealed-processor/spool/keys.ts';
import { writePublicKey } from '../../sealed-processor/spool/key-file.ts';
import { startTestSupervisor } from '../../sealed-processor/supervisor/testing.test-util.ts';
import { ethernet, ipv4, text, udp } from '../../sealed-processor/decode/testing/packet-builders.ts';
import { SpoolWriter } from './spool-writer.ts';

const pkt = (port: number) => ethernet({ dst: '02:00:00:00:00:01', src: '02:00:00:00:00:02', etherType: 0x0800 }, ipv4({ src: '192.0.2.1', dst: '198.51.100.1', protocol: 17 }, udp({ sport: port, dport: 53 }, text('quota'))));
const RECORD = spoolRecordBytes(pkt(1).length);
/** Segments of 4 records. */
const SEGMENT_BYTES = 4 * RECORD;
/** What the quota reserves before it seals a segment (spool-writer.ts: the segment size plus framing). */
const RESERVED = SEGMENT_BYTES + 1024;

/** Bytes of one sealed segment of 4 records, measured. */
async function segmentFileBytes(): Promise<number> {
  const spool = await freshSpool();
  try {
    const w = await SpoolWriter.open(spool, { runId: 'm', segmentMaxBytes: SEGMENT_BYTES });
    for (let i = 0; i < 5; i++) await append(w, i);
    await w.close();
    const { stat } = await import('node:fs/promises');
    return (await stat(join(spool, 'segments', 'm-00000000.seg'))).size;
  } finally {
    await rm(spool, { recursive: true, force: true });
  }
}

/** A limit with room for exactly `n` sealed segments. */
const limitFor = async (n: number) => n * (await segmentFileBytes()) + RESERVED - 1;

async function append(w: SpoolWriter, n: number): Promise<void> {
  const data = pkt(10_000 + n);
  await w.append({ kind: RecordKind.Packet, linkType: 1, ifIndex: 0, tsSec: 1_700_000_000 + n, tsNsec: 0, origLen: data.length, data });
}

const segs = async (spool: string) => (await readdir(join(spool, 'segments'))).filter((n) => n.endsWith('.seg')).sort();
const quotaOf = async (spool: string, run: string) => RunQuota.parse(JSON.parse(await readFile(join(spool, 'segments', runQuotaName(run)), 'utf8')));

async function freshSpool(): Promise<string> {
  const spool = await mkdtemp(join(tmpdir(), 'flowseal-quota-'));
  await writePublicKey(spool, await generateProcessorKeys());
  return spool;
}

test('pause: a full spool holds the writer back until room is freed, and says so', async () => {
  const spool = await freshSpool();
  try {
    const w = await SpoolWriter.open(spool, { runId: 'p', segmentMaxBytes: SEGMENT_BYTES, quota: { maxBytes: await limitFor(2), policy: 'pause', pollMs: 10 } });
    for (let i = 0; i < 12; i++) await append(w, i);
    let settled = false;
    // A third segment does not fit: the append that seals it waits.
    const blocked = append(w, 12).then(() => void (settled = true));
    const deadline = Date.now() + 10_000;
    while ((await quotaOf(spool, 'p').catch(() => null))?.pauses !== 1) {
      assert.ok(Date.now() < deadline, 'the quota never paused');
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(settled, false, 'held back while the spool is full');
    assert.equal((await segs(spool)).length, 2);
    // The processor takes a segment: ingest goes on.
    await unlink(join(spool, 'segments', (await segs(spool))[0]!));
    await blocked;
    // The processor takes the rest too: the final segment fits.
    for (const n of await segs(spool)) await unlink(join(spool, 'segments', n));
    await w.close();
    const q = await quotaOf(spool, 'p');
    assert.equal(q.pauses, 1);
    assert.equal(q.droppedSegments, 0);
    assert.equal(w.quota!.pauses, 1);
  } finally {
    await rm(spool, { recursive: true, force: true });
  }
});

test('drop-oldest: the oldest unprocessed segment goes, never a processed one nor the next one taken', async () => {
  const spool = await freshSpool();
  try {
    // The processor has taken segment 0 (kept for replay until the run ends).
    await mkdir(join(spool, 'segments'), { recursive: true });
    await writeFile(join(spool, 'segments', runProgressName('d')), JSON.stringify({ through: 0 }));
    const w = await SpoolWriter.open(spool, { runId: 'd', segmentMaxBytes: SEGMENT_BYTES, quota: { maxBytes: await limitFor(3), policy: 'drop-oldest', pollMs: 10 } });
    for (let i = 0; i < 20; i++) await append(w, i);
    await w.close();
    const q = await quotaOf(spool, 'd');
    assert.ok(q.droppedSegments >= 2, JSON.stringify(q));
    assert.equal(q.pauses, 0);
    assert.equal(q.dropped[0], 2, 'segment 0 is processed and 1 is the one taken next: 2 is the oldest to drop');
    assert.deepEqual(q.dropped, [...q.dropped].sort((a, b) => a - b), 'oldest first');
    const left = await segs(spool);
    assert.ok(left.includes('d-00000000.seg') && left.includes('d-00000001.seg'));
    for (const seq of q.dropped) assert.ok(!left.includes(`d-${String(seq).padStart(8, '0')}.seg`));
  } finally {
    await rm(spool, { recursive: true, force: true });
  }
});

test('the quota\'s drops reach the manifest and dropped segments are not waited for', { timeout: 60_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'flowseal-quota-run-'));
  try {
    const sup = await startTestSupervisor(root, ['q'], { gapTimeoutMs: 600_000 });
    // Written while the processor is not taking anything (a side spool with its key), then handed over.
    const side = join(root, 'side');
    await mkdir(side, { recursive: true });
    await copyFile(join(sup.spool, 'processor-key.json'), join(side, 'processor-key.json'));
    const w = await SpoolWriter.open(side, { runId: 'q', segmentMaxBytes: SEGMENT_BYTES, quota: { maxBytes: await limitFor(3), policy: 'drop-oldest', pollMs: 10 } });
    for (let i = 0; i < 20; i++) await append(w, i);
    await w.close();
    const q = await quotaOf(side, 'q');
    assert.ok(q.droppedSegments > 0);
    await mkdir(join(sup.spool, 'segments'), { recursive: true });
    // The quota file first: the processor must know of the drops when it meets the gaps.
    const names = (await readdir(join(side, 'segments'))).sort((a, b) => Number(b.endsWith('.quota')) - Number(a.endsWith('.quota')));
    for (const n of names) await rename(join(side, 'segments', n), join(sup.spool, 'segments', n));
    assert.equal(await sup.done, 0, JSON.stringify(sup.logs));
    const m = JSON.parse(await readFile(join(sup.archive, 'd', 'manifests', 'q.json'), 'utf8')).manifest;
    assert.equal(m.counts.spool_quota_dropped_segments, q.droppedSegments);
    assert.equal(m.counts.spool_quota_pauses, 0);
    assert.equal(m.counts.spool_quota_policy_drop_oldest, 1);
    assert.equal(m.counts.segments_missing ?? 0, 0, 'no gap waited out');
    assert.equal(m.counts.records, 20 - 4 * q.droppedSegments, 'exactly the dropped segments\' records are missing');
    assert.equal(m.flows, m.counts.records, 'one flow per remaining packet');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
