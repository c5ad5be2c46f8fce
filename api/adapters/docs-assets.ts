/**
 * Reads the API reference page's script (Redoc's standalone bundle) from node_modules at
 * startup, for `createApp`'s `docsAssets` port. The package is resolved with
 * `import.meta.resolve`, which Node, Bun and Deno all implement (Deno through the repo's
 * package.json and node_modules), and read with node:fs, which all three provide.
 *
 * Owns: finding and reading the bundle. Never: fails startup — without the bundle the API still
 * serves, and `/docs` answers 404 saying why.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { DocsAssets } from '../routes/docs.ts';
import type { Logger } from '../ports.ts';

/** The bundle's module specifier (the `redoc` package exports `./bundles/*`). */
export const DOCS_SCRIPT_SPECIFIER = 'redoc/bundles/redoc.standalone.js';

/** The bundle, or undefined (logged) when it cannot be found or read. */
export async function loadDocsAssets(logger: Logger, specifier: string = DOCS_SCRIPT_SPECIFIER): Promise<DocsAssets | undefined> {
  try {
    const scriptJs = new Uint8Array(await readFile(fileURLToPath(import.meta.resolve(specifier))));
    return { scriptJs };
  } catch (err) {
    logger.error('API reference assets not found: GET /docs answers 404', { specifier, reason: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
}
