/**
 * The run manifest: what one processor run published, written next to the archive as
 * `<archive>/<dataset>/manifests/<run>.json` and signed (JWS, EdDSA).
 *
 * Owns: the manifest's shape. Never: secrets (keys, key material) or raw identifiers. The
 * `keyId` is a one-way fingerprint of the anonymization key; `releaseNotes` is publishable.
 */
import { z } from 'zod';
import { ArchiveFilePath, DatasetId, RunId } from './archive.ts';
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

export const RunManifest = z.strictObject({
  manifestVersion: z.literal(1),
  runId: RunId,
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
