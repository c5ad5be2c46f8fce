/**
 * The read side of the archive commit: which runs (and so which Parquet files) readers may see.
 * Each part of a run (schemas/archive.ts) is committed by its own manifest and accepted or
 * rejected on its own, as "run" means below: a live run's committed parts are visible while it
 * continues. A run is visible only when its manifest (`<dataset>/manifests/<part id>.json`, see
 * schemas/archive.ts) carries a signature that verifies, the signed payload is a valid
 * manifest in canonical form naming its own dataset and run id, and every file it lists is a
 * regular file at exactly that path (no symlink in any component) with the listed size and
 * SHA-256. Anything else under the archive — files of a processor killed while publishing,
 * planted files, runs whose files were changed — is not read at all; a run that fails any check
 * is left out whole (never half of it), reported and counted in `rejectedRuns`. A dataset is
 * listed only when at least one run is readable.
 *
 * Signatures: with pinned keys (API config `manifestKeys`) a manifest must verify under one of
 * them, and its dataset is `verified`. Without pinned keys the manifest's own embedded key is
 * used — that catches corruption, not forgery (anyone able to write the archive can sign with a
 * key of their own) — and the dataset is listed as `verified: false`. The signature is checked
 * before anything else in the file is looked at, and the manifest is read from the signed
 * payload, so a hostile manifest costs one signature check.
 *
 * Files are identified by (dev, inode, size, ctime): a rename over a file changes its inode,
 * any write or rename changes its ctime, and no user can set ctime back (mtime they can).
 * Hashes and per-manifest results are kept per identity, so a refresh re-reads only what
 * changed; at most `hashBudgetBytes` are hashed per build, runs beyond that are `pendingRuns`
 * until a later build. After each query the engine checks that the files read still have the
 * identities checked here (`stillCommitted`).
 *
 * Owns: manifest acceptance, file checks, the per-dataset summary and file list.
 * Never: reads a path not built from a validated dataset id and an `ArchiveFilePath`, reads a
 * manifest larger than MAX_MANIFEST_BYTES, or fails the listing because one manifest is bad.
 */
import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { lstat, open, readdir, realpath, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { compactVerify, importJWK, type JWK } from 'jose';
import { DatasetId, MANIFEST_DIR, MANIFEST_JWS_TYPE, manifestFileName, parseManifestFileName } from '../../schemas/archive.ts';
import { manifestPayload, RunManifest } from '../../schemas/manifest.ts';
import type { DatasetInfo } from '../ports.ts';

/** Largest manifest file read (a run with ~50 000 files fits). */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/** Bytes hashed per catalog build by default; runs beyond it wait for the next build (`pendingRuns`). */
export const DEFAULT_HASH_BUDGET_BYTES = 4 * 1024 ** 3;

/** Why a run was left out (kept for logs and tests; listings carry only the count). */
export type RunRejection = 'unreadable' | 'too-large' | 'malformed' | 'misfiled' | 'signature' | 'file-missing' | 'file-size' | 'file-hash' | 'file-outside';

/**
 * What identifies one version of a file: a rename over it changes `ino`, any write or rename
 * of it changes `ctimeNs` (which, unlike mtime, no user can set back).
 */
export interface FileIdentity {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly ctimeNs: bigint;
}

const sameFile = (a: FileIdentity, b: FileIdentity): boolean => a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.ctimeNs === b.ctimeNs;

export interface CatalogDataset {
  readonly info: DatasetInfo;
  /** Absolute paths of the committed files, in manifest order. */
  readonly files: readonly string[];
  /** Each committed file's schema version (its run manifest's `schemaVersion`). */
  readonly schemaVersions: ReadonlyMap<string, number>;
}

export interface Catalog {
  readonly datasets: ReadonlyMap<string, CatalogDataset>;
  /** Identity of every committed file when it was checked (see `stillCommitted`). */
  readonly identities: ReadonlyMap<string, FileIdentity>;
  /** Runs left out in this build (a run stays rejected, and is reported, until its manifest changes). */
  readonly rejections: readonly { dataset: string; run: string; reason: RunRejection }[];
  /** Whether some runs were deferred (hash budget spent): another build should follow at once. */
  readonly incomplete: boolean;
}

export interface ManifestCatalogOptions {
  /** Absolute archive root, already resolved with realpath. */
  readonly root: string;
  /** Pinned public keys (JWK, Ed25519); null: none configured. */
  readonly pinnedKeys: readonly JWK[] | null;
  /** Whether file hashes are checked (default true); sizes always are. */
  readonly verifyHashes?: boolean;
  /** Bytes hashed per build at most (default DEFAULT_HASH_BUDGET_BYTES). */
  readonly hashBudgetBytes?: number;
}

type Opened = { fh: FileHandle; id: FileIdentity };

/** Opens a regular file without following a final symlink; null when absent or not regular. */
async function openRegular(path: string): Promise<Opened | null> {
  const fh = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK).catch(() => null);
  if (fh === null) return null;
  const st = await fh.stat({ bigint: true }).catch(() => null);
  if (st === null || !st.isFile()) {
    await fh.close();
    return null;
  }
  return { fh, id: { dev: st.dev, ino: st.ino, size: st.size, ctimeNs: st.ctimeNs } };
}

/**
 * Identity of the file at `path` now, with one `lstat` (no open: this runs for every file of a
 * query): a final symlink is not a regular file (null), and a symlinked directory on the way
 * leads to another inode, so neither matches a checked identity.
 */
export async function identityOf(path: string): Promise<FileIdentity | null> {
  const st = await lstat(path, { bigint: true }).catch(() => null);
  return st !== null && st.isFile() ? { dev: st.dev, ino: st.ino, size: st.size, ctimeNs: st.ctimeNs } : null;
}

/** Whether every file still has the identity it was checked with. */
async function unchanged(files: readonly { path: string; id: FileIdentity }[]): Promise<boolean> {
  const now = await Promise.all(files.map((f) => identityOf(f.path)));
  return now.every((id, i) => id !== null && sameFile(id, files[i]!.id));
}

type RunResult = { kind: 'accepted'; manifest: RunManifest; files: { path: string; id: FileIdentity }[] } | { kind: 'rejected'; reason: RunRejection } | { kind: 'deferred' };

/** Builds catalogs; keeps per-file hash and per-manifest results between builds. */
export function createManifestCatalog(options: ManifestCatalogOptions): { build(): Promise<Catalog> } {
  const root = options.root.replace(/\/+$/, '');
  const verifyHashes = options.verifyHashes ?? true;
  const hashBudget = options.hashBudgetBytes ?? DEFAULT_HASH_BUDGET_BYTES;
  type Key = Awaited<ReturnType<typeof importJWK>>;
  /** path → the identity it had when hashed, and the hash. */
  const hashes = new Map<string, { id: FileIdentity; sha256: string }>();
  /** manifest path → the manifest file's identity and what came of it (rejections are not re-read until it changes). */
  const runs = new Map<string, { id: FileIdentity; result: RunResult }>();
  let pinned: Promise<Key[]> | null = null;
  const pinnedKeys = (): Promise<Key[]> => {
    pinned ??= Promise.all((options.pinnedKeys ?? []).map((k) => importJWK(k, 'EdDSA')));
    return pinned;
  };

  /**
   * The manifest the signature covers, or null. The signature is checked first, and the
   * manifest is read from the verified payload (the file's readable `manifest` copy must be
   * byte-for-byte what was signed): nothing the attacker wrote is processed before that.
   */
  async function verifiedManifest(outer: Record<string, unknown>): Promise<RunManifest | null> {
    if (typeof outer.jws !== 'string') return null;
    let keys: Key[];
    if (options.pinnedKeys !== null) keys = await pinnedKeys();
    else {
      const own = await importJWK(outer.signer as JWK, 'EdDSA').catch(() => null);
      keys = own === null ? [] : [own];
    }
    for (const key of keys) {
      const result = await compactVerify(outer.jws, key, { algorithms: ['EdDSA'] }).catch(() => null);
      if (result === null || result.protectedHeader.typ !== MANIFEST_JWS_TYPE) continue;
      let payload: unknown;
      try {
        payload = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(result.payload));
      } catch {
        return null;
      }
      const m = RunManifest.safeParse(payload);
      if (!m.success) return null;
      // The signer's canonical form: what publish.ts signed. A payload in any other form was not written by flowseal.
      if (Buffer.compare(Buffer.from(manifestPayload(m.data)), Buffer.from(result.payload)) !== 0) return null;
      // The readable copy beside the signature must say the same (an edited copy is tampering).
      const copy = RunManifest.safeParse(outer.manifest);
      if (!copy.success || Buffer.compare(Buffer.from(manifestPayload(copy.data)), Buffer.from(result.payload)) !== 0) return null;
      return m.data;
    }
    return null;
  }

  async function hashOf(o: Opened): Promise<string> {
    const h = createHash('sha256');
    for await (const chunk of o.fh.createReadStream({ autoClose: false, start: 0, highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
    return h.digest('hex');
  }

  /** One run's manifest, checked. `budget.bytes` is what may still be hashed in this build. */
  async function checkRun(dataset: string, fileName: string, text: Buffer, budget: { bytes: number }): Promise<RunResult> {
    const reject = (reason: RunRejection): RunResult => ({ kind: 'rejected', reason });
    let outer: unknown;
    try {
      outer = JSON.parse(text.toString('utf8'));
    } catch {
      return reject('malformed');
    }
    if (typeof outer !== 'object' || outer === null || Array.isArray(outer)) return reject('malformed');
    const m = await verifiedManifest(outer as Record<string, unknown>);
    if (m === null) return reject('signature');
    if (m.dataset !== dataset || manifestFileName(m.runId, m.part) !== fileName) return reject('misfiled');
    const files: { path: string; id: FileIdentity }[] = [];
    for (const f of m.files) {
      const path = join(root, dataset, f.path);
      const o = await openRegular(path);
      if (o === null) return reject('file-missing');
      try {
        // No symlinked directory on the way: the file must be where its path says, under the root.
        if ((await realpath(path).catch(() => null)) !== path) return reject('file-outside');
        if (o.id.size !== BigInt(f.bytes)) return reject('file-size');
        if (verifyHashes) {
          const known = hashes.get(path);
          let sha256: string;
          if (known && sameFile(known.id, o.id)) sha256 = known.sha256;
          else {
            if (budget.bytes < f.bytes) return { kind: 'deferred' };
            budget.bytes -= f.bytes;
            sha256 = await hashOf(o);
            // The file must not have changed while it was read.
            const after = await o.fh.stat({ bigint: true });
            if (after.size !== o.id.size || after.ctimeNs !== o.id.ctimeNs) return reject('file-hash');
            hashes.set(path, { id: o.id, sha256 });
          }
          if (sha256 !== f.sha256) return reject('file-hash');
        }
        files.push({ path, id: o.id });
      } finally {
        await o.fh.close();
      }
    }
    return { kind: 'accepted', manifest: m, files };
  }

  /** A run's result, reusing the last one while neither the manifest nor (for accepted runs) its files changed. */
  async function runResult(dataset: string, fileName: string, budget: { bytes: number }): Promise<RunResult> {
    const path = join(root, dataset, MANIFEST_DIR, fileName);
    const o = await openRegular(path);
    if (o === null) return { kind: 'rejected', reason: 'unreadable' };
    try {
      const cached = runs.get(path);
      if (cached && sameFile(cached.id, o.id)) {
        const prior = cached.result;
        if (prior.kind === 'rejected') return prior;
        if (prior.kind === 'accepted' && (await unchanged(prior.files))) return prior;
      }
      let result: RunResult;
      if (o.id.size > BigInt(MAX_MANIFEST_BYTES)) result = { kind: 'rejected', reason: 'too-large' };
      else {
        try {
          result = await checkRun(dataset, fileName, await o.fh.readFile(), budget);
        } catch {
          // Whatever a hostile manifest provokes stays with that run.
          result = { kind: 'rejected', reason: 'malformed' };
        }
      }
      if (result.kind !== 'deferred') runs.set(path, { id: o.id, result });
      return result;
    } finally {
      await o.fh.close();
    }
  }

  async function build(): Promise<Catalog> {
    const datasets = new Map<string, CatalogDataset>();
    const identities = new Map<string, FileIdentity>();
    const rejections: { dataset: string; run: string; reason: RunRejection }[] = [];
    const budget = { bytes: hashBudget };
    let incomplete = false;
    const seenManifests = new Set<string>();
    const names = (await readdir(root, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory() && DatasetId.safeParse(e.name).success).map((e) => e.name).sort();
    for (const dataset of names) {
      const entries = await readdir(join(root, dataset, MANIFEST_DIR), { withFileTypes: true }).catch(() => []);
      const accepted: { manifest: RunManifest; files: { path: string; id: FileIdentity }[] }[] = [];
      let rejected = 0;
      let pending = 0;
      for (const e of entries.map((x) => x.name).sort()) {
        if (parseManifestFileName(e) === null) continue;
        seenManifests.add(join(root, dataset, MANIFEST_DIR, e));
        const r = await runResult(dataset, e, budget);
        if (r.kind === 'accepted') accepted.push(r);
        else if (r.kind === 'deferred') pending++;
        else {
          rejected++;
          rejections.push({ dataset, run: e.slice(0, -5), reason: r.reason });
        }
      }
      if (pending > 0) incomplete = true;
      // A dataset is listed only with something readable in it: junk manifests alone make none.
      if (accepted.length === 0) continue;
      const files = accepted.flatMap((r) => r.files);
      for (const f of files) identities.set(f.path, f.id);
      datasets.set(dataset, {
        info: summarize(dataset, accepted.map((r) => r.manifest), rejected, pending, options.pinnedKeys !== null),
        files: files.map((f) => f.path),
        schemaVersions: new Map(accepted.flatMap((r) => r.files.map((f) => [f.path, r.manifest.schemaVersion] as const))),
      });
    }
    for (const path of runs.keys()) if (!seenManifests.has(path)) runs.delete(path);
    for (const path of hashes.keys()) if (!identities.has(path)) hashes.delete(path);
    return { datasets, identities, rejections, incomplete };
  }

  return { build };
}

/**
 * Whether every file in `paths` is still the version the catalog checked (same inode, size and
 * ctime). The engine asks after each query: a file replaced or rewritten between the check and
 * DuckDB's read makes the answer untrustworthy.
 */
export async function stillCommitted(catalog: Catalog, paths: readonly string[]): Promise<boolean> {
  const files = paths.map((path) => ({ path, id: catalog.identities.get(path) }));
  return files.every((f) => f.id !== undefined) && unchanged(files as { path: string; id: FileIdentity }[]);
}

function summarize(id: string, manifests: readonly RunManifest[], rejectedRuns: number, pendingRuns: number, pinned: boolean): DatasetInfo {
  const iso = (s: string | null): string | null => (s !== null && Number.isFinite(Date.parse(s)) ? new Date(Date.parse(s)).toISOString() : null);
  const starts = manifests.map((m) => iso(m.timeStart)).filter((s): s is string => s !== null).sort();
  const ends = manifests.map((m) => iso(m.timeEnd)).filter((s): s is string => s !== null).sort();
  return {
    id,
    timeStart: starts[0] ?? null,
    timeEnd: ends.at(-1) ?? null,
    flows: manifests.reduce((n, m) => n + m.flows, 0),
    files: manifests.reduce((n, m) => n + m.files.length, 0),
    runs: new Set(manifests.map((m) => m.runId)).size,
    rejectedRuns,
    pendingRuns,
    verified: pinned,
    policyHashes: [...new Set(manifests.map((m) => m.policyHash))].sort(),
    keyIds: [...new Set(manifests.map((m) => m.keyId))].sort(),
  };
}
