/**
 * Canonical JSON: object keys sorted (UTF-16 order), `undefined` members dropped, no
 * whitespace. What policy hashes and manifest signatures are computed over, so the same value
 * always gives the same bytes. Pure; no IO.
 */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}
