import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson } from '../../schemas/canonical-json.ts';
import { rollForwardStaging } from './publish.ts';

const signed = (runId: string) => ({
  manifest: {
    manifestVersion: 1, runId, dataset: 'd', schemaVersion: 1, processorVersion: 'x', createdAt: 'now', timeStart: null, timeEnd: null,
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

test('canonicalJson sorts keys at every level and drops undefined', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } }), '{"a":{"d":[3,{"y":2,"z":1}]},"b":1}');
});
