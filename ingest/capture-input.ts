/**
 * Opens the capture a command reads: a file path, or `-` for standard input, as a stream of
 * chunks. Shared by `ingest pcap` and `ingest netflow --pcap`.
 *
 * Owns: the errors that say what is wrong with the path before a byte is read (missing, a
 * directory, unreadable), each with its stable code and the path the operator gave (shortened
 * to 200 characters). Never: puts file content in an error message.
 */
import { open } from 'node:fs/promises';
import { AppError, ErrorCode } from '../schemas/errors.ts';

export interface CaptureInput {
  stream: AsyncIterable<Uint8Array>;
  /** 'stdin' or 'file' (for diagnostics). */
  source: 'stdin' | 'file';
  close: () => Promise<void>;
}

export const READ_CHUNK_BYTES = 256 * 1024;

/**
 * Opens `path` (or stdin for `-`; `stdin` overrides process.stdin for tests).
 * @throws AppError ERR_INPUT_NOT_FOUND (no such file), ERR_INPUT_NOT_A_FILE (a directory),
 *   ERR_INPUT_UNREADABLE (permissions or another open error; the errno code is in the message).
 */
export async function openCaptureInput(path: string, stdin?: AsyncIterable<Uint8Array>): Promise<CaptureInput> {
  if (path === '-') return { stream: stdin ?? (process.stdin as AsyncIterable<Uint8Array>), source: 'stdin', close: async () => undefined };
  const shown = JSON.stringify(path.length > 200 ? `${path.slice(0, 200)}…` : path);
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'unknown';
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new AppError(ErrorCode.InputNotFound, `capture file ${shown} does not exist`, { cause: e });
    if (code === 'EISDIR') throw new AppError(ErrorCode.InputNotAFile, `capture path ${shown} is a directory, not a file`, { cause: e });
    throw new AppError(ErrorCode.InputUnreadable, `capture file ${shown} cannot be opened (${code})`, { cause: e });
  }
  // Opening a directory read-only succeeds on Linux; reading it would fail with EISDIR later.
  const st = await fh.stat();
  if (st.isDirectory()) {
    await fh.close();
    throw new AppError(ErrorCode.InputNotAFile, `capture path ${shown} is a directory, not a file`);
  }
  return { stream: fh.createReadStream({ highWaterMark: READ_CHUNK_BYTES, autoClose: false }), source: 'file', close: () => fh.close() };
}
