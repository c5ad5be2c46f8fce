/**
 * Whoever can write the spool cannot hang or bloat the processor: segment files (and run end
 * markers) that are FIFOs, symlinks, devices or directories are refused with
 * ERR_SPOOL_NOT_A_FILE without blocking; a huge sparse file is refused with
 * ERR_SPOOL_TOO_LARGE before anything is read; a bad header is refused before the body is
 * allocated; and the supervisor quarantines all of them while publishing the good run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, truncate, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '../../schemas/errors.ts';
import { RecordKind, SEGMENT_MAX_FILE_BYTES, runEndMarkerName } from '../../schemas/spool.ts';
import { SpoolWriter } from '../../ingest/spool/spool-writer.ts';
import { ethernet, ipv4, udp } from '../decode/testing/packet-builders.ts';
import { generateProcessorKeys } from './keys.ts';
import { writePublicKey } from './key-file.ts';
import { readRunEndMarker, readSegmentFile } from './spool-files.ts';
import { startTestSupervisor } from '../supervisor/testing.test-util.ts';

const isRoot = process.getuid?.() === 0;

async function refusedWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: { code?: string }) => e.code === code);
}

function mkfifo(path: string): void {
  const r = spawnSync('mkfifo', [path]);
  assert.equal(r.status, 0, String(r.stderr));
}

/** Writes a run of `n` UDP packets with the real SpoolWriter into `spool` (one segment). */
async function writeRun(spool: string, runId: string, n: number): Promise<void> {
  const w = await SpoolWriter.open(spool, { runId });
  for (let i = 0; i < n; i++) {
    const data = ethernet({ dst: '02:00:00:00:00:01', src: '02:00:00:00:00:02', etherType: 0x0800 }, ipv4({ src: '192.0.2.1', dst: '198.51.100.1', protocol: 17 }, udp({ sport: 20_000 + i, dport: 53 }, new Uint8Array(8))));
    await w.append({ kind: RecordKind.Packet, linkType: 1, ifIndex: 0, tsSec: 1_700_000_000, tsNsec: i, origLen: data.length, data });
  }
  await w.close();
}

describe('reading untrusted spool files', () => {
  let spool: string;
  const seg = (name: string) => join(spool, 'segments', name);
  before(async () => {
    spool = await mkdtemp(join(tmpdir(), 'flowseal-hostile-'));
    await writePublicKey(spool, await generateProcessorKeys());
    await writeRun(spool, 'good', 3);
  });
  after(async () => {
    await rm(spool, { recursive: true, force: true });
  });

  test('a real segment reads back whole', async () => {
    const bytes = await readSegmentFile(spool, 'good-00000000.seg');
    assert.deepEqual(bytes, new Uint8Array(await readFile(seg('good-00000000.seg'))));
  });

  test('a FIFO named like a segment or a run end marker is refused at once, never waited on', async () => {
    mkfifo(seg('fifo-00000000.seg'));
    await refusedWith(readSegmentFile(spool, 'fifo-00000000.seg'), ErrorCode.SpoolNotAFile);
    mkfifo(seg(runEndMarkerName('fifo')));
    assert.equal(await readRunEndMarker(spool, 'fifo'), null);
  });

  test('a symlink (to a valid segment, or to a device) and a directory are refused', async () => {
    await symlink(seg('good-00000000.seg'), seg('link-00000000.seg'));
    await refusedWith(readSegmentFile(spool, 'link-00000000.seg'), ErrorCode.SpoolNotAFile);
    await symlink('/dev/zero', seg('zero-00000000.seg'));
    await refusedWith(readSegmentFile(spool, 'zero-00000000.seg'), ErrorCode.SpoolNotAFile);
    await mkdir(seg('dir-00000000.seg'));
    await refusedWith(readSegmentFile(spool, 'dir-00000000.seg'), ErrorCode.SpoolNotAFile);
  });

  test('a device node placed in the spool is refused', { skip: isRoot ? false : 'mknod needs root (CI runs as root)' }, async () => {
    const r = spawnSync('mknod', [seg('dev-00000000.seg'), 'c', '1', '5']); // /dev/zero
    assert.equal(r.status, 0, String(r.stderr));
    await refusedWith(readSegmentFile(spool, 'dev-00000000.seg'), ErrorCode.SpoolNotAFile);
  });

  test('a 1.5 GB sparse file is refused by its size, without reading it into memory', async () => {
    await writeFile(seg('huge-00000000.seg'), '');
    await truncate(seg('huge-00000000.seg'), 1.5 * 1024 ** 3);
    const before = process.memoryUsage().arrayBuffers;
    await refusedWith(readSegmentFile(spool, 'huge-00000000.seg'), ErrorCode.SpoolTooLarge);
    assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024, 'nothing of it was allocated');
    // The limit itself: one byte over is refused, a bad header just under it too (and first).
    await writeFile(seg('over-00000000.seg'), '');
    await truncate(seg('over-00000000.seg'), SEGMENT_MAX_FILE_BYTES + 1);
    await refusedWith(readSegmentFile(spool, 'over-00000000.seg'), ErrorCode.SpoolTooLarge);
    await writeFile(seg('junk-00000000.seg'), '');
    await truncate(seg('junk-00000000.seg'), SEGMENT_MAX_FILE_BYTES);
    const mark = process.memoryUsage().arrayBuffers;
    await refusedWith(readSegmentFile(spool, 'junk-00000000.seg'), ErrorCode.SpoolBadHeader);
    assert.ok(process.memoryUsage().arrayBuffers - mark < 16 * 1024 * 1024, 'the body of a bad-header file is never allocated');
  });
});

test('the supervisor quarantines a FIFO, a symlink and a sparse giant, and publishes the good run', { timeout: 120_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'flowseal-hostile-sup-'));
  try {
    const { spool, archive, logs, done } = await startTestSupervisor(root, ['good']);
    // The hostile files first, then the good run (sealed in a side directory, moved in whole).
    const segs = join(spool, 'segments');
    await mkdir(segs, { recursive: true });
    mkfifo(join(segs, 'afifo-00000000.seg'));
    await writeFile(join(segs, 'bhuge-00000000.seg'), '');
    await truncate(join(segs, 'bhuge-00000000.seg'), 1.5 * 1024 ** 3);
    await symlink('/dev/zero', join(segs, 'clink-00000000.seg'));
    const side = join(root, 'side');
    await mkdir(side);
    await copyFile(join(spool, 'processor-key.json'), join(side, 'processor-key.json'));
    await writeRun(side, 'good', 4);
    for (const n of await readdir(join(side, 'segments'))) await rename(join(side, 'segments', n), join(segs, n));
    assert.equal(await done, 0, JSON.stringify(logs));
    const manifest = JSON.parse(await readFile(join(archive, 'd', 'manifests', 'good.json'), 'utf8')).manifest;
    assert.equal(manifest.counts.records, 4);
    assert.equal(manifest.flows, 4);
    const rejected = logs.filter((e) => e.event === 'segment-rejected').map((e) => `${e.run}:${e.code}`).sort();
    assert.deepEqual(rejected, [`afifo:${ErrorCode.SpoolNotAFile}`, `bhuge:${ErrorCode.SpoolTooLarge}`, `clink:${ErrorCode.SpoolNotAFile}`]);
    const q = (await readdir(join(spool, 'quarantine'))).sort();
    for (const n of ['afifo-00000000.seg', 'bhuge-00000000.seg', 'clink-00000000.seg']) assert.ok(q.includes(n) && q.includes(`${n}.reason.json`), n);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
