/**
 * File side of the golden vectors, shared by generate.ts and the golden tests: where the
 * golden file, the example policies and CHANGELOG.md are, reading them, the golden file's
 * shape, its JSON layout, and the changelog rule.
 *
 * Test tooling only (reads files with node:fs); production code never imports it.
 */
import { readFile } from 'node:fs/promises';
import { GOLDEN_POLICY_FILES, type GoldenVectors } from './golden-vectors.ts';

/** Repository root (this file is sealed-processor/anonymize/golden/golden-files.ts). */
export const REPO_ROOT = new URL('../../../', import.meta.url);

/** The golden file, repo-relative. */
export const GOLDEN_FILE = 'sealed-processor/anonymize/golden/vectors.json';

/** How to regenerate (after a deliberate domain change). */
export const REGENERATE_COMMAND = 'node bin/run-ts.mjs sealed-processor/anonymize/golden/generate.ts --domain-version <new version>';

/** The golden file: metadata, unhashed notes, and the hashed vectors. */
export interface GoldenFile {
  about: string;
  /** Version of the anonymization domain these vectors define (CHANGELOG.md names it). */
  domainVersion: string;
  /** vectorsSha256(vectors): the domain fingerprint CHANGELOG.md names. */
  vectorsSha256: string;
  regenerate: string;
  notes: Record<string, unknown>;
  vectors: GoldenVectors;
}

export async function readRepoText(path: string): Promise<string> {
  return readFile(new URL(path, REPO_ROOT), 'utf8');
}

/** Text of each example policy the vectors use. */
export async function readPolicyFixtures(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const p of GOLDEN_POLICY_FILES) out[p] = await readRepoText(p);
  return out;
}

/** The stored golden file, or null when there is none yet. */
export async function readGoldenFile(): Promise<GoldenFile | null> {
  let text: string;
  try {
    text = await readRepoText(GOLDEN_FILE);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  return JSON.parse(text) as GoldenFile;
}

/** JSON with two-space indentation, arrays of scalars on one line; ends with a newline. */
export function formatGoldenJson(v: unknown): string {
  return `${format(v, '')}\n`;
}

function format(v: unknown, indent: string): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    if (v.every((x) => x === null || typeof x !== 'object')) return `[${v.map((x) => JSON.stringify(x)).join(', ')}]`;
    return `[\n${v.map((x) => inner + format(x, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${format(x, inner)}`).join(',\n')}\n${indent}}`;
}

/**
 * Sorted-keys JSON written independently of schemas/canonical-json.ts (for the tests'
 * cross-checks): keys in UTF-16 order, no whitespace. Serializes itself because a JS object
 * would enumerate integer-like keys ("22", "1024") in numeric order, whatever the insertion.
 */
export function sortedKeysJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(sortedKeysJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${sortedKeysJson(o[k])}`).join(',')}}`;
}

/** The changelog line a domain version needs (the test looks for the version and `sha256:<hash>`). */
export function changelogLine(version: string, hash: string): string {
  return `- Anonymization domain ${version}, golden vectors sha256:${hash}: <what changed, and what archive holders and federation partners must do>`;
}

/**
 * Lines of CHANGELOG.md under headings whose title contains "anonymization domain"
 * (up to the next heading of the same or a higher level).
 */
export function anonymizationDomainLines(changelog: string): string[] {
  const out: string[] = [];
  let level = 0;
  for (const line of changelog.split(/\r?\n/)) {
    const h = /^(#{1,6})\s+(.*)$/.exec(line);
    if (h !== null) {
      if (/anonymi[sz]ation domain/i.test(h[2])) level = h[1].length;
      else if (level > 0 && h[1].length <= level) level = 0;
      continue;
    }
    if (level > 0) out.push(line);
  }
  return out;
}
