/**
 * Publication through the journal (publish.ts): roll-forward at start, hostile or mismatched
 * journals moved aside, and the ordering that keeps a manifest from ever naming a file that is
 * not in the archive (files are linked first, the manifest is written last).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson } from '../../schemas/canonical-json.ts';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { DEFAULT_POLICY } from '../../schemas/policy.ts';
import { partStagingDir, publishPart, rollForwardStaging } from './publish.ts';

const signed = (runId: string, part?: { number: number; final: boolean; throughSegment: number | null }) => ({
  manifest: {
    manifestVersion: 1, runId, ...(part ? { part } : {}), dataset: 'd', schemaVersion: 1, processorVersion: 'x', createdAt: 'now', timeStart: null, timeEnd: null,
    flows: 1, files: [], counts: {}, policyHash: 'h', keyId: 'k', releaseNotes: null,
  },
  jws: 'a.b.c',
  signer: {},
});

test('rollForwardStaging completes a journaled publish and discards an unjournaled one', async () => {
  const archive = await mkdtemp(join(tmpdir(), 'fs-pub-'));
  try {
    const staged = join(archive, '.staging', 'run1');
    await mkdir(join(staged, 'date=2026-01-01', 'hour=00'), { recursive: true });
    await writeFile(join(staged, 'date=2026-01-01', 'hour=00', 'run1-0000.parquet'), 'PAR1');
    await writeFile(join(staged, 'publish.json'), JSON.stringify({ dataset: 'd', files: ['date=2026-01-01/hour=00/run1-0000.parquet'], manifest: signed('run1') }));
    await mkdir(join(archive, '.staging', 'run2'), { recursive: true });
    const r = await rollForwardStaging(join(archive, '.staging'), archive);
    assert.deepEqual(r, { completed: 1, discarded: 1, rejected: 0 });
    assert.ok(existsSync(join(archive, 'd', 'date=2026-01-01', 'hour=00', 'run1-0000.parquet')));
    assert.ok(existsSync(join(archive, 'd', 'manifests', 'run1.json')));
    assert.deepEqual(await readdir(join(archive, '.staging')), []);
  } finally {
    await rm(archive, { recursive: true, force: true });
  }
});

test('a part is journaled in its own staging directory and committed by its own manifest; a part journal under another part\'s directory is rejected', async () => {
  const archive = await mkdtemp(join(tmpdir(), 'fs-pub-'));
  try {
    const rel = 'date=2026-01-01/hour=00/run1.p000002-0000.parquet';
    const staged = partStagingDir(archive, 'run1', 2);
    assert.equal(staged, join(archive, '.staging', 'run1.p000002'));
    await mkdir(join(staged, 'date=2026-01-01', 'hour=00'), { recursive: true });
    await writeFile(join(staged, rel), 'PAR1');
    await writeFile(join(staged, 'publish.json'), JSON.stringify({ dataset: 'd', files: [rel], manifest: signed('run1', { number: 2, final: false, throughSegment: 7 }) }));
    const misfiled = partStagingDir(archive, 'run1', 3);
    await mkdir(misfiled, { recursive: true });
    await writeFile(join(misfiled, 'publish.json'), JSON.stringify({ dataset: 'd', files: [], manifest: signed('run1', { number: 4, final: true, throughSegment: null }) }));
    const r = await rollForwardStaging(join(archive, '.staging'), archive);
    assert.deepEqual(r, { completed: 1, discarded: 0, rejected: 1 });
    assert.ok(existsSync(join(archive, 'd', rel)));
    assert.deepEqual(await readdir(join(archive, 'd', 'manifests')), ['run1.p000002.json']);
  } finally {
    await rm(archive, { recursive: true, force: true });
  }
});

test('rollForwardStaging never follows a hostile or corrupt journal', async () => {
  const archive = await mkdtemp(join(tmpdir(), 'fs-pub-'));
  const outside = await mkdtemp(join(tmpdir(), 'fs-outside-'));
  try {
    await writeFile(join(outside, 'victim.txt'), 'keep me');
    const evil = join(archive, '.staging', 'evil');
    await mkdir(evil, { recursive: true });
    await writeFile(
      join(evil, 'publish.json'),
      JSON.stringify({ dataset: '../../x', files: [`../../../../${outside}/victim.txt`], manifest: signed('../../owned') }),
    );
    const corrupt = join(archive, '.staging', 'corrupt');
    await mkdir(corrupt, { recursive: true });
    await writeFile(join(corrupt, 'publish.json'), '{"dataset": "d", "files": [');
    const events: Record<string, unknown>[] = [];
    const r = await rollForwardStaging(join(archive, '.staging'), archive, (e) => events.push(e));
    assert.deepEqual(r, { completed: 0, discarded: 0, rejected: 2 });
    assert.ok(existsSync(join(outside, 'victim.txt')));
    assert.equal((await readdir(join(archive, '.rejected'))).length, 2);
    assert.ok(events.every((e) => e.event === 'staging-rejected' && typeof e.code === 'string'));
  } finally {
    await rm(archive, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  }
});

/** Every file under `dir`, as paths relative to it, sorted. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(join(e.parentPath, e.name).slice(dir.length + 1));
  }
  return out.sort();
}

test('a publish that stops partway leaves no manifest: files are linked before the manifest is written', async () => {
  const archive = await mkdtemp(join(tmpdir(), 'fs-pub-'));
  try {
    const staging = join(archive, '.staging', 'run1');
    const hour = 'date=2026-01-01/hour=00';
    const first = `${hour}/run1-0000.parquet`;
    const second = `${hour}/run1-0001.parquet`;
    await mkdir(join(staging, hour), { recursive: true });
    await writeFile(join(staging, first), 'PAR1 first');
    await writeFile(join(staging, second), 'PAR1 second');
    // Another run's file already holds the second target (a reused run id): its link must fail.
    await mkdir(join(archive, 'd', hour), { recursive: true });
    await writeFile(join(archive, 'd', second), 'PAR1 someone else');
    const report = (relPath: string) => ({ relPath, rows: 1, bytes: 10, timeStart: null, timeEnd: null });
    const input = {
      runId: 'run1',
      part: { number: 1, final: true, throughSegment: null },
      dataset: 'd',
      archiveDir: archive,
      stagingDir: staging,
      done: { flows: 2, files: [report(first), report(second)], releaseNotes: null, timeStart: null, timeEnd: null, counts: {} },
      counts: {},
      policy: DEFAULT_POLICY,
      processorVersion: 'test',
      keyId: 'k',
    };
    await assert.rejects(publishPart(input), (e) => e instanceof AppError && e.code === ErrorCode.ArchiveWriteFailed);
    assert.ok(!existsSync(join(archive, 'd', 'manifests', 'run1.json')), 'no manifest for a part whose files are not all in the archive');
    assert.ok(!existsSync(join(archive, 'd', 'manifests')), 'no manifest (or temp file) at all');
    assert.deepEqual(await filesUnder(join(archive, 'd')), [first, second], 'only the journaled first file joined the archive');
    assert.equal(await readFile(join(archive, 'd', second), 'utf8'), 'PAR1 someone else', 'the other run\'s file is untouched');
    assert.ok(existsSync(join(staging, 'publish.json')), 'the journal stays for a roll-forward');
    assert.ok(existsSync(join(staging, second)), 'the file that could not move is still staged');
    // Rolling forward hits the same conflict and still writes no manifest.
    const r = await rollForwardStaging(join(archive, '.staging'), archive);
    assert.deepEqual(r, { completed: 0, discarded: 0, rejected: 1 });
    assert.ok(!existsSync(join(archive, 'd', 'manifests', 'run1.json')), 'no manifest after the roll-forward either');
  } finally {
    await rm(archive, { recursive: true, force: true });
  }
});

test('rollForwardStaging rejects a valid journal filed under another run\'s staging directory', async () => {
  const archive = await mkdtemp(join(tmpdir(), 'fs-pub-'));
  try {
    const staged = join(archive, '.staging', 'run1');
    const rel = 'date=2026-01-01/hour=00/other-0000.parquet';
    await mkdir(join(staged, 'date=2026-01-01', 'hour=00'), { recursive: true });
    await writeFile(join(staged, rel), 'PAR1');
    // Well-formed in every field: only its run id disagrees with the directory it sits in.
    await writeFile(join(staged, 'publish.json'), JSON.stringify({ dataset: 'd', files: [rel], manifest: signed('other') }));
    const events: Record<string, unknown>[] = [];
    const r = await rollForwardStaging(join(archive, '.staging'), archive, (e) => events.push(e));
    assert.deepEqual(r, { completed: 0, discarded: 0, rejected: 1 });
    assert.deepEqual(events, [{ event: 'staging-rejected', code: ErrorCode.ArchiveWriteFailed }]);
    assert.ok(!existsSync(join(archive, 'd', 'manifests', 'other.json')), 'no manifest under the journal\'s run id');
    assert.ok(!existsSync(join(archive, 'd', 'manifests', 'run1.json')), 'nor under the directory\'s');
    assert.ok(!existsSync(join(archive, 'd', rel)), 'none of its files published');
    assert.equal((await readdir(join(archive, '.rejected'))).length, 1, 'moved aside for inspection');
  } finally {
    await rm(archive, { recursive: true, force: true });
  }
});

test('canonicalJson sorts keys at every level and drops undefined', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } }), '{"a":{"d":[3,{"y":2,"z":1}]},"b":1}');
});
