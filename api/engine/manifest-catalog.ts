/**
 * The read side of the archive commit: which runs (and so which Parquet files) readers may see.
 * A run is visible only when its manifest (`<dataset>/manifests/<run>.json`, see
 * schemas/archive.ts) parses strictly, names its own dataset and run id, carries a signature
 * that verifies, and every file it lists exists as a regular file with the listed size and
 * SHA-256. Anything else under the archive — files of a processor killed while publishing,
 * planted files, runs whose files were changed — is not read at all; a run that fails any check
 * is left out whole (never half of it) and counted in `rejectedRuns`.
 *
 * Signatures: with pinned keys (API config `manifestKeys`) a manifest must verify under one of
 * them, and its dataset is `verified`. Without pinned keys the manifest's own embedded key is
 * used — that catches corruption, not forgery (anyone able to write the archive can sign with a
 * key of their own) — and the dataset is listed as `verified: false`.
 *
 * Hashing reads each file once; the result is cached per (path, size, mtime), so a listing
 * refresh only hashes new or changed files.
 *
 * Owns: manifest acceptance, file checks, the per-dataset summary and file list.
 * Never: follows symlinks (files are opened O_NOFOLLOW and must be regular), reads a path that
 * was not built from a validated dataset id and an `ArchiveFilePath`, reads a manifest larger
 * than MAX_MANIFEST_BYTES, or fails the listing because one manifest is bad.
 */
import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { compactVerify, importJWK, type JWK } from 'jose';
import { DatasetId, MANIFEST_DIR, MANIFEST_JWS_TYPE, RunId } from '../../schemas/archive.ts';
import { manifestPayload, SignedManifest, type RunManifest } from '../../schemas/manifest.ts';
import type { DatasetInfo } from '../ports.ts';

/** Largest manifest file read (a run with ~50 000 files fits). */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/** Why a run was left out (kept for logs and tests; listings carry only the count). */
export type RunRejection = 'unreadable' | 'too-large' | 'malformed' | 'misfiled' | 'signature' | 'file-missing' | 'file-size' | 'file-hash';

export interface CatalogDataset {
  readonly info: DatasetInfo;
  /** Absolute paths of the committed files, in manifest order. */
  readonly files: readonly string[];
}

export interface Catalog {
  readonly datasets: ReadonlyMap<string, CatalogDataset>;
  readonly rejections: readonly { dataset: string; run: string; reason: RunRejection }[];
}

export interface ManifestCatalogOptions {
  /** Absolute archive root. */
  readonly root: string;
  /** Pinned public keys (JWK, Ed25519); null: none configured. */
  readonly pinnedKeys: readonly JWK[] | null;
  /** Whether file hashes are checked (default true); sizes always are. */
  readonly verifyHashes?: boolean;
}

interface FileFacts {
  size: number;
  mtimeMs: number;
  sha256: string;
}

const EMPTY = Symbol('empty');

/** Reads a regular file (no symlinks) whole, refusing more than `max` bytes. */
async function readSmallFile(path: string, max: number): Promise<Buffer | 'too-large' | null> {
  const fh = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK).catch(() => null);
  if (fh === null) return null;
  try {
    const st = await fh.stat();
    if (!st.isFile()) return null;
    if (st.size > max) return 'too-large';
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** Size, mtime and (when asked) SHA-256 of a regular file (no symlinks); null when absent or not regular. */
async function fileFacts(path: string, hash: boolean, cache: Map<string, FileFacts>): Promise<FileFacts | null> {
  const fh = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK).catch(() => null);
  if (fh === null) return null;
  try {
    const st = await fh.stat();
    if (!st.isFile()) return null;
    const cached = cache.get(path);
    if (cached && cached.size === st.size && cached.mtimeMs === st.mtimeMs) return cached;
    let sha256 = '';
    if (hash) {
      const h = createHash('sha256');
      for await (const chunk of fh.createReadStream({ autoClose: false, highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
      sha256 = h.digest('hex');
    }
    const facts = { size: st.size, mtimeMs: st.mtimeMs, sha256 };
    if (hash) cache.set(path, facts);
    return facts;
  } finally {
    await fh.close();
  }
}

/** Builds catalogs; keeps the hash cache between builds. */
export function createManifestCatalog(options: ManifestCatalogOptions): { build(): Promise<Catalog> } {
  const root = options.root.replace(/\/+$/, '');
  const verifyHashes = options.verifyHashes ?? true;
  const hashCache = new Map<string, FileFacts>();
  let pinned: Promise<CryptoKeyLike[]> | null = null;

  type CryptoKeyLike = Awaited<ReturnType<typeof importJWK>>;
  const pinnedKeys = (): Promise<CryptoKeyLike[]> => {
    pinned ??= Promise.all((options.pinnedKeys ?? []).map((k) => importJWK(k, 'EdDSA')));
    return pinned;
  };

  async function signatureOk(signed: SignedManifest): Promise<boolean> {
    const payload = manifestPayload(signed.manifest);
    const keys = options.pinnedKeys === null ? [await importJWK(signed.signer as JWK, 'EdDSA').catch(() => EMPTY)] : await pinnedKeys();
    for (const key of keys) {
      if (key === EMPTY) continue;
      const result = await compactVerify(signed.jws, key as CryptoKeyLike, { algorithms: ['EdDSA'] }).catch(() => null);
      if (result === null || result.protectedHeader.typ !== MANIFEST_JWS_TYPE) continue;
      if (Buffer.compare(Buffer.from(result.payload), Buffer.from(payload)) === 0) return true;
    }
    return false;
  }

  /** One run's manifest, checked; the accepted manifest and file paths, or why not. */
  async function checkRun(dataset: string, fileName: string): Promise<{ manifest: RunManifest; files: string[] } | RunRejection> {
    const bytes = await readSmallFile(join(root, dataset, MANIFEST_DIR, fileName), MAX_MANIFEST_BYTES);
    if (bytes === null) return 'unreadable';
    if (bytes === 'too-large') return 'too-large';
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      return 'malformed';
    }
    const parsed = SignedManifest.safeParse(json);
    if (!parsed.success) return 'malformed';
    const m = parsed.data.manifest;
    if (m.dataset !== dataset || `${m.runId}.json` !== fileName) return 'misfiled';
    if (!(await signatureOk(parsed.data))) return 'signature';
    const files: string[] = [];
    for (const f of m.files) {
      const path = join(root, dataset, f.path);
      const facts = await fileFacts(path, verifyHashes, hashCache);
      if (facts === null) return 'file-missing';
      if (facts.size !== f.bytes) return 'file-size';
      if (verifyHashes && facts.sha256 !== f.sha256) return 'file-hash';
      files.push(path);
    }
    return { manifest: m, files };
  }

  async function build(): Promise<Catalog> {
    const datasets = new Map<string, CatalogDataset>();
    const rejections: { dataset: string; run: string; reason: RunRejection }[] = [];
    const names = (await readdir(root, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory() && DatasetId.safeParse(e.name).success).map((e) => e.name).sort();
    const live = new Set<string>();
    for (const dataset of names) {
      const entries = await readdir(join(root, dataset, MANIFEST_DIR), { withFileTypes: true }).catch(() => []);
      const runs: { manifest: RunManifest; files: string[] }[] = [];
      let rejected = 0;
      for (const e of entries.map((x) => x.name).sort()) {
        if (!e.endsWith('.json') || !RunId.safeParse(e.slice(0, -5)).success) continue;
        const r = await checkRun(dataset, e);
        if (typeof r === 'string') {
          rejected++;
          rejections.push({ dataset, run: e.slice(0, -5), reason: r });
          continue;
        }
        runs.push(r);
      }
      if (runs.length === 0 && rejected === 0) continue;
      const files = runs.flatMap((r) => r.files);
      for (const f of files) live.add(f);
      datasets.set(dataset, { info: summarize(dataset, runs.map((r) => r.manifest), rejected, options.pinnedKeys !== null), files });
    }
    for (const path of hashCache.keys()) if (!live.has(path)) hashCache.delete(path);
    return { datasets, rejections };
  }

  return { build };
}

function summarize(id: string, manifests: readonly RunManifest[], rejectedRuns: number, pinned: boolean): DatasetInfo {
  const starts = manifests.map((m) => m.timeStart).filter((s): s is string => s !== null && Number.isFinite(Date.parse(s))).map((s) => new Date(Date.parse(s)).toISOString()).sort();
  const ends = manifests.map((m) => m.timeEnd).filter((s): s is string => s !== null && Number.isFinite(Date.parse(s))).map((s) => new Date(Date.parse(s)).toISOString()).sort();
  return {
    id,
    timeStart: starts[0] ?? null,
    timeEnd: ends.at(-1) ?? null,
    flows: manifests.reduce((n, m) => n + m.flows, 0),
    files: manifests.reduce((n, m) => n + m.files.length, 0),
    runs: manifests.length,
    rejectedRuns,
    verified: pinned && manifests.length > 0,
    policyHashes: [...new Set(manifests.map((m) => m.policyHash))].sort(),
    keyIds: [...new Set(manifests.map((m) => m.keyId))].sort(),
  };
}
