/**
 * The manifest is the read-side commit: the engine reads only files listed in manifests that
 * verify, with matching size and SHA-256; everything else under the archive is invisible, and a
 * run failing any check is left out whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { CompactSign, importJWK } from 'jose';
import { PLAN_VERSION } from '../query/plan.ts';
import type { QueryPlan } from '../query/plan.ts';
import { AppError } from '../../schemas/errors.ts';
import { batchCells } from '../ports.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeArchive, type FlowRowInput } from '../../test/support/make-archive.ts';
import { signerFromSeed } from '../../sealed-processor/sinks/manifest-signer.ts';
import { createDuckDbEngine } from './duckdb-engine.ts';
import { MAX_MANIFEST_BYTES } from './manifest-catalog.ts';

const rows = (n: number, hour = 10): FlowRowInput[] =>
  Array.from({ length: n }, (_, i) => ({ time_start: `2026-01-01T${String(hour + (i % 2)).padStart(2, '0')}:00:${String(i % 60).padStart(2, '0')}Z`, src_addr: `10.0.0.${i % 250}`, dst_addr: '10.0.1.1' }));

const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b);

async function setup(options: { pinned?: boolean; hashBudgetBytes?: number } = {}) {
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
    ...(options.hashBudgetBytes !== undefined ? { hashBudgetBytes: options.hashBudgetBytes } : {}),
  });
  /** Flows the engine answers for `dataset` (a total over all time, through the query path). */
  const count = async (dataset: string): Promise<number | null> => {
    const d = (await engine.listDatasets()).find((x) => x.id === dataset);
    if (!d) return null;
    const plan: QueryPlan = {
      version: PLAN_VERSION, dataset, fromMs: 0, toMs: Date.parse('2100-01-01T00:00:00Z'), filter: null, restriction: null, kind: 'aggregate',
      select: [], groupBy: [], metrics: ['flows'], order: [], limit: 1, minGroupSize: 1, other: false, fill: false, having: {}, after: null, mode: 'final',
    };
    const s = await engine.execute(plan, { timeoutMs: 10_000 });
    const rows: unknown[][] = [];
    for await (const b of s.batches) rows.push(...batchCells(b).map((r) => [...r]));
    return Number(rows[0]![0]);
  };
  /** Lets the listing go stale and waits for the rebuild it triggers. */
  const refresh = async () => {
    clock.t += 1001;
    await engine.refresh();
  };
  return { dir, archive, engine, operator, rejected, count, refresh, clock, close: async () => { await engine.close(); rmSync(dir, { recursive: true, force: true }); } };
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
    h.clock.t += 1001;
    assert.equal(await h.count('lab'), 20, 'a stale listing is answered from while it is rebuilt in the background');
    await h.engine.refresh();
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
    await h.refresh();
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
    await h.refresh();
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

test('a same-size forgery with its mtime set back is caught (ctime), and a swap after the check withholds the answer', async () => {
  const h = await setup({ pinned: true });
  try {
    await makeArchive(h.archive, { dataset: 'lab', rows: rows(10, 10).filter((_, i) => i % 2 === 0), runId: 'r1', signer: h.operator });
    const [victim] = parquetFiles(join(h.archive, 'lab'));
    assert.equal(await h.count('lab'), 5);
    // Forged content of exactly the victim's size, written in place (same inode), mtime set
    // back: only the ctime tells.
    const st = statSync(victim!);
    const copy = readFileSync(victim!);
    copy[copy.length >> 1] ^= 0xff;
    writeFileSync(victim!, copy);
    utimesSync(victim!, st.atime, st.mtime);
    assert.ok(Math.abs(statSync(victim!).mtimeMs - st.mtimeMs) < 1, "mtime set back");
    // Without a rebuild, the next query reads the swapped file: its answer is withheld.
    await assert.rejects(h.count('lab'), (e: unknown) => e instanceof AppError && e.code === 'ERR_ARCHIVE_CHANGED' && !e.message.includes('/'));
    await h.refresh();
    assert.equal(await h.count('lab'), null, 'the run is rejected (its only run: the dataset is no longer listed)');
    assert.deepEqual(h.rejected.map((r) => `${r.run}:${r.reason}`), ['r1:file-hash']);
  } finally {
    await h.close();
  }
});

test('a symlinked directory on the way to a committed file is refused', async () => {
  const h = await setup();
  try {
    await makeArchive(h.archive, { dataset: 'lab', rows: rows(4, 10).filter((_, i) => i % 2 === 0), runId: 'good' });
    await makeArchive(h.archive, { dataset: 'other', rows: rows(4, 10).filter((_, i) => i % 2 === 0), runId: 'linked' });
    // The same bytes, but reached through a symlinked date= directory (outside the archive).
    const dateDir = join(h.archive, 'other', 'date=2026-01-01');
    cpSync(dateDir, join(h.dir, 'elsewhere'), { recursive: true });
    rmSync(dateDir, { recursive: true });
    symlinkSync(join(h.dir, 'elsewhere'), dateDir);
    assert.equal(await h.count('lab'), 2);
    assert.equal(await h.count('other'), null);
    assert.deepEqual(h.rejected.map((r) => `${r.run}:${r.reason}`), ['linked:file-outside']);
  } finally {
    await h.close();
  }
});

test('hostile manifests cost one signature check each and never break the listing; junk alone lists no dataset', async () => {
  const h = await setup({ pinned: true });
  try {
    await makeArchive(h.archive, { dataset: 'lab', rows: rows(10), runId: 'r1', signer: h.operator });
    const genuine = JSON.parse(readFileSync(join(h.archive, 'lab', 'manifests', 'r1.json'), 'utf8'));
    // 100 000 nested arrays: recursive code over this object would overflow the stack.
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    writeFileSync(join(h.archive, 'lab', 'manifests', 'deep.json'), `{"manifest":{"runId":"deep","releaseNotes":${deep}},"jws":${JSON.stringify(genuine.jws)},"signer":{}}`);
    mkdirSync(join(h.archive, 'ghost', 'manifests'), { recursive: true });
    writeFileSync(join(h.archive, 'ghost', 'manifests', 'x.json'), '{}');
    assert.equal(await h.count('lab'), 10);
    assert.deepEqual((await h.engine.listDatasets()).map((d) => d.id), ['lab']);
    // r1's genuine signature beside a readable copy that is not what it signed: refused.
    assert.deepEqual(h.rejected.map((r) => `${r.dataset}/${r.run}:${r.reason}`).sort(), ['ghost/x:signature', 'lab/deep:signature']);
    // A rejection is reported once, not at every refresh.
    await h.refresh();
    assert.equal(h.rejected.length, 2);
  } finally {
    await h.close();
  }
  const unpinned = await setup();
  try {
    // Self-signed (anyone can, unpinned) with a payload nested too deep for the canonical form.
    const forger = await signerFromSeed(seed(3), true);
    await makeArchive(unpinned.archive, { dataset: 'lab', rows: rows(4), runId: 'r1' });
    const m = JSON.parse(readFileSync(join(unpinned.archive, 'lab', 'manifests', 'r1.json'), 'utf8')).manifest;
    const payload = Buffer.from(JSON.stringify({ ...m, runId: 'deep' }).replace('"releaseNotes":null', `"releaseNotes":${'['.repeat(50_000)}${']'.repeat(50_000)}`));
    const jws = await new CompactSign(payload).setProtectedHeader({ alg: 'EdDSA', typ: 'flowseal-manifest+json' }).sign(await importJWK({ ...forger.publicJwk, d: Buffer.from(seed(3)).toString('base64url') }, 'EdDSA'));
    writeFileSync(join(unpinned.archive, 'lab', 'manifests', 'deep.json'), JSON.stringify({ manifest: {}, jws, signer: forger.publicJwk }));
    assert.equal(await unpinned.count('lab'), 4);
    assert.deepEqual(unpinned.rejected.map((r) => `${r.run}:${r.reason}`), ['deep:malformed']);
  } finally {
    await unpinned.close();
  }
});

test('hashing is bounded per build: runs beyond the budget are pending, then listed', async () => {
  const h = await setup({ hashBudgetBytes: 1 });
  try {
    await makeArchive(h.archive, { dataset: 'lab', rows: rows(4), runId: 'r1' });
    await makeArchive(h.archive, { dataset: 'lab', rows: rows(6), runId: 'r2' });
    // Budget 1 byte: no file can be hashed; nothing is readable, nothing is rejected.
    assert.deepEqual(await h.engine.listDatasets(), []);
    assert.deepEqual(h.rejected, []);
  } finally {
    await h.close();
  }
  const b = await setup({ hashBudgetBytes: 8192 });
  try {
    await makeArchive(b.archive, { dataset: 'lab', rows: rows(2, 10).slice(0, 1), runId: 'r1' });
    await makeArchive(b.archive, { dataset: 'lab', rows: rows(2, 10).slice(0, 1), runId: 'r2' });
    const perFile = statSync(parquetFiles(join(b.archive, 'lab'))[0]!).size;
    assert.ok(perFile <= 8192 && 2 * perFile > 8192, `fixture sizing: ${perFile}`);
    const first = (await b.engine.listDatasets())[0]!;
    assert.equal(first.runs, 1);
    assert.equal(first.pendingRuns, 1);
    // An incomplete build is stale at once: the next listing continues it.
    await b.engine.refresh();
    const second = (await b.engine.listDatasets())[0]!;
    assert.equal(second.runs, 2);
    assert.equal(second.pendingRuns, 0);
  } finally {
    await b.close();
  }
});
