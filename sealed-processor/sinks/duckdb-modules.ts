/**
 * The DuckDB modules the archive sink uses, loaded with `require` rather than `import`:
 * `@duckdb/node-api` (CommonJS, ~150 files) imported from ESM makes Node lex every file for its
 * named exports first, ~0.2 s of CPU at each worker start (measured: importing it cost 0.40 s
 * over an empty script, requiring it 0.18 s). And `@duckdb/node-bindings`, the native addon,
 * resolved from node-api's own location, so the sink's low-level calls (row-chunks.ts) always
 * reach the same addon instance as node-api's appender.
 *
 * Owns: how those two modules are found. Never: anything else.
 */
import { createRequire } from 'node:module';
import type * as Bindings from '@duckdb/node-bindings';

const requireHere = createRequire(import.meta.url);

export const duckdbApi = requireHere('@duckdb/node-api') as typeof import('@duckdb/node-api');
export const duckdbBindings = createRequire(requireHere.resolve('@duckdb/node-api'))('@duckdb/node-bindings') as typeof Bindings;
export type { Bindings };
