/**
 * `flowseal pipeline` must not exit 0 when the processor exited cleanly but a run was not
 * published, or was published without some of its segments (quarantined, shredded, missing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
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
