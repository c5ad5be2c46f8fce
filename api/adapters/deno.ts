/**
 * Deno runtime adapter:
 * `npx deno run --allow-read --allow-write --allow-net --allow-env --allow-ffi api/adapters/deno.ts
 *  --archive <dir> [--config <file>] [--host <addr>] [--port <n>] [--dev-issuer <dir>] [--audit-log <file>]`.
 * `--allow-ffi` loads DuckDB's Node-API addon; Deno resolves npm packages from the repo's
 * node_modules (package.json), so `npm install` is the only setup. Note that Deno's permissions
 * constrain JS I/O only: DuckDB's own file access is confined by its sandbox settings.
 * Same wiring as Node (`buildAppFromFiles`: Deno provides node:fs), served by `Deno.serve`.
 * Prints one JSON line with the listening `url` on stdout (`--port 0` picks a free port), and
 * closes the server and the engine on SIGINT/SIGTERM. DEV issuer directory as in bun.ts.
 *
 * Owns: Deno process IO. Never: adds app logic (that is api/app.ts) or runs under another runtime.
 */
import { getConnInfo } from 'hono/deno';
import { consoleLogger } from '../app.ts';
import { buildAppFromFiles } from './node.ts';
import type { NodeServerOptions } from './node.ts';
import { parseServeArgs, SERVE_OPTIONS_USAGE } from './serve-args.ts';

/** The part of the `Deno` namespace this adapter uses (typed here so the root tsc needs no Deno types). */
interface DenoRuntime {
  readonly args: readonly string[];
  readonly version: { readonly deno: string };
  env: { get(name: string): string | undefined };
  serve(
    options: { hostname: string; port: number; onListen?: (addr: { hostname: string; port: number }) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void>; readonly finished: Promise<void> };
  addSignalListener(signal: 'SIGINT' | 'SIGTERM', handler: () => void): void;
  exit(code: number): never;
}

const USAGE = 'usage: deno run --allow-read --allow-write --allow-net --allow-env --allow-ffi api/adapters/deno.ts ' + SERVE_OPTIONS_USAGE;

const deno = (globalThis as unknown as { Deno?: DenoRuntime }).Deno;
if (deno === undefined) throw new TypeError('api/adapters/deno.ts must run under Deno');
const runtime: DenoRuntime = deno;

function fail(message: string, code: number): never {
  console.error(message);
  return runtime.exit(code);
}

function serveOptions(args: string[]): NodeServerOptions & { archiveDir: string } {
  const parsed = parseServeArgs(args, runtime.env.get('FLOWSEAL_DEV_ISSUER_DIR'));
  if ('error' in parsed) return fail(`${parsed.error}\n${USAGE}`, 2);
  return parsed;
}

const options = serveOptions([...runtime.args]);
let built: Awaited<ReturnType<typeof buildAppFromFiles>>;
try {
  // Deno.serve passes the connection info (remoteAddr) as the second handler argument (the app's env).
  built = await buildAppFromFiles({ ...options, peerAddress: (c) => getConnInfo(c).remote.address });
} catch (err) {
  fail(`flowseal API failed to start: ${err instanceof Error ? err.message : String(err)}`, 1);
}
const { app, engine, config } = built;
const server = runtime.serve(
  {
    hostname: options.host ?? config.host,
    port: options.port ?? config.port,
    onListen: (addr) => {
      const host = addr.hostname.includes(':') ? `[${addr.hostname}]` : addr.hostname;
      consoleLogger.info('flowseal API listening', { url: `http://${host}:${addr.port}`, runtime: 'deno', version: runtime.version.deno });
    },
  },
  app.fetch,
);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await server.shutdown();
  await engine.close();
  runtime.exit(0);
}
runtime.addSignalListener('SIGINT', () => void stop());
runtime.addSignalListener('SIGTERM', () => void stop());
