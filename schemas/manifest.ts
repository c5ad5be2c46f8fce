/**
 * The part manifest: what one part of a run published (see schemas/archive.ts for parts),
 * written next to the archive as `<archive>/<dataset>/manifests/<run>.p<part6>.json` and signed
 * (JWS, EdDSA). `flows`, `files` and the time range are this part's own; `counts` are the
 * run's totals through this part (records read, drops, restarts, spool quota events, ...), so
 * the final part's counts are the whole run's.
 *
 * Owns: the manifest's shape. Never: secrets (keys, key material) or raw identifiers. The
 * `keyId` is a one-way fingerprint of the anonymization key; `releaseNotes` is publishable.
 */
import { z } from 'zod';
import { ArchiveFilePath, DatasetId, PartNumber, RunId } from './archive.ts';
import { canonicalJson } from './canonical-json.ts';

export const ManifestFile = z.strictObject({
  path: ArchiveFilePath,
  rows: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  /** SHA-256 of the file's bytes, lower-case hex: what a reader checks before trusting it. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  timeStart: z.string().nullable(),
  timeEnd: z.string().nullable(),
});
export type ManifestFile = z.infer<typeof ManifestFile>;

/** Which part of its run a manifest commits. */
export const ManifestPart = z.strictObject({
  number: PartNumber,
  /** The run's last part: once it is committed the run is finished. */
  final: z.boolean(),
  /**
   * The last spool segment (seq) whose flows are all in parts up to this one, or null when the
   * part ends with the run. A restarted processor never publishes flows of these segments again.
   */
  throughSegment: z.number().int().nonnegative().nullable(),
});
export type ManifestPart = z.infer<typeof ManifestPart>;

export const RunManifest = z.strictObject({
  manifestVersion: z.literal(1),
  runId: RunId,
  /** Absent only in manifests written before parts existed: the run's single, final part. */
  part: ManifestPart.optional(),
  dataset: DatasetId,
  schemaVersion: z.number().int(),
  processorVersion: z.string(),
  createdAt: z.string(),
  timeStart: z.string().nullable(),
  timeEnd: z.string().nullable(),
  flows: z.number().int().nonnegative(),
  files: z.array(ManifestFile),
  /** Counters by reason: records, packets decoded, drops by reason, flows by end reason, quarantined segments, poison records. */
  counts: z.record(z.string(), z.number()),
  policyHash: z.string(),
  keyId: z.string(),
  releaseNotes: z.unknown(),
});
export type RunManifest = z.infer<typeof RunManifest>;

/** What is stored on disk: the manifest plus its compact JWS over the canonical JSON. */
export const SignedManifest = z.strictObject({
  manifest: RunManifest,
  jws: z.string(),
  /**
   * Public JWK of the signing key (ephemeral per processor start unless configured). A hint
   * only: readers that pin keys verify against their own copy, never against this.
   */
  signer: z.record(z.string(), z.unknown()),
});
export type SignedManifest = z.infer<typeof SignedManifest>;

/** The bytes a manifest signature covers: its canonical JSON, UTF-8. */
export function manifestPayload(manifest: RunManifest): Uint8Array {
  return new TextEncoder().encode(canonicalJson(manifest));
}
