/**
 * The archive contract: how a published flow archive is laid out on disk, what its ids look
 * like, and which Parquet key-value metadata every file carries. The sealed processor writes
 * this layout; the query engine reads it; nothing else may spell a path or a key.
 *
 * ```
 * <archive>/<dataset>/date=YYYY-MM-DD/hour=HH/<run>-<seq>.parquet   flow files
 * <archive>/<dataset>/manifests/<run>.json                          signed run manifests
 * ```
 *
 * The manifest is the commit: a file is part of the archive only when a committed (verifying)
 * manifest lists it with its size and SHA-256. Files without one (a processor killed while
 * publishing, anything planted) are invisible to readers.
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

/** A flow file's path relative to its dataset directory: exactly the layout, nothing that could leave it. */
export const ArchiveFilePath = z.string().regex(/^date=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/[A-Za-z0-9_-]{1,64}-\d{4,}\.parquet$/);
export type ArchiveFilePath = z.infer<typeof ArchiveFilePath>;

/** Directory (under a dataset) holding the run manifests. */
export const MANIFEST_DIR = 'manifests';

/** `<dataset>/manifests/<run>.json`'s file name. */
export function manifestFileName(runId: string): string {
  return `${RunId.parse(runId)}.json`;
}

/** A flow file's path relative to its dataset directory, for UTC `time` (start of its hour). */
export function flowFilePath(timeIso: string, runId: string, seq: number): ArchiveFilePath {
  return `date=${timeIso.slice(0, 10)}/hour=${timeIso.slice(11, 13)}/${RunId.parse(runId)}-${String(seq).padStart(4, '0')}.parquet`;
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
} as const;

/** The JWS `typ` of a run manifest signature. */
export const MANIFEST_JWS_TYPE = 'flowseal-manifest+json';
