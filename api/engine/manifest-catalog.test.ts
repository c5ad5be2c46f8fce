/**
 * The manifest is the read-side commit: the engine reads only files listed in manifests that
 * verify, with matching size and SHA-256; everything else under the archive is invisible, and a
 * run failing any check is left out whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync, copyFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeArchive, type FlowRowInput } from '../../test/support/make-archive.ts';
import { signerFromSeed } from '../../sealed-processor/sinks/manifest-signer.ts';
import { createDuckDbEngine, type DuckDbEngine } from './duckdb-engine.ts';
import { MAX_MANIFEST_BYTES } from './manifest-catalog.ts';

const rows = (n: number, hour = 10): FlowRowInput[] =>
  Array.from({ length: n }, (_, i) => ({ time_start: `2026-01-01T${String(hour + (i % 2)).padStart(2, '0')}:00:${String(i % 60).padStart(2, '0')}Z`, src_addr: `10.0.0.${i % 250}`, dst_addr: '10.0.1.1' }));

const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b);

async function setup(options: { pinned?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'flowseal-catalog-'));
  const archive = join(dir, 'archive');
  const operator = await signerFromSeed(seed(7), true);
  const clock = { t: 0 };
  const rejected: { dataset: string; run: string; reason: string }[] = [];
  const engine = await createDuckDbEngine({
    archiveDir: archive,
    threads: 1,
    spill: false,
    datasetCacheMs: 1000,
    now: () => clock.t,
    manifestKeys: options.pinned ? [operator.publicJwk] : null,
    onRejectedRun: (r) => rejected.push(r),
  });
  /** Rows the engine would read for `dataset` (through its committed file list). */
  const count = async (dataset: string): Promise<number | null> => {
    const d = (await engine.listDatasets()).find((x) => x.id === dataset);
    if (!d) return null;
    const files = engine.datasetFiles(dataset);
    if (files.length === 0) return 0;
    const r = await engine.run({ sql: 'SELECT count(*)::INTEGER FROM read_parquet($1)', params: [files] }, { maxRows: 1, timeoutMs: 10_000 });
    return Number(r.rows[0]![0]);
  };
  const refresh = () => void (clock.t += 1001);
  return { dir, archive, engine, operator, rejected, count, refresh, close: async () => { await engine.close(); rmSync(dir, { recursive: true, force: true }); } };
}

function parquetFiles(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.parquet')).map((f) => join(root, f)).sort();
}

test('files without a committed manifest are invisible; a run appears whole once committed, without restart', async () => {
  const h = await setup();
  try {
    await makeArchive(h.archive, { dataset: 'lab', rows: rows(20), runId: 'r1' });
    // A processor killed while publishing r2: its files are in place, its manifest is not.
    await makeArchive(h.archive, { dataset: 'lab', rows: rows(30), runId: 'r2', manifest: false });
    await makeArchive(h.archive, { dataset: 'nomanifest', rows: rows(5), runId: 'r9', manifest: false });
    assert.equal(await h.count('lab'), 20);
    assert.equal(await h.count('nomanifest'), null, 'a dataset with no committed run is not listed');
    const [lab] = await h.engine.listDatasets();
    assert.equal(lab!.flows, 20);
    assert.equal(lab!.runs, 1);
    assert.ok(h.engine.datasetFiles('lab').every((f) => f.includes('/r1-')));
    // The restarted processor completes r2 (rewrites its files, commits the manifest).
    await makeArchive(h.archive, { dataset: 'lab', rows: rows(30), runId: 'r2' });
    assert.equal(await h.count('lab'), 20, 'within the listing cache period nothing changes');
    h.refresh();
    assert.equal(await h.count('lab'), 50);
    assert.equal((await h.engine.listDatasets())[0]!.runs, 2);
    assert.deepEqual(h.rejected, []);
  } finally {
    await h.close();
  }
});

test('a run whose file was changed, truncated, removed or replaced by a symlink is left out whole', async () => {
  const h = await setup();
  try {
    await makeArchive(h.archive, { dataset: 'lab', rows: rows(10), runId: 'good' });
    const victims = ['hash', 'size', 'gone', 'link'] as const;
    for (const v of victims) await makeArchive(h.archive, { dataset: 'lab', rows: rows(8), runId: v });
    const fileOf = (run: string) => parquetFiles(join(h.archive, 'lab')).filter((f) => f.includes(`/${run}-`));
    assert.equal(await h.count('lab'), 10 + 8 * victims.length);
    // Same size, one byte flipped in the middle: only the hash can tell.
    const [hashFile] = fileOf('hash');
    const bytes = readFileSync(hashFile!);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(hashFile!, bytes);
    truncateSync(fileOf('size')[0]!, 100);
    unlinkSync(fileOf('gone')[0]!);
    // Replaced by a symlink to a valid Parquet file of the right size and hash: still refused.
    const [linkFile] = fileOf('link');
    copyFileSync(linkFile!, join(h.dir, 'elsewhere.parquet'));
    unlinkSync(linkFile!);
    symlinkSync(join(h.dir, 'elsewhere.parquet'), linkFile!);
    h.refresh();
    assert.equal(await h.count('lab'), 10, 'each damaged run disappears entirely, including its intact second file');
    const info = (await h.engine.listDatasets())[0]!;
    assert.equal(info.runs, 1);
    assert.equal(info.rejectedRuns, 4);
    assert.equal(info.flows, 10);
    assert.deepEqual(
      h.rejected.map((r) => `${r.run}:${r.reason}`).sort(),
      ['gone:file-missing', 'hash:file-hash', 'link:file-missing', 'size:file-size'],
    );
    assert.ok(h.engine.datasetFiles('lab').every((f) => f.includes('/good-')));
  } finally {
    await h.close();
  }
});

test('misfiled, malformed, oversized or tampered manifests are refused', async () => {
  const h = await setup();
  try {
    await makeArchive(h.archive, { dataset: 'lab', rows: rows(10), runId: 'r1' });
    await makeArchive(h.archive, { dataset: 'other', rows: rows(4), runId: 'o1' });
    const mdir = join(h.archive, 'lab', 'manifests');
    // A copy of r1's manifest under another run's name, and other's manifest moved into lab.
    copyFileSync(join(mdir, 'r1.json'), join(mdir, 'copy.json'));
    renameSync(join(h.archive, 'other', 'manifests', 'o1.json'), join(mdir, 'o1.json'));
    writeFileSync(join(mdir, 'junk.json'), '{not json');
    // Tampered: more flows claimed, signature left as it was.
    await makeArchive(h.archive, { dataset: 'lab', rows: rows(6), runId: 't1' });
    const t1 = JSON.parse(readFileSync(join(mdir, 't1.json'), 'utf8'));
    t1.manifest.flows = 1_000_000;
    writeFileSync(join(mdir, 't1.json'), JSON.stringify(t1));
    // Oversized: refused before it is read (a sparse file, no disk used).
    writeFileSync(join(mdir, 'big.json'), '');
    truncateSync(join(mdir, 'big.json'), MAX_MANIFEST_BYTES + 1);
    h.refresh();
    assert.equal(await h.count('lab'), 10);
    assert.equal((await h.engine.listDatasets()).find((d) => d.id === 'lab')!.flows, 10);
    assert.deepEqual(
      h.rejected.map((r) => `${r.run}:${r.reason}`).sort(),
      ['big:too-large', 'copy:misfiled', 'junk:malformed', 'o1:misfiled', 't1:signature'],
    );
  } finally {
    await h.close();
  }
});

test('with a pinned key only manifests it signed are read, and datasets say verified', async () => {
  const h = await setup({ pinned: true });
  try {
    await makeArchive(h.archive, { dataset: 'lab', rows: rows(10), runId: 'r1', signer: h.operator });
    // Signed by somebody else's key (a per-start ephemeral key, or a forger's own): refused.
    await makeArchive(h.archive, { dataset: 'lab', rows: rows(7), runId: 'forged', signer: await signerFromSeed(seed(9), true) });
    await makeArchive(h.archive, { dataset: 'lab', rows: rows(3), runId: 'ephemeral' });
    assert.equal(await h.count('lab'), 10);
    const info = (await h.engine.listDatasets())[0]!;
    assert.equal(info.verified, true);
    assert.equal(info.rejectedRuns, 2);
    assert.deepEqual(h.rejected.map((r) => `${r.run}:${r.reason}`).sort(), ['ephemeral:signature', 'forged:signature']);
  } finally {
    await h.close();
  }
  const unpinned = await setup();
  try {
    await makeArchive(unpinned.archive, { dataset: 'lab', rows: rows(10), runId: 'r1', signer: unpinned.operator });
    const info = (await unpinned.engine.listDatasets())[0]!;
    assert.equal(info.verified, false, 'without a pinned key nothing is verified, whoever signed');
    assert.equal(await unpinned.count('lab'), 10);
  } finally {
    await unpinned.close();
  }
});

test('a committed run with no flows lists the dataset and reads as empty', async () => {
  const h = await setup();
  try {
    await makeArchive(h.archive, { dataset: 'quiet', rows: [], runId: 'r1' });
    const info = (await h.engine.listDatasets())[0]!;
    assert.equal(info.id, 'quiet');
    assert.equal(info.flows, 0);
    assert.deepEqual(h.engine.datasetFiles('quiet'), []);
  } finally {
    await h.close();
  }
});
