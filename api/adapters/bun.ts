/**
 * Bun runtime adapter:
 * `npx bun api/adapters/bun.ts --archive <dir> [--config <file>] [--host <addr>] [--port <n>]
 *  [--dev-issuer <dir>] [--audit-log <file>]`.
 * Same wiring as Node (`buildAppFromFiles`: node:fs works on Bun), served by `Bun.serve`. Prints
 * one JSON line with the listening `url` on stdout (`--port 0` picks a free port), and closes
 * the server and the DuckDB engine on SIGINT/SIGTERM. The DEV issuer directory is
 * `--dev-issuer`, else `$FLOWSEAL_DEV_ISSUER_DIR`, else `.flowseal/dev-issuer` (as `flowseal serve`).
 *
 * Owns: Bun process IO. Never: adds app logic (that is api/app.ts) or runs under another runtime.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { consoleLogger } from '../app.ts';
import { buildAppFromFiles } from './node.ts';
import type { NodeServerOptions } from './node.ts';

/** The part of Bun's `Server` this adapter uses (typed here so the root tsc needs no bun-types globals). */
interface BunServer {
  readonly port: number;
  readonly hostname: string;
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}

interface BunRuntime {
  readonly version: string;
  serve(options: { hostname: string; port: number; fetch: (request: Request) => Response | Promise<Response> }): BunServer;
}

const USAGE = 'usage: bun api/adapters/bun.ts --archive <dir> [--config <file>] [--host <addr>] [--port <n>] [--dev-issuer <dir>] [--audit-log <file>]';

function fail(message: string, code: number): never {
  console.error(message);
  process.exit(code);
}

function serveOptions(args: string[]): NodeServerOptions & { archiveDir: string } {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: { archive: { type: 'string' }, config: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, 'dev-issuer': { type: 'string' }, 'audit-log': { type: 'string' } },
    }));
  } catch (err) {
    return fail(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`, 2);
  }
  if (!values.archive) return fail(`--archive is required\n${USAGE}`, 2);
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(/^\d{1,5}$/.test(values.port ?? '') && port <= 65_535)) return fail('--port must be an integer from 0 to 65535', 2);
  return {
    archiveDir: resolve(values.archive),
    ...(values.config ? { configPath: resolve(values.config) } : {}),
    ...(values.host ? { host: values.host } : {}),
    ...(port !== undefined ? { port } : {}),
    devIssuerDir: resolve(values['dev-issuer'] ?? process.env.FLOWSEAL_DEV_ISSUER_DIR ?? '.flowseal/dev-issuer'),
    ...(values['audit-log'] ? { auditLogPath: resolve(values['audit-log']) } : {}),
  };
}

const bun = (globalThis as unknown as { Bun?: BunRuntime }).Bun;
if (bun === undefined) fail('api/adapters/bun.ts must run under Bun (npx bun api/adapters/bun.ts ...)', 2);

const options = serveOptions(process.argv.slice(2));
let built: Awaited<ReturnType<typeof buildAppFromFiles>>;
try {
  built = await buildAppFromFiles(options);
} catch (err) {
  fail(`flowseal API failed to start: ${err instanceof Error ? err.message : String(err)}`, 1);
}
const { app, engine, config } = built;
const server = bun.serve({ hostname: options.host ?? config.host, port: options.port ?? config.port, fetch: app.fetch });
const host = server.hostname.includes(':') ? `[${server.hostname}]` : server.hostname;
consoleLogger.info('flowseal API listening', { url: `http://${host}:${server.port}`, runtime: 'bun', version: bun.version });

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await server.stop(true);
  await engine.close();
  process.exit(0);
}
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
