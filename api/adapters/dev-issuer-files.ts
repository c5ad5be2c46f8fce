/**
 * DEVELOPMENT ONLY: the file-backed key store of the dev issuer (api/auth/dev-issuer.ts),
 * e.g. `.flowseal/dev-issuer/`. Directory mode 0700, files 0600.
 *
 * Owns: the file IO. Never: used for production issuers.
 */
import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { createDevIssuer } from '../auth/dev-issuer.ts';
import type { DevIssuer, DevKeyStore } from '../auth/dev-issuer.ts';

/** A `DevKeyStore` over a directory. */
export function fileDevKeyStore(dir: string): DevKeyStore {
  return {
    async read(name) {
      try {
        return await readFile(join(dir, name), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },
    async write(name, text) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const path = join(dir, name);
      await writeFile(path, text, { mode: 0o600 });
      await chmod(path, 0o600);
    },
  };
}

/** DEV ONLY: loads (or creates) the dev issuer's ES256 key pair in `dir`. */
export function loadOrCreateDevIssuer(dir: string): Promise<DevIssuer> {
  return createDevIssuer(fileDevKeyStore(dir));
}
