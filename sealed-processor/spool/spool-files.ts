/**
 * Spool directory IO for the sealed processor: listing published segments and moving a bad
 * one aside.
 *
 * Layout: `<spool>/segments/<runId>-<seq8>.seg` (ingest writes `.seg.tmp` then renames),
 * `<spool>/quarantine/<name>` + `<name>.reason.json`.
 * Owns: directory scans and quarantine moves. Never: reads segment contents, or writes
 * anything but a code, a name and a time into a reason file.
 */
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ErrorCode } from '../../schemas/errors.ts';
import { parseSegmentFileName, RunEndMarker, runEndMarkerName } from '../../schemas/spool.ts';

export interface SegmentEntry {
  /** File name inside `<spool>/segments/`. */
  name: string;
  runId: string;
  seq: number;
}

/** Published segments (temp files ignored), sorted by run id, then sequence number. */
export async function listSegments(spoolDir: string): Promise<SegmentEntry[]> {
  let names: string[];
  try {
    names = await readdir(join(spoolDir, 'segments'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: SegmentEntry[] = [];
  for (const name of names) {
    const parsed = parseSegmentFileName(name);
    if (parsed) out.push({ name, ...parsed });
  }
  out.sort((a, b) => (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : a.seq - b.seq));
  return out;
}

/**
 * Moves `<spool>/segments/<name>` to `<spool>/quarantine/<name>` and writes a small
 * `<name>.reason.json` ({ code, segment, runId, seq, quarantinedAt }). Throws TypeError for a
 * name that is not a segment file name (no path tricks).
 */
export async function quarantineSegment(spoolDir: string, name: string, code: ErrorCode, now: () => number = Date.now): Promise<void> {
  const parsed = parseSegmentFileName(name);
  if (!parsed) throw new TypeError('quarantineSegment: not a segment file name');
  const dir = join(spoolDir, 'quarantine');
  await mkdir(dir, { recursive: true });
  const reason = { code, segment: name, runId: parsed.runId, seq: parsed.seq, quarantinedAt: new Date(now()).toISOString() };
  await writeFile(join(dir, `${name}.reason.json`), `${JSON.stringify(reason)}\n`);
  await rename(join(spoolDir, 'segments', name), join(dir, name));
}

/** Reads a run's end marker (see schemas/spool.ts `RunEndMarker`), or null if absent/invalid. */
export async function readRunEndMarker(spoolDir: string, runId: string): Promise<RunEndMarker | null> {
  try {
    const text = await readFile(join(spoolDir, 'segments', runEndMarkerName(runId)), 'utf8');
    return RunEndMarker.parse(JSON.parse(text));
  } catch {
    return null;
  }
}

/** Removes a run's end marker once the run is published. */
export async function removeRunEndMarker(spoolDir: string, runId: string): Promise<void> {
  await unlink(join(spoolDir, 'segments', runEndMarkerName(runId))).catch(() => undefined);
}
