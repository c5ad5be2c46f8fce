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
import { getConnInfo } from 'hono/bun';
import { consoleLogger } from '../app.ts';
import { buildAppFromFiles } from './node.ts';
import type { NodeServerOptions } from './node.ts';
import { parseServeArgs, SERVE_OPTIONS_USAGE } from './serve-args.ts';

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

const USAGE = 'usage: bun api/adapters/bun.ts ' + SERVE_OPTIONS_USAGE;

function fail(message: string, code: number): never {
  console.error(message);
  process.exit(code);
}

function serveOptions(args: string[]): NodeServerOptions & { archiveDir: string } {
  const parsed = parseServeArgs(args, process.env.FLOWSEAL_DEV_ISSUER_DIR);
  if ('error' in parsed) return fail(`${parsed.error}\n${USAGE}`, 2);
  return parsed;
}

const bun = (globalThis as unknown as { Bun?: BunRuntime }).Bun;
if (bun === undefined) fail('api/adapters/bun.ts must run under Bun (npx bun api/adapters/bun.ts ...)', 2);

const options = serveOptions(process.argv.slice(2));
let built: Awaited<ReturnType<typeof buildAppFromFiles>>;
try {
  // Bun.serve passes its server as the second fetch argument (the app's env): the peer comes from `server.requestIP`.
  built = await buildAppFromFiles({ ...options, peerAddress: (c) => getConnInfo(c).remote.address });
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
