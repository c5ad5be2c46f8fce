/**
 * The capture a command reads: a file path, or `-` for standard input. Shared by `ingest pcap`,
 * `ingest netflow --pcap` and the pre-flight check of `flowseal pipeline`, so a typo or a wrong
 * file is the same clear error naming the path, before a run is opened or any process starts,
 * instead of an empty run.
 *
 * Owns: the input errors (schemas/errors.ts), each with its stable code and the path the
 * operator gave (shortened to 200 characters): ERR_INPUT_NOT_FOUND, ERR_INPUT_NOT_A_FILE (a
 * directory or socket; a FIFO, a character device or `-` is fine), ERR_INPUT_UNREADABLE, and
 * ERR_INPUT_NOT_A_CAPTURE for a regular file that does not start with the magic of pcap, pcapng
 * or of a compressed capture (gzip, zstd, xz, legacy lzma: capture/capture-decompress.ts says
 * which, and whether the inside is a capture is the reader's to say). A stream (stdin, a FIFO)
 * is not sniffed: that would consume it; the reader's ERR_CAPTURE_BAD_MAGIC speaks for it.
 * Never: reads more than the first bytes before the stream is handed out, or puts file content
 * in an error message.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { AppError, ErrorCode, isAppError } from '../schemas/errors.ts';
import { SpoolWriter, type SpoolWriterOptions } from './spool/spool-writer.ts';
import { writeRunEndMarker } from './spool/run-end-marker.ts';
import { BlockType, PcapMagic } from './capture/capture-format.ts';
import { sniffCompression } from './capture/capture-decompress.ts';

export interface CaptureInput {
  stream: AsyncIterable<Uint8Array>;
  /** 'stdin' or 'file' (for diagnostics). */
  source: 'stdin' | 'file';
  close: () => Promise<void>;
}

export const READ_CHUNK_BYTES = 256 * 1024;

/** Bytes of a file's start the check reads (pcap/pcapng need 4, xz 6). */
const HEAD_BYTES = 8;

const CAPTURE_MAGICS = new Set<number>([...Object.values(PcapMagic), BlockType.SectionHeader]);

/** The path as messages show it: quoted, at most 200 characters. */
function shown(path: string): string {
  return JSON.stringify(path.length > 200 ? `${path.slice(0, 200)}…` : path);
}

/** Whether `head` (the first bytes of a file) starts like a capture, plain or compressed. */
export function looksLikeCapture(head: Uint8Array): boolean {
  if (head.length >= 4 && CAPTURE_MAGICS.has(new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true))) return true;
  return sniffCompression(head) !== 'none';
}

/** The input error for an errno met while opening or reading `path`. */
export function inputError(path: string, errno: string | undefined, cause?: unknown): AppError {
  const opts = cause === undefined ? {} : { cause };
  if (errno === 'ENOENT' || errno === 'ENOTDIR') return new AppError(ErrorCode.InputNotFound, `capture file ${shown(path)} does not exist`, opts);
  if (errno === 'EISDIR') return new AppError(ErrorCode.InputNotAFile, `capture path ${shown(path)} is a directory, not a file`, opts);
  return new AppError(ErrorCode.InputUnreadable, `capture file ${shown(path)} cannot be opened (${errno ?? 'unknown'})`, opts);
}

/**
 * Checks an opened `path`: what it is (stat) and, for a regular file, its first bytes (a
 * positional read: the file position stays at 0 for the stream read after it).
 */
async function inspect(fh: FileHandle, path: string): Promise<void> {
  const st = await fh.stat();
  // Opening a directory read-only succeeds on Linux; reading it would fail with EISDIR later.
  if (st.isDirectory()) throw inputError(path, 'EISDIR');
  if (st.isFIFO() || st.isCharacterDevice()) return;
  if (!st.isFile()) throw new AppError(ErrorCode.InputNotAFile, `capture path ${shown(path)} is not a file`);
  const head = new Uint8Array(HEAD_BYTES);
  let n: number;
  try {
    n = (await fh.read(head, 0, head.length, 0)).bytesRead;
  } catch (e) {
    throw inputError(path, (e as NodeJS.ErrnoException).code, e);
  }
  if (!looksLikeCapture(head.subarray(0, n))) {
    throw new AppError(ErrorCode.InputNotCapture, `capture file ${shown(path)} is not a capture (${n === 0 ? 'empty file' : 'no pcap, pcapng, gzip, zstd or xz signature'})`);
  }
}

/**
 * Checks `path` as `openCaptureInput` would, without keeping it open or consuming a stream:
 * the pre-flight check of a command that starts other processes first. `-` is not checked.
 * Opened non-blocking, so a FIFO named by mistake (or on purpose) does not hang the check.
 * @throws AppError ERR_INPUT_NOT_FOUND | ERR_INPUT_NOT_A_FILE | ERR_INPUT_UNREADABLE | ERR_INPUT_NOT_A_CAPTURE, naming the path.
 */
export async function checkCaptureInput(path: string): Promise<void> {
  if (path === '-') return;
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw inputError(path, (e as NodeJS.ErrnoException).code, e);
  }
  try {
    await inspect(fh, path);
  } finally {
    await fh.close();
  }
}

/**
 * Opens `path` (or stdin for `-`; `stdin` overrides process.stdin for tests), checked as
 * `checkCaptureInput` says.
 * @throws AppError ERR_INPUT_NOT_FOUND (no such file), ERR_INPUT_NOT_A_FILE (a directory),
 *   ERR_INPUT_UNREADABLE (permissions or another open error; the errno code is in the message),
 *   ERR_INPUT_NOT_A_CAPTURE (a regular file without a capture's magic).
 */
export async function openCaptureInput(path: string, stdin?: AsyncIterable<Uint8Array>): Promise<CaptureInput> {
  if (path === '-') return { stream: stdin ?? (process.stdin as AsyncIterable<Uint8Array>), source: 'stdin', close: async () => undefined };
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw inputError(path, (e as NodeJS.ErrnoException).code, e);
  }
  try {
    await inspect(fh, path);
  } catch (e) {
    await fh.close();
    throw e;
  }
  return { stream: fh.createReadStream({ highWaterMark: READ_CHUNK_BYTES, autoClose: false }), source: 'file', close: () => fh.close() };
}

/**
 * Opens a capture and the spool run it is sealed into, as one step: the input first (its
 * errors name the path before a run exists), then the writer; if the writer cannot open (no
 * published key), the input is closed again.
 */
export async function openCaptureRun(path: string, stdin: AsyncIterable<Uint8Array> | undefined, spoolDir: string, writerOptions: SpoolWriterOptions): Promise<{ input: CaptureInput; writer: SpoolWriter }> {
  const input = await openCaptureInput(path, stdin);
  try {
    return { input, writer: await SpoolWriter.open(spoolDir, writerOptions) };
  } catch (e) {
    await input.close();
    throw e;
  }
}

/**
 * After a read failed: a damaged capture (ERR_CAPTURE_*) still gets its run — the records
 * before the damage are sealed, the last segment marked final and the run-end marker written,
 * so the processor is not left waiting — and true is returned; any other failure discards the
 * open segment (false). The caller rethrows.
 */
export async function endRunAfterReadError(e: unknown, writer: SpoolWriter, spoolDir: string, log: (obj: object) => void, closed: Record<string, unknown> = {}): Promise<boolean> {
  if (!(isAppError(e) && e.code.startsWith('ERR_CAPTURE_'))) {
    await writer.abort();
    return false;
  }
  const sealed = await writer.close();
  await writeRunEndMarker(spoolDir, writer.runId, sealed.segments);
  log({ event: 'ingest-closed-after-error', runId: writer.runId, ...sealed, ...closed });
  return true;
}
