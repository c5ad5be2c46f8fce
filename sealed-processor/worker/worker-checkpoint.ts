/**
 * Worker checkpoints: what a worker holds after a CUT (open flows, fragment map, template store
 * with held sets, counts), sealed to a per-run key, so that a later worker of the same run
 * continues from it instead of replaying the run from its first segment — which lets the
 * supervisor delete the segments the checkpoint covers while a live run goes on for weeks.
 *
 * File: `<stagingDir>.checkpoint-<through>` (schemas/archive.ts staging area, next to the run's
 * part staging directories), written to `.tmp` and renamed. Layout: "FSWC" · u8 version (1) ·
 * 12-byte nonce · AES-256-GCM ciphertext · 16-byte tag, additional data
 * `flowseal/v1/worker-checkpoint|<runId>|<through>` (so a file cannot stand in for another
 * run's or another cut's). The key is made by the supervisor per run and lives only in the
 * supervisor's and the worker's memory: a processor restart crypto-shreds every checkpoint
 * with the unprocessed spool (DESIGN.md), exactly as it shreds the flows still open.
 *
 * Plaintext (state-bytes.ts): "FSWS" · u8 version (1) · the record processor's state
 * (record-processor.ts `writeState`).
 *
 * Owns: the file name, sealing and opening. Any problem opening or parsing a checkpoint is
 * `AppError(ProcessorCheckpointInvalid)`; the supervisor then continues without it.
 * Never: writes the plaintext anywhere, or reads a checkpoint not sealed with the run's key.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { RecordProcessor } from './record-processor.ts';
import { StateError, StateReader, StateWriter } from './state-bytes.ts';

const FILE_MAGIC = 0x46535743; // "FSWC"
const STATE_MAGIC = 0x46535753; // "FSWS"
const VERSION = 1;
const NONCE = 12;
const TAG = 16;
/** Largest checkpoint read back: a full flow table (1 M flows ≈ 200 bytes each) plus the template store. */
export const MAX_CHECKPOINT_BYTES = 512 << 20;

/** The checkpoint file of the cut after segment `through`. */
export function checkpointPath(stagingDir: string, through: number): string {
  return `${stagingDir}.checkpoint-${through}`;
}

/** The segment a checkpoint file name of this run (`<runId>.checkpoint-<n>`) names, or null. */
export function checkpointThrough(runId: string, fileName: string): number | null {
  const prefix = `${runId}.checkpoint-`;
  if (!fileName.startsWith(prefix)) return null;
  const rest = fileName.slice(prefix.length);
  return /^(0|[1-9][0-9]{0,14})$/.test(rest) ? Number(rest) : null;
}

function aad(runId: string, through: number): Buffer {
  return Buffer.from(`flowseal/v1/worker-checkpoint|${runId}|${through}`);
}

/** Seals `processor`'s state and writes it atomically. @returns the SHA-256 (hex) of the file written. */
export async function writeCheckpoint(processor: RecordProcessor, path: string, key: Uint8Array, runId: string, through: number): Promise<string> {
  const w = new StateWriter();
  w.u32(STATE_MAGIC);
  w.u8(VERSION);
  processor.writeState(w);
  const plaintext = w.finish();
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad(runId, through));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(FILE_MAGIC, 0);
  head.writeUInt8(VERSION, 4);
  const body = Buffer.concat([head, nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  plaintext.fill(0);
  await writeFile(`${path}.tmp`, body);
  await rename(`${path}.tmp`, path);
  return createHash('sha256').update(body).digest('hex');
}

/**
 * Opens a checkpoint and loads it into `processor` (fresh). `digest`: the SHA-256 (hex) the
 * supervisor recorded when it adopted the file — any other file is refused, even one sealed
 * with the run's key (every worker of the run holds it).
 * @throws AppError(ProcessorCheckpointInvalid) for a missing, replaced, damaged or inconsistent
 *   checkpoint; AppError(ProcessorWorkerFailed) when it cannot be read now (EIO, EMFILE: the
 *   supervisor retries, and drops it only if that keeps failing).
 */
export async function restoreCheckpoint(processor: RecordProcessor, path: string, key: Uint8Array, runId: string, through: number, digest: string | null): Promise<void> {
  const invalid = (why: string): AppError => new AppError(ErrorCode.ProcessorCheckpointInvalid, `worker checkpoint after segment ${through}: ${why}`);
  let file: Buffer;
  try {
    // Sized before it is read: a file this large was never written by a worker.
    if ((await stat(path)).size > MAX_CHECKPOINT_BYTES + 5 + NONCE + TAG) throw invalid('too large');
    file = await readFile(path);
  } catch (e) {
    if (e instanceof AppError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw invalid('missing');
    throw new AppError(ErrorCode.ProcessorWorkerFailed, `worker checkpoint after segment ${through}: not readable now`);
  }
  if (digest !== null && createHash('sha256').update(file).digest('hex') !== digest) throw invalid('not the file adopted');
  if (file.length < 5 + NONCE + TAG || file.readUInt32BE(0) !== FILE_MAGIC) throw invalid('not a checkpoint');
  if (file.readUInt8(4) !== VERSION) throw invalid(`unsupported version ${file.readUInt8(4)}`);
  let plaintext: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, file.subarray(5, 5 + NONCE));
    decipher.setAAD(aad(runId, through));
    decipher.setAuthTag(file.subarray(file.length - TAG));
    plaintext = Buffer.concat([decipher.update(file.subarray(5 + NONCE, file.length - TAG)), decipher.final()]);
  } catch {
    throw invalid('authentication failed');
  }
  try {
    const r = new StateReader(plaintext);
    if (r.u32() !== STATE_MAGIC || r.u8() !== VERSION) throw new StateError('bad state header');
    processor.readState(r);
    r.end();
  } catch (e) {
    // Whatever the state held (a bug, a value no check foresaw): the checkpoint is unusable.
    throw invalid(e instanceof StateError ? e.message : 'inconsistent state');
  } finally {
    plaintext.fill(0);
  }
}
