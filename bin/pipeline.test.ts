/**
 * `flowseal pipeline` must not exit 0 when the processor exited cleanly but a run was not
 * published, or was published without some of its segments (quarantined, shredded, missing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkPublished } from './pipeline.ts';

test('a missing manifest or refused segments make the pipeline exit 3 and say which run', async () => {
  const archive = await mkdtemp(join(tmpdir(), 'flowseal-pub-'));
  const said: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => (said.push(String(s)), true)) as typeof process.stderr.write;
  try {
    const dir = join(archive, 'd', 'manifests');
    await mkdir(dir, { recursive: true });
    const manifest = (counts: Record<string, number>) => JSON.stringify({
      manifest: {
        manifestVersion: 1, runId: 'r', dataset: 'd', schemaVersion: 1, processorVersion: 'test', createdAt: new Date(0).toISOString(),
        timeStart: null, timeEnd: null, flows: 0, files: [], counts, policyHash: 'p', keyId: 'k', releaseNotes: null,
      },
      jws: 'x.y.z',
      signer: {},
    });
    await writeFile(join(dir, 'clean.json'), manifest({ records: 5, segments_quarantined: 0 }));
    await writeFile(join(dir, 'lossy.json'), manifest({ records: 3, segments_quarantined: 1, segments_shredded: 2 }));
    assert.equal(await checkPublished(archive, 'd', ['clean']), 0);
    assert.deepEqual(said, []);
    assert.equal(await checkPublished(archive, 'd', ['clean', 'lossy']), 3);
    assert.match(said.join(''), /run lossy was published without some of its data: 1 segment\(s\) quarantined, 2 segment\(s\) shredded/);
    said.length = 0;
    assert.equal(await checkPublished(archive, 'd', ['gone']), 3);
    assert.match(said.join(''), /run gone was not published/);
    // Poison records are skipped by design (exit 0), but never silently.
    said.length = 0;
    await writeFile(join(dir, 'poisoned.json'), manifest({ records: 9, poison_records: 2 }));
    assert.equal(await checkPublished(archive, 'd', ['poisoned']), 0);
    assert.match(said.join(''), /run poisoned: 2 record\(s\) crashed the decoder deterministically and were skipped/);
  } finally {
    process.stderr.write = write;
    await rm(archive, { recursive: true, force: true });
  }
});

test('input problems are refused before anything starts, each with its code and the path', async () => {
  const { runPipeline } = await import('./pipeline.ts');
  const { AppError } = await import('../schemas/errors.ts');
  const { inputError } = await import('../ingest/capture-input.ts');
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-input-'));
  try {
    await writeFile(join(dir, 'notes.txt'), 'not a capture');
    await writeFile(join(dir, 'empty.pcap'), '');
    await writeFile(join(dir, 'capture.pcap.gz'), Buffer.from([0x1f, 0x8b, 8, 0]));
    const archive = join(dir, 'archive');
    const refused = async (path: string, code: string) => {
      await assert.rejects(runPipeline({ captures: [path], archiveDir: archive, dataset: 'd', stdio: 'pipe' }), (e) => {
        assert.ok(e instanceof AppError);
        assert.equal(e.code, code);
        assert.ok(e.message.includes(path), e.message);
        return true;
      });
    };
    await refused(join(dir, 'missing.pcap'), 'ERR_INPUT_NOT_FOUND');
    await refused(dir, 'ERR_INPUT_NOT_A_FILE');
    await refused(join(dir, 'notes.txt'), 'ERR_INPUT_NOT_A_CAPTURE');
    await refused(join(dir, 'empty.pcap'), 'ERR_INPUT_NOT_A_CAPTURE');
    // Any one bad input refuses the whole pipeline before its processor starts: nothing is written.
    await assert.rejects(runPipeline({ captures: [join(dir, 'capture.pcap.gz'), join(dir, 'missing.pcap')], archiveDir: archive, dataset: 'd', stdio: 'pipe' }));
    assert.ok(!existsSync(archive), 'no archive, no manifest');
    // Root reads anything, so unreadable files are checked through the errno mapping.
    assert.equal(inputError('/x/cap.pcap', 'EACCES').code, 'ERR_INPUT_UNREADABLE');
    assert.equal(inputError('/x/cap.pcap', 'EACCES').message, 'capture file "/x/cap.pcap" cannot be opened (EACCES)');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a run that reads no record publishes nothing: no manifest, and the pipeline says so', { timeout: 120_000 }, async () => {
  const { spawn } = await import('node:child_process');
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-empty-'));
  try {
    const archive = join(dir, 'archive');
    const child = spawn(process.execPath, [new URL('./flowseal.mjs', import.meta.url).pathname, 'pipeline', '-', '--archive', archive, '--dataset', 'd'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    child.stdin!.end();
    const code = await new Promise<number>((res) => child.on('exit', (c) => res(c ?? 1)));
    assert.equal(code, 3, err);
    assert.match(err, /ERR_CAPTURE_TRUNCATED/, 'the capture side says why');
    assert.match(err, /"event":"run-empty"/, 'the processor read the run and found no record');
    assert.deepEqual(await readdir(join(archive, 'd', 'manifests')).catch(() => []), [], 'no manifest');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
