/**
 * Summarizes one dataset for `/v1/datasets`: time range, flow count, policy hashes and key ids,
 * from its run manifests (read leniently: `{ manifest, jws, signer }` or a bare manifest,
 * unknown fields ignored) or, without manifests, from a min/max/count query and Parquet KV
 * metadata.
 *
 * Owns: that merge. Never: trusts manifest fields' types (each is checked) or fails the listing
 * because one manifest is malformed (it is skipped). Pure.
 */
import type { DatasetInfo } from '../ports.ts';
import { toJsonValue } from './json-value.ts';

interface ManifestFields {
  timeStart: string | null;
  timeEnd: string | null;
  flows: number | null;
  policyHash: string | null;
  keyId: string | null;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 && v.length <= 256 ? v : null;
}

/** Reads the fields we need from one manifest file's text; null when it is not JSON. */
export function readManifestFields(text: string): ManifestFields | null {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof obj !== 'object' || obj === null) return null;
  const outer = obj as Record<string, unknown>;
  const m = (typeof outer.manifest === 'object' && outer.manifest !== null ? outer.manifest : outer) as Record<string, unknown>;
  const iso = (v: unknown): string | null => {
    const s = str(v);
    return s !== null && Number.isFinite(Date.parse(s)) ? new Date(Date.parse(s)).toISOString() : null;
  };
  return {
    timeStart: iso(m.timeStart),
    timeEnd: iso(m.timeEnd),
    flows: typeof m.flows === 'number' && Number.isFinite(m.flows) ? m.flows : null,
    policyHash: str(m.policyHash),
    keyId: str(m.keyId),
  };
}

/** Without manifests: `[min(time_start), max(time_end), count(*)]` (JSON-safe) and KV pairs. */
export interface FileFallback {
  readonly stats: readonly unknown[];
  readonly kv: readonly (readonly [string, string])[];
}

/** Builds the dataset summary. */
export function summarizeDatasets(id: string, files: number, manifestTexts: readonly string[], fallback: FileFallback | null): DatasetInfo {
  const parsed = manifestTexts.map(readManifestFields).filter((m): m is ManifestFields => m !== null);
  if (parsed.length > 0) {
    const starts = parsed.map((m) => m.timeStart).filter((s): s is string => s !== null).sort();
    const ends = parsed.map((m) => m.timeEnd).filter((s): s is string => s !== null).sort();
    const flows = parsed.every((m) => m.flows !== null) ? parsed.reduce((n, m) => n + (m.flows ?? 0), 0) : null;
    return {
      id,
      timeStart: starts[0] ?? null,
      timeEnd: ends.at(-1) ?? null,
      flows,
      files,
      runs: parsed.length,
      policyHashes: [...new Set(parsed.map((m) => m.policyHash).filter((s): s is string => s !== null))].sort(),
      keyIds: [...new Set(parsed.map((m) => m.keyId).filter((s): s is string => s !== null))].sort(),
    };
  }
  const [start, end, count] = fallback?.stats ?? [null, null, null];
  const kv = fallback?.kv ?? [];
  const pick = (key: string): string[] => [...new Set(kv.filter(([k]) => k === key).map(([, v]) => v))].sort();
  const asIso = (v: unknown): string | null => (typeof v === 'string' ? v : v === null || v === undefined ? null : String(toJsonValue(v)));
  return {
    id,
    timeStart: asIso(start),
    timeEnd: asIso(end),
    flows: typeof count === 'number' ? count : null,
    files,
    runs: 0,
    policyHashes: pick('flowseal.policy_hash'),
    keyIds: pick('flowseal.key_id'),
  };
}
