/**
 * Spool directory IO for the sealed processor: listing published segments and moving a bad
 * one aside.
 *
 * Layout: `<spool>/segments/<runId>-<seq8>.seg` (ingest writes `.seg.tmp` then renames),
 * `<spool>/quarantine/<name>` + `<name>.reason.json`.
 * Whoever can write the spool is not trusted: a segment file is opened without following
 * symlinks and without blocking (a FIFO cannot stall the processor), must be a regular file no
 * larger than `SEGMENT_MAX_FILE_BYTES` (a huge sparse file is refused before it is read), and
 * its header is checked before the body is read.
 *
 * Owns: directory scans, segment file reads and quarantine moves. Never: interprets segment
 * contents beyond the header, or writes anything but a code, a name and a time into a reason
 * file.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { decodeSegmentHeader, parseSegmentFileName, RunCollector, runCollectorName, RunEndMarker, runEndMarkerName, SEGMENT_HEADER_MAX_BYTES, SEGMENT_MAX_FILE_BYTES } from '../../schemas/spool.ts';

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
 * Reads `<spool>/segments/<name>` safely (see the file comment). The header is parsed (not yet
 * authenticated) before the rest is read.
 * @throws AppError ERR_SPOOL_NOT_A_FILE (symlink, FIFO, device, directory), ERR_SPOOL_TOO_LARGE,
 *   ERR_SPOOL_BAD_HEADER, ERR_SPOOL_TRUNCATED (the file changed size while read); IO errors as is.
 */
export function readSegmentFile(spoolDir: string, name: string): Promise<Uint8Array> {
  return readUntrustedFile(join(spoolDir, 'segments', name), SEGMENT_MAX_FILE_BYTES, SEGMENT_HEADER_MAX_BYTES, (head) => void decodeSegmentHeader(head));
}

/** Fills `into` from file offset `from` on; a file that ends early is ERR_SPOOL_TRUNCATED. */
async function readFully(fh: FileHandle, into: Uint8Array, from: number): Promise<void> {
  for (let off = from; off < into.length; ) {
    const { bytesRead } = await fh.read(into, off, into.length - off, off);
    if (bytesRead === 0) throw new AppError(ErrorCode.SpoolTruncated, 'spool file shrank while being read');
    off += bytesRead;
  }
}

/** Largest run end marker read (a few hundred bytes of JSON). */
const MAX_MARKER_BYTES = 64 * 1024;

/**
 * A file in the spool, read as the file comment says: no symlinks, no FIFOs or devices, at most
 * `maxBytes`, and `checkHead` run on the first `headBytes` before the rest is read.
 */
async function readUntrustedFile(path: string, maxBytes: number, headBytes: number, checkHead: (head: Uint8Array) => void): Promise<Uint8Array> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw new AppError(ErrorCode.SpoolNotAFile, 'spool file is a symbolic link');
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new AppError(ErrorCode.SpoolNotAFile, 'spool file is not a regular file');
    if (st.size > maxBytes) throw new AppError(ErrorCode.SpoolTooLarge, `spool file is ${st.size} bytes, more than the ${maxBytes} it may have`);
    // The head is read and checked before the body is allocated or read.
    const head = new Uint8Array(Math.min(st.size, headBytes));
    await readFully(fh, head, 0);
    checkHead(head);
    const bytes = new Uint8Array(st.size);
    bytes.set(head);
    await readFully(fh, bytes, head.length);
    if ((await fh.read(new Uint8Array(1), 0, 1, st.size)).bytesRead !== 0) throw new AppError(ErrorCode.SpoolTruncated, 'spool file grew while being read');
    return bytes;
  } finally {
    await fh.close();
  }
}

/**
 * How much the quarantine keeps: it sits beside the spool but outside ingest's `--spool-max`
 * (the capture side never frees it), and whoever writes the spool can fill it with rejected
 * segments — so the oldest quarantined segments are deleted beyond these bounds (each still
 * sealed: unreadable after a restart anyway).
 */
export const QUARANTINE_LIMITS = { maxSegments: 256, maxBytes: 512 * 1024 * 1024 } as const;

/**
 * Moves `<spool>/segments/<name>` to `<spool>/quarantine/<name>` and writes a small
 * `<name>.reason.json` ({ code, segment, runId, seq, quarantinedAt }), then deletes the oldest
 * quarantined segments (and their reasons) beyond `limits`. Throws TypeError for a name that
 * is not a segment file name (no path tricks). @returns the segments deleted to make room.
 */
export async function quarantineSegment(
  spoolDir: string,
  name: string,
  code: ErrorCode,
  now: () => number = Date.now,
  limits: { maxSegments: number; maxBytes: number } = QUARANTINE_LIMITS,
): Promise<number> {
  const parsed = parseSegmentFileName(name);
  if (!parsed) throw new TypeError('quarantineSegment: not a segment file name');
  const dir = join(spoolDir, 'quarantine');
  await mkdir(dir, { recursive: true });
  const reason = { code, segment: name, runId: parsed.runId, seq: parsed.seq, quarantinedAt: new Date(now()).toISOString() };
  await writeFile(join(dir, `${name}.reason.json`), `${JSON.stringify(reason)}\n`);
  await rename(join(spoolDir, 'segments', name), join(dir, name));
  return trimQuarantine(dir, limits);
}

/** Deletes the oldest quarantined segments (by modification time) beyond `limits` (bytes on disk); returns how many. */
async function trimQuarantine(dir: string, limits: { maxSegments: number; maxBytes: number }): Promise<number> {
  const held: Array<{ name: string; size: number; mtimeMs: number }> = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.seg')) continue;
    const st = await lstat(join(dir, name)).catch(() => null);
    // Disk actually used (a sparse file's apparent size is not: a hostile spool makes them).
    if (st) held.push({ name, size: st.blocks * 512, mtimeMs: st.mtimeMs });
  }
  held.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : 1));
  let bytes = held.reduce((n, h) => n + h.size, 0);
  let evicted = 0;
  while (held.length > 0 && (held.length > limits.maxSegments || bytes > limits.maxBytes)) {
    const old = held.shift()!;
    bytes -= old.size;
    await unlink(join(dir, old.name)).catch(() => undefined);
    await unlink(join(dir, `${old.name}.reason.json`)).catch(() => undefined);
    evicted++;
  }
  return evicted;
}

/**
 * Reads a run's collector report (schemas/spool.ts `RunCollector`: what `ingest netflow
 * --listen` received and dropped), or null if absent or invalid. Hardened like the end marker
 * (no FIFO, no symlink, bounded size): the capture side writes it.
 */
export async function readRunCollector(spoolDir: string, runId: string): Promise<RunCollector | null> {
  try {
    const bytes = await readUntrustedFile(join(spoolDir, 'segments', runCollectorName(runId)), MAX_MARKER_BYTES, 0, () => undefined);
    return RunCollector.parse(JSON.parse(new TextDecoder().decode(bytes)));
  } catch {
    return null;
  }
}

/** Reads a run's end marker (see schemas/spool.ts `RunEndMarker`), or null if absent/invalid. */
export async function readRunEndMarker(spoolDir: string, runId: string): Promise<RunEndMarker | null> {
  try {
    const bytes = await readUntrustedFile(join(spoolDir, 'segments', runEndMarkerName(runId)), MAX_MARKER_BYTES, 0, () => undefined);
    const text = new TextDecoder().decode(bytes);
    return RunEndMarker.parse(JSON.parse(text));
  } catch {
    return null;
  }
}

/** Removes a run's end marker once the run is published. */
export async function removeRunEndMarker(spoolDir: string, runId: string): Promise<void> {
  await unlink(join(spoolDir, 'segments', runEndMarkerName(runId))).catch(() => undefined);
}
