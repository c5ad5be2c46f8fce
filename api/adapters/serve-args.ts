/**
 * Command-line options shared by the Bun and Deno entry points (`--archive`, `--config`,
 * `--host`, `--port`, `--dev-issuer`, `--audit-log`), parsed into `NodeServerOptions`.
 *
 * Owns: parsing and validation only; it returns an error message instead of exiting, so each
 * runtime exits its own way. Never: reads files.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import type { NodeServerOptions } from './node.ts';

export const SERVE_OPTIONS_USAGE = '--archive <dir> [--config <file>] [--host <addr>] [--port <n>] [--dev-issuer <dir>] [--audit-log <file>]';

/**
 * @param devIssuerEnv the value of FLOWSEAL_DEV_ISSUER_DIR in this runtime, if any.
 * @returns the options, or `{ error }` with a message for a usage error (exit code 2).
 */
export function parseServeArgs(args: readonly string[], devIssuerEnv: string | undefined): (NodeServerOptions & { archiveDir: string }) | { error: string } {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      options: { archive: { type: 'string' }, config: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, 'dev-issuer': { type: 'string' }, 'audit-log': { type: 'string' } },
    }));
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
  if (!values.archive) return { error: '--archive is required' };
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(/^\d{1,5}$/.test(values.port ?? '') && port <= 65_535)) return { error: '--port must be an integer from 0 to 65535' };
  return {
    archiveDir: resolve(values.archive),
    ...(values.config ? { configPath: resolve(values.config) } : {}),
    ...(values.host ? { host: values.host } : {}),
    ...(port !== undefined ? { port } : {}),
    devIssuerDir: resolve(values['dev-issuer'] ?? devIssuerEnv ?? '.flowseal/dev-issuer'),
    ...(values['audit-log'] ? { auditLogPath: resolve(values['audit-log']) } : {}),
  };
}
