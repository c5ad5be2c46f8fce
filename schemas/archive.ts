/**
 * The archive contract: how a published flow archive is laid out on disk, what its ids look
 * like, and which Parquet key-value metadata every file carries. The sealed processor writes
 * this layout; the query engine reads it; nothing else may spell a path or a key.
 *
 * ```
 * <archive>/<dataset>/date=YYYY-MM-DD/hour=HH/<run>.p<part6>-<seq>.parquet   flow files of a part
 * <archive>/<dataset>/manifests/<run>.p<part6>.json                          signed part manifests
 * <archive>/<dataset>/manifests/<run>.json                                   a run committed in one piece
 * <archive>/<dataset>/date=YYYY-MM-DD/hour=HH/<run>-<seq>.parquet            (files from before parts)
 * ```
 *
 * A run (one ingest invocation) is published as one or more **parts**, numbered from 1: a
 * long-running capture publishes a part per interval (`--publish-every`), and the last part
 * carries `part.final = true`. Each part has its own signed manifest, and the manifest is the
 * commit: a file is part of the archive only when a committed (verifying) manifest lists it
 * with its size and SHA-256. Files without one (a processor killed while publishing, a part
 * not yet committed, anything planted) are invisible to readers. A part id `<run>.p<part6>`
 * is the stem of its manifest, its files and its staging directory; the `.` cannot occur in a
 * run id, so a part id never collides with a run id. A run is finished once its final part is
 * committed. A run whose first part is also its last (a capture processed within one interval)
 * keeps the manifest name `<run>.json`, as do manifests written before parts existed (no `part`
 * field, read as the single, final part of their run).
 *
 * Owns: layout, id formats, metadata keys, the manifest JWS type. Never: IO.
 */
import { z } from 'zod';

/** A dataset id: a directory name under the archive. */
export const DatasetId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'dataset id must match ^[a-z0-9][a-z0-9_-]{0,63}$');
export type DatasetId = z.infer<typeof DatasetId>;

/** A run id (one ingest invocation): also the stem of its files and manifest. */
export const RunId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'run id must be 1-64 of [A-Za-z0-9_-]');
export type RunId = z.infer<typeof RunId>;

/** A part number: 1 for a run's first part, counting up. */
export const PartNumber = z.number().int().min(1).max(999_999);
export type PartNumber = z.infer<typeof PartNumber>;

/** A flow file's path relative to its dataset directory: exactly the layout, nothing that could leave it. */
export const ArchiveFilePath = z.string().regex(/^date=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/[A-Za-z0-9_-]{1,64}(?:\.p\d{6})?-\d{4,}\.parquet$/);
export type ArchiveFilePath = z.infer<typeof ArchiveFilePath>;

/** Directory (under a dataset) holding the part manifests. */
export const MANIFEST_DIR = 'manifests';

/** `.p<part6>`: what a part id adds to its run id. */
export function partSuffix(part: number): string {
  return `.p${String(PartNumber.parse(part)).padStart(6, '0')}`;
}

/** A part's id, `<run>.p<part6>`: the stem of its manifest, its flow files and its staging directory. */
export function partId(runId: string, part: number): string {
  return `${RunId.parse(runId)}${partSuffix(part)}`;
}

/**
 * `<dataset>/manifests/`'s file name of a part's manifest: `<run>.p<part6>.json`, except for
 * a run committed in one piece (part 1 is also its final part) and for manifests from before
 * parts (no `part`): `<run>.json`. Which one is decided when the part is published (its
 * `final` is known then) and is checked by readers against the signed manifest.
 */
export function manifestFileName(runId: string, part?: { number: number; final: boolean }): string {
  return part === undefined || (part.number === 1 && part.final) ? `${RunId.parse(runId)}.json` : `${partId(runId, part.number)}.json`;
}

/** Parses a manifest file name: the run and part it names (part null: a whole run, `<run>.json`), or null for anything else. */
export function parseManifestFileName(name: string): { runId: string; part: number | null } | null {
  const m = /^([A-Za-z0-9_-]{1,64})(?:\.p(\d{6}))?\.json$/.exec(name);
  if (!m) return null;
  if (m[2] === undefined) return { runId: m[1]!, part: null };
  const part = Number(m[2]);
  return PartNumber.safeParse(part).success ? { runId: m[1]!, part } : null;
}

/**
 * A flow file's path relative to its dataset directory, for UTC `time` (start of its hour).
 * `part`: the file belongs to that part of the run (every file written since parts exist does).
 */
export function flowFilePath(timeIso: string, runId: string, seq: number, part?: number): ArchiveFilePath {
  const stem = part === undefined ? RunId.parse(runId) : partId(runId, part);
  return `date=${timeIso.slice(0, 10)}/hour=${timeIso.slice(11, 13)}/${stem}-${String(seq).padStart(4, '0')}.parquet`;
}

/**
 * The start of the hour a flow file's path files it under (ms since the epoch), from the
 * `date=/hour=` directories at the end of `path`; null when the path has no such layout. Every
 * flow in the file starts within that hour (the processor partitions by `time_start`), so
 * readers prune files by it.
 */
export function fileHourStartMs(path: string): number | null {
  const m = /date=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\/[^/]+$/.exec(path);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}T${m[2]}:00:00Z`);
  return Number.isFinite(ms) ? ms : null;
}

/** Parquet key-value metadata every flow file carries. */
export const ArchiveKv = {
  schemaVersion: 'flowseal.schema_version',
  policyHash: 'flowseal.policy_hash',
  keyId: 'flowseal.key_id',
  runId: 'flowseal.run_id',
  /** The part number (decimal) of the file's part. */
  part: 'flowseal.part',
} as const;

/** The JWS `typ` of a (part) manifest signature. */
export const MANIFEST_JWS_TYPE = 'flowseal-manifest+json';
