/**
 * The anonymization domain must not change by accident: the live key schedule, policy hashes
 * and pseudonyms (golden/golden-vectors.ts) must equal golden/vectors.json, and CHANGELOG.md
 * must name the domain version and vectors hash of that file under an "Anonymization domain"
 * heading, so regenerating the vectors without a changelog entry fails too.
 * Independent recomputations of the stored values: golden-vectors-cross-check.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import {
  GOLDEN_FILE, REGENERATE_COMMAND, anonymizationDomainLines, changelogLine, readGoldenFile, readPolicyFixtures, readRepoText, sortedKeysJson,
} from './golden/golden-files.ts';
import { computeGoldenVectors, diffVectors, vectorsSha256, type GoldenVectors } from './golden/golden-vectors.ts';

const stored = await readGoldenFile();
if (stored === null) throw new Error(`${GOLDEN_FILE} is missing: run ${REGENERATE_COMMAND}`);
const golden = stored;
const live = await computeGoldenVectors(await readPolicyFixtures());

function breaking(what: string, diffs: readonly string[]): string {
  return [
    `${what} differ from ${GOLDEN_FILE} (domain ${golden.domainVersion}):`,
    ...diffs.map((d) => `  ${d}`),
    'This is a BREAKING CHANGE of the anonymization domain: every existing archive and every federation partner',
    'sharing the anonymization key (same key id) holds pseudonyms, key ids and policy hashes made the old way, and',
    'new data would no longer line up with them. If the change is not intended, fix the code. If it is, regenerate',
    `with \`${REGENERATE_COMMAND}\` and add the line it prints to CHANGELOG.md under an "Anonymization domain"`,
    'heading, saying what archive holders and partners must do (re-anonymize, or keep the old version for old data).',
  ].join('\n');
}

function assertSame(section: keyof GoldenVectors, name?: string): void {
  const s = golden.vectors[section] as Record<string, unknown>;
  const l = live[section] as Record<string, unknown>;
  const [a, b] = name === undefined ? [s, l] : [s[name], l[name]];
  const diffs = diffVectors(a, b);
  if (diffs.length > 0) assert.fail(breaking(name === undefined ? section : `${section}.${name}`, diffs));
}

/** Same as vectorsSha256, with node:crypto and a serializer of its own. */
function independentSha256(v: unknown): string {
  return createHash('sha256').update(sortedKeysJson(v)).digest('hex');
}

test('golden file: vectorsSha256 is the hash of its vectors (no hand edits)', () => {
  assert.match(golden.domainVersion, /^\d+\.\d+\.\d+$/);
  assert.equal(vectorsSha256(golden.vectors), golden.vectorsSha256, `${GOLDEN_FILE} was edited by hand: regenerate it with ${REGENERATE_COMMAND}`);
  assert.equal(independentSha256(golden.vectors), golden.vectorsSha256);
});

test('key schedule: HKDF labels, lengths, subkeys, key id and time offsets are unchanged', () => {
  assertSame('keySchedule');
});

test('policy hashes of DEFAULT_POLICY and the example policies are unchanged', () => {
  assertSame('policyHashes');
});

test('the golden file and the live code cover the same policies', () => {
  assert.deepEqual(Object.keys(live.pseudonyms).sort(), Object.keys(golden.vectors.pseudonyms).sort(),
    breaking('pseudonym policies', diffVectors(Object.keys(golden.vectors.pseudonyms).sort(), Object.keys(live.pseudonyms).sort())));
});

for (const name of Object.keys(golden.vectors.pseudonyms)) {
  test(`pseudonyms under policy ${name} are unchanged`, () => {
    assertSame('pseudonyms', name);
  });
}

test('the whole live domain hashes to the stored vectorsSha256', () => {
  assert.equal(vectorsSha256(live), golden.vectorsSha256, breaking('vectors', diffVectors(golden.vectors, live)));
});

test('CHANGELOG.md names this domain version and vectors hash under an "Anonymization domain" heading', async () => {
  const changelog = await readRepoText('CHANGELOG.md');
  const lines = anonymizationDomainLines(changelog);
  assert.ok(lines.length > 0, 'CHANGELOG.md has no "Anonymization domain" heading');
  const version = new RegExp(`(^|[^0-9.])${golden.domainVersion.replace(/\./g, '\\.')}([^0-9.]|\\.?$)`);
  const entry = lines.find((l) => l.includes(`sha256:${golden.vectorsSha256}`) && version.test(l));
  assert.ok(entry !== undefined, [
    `CHANGELOG.md does not record anonymization domain ${golden.domainVersion} (sha256:${golden.vectorsSha256}).`,
    'Every change of the golden vectors is a breaking change for archives and federation partners and must be',
    'announced: add under an "Anonymization domain" heading a line like',
    `  ${changelogLine(golden.domainVersion, golden.vectorsSha256)}`,
  ].join('\n'));
});

test('the changelog check reads only the "Anonymization domain" sections', () => {
  const text = [
    '# Changelog', 'sha256:aa 9.9.9 in the preamble',
    '## [1.0.0] - 2026-01-01', '### Added', '- sha256:bb 1.0.0 elsewhere',
    '### Anonymization domain', '- Anonymization domain 1.0.0, golden vectors sha256:cc',
    '#### detail', '- still inside',
    '### Fixed', '- sha256:dd outside again',
  ].join('\n');
  assert.deepEqual(anonymizationDomainLines(text), ['- Anonymization domain 1.0.0, golden vectors sha256:cc', '- still inside']);
});
