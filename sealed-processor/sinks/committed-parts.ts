/**
 * What the archive already holds of a run, as the processor needs it when it (re)starts: whether
 * the run is finished (its final part, or a manifest from before parts, is committed), the next
 * part number, the last spool segment whose flows are all committed, and the counts of the last
 * committed part (the run's totals so far, which a resumed run adds to).
 *
 * Owns: reading the run's own manifests (schemas/archive.ts names them). It does not verify
 * signatures: this is the processor's own archive, and what it decides from it (a run is
 * finished; a part number is taken) can only make it publish less, never twice.
 * Never: writes anything.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MANIFEST_DIR, parseManifestFileName } from '../../schemas/archive.ts';
import { SignedManifest } from '../../schemas/manifest.ts';

export interface CommittedRun {
  finished: boolean;
  /** The first part number not committed yet. */
  nextPart: number;
  /** Flows of spool segments up to this seq are all in committed parts (null: none). */
  throughSegment: number | null;
  /** Counts of the last committed part (empty when none). */
  counts: Record<string, number>;
}

export const NOTHING_COMMITTED: CommittedRun = Object.freeze({ finished: false, nextPart: 1, throughSegment: null, counts: {} });

/** Reads `<archive>/<dataset>/manifests/` for run `runId`'s committed parts. */
export async function committedRun(archiveDir: string, dataset: string, runId: string): Promise<CommittedRun> {
  const dir = join(archiveDir, dataset, MANIFEST_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  let last: { part: number; name: string } | null = null;
  for (const name of names) {
    const parsed = parseManifestFileName(name);
    if (!parsed || parsed.runId !== runId) continue;
    if (parsed.part === null) return { finished: true, nextPart: 1, throughSegment: null, counts: {} };
    if (!last || parsed.part > last.part) last = { part: parsed.part, name };
  }
  if (!last) return NOTHING_COMMITTED;
  const text = await readFile(join(dir, last.name), 'utf8').catch(() => null);
  let signed: ReturnType<typeof SignedManifest.safeParse> | null = null;
  try {
    signed = text === null ? null : SignedManifest.safeParse(JSON.parse(text));
  } catch {
    signed = null;
  }
  const m = signed?.success ? signed.data.manifest : null;
  // An unreadable last manifest still takes its part number: never publish a number twice.
  if (!m?.part) return { finished: false, nextPart: last.part + 1, throughSegment: null, counts: {} };
  return { finished: m.part.final, nextPart: m.part.number + 1, throughSegment: m.part.throughSegment, counts: m.counts };
}

/**
 * Every readable manifest of run `runId`, by part number (a manifest from before parts first).
 * Unverified (see the file comment): for reports on the processor's own output, not for readers.
 */
export async function runManifests(archiveDir: string, dataset: string, runId: string): Promise<SignedManifest[]> {
  const dir = join(archiveDir, dataset, MANIFEST_DIR);
  const found: { part: number; signed: SignedManifest }[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const parsed = parseManifestFileName(name);
    if (!parsed || parsed.runId !== runId) continue;
    try {
      const signed = SignedManifest.safeParse(JSON.parse(await readFile(join(dir, name), 'utf8')));
      if (signed.success) found.push({ part: parsed.part ?? 0, signed: signed.data });
    } catch {
      // unreadable: left out
    }
  }
  return found.sort((a, b) => a.part - b.part).map((f) => f.signed);
}
