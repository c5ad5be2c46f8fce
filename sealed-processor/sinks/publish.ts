/**
 * Publication of a finished run into the archive, crash-safe.
 *
 * Owns: the publish journal (`<staging>/<run>/publish.json`, written before any rename), the
 * atomic renames of staged Parquet files into `<archive>/<dataset>/...`, and the signed run
 * manifest (`<archive>/<dataset>/manifests/<run>.json`). A processor killed mid-publish rolls
 * the journal forward at its next start; a staging directory without a journal is discarded
 * (its raw input is crypto-shredded by the restart anyway), so readers never see a partial
 * file and no flow is published twice.
 * Never: writes anything but anonymized output and non-secret metadata.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CompactSign, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import { RunManifest, type SignedManifest } from '../../schemas/manifest.ts';
import { policyHash, type Policy } from '../../schemas/policy.ts';
import type { StagedFile } from './parquet-sink.ts';

export interface PublishInput {
  runId: string;
  dataset: string;
  archiveDir: string;
  stagingDir: string;
  done: { flows: number; files: unknown[]; releaseNotes: unknown; timeStart: string | null; timeEnd: string | null; counts: Record<string, number> };
  counts: Record<string, number>;
  policy: Policy;
  processorVersion: string;
  keyId?: string;
}

interface Journal {
  dataset: string;
  files: string[];
  manifest: SignedManifest;
}

let signer: { key: CryptoKey; jwk: JWK } | null = null;

/** The manifest signing key: Ed25519, generated per processor start, in memory only. */
async function manifestSigner(): Promise<{ key: CryptoKey; jwk: JWK }> {
  if (!signer) {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const jwk = await exportJWK(publicKey);
    signer = { key: privateKey, jwk: { ...jwk, use: 'sig', alg: 'EdDSA' } };
  }
  return signer;
}

/** Canonical JSON: object keys sorted, no whitespace. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

async function atomicWrite(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, path);
}

/** Builds, signs, journals and publishes a run. Returns the manifest. */
export async function publishRun(input: PublishInput): Promise<RunManifest> {
  const staged = input.done.files as StagedFile[];
  const notes = input.done.releaseNotes as { keyId?: string } | null;
  const manifest = RunManifest.parse({
    manifestVersion: 1,
    runId: input.runId,
    dataset: input.dataset,
    schemaVersion: SCHEMA_VERSION,
    processorVersion: input.processorVersion,
    createdAt: new Date().toISOString(),
    timeStart: input.done.timeStart,
    timeEnd: input.done.timeEnd,
    flows: input.done.flows,
    files: staged.map((f) => ({ path: f.relPath, rows: f.rows, bytes: f.bytes, timeStart: f.timeStart, timeEnd: f.timeEnd })),
    counts: input.counts,
    policyHash: policyHash(input.policy),
    keyId: input.keyId ?? notes?.keyId ?? 'unknown',
    releaseNotes: input.done.releaseNotes,
  });
  const { key, jwk } = await manifestSigner();
  const jws = await new CompactSign(new TextEncoder().encode(canonicalJson(manifest)))
    .setProtectedHeader({ alg: 'EdDSA', typ: 'flowseal-manifest+json' })
    .sign(key);
  const signed: SignedManifest = { manifest, jws, signer: jwk as Record<string, unknown> };
  const journal: Journal = { dataset: input.dataset, files: staged.map((f) => f.relPath), manifest: signed };
  await atomicWrite(join(input.stagingDir, 'publish.json'), JSON.stringify(journal));
  await applyJournal(input.stagingDir, input.archiveDir, journal);
  return manifest;
}

/** Renames staged files that are still in staging, writes the manifest, drops the staging dir. */
async function applyJournal(stagingDir: string, archiveDir: string, journal: Journal): Promise<void> {
  const datasetDir = join(archiveDir, journal.dataset);
  for (const rel of journal.files) {
    const from = join(stagingDir, rel);
    const to = join(datasetDir, rel);
    const exists = await stat(from).then(() => true, () => false);
    if (!exists) continue;
    await mkdir(dirname(to), { recursive: true });
    await rename(from, to);
  }
  await atomicWrite(join(datasetDir, 'manifests', `${journal.manifest.manifest.runId}.json`), JSON.stringify(journal.manifest, null, 2));
  await rm(stagingDir, { recursive: true, force: true });
}

/**
 * At start: completes every journaled publish and discards every unjournaled staging dir.
 * Returns how many of each.
 */
export async function rollForwardStaging(stagingRoot: string, archiveDir: string): Promise<{ completed: number; discarded: number }> {
  let completed = 0;
  let discarded = 0;
  const names = await readdir(stagingRoot).catch(() => [] as string[]);
  for (const name of names) {
    const dir = join(stagingRoot, name);
    const text = await readFile(join(dir, 'publish.json'), 'utf8').catch(() => null);
    if (text === null) {
      await rm(dir, { recursive: true, force: true });
      discarded++;
      continue;
    }
    await applyJournal(dir, archiveDir, JSON.parse(text) as Journal);
    completed++;
  }
  return { completed, discarded };
}
