/**
 * Publication of one part of a run into the archive, crash-safe (parts: schemas/archive.ts).
 *
 * Owns: the publish journal (`<archive>/.staging/<part id>/publish.json`, written before any
 * rename), the atomic renames of staged Parquet files into `<archive>/<dataset>/...`, and the
 * signed part manifest (`<archive>/<dataset>/manifests/<part id>.json`), written last: it is
 * the commit. A processor killed mid-publish rolls
 * the journal forward at its next start; a staging directory without a journal is discarded
 * (its raw input is crypto-shredded by the restart anyway), so readers never see a partial
 * file and no flow is published twice.
 * Never: writes anything but anonymized output and non-secret metadata.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { z } from 'zod';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import { ArchiveFilePath, DatasetId, MANIFEST_DIR, manifestFileName, partId } from '../../schemas/archive.ts';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { RunManifest, SignedManifest, type ManifestPart } from '../../schemas/manifest.ts';
import { policyHash, type Policy } from '../../schemas/policy.ts';
import type { StagedFile } from './parquet-sink.ts';
import { loadManifestSigner, type ManifestSigner } from './manifest-signer.ts';

export interface PublishInput {
  runId: string;
  /** Which part of the run this is. */
  part: ManifestPart;
  dataset: string;
  archiveDir: string;
  stagingDir: string;
  done: { flows: number; files: unknown[]; releaseNotes: unknown; timeStart: string | null; timeEnd: string | null; counts: Record<string, number> };
  counts: Record<string, number>;
  policy: Policy;
  processorVersion: string;
  keyId?: string;
  /** Signs the manifest; default: an ephemeral per-process key (proves nothing to readers). */
  signer?: ManifestSigner;
}

/** A staged file's path: exactly the archive layout, nothing that could leave the dataset dir. */
export const StagedPath = ArchiveFilePath;

/** What the worker reports for each staged file (parsed: the worker is the parsing attack surface). */
export const StagedFileReport = z.strictObject({
  relPath: StagedPath,
  rows: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  timeStart: z.string().nullable(),
  timeEnd: z.string().nullable(),
});

const Journal = z.strictObject({
  dataset: DatasetId,
  files: z.array(StagedPath),
  manifest: SignedManifest,
});
type Journal = z.infer<typeof Journal>;

/** SHA-256 of a file, lower-case hex, read in a stream (files can be large). */
async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** fsync a file or directory so a rename that follows is durable. */
async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** `root/rel`, refusing anything that would resolve outside `root`. */
function inside(root: string, rel: string): string {
  const full = resolve(root, rel);
  if (!full.startsWith(resolve(root) + sep)) throw new AppError(ErrorCode.ArchiveWriteFailed, 'a staged path leaves the archive');
  return full;
}

let ephemeral: Promise<ManifestSigner> | null = null;

/** Without a configured signer: one generated per process, in memory only (see manifest-signer.ts). */
function ephemeralSigner(): Promise<ManifestSigner> {
  ephemeral ??= loadManifestSigner(undefined, {});
  return ephemeral;
}

async function atomicWrite(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, path);
}

/** `<archive>/.staging/<part id>`: where a part's files are staged and its journal is written. */
export function partStagingDir(archiveDir: string, runId: string, part: number): string {
  return join(archiveDir, '.staging', partId(runId, part));
}

/** Builds, signs, journals and publishes one part of a run (staged in `input.stagingDir`). Returns its manifest. */
export async function publishPart(input: PublishInput): Promise<RunManifest> {
  const staged: StagedFile[] = z.array(StagedFileReport).parse(input.done.files);
  const hashes = new Map<string, string>();
  for (const f of staged) {
    await fsyncPath(join(input.stagingDir, f.relPath));
    hashes.set(f.relPath, await sha256File(join(input.stagingDir, f.relPath)));
  }
  const notes = input.done.releaseNotes as { keyId?: string } | null;
  const manifest = RunManifest.parse({
    manifestVersion: 1,
    runId: input.runId,
    part: input.part,
    dataset: input.dataset,
    schemaVersion: SCHEMA_VERSION,
    processorVersion: input.processorVersion,
    createdAt: new Date().toISOString(),
    timeStart: input.done.timeStart,
    timeEnd: input.done.timeEnd,
    flows: input.done.flows,
    files: staged.map((f) => ({ path: f.relPath, rows: f.rows, bytes: f.bytes, sha256: hashes.get(f.relPath)!, timeStart: f.timeStart, timeEnd: f.timeEnd })),
    counts: input.counts,
    policyHash: policyHash(input.policy),
    keyId: input.keyId ?? notes?.keyId ?? 'unknown',
    releaseNotes: input.done.releaseNotes,
  });
  const signed = await (input.signer ?? (await ephemeralSigner())).sign(manifest);
  const journal: Journal = { dataset: input.dataset, files: staged.map((f) => f.relPath), manifest: signed };
  await atomicWrite(join(input.stagingDir, 'publish.json'), JSON.stringify(journal));
  await fsyncPath(input.stagingDir);
  await applyJournal(input.stagingDir, input.archiveDir, journal);
  return manifest;
}

/**
 * Moves staged files that are still in staging into the dataset (link + unlink: an existing
 * archive file is never replaced), writes the manifest, drops the staging dir.
 * @throws AppError ERR_ARCHIVE_WRITE_FAILED if a target already exists (a reused run id).
 */
async function applyJournal(stagingDir: string, archiveDir: string, journal: Journal): Promise<void> {
  const datasetDir = join(archiveDir, journal.dataset);
  for (const rel of journal.files) {
    const from = inside(stagingDir, rel);
    const to = inside(datasetDir, rel);
    const exists = await stat(from).then(() => true, () => false);
    if (!exists) continue;
    await mkdir(dirname(to), { recursive: true });
    try {
      await link(from, to);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // Linked by an earlier, interrupted attempt (same inode): finish that move. Anything
      // else is another run's file (a reused run id): never replace it.
      const [a, b] = await Promise.all([stat(from), stat(to)]);
      if (a.ino !== b.ino || a.dev !== b.dev) {
        throw new AppError(ErrorCode.ArchiveWriteFailed, 'an archive file of this run already exists; refusing to replace it');
      }
    }
    await unlink(from);
    await fsyncPath(dirname(to));
  }
  const m = journal.manifest.manifest;
  const manifestPath = inside(join(datasetDir, MANIFEST_DIR), manifestFileName(m.runId, m.part));
  await atomicWrite(manifestPath, JSON.stringify(journal.manifest, null, 2));
  await rm(stagingDir, { recursive: true, force: true });
}

/** True when `stagingDir` holds a publish journal (files may already be in the archive). */
export async function journalExists(stagingDir: string): Promise<boolean> {
  return stat(join(stagingDir, 'publish.json')).then(() => true, () => false);
}

/** Rolls one journaled publication forward (idempotent). Returns its manifest. */
export async function completeJournal(stagingDir: string, archiveDir: string): Promise<RunManifest> {
  const journal = Journal.parse(JSON.parse(await readFile(join(stagingDir, 'publish.json'), 'utf8')));
  await applyJournal(stagingDir, archiveDir, journal);
  return journal.manifest.manifest;
}

/**
 * At start: completes every journaled publish, discards every unjournaled staging dir, and
 * moves a staging dir with an unreadable or invalid journal aside to `<archive>/.rejected/`
 * (never trusted, never fatal). Returns how many of each.
 */
export async function rollForwardStaging(
  stagingRoot: string,
  archiveDir: string,
  log: (event: Record<string, unknown>) => void = () => undefined,
): Promise<{ completed: number; discarded: number; rejected: number }> {
  let completed = 0;
  let discarded = 0;
  let rejected = 0;
  const names = await readdir(stagingRoot).catch(() => [] as string[]);
  for (const name of names) {
    const dir = join(stagingRoot, name);
    const text = await readFile(join(dir, 'publish.json'), 'utf8').catch(() => null);
    if (text === null) {
      await rm(dir, { recursive: true, force: true });
      discarded++;
      continue;
    }
    try {
      const journal = Journal.parse(JSON.parse(text));
      const m = journal.manifest.manifest;
      if ((m.part ? partId(m.runId, m.part.number) : m.runId) !== name) throw new AppError(ErrorCode.ArchiveWriteFailed, 'journal part id does not match its directory');
      await applyJournal(dir, archiveDir, journal);
      completed++;
    } catch (e) {
      await mkdir(join(archiveDir, '.rejected'), { recursive: true });
      await rename(dir, join(archiveDir, '.rejected', `${name}-${Date.now()}`)).catch(() => rm(dir, { recursive: true, force: true }));
      log({ event: 'staging-rejected', code: e instanceof AppError ? e.code : ErrorCode.ArchiveWriteFailed });
      rejected++;
    }
  }
  return { completed, discarded, rejected };
}
