/**
 * Publishes the processor's public key as `<spool>/processor-key.json` (IO shell).
 *
 * Owns: the atomic write (temp file, fsync, rename, directory fsync) so the ingest side never
 * reads a half-written key. Never: writes anything but the public-key file content.
 */
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PUBLIC_KEY_FILE_NAME } from '../../schemas/spool.ts';
import { publicKeyFile, type ProcessorKeys } from './keys.ts';

/**
 * Writes `<spoolDir>/processor-key.json` (creating `spoolDir` if needed) by temp file and
 * atomic rename, replacing any previous processor's key. Returns the file path.
 */
export async function writePublicKey(spoolDir: string, keys: ProcessorKeys): Promise<string> {
  await mkdir(spoolDir, { recursive: true });
  const path = join(spoolDir, PUBLIC_KEY_FILE_NAME);
  const tmp = `${path}.${keys.keyId.slice(0, 8)}.${process.pid}.tmp`;
  const text = `${JSON.stringify(publicKeyFile(keys), null, 2)}\n`;
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.chmod(0o644); // public material, readable by an ingest running as another user
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  const dir = await open(spoolDir, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return path;
}
