/**
 * The check a capture path named on the command line gets before anything starts (before the
 * processor of `flowseal pipeline`, before `flowseal ingest` opens the spool), so a typo or a
 * wrong file is a clear error naming the path instead of an empty run.
 *
 * Owns: the four input errors (schemas/errors.ts): ERR_INPUT_NOT_FOUND, ERR_INPUT_IS_DIRECTORY,
 * ERR_INPUT_UNREADABLE, ERR_INPUT_NOT_A_CAPTURE — the file must be a readable regular file that
 * starts with the magic of pcap, pcapng, or of gzip, zstd or xz (compressed captures, which the
 * capture reader decompresses; whether the inside is a capture is the reader's to say).
 * Never: reads more than the first 8 bytes, or puts anything of the file's content in a message.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { AppError, ErrorCode } from '../schemas/errors.ts';
import { BlockType, PcapMagic } from './capture/capture-format.ts';

/** Leading bytes of the compressed formats a capture may be wrapped in. */
const COMPRESSED_MAGICS: readonly (readonly number[])[] = [
  [0x1f, 0x8b], // gzip (RFC 1952)
  [0x28, 0xb5, 0x2f, 0xfd], // zstd frame (RFC 8878)
  [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], // xz
];

const CAPTURE_MAGICS = new Set<number>([...Object.values(PcapMagic), BlockType.SectionHeader]);

/** Whether `head` (the first bytes of a file) starts like a capture, plain or compressed. */
export function looksLikeCapture(head: Uint8Array): boolean {
  if (head.length >= 4 && CAPTURE_MAGICS.has(new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true))) return true;
  return COMPRESSED_MAGICS.some((m) => head.length >= m.length && m.every((b, i) => head[i] === b));
}

/** The input error for an errno met while opening or reading `path`. */
export function inputError(path: string, errno: string | undefined, cause?: unknown): AppError {
  const opts = cause === undefined ? { details: { path } } : { cause, details: { path } };
  if (errno === 'ENOENT' || errno === 'ENOTDIR') return new AppError(ErrorCode.InputNotFound, `${path}: no such file`, opts);
  if (errno === 'EISDIR') return new AppError(ErrorCode.InputIsDirectory, `${path}: is a directory, not a capture file`, opts);
  return new AppError(ErrorCode.InputUnreadable, `${path}: cannot be read (${errno ?? 'unknown error'})`, opts);
}

/**
 * Checks that `path` is a readable capture file (see the file comment). `-` (stdin) is not
 * checked: a stream that turns out to hold no record publishes nothing.
 * @throws AppError ERR_INPUT_NOT_FOUND | ERR_INPUT_IS_DIRECTORY | ERR_INPUT_UNREADABLE | ERR_INPUT_NOT_A_CAPTURE, naming the path.
 */
export async function checkCaptureInput(path: string): Promise<void> {
  if (path === '-') return;
  let fh;
  try {
    // Non-blocking: a FIFO or a device named by mistake must not hang the check.
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw inputError(path, (e as NodeJS.ErrnoException).code, e);
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw inputError(path, 'EISDIR');
    if (!st.isFile()) throw new AppError(ErrorCode.InputUnreadable, `${path}: not a regular file`, { details: { path } });
    const head = new Uint8Array(8);
    let n: number;
    try {
      n = (await fh.read(head, 0, head.length, 0)).bytesRead;
    } catch (e) {
      throw inputError(path, (e as NodeJS.ErrnoException).code, e);
    }
    if (!looksLikeCapture(head.subarray(0, n))) {
      throw new AppError(ErrorCode.InputNotCapture, `${path}: not a capture (${n === 0 ? 'empty file' : 'no pcap, pcapng, gzip, zstd or xz signature'})`, { details: { path } });
    }
  } finally {
    await fh.close();
  }
}
