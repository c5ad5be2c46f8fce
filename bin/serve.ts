/**
 * `flowseal serve` and `flowseal token`: the API server's IO shell and the DEV token minter.
 *
 * Owns: choosing the dev issuer directory, waiting for a signal to stop. Never: prints a
 * private key; `token` prints only the signed token.
 */
import { resolve } from 'node:path';
import { startNodeServer } from '../api/adapters/node.ts';
import { loadOrCreateDevIssuer } from '../api/adapters/dev-issuer-files.ts';
import { AppError, ErrorCode } from '../schemas/errors.ts';

/** The DEV issuer's key directory: `--dev-issuer`, `$FLOWSEAL_DEV_ISSUER_DIR`, or `.flowseal/dev-issuer`. */
export function devIssuerDirFor(dir: string | undefined): string {
  return resolve(dir ?? process.env.FLOWSEAL_DEV_ISSUER_DIR ?? '.flowseal/dev-issuer');
}

export interface ServeOptions {
  archiveDir: string;
  configPath?: string | undefined;
  host?: string | undefined;
  port?: number | undefined;
  onReady?: (url: string) => void;
}

/** Serves until SIGINT/SIGTERM. */
export async function runServe(opts: ServeOptions): Promise<number> {
  if (opts.port !== undefined && !(Number.isInteger(opts.port) && opts.port >= 0 && opts.port < 65536)) {
    throw new AppError(ErrorCode.BadRequest, '--port must be an integer from 0 to 65535');
  }
  const server = await startNodeServer({
    archiveDir: resolve(opts.archiveDir),
    ...(opts.configPath ? { configPath: opts.configPath } : {}),
    ...(opts.host ? { host: opts.host } : {}),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    devIssuerDir: devIssuerDirFor(undefined),
  });
  opts.onReady?.(server.url);
  await new Promise<void>((res) => {
    process.once('SIGINT', res);
    process.once('SIGTERM', res);
  });
  await server.close();
  return 0;
}

export interface TokenOptions {
  sub: string;
  scope: string;
  ttlSec: number;
  devIssuerDir?: string | undefined;
  print: (s: string) => void;
}

/** DEV ONLY: prints a token signed by the local development issuer. */
export async function runToken(opts: TokenOptions): Promise<number> {
  if (!Number.isInteger(opts.ttlSec) || opts.ttlSec <= 0 || opts.ttlSec > 86_400) {
    throw new AppError(ErrorCode.BadRequest, '--ttl must be a whole number of seconds, at most 86400 (24 h, the default maxTokenLifetimeSec of the API)');
  }
  const scopes = opts.scope.split(/[\s,]+/).filter(Boolean);
  const issuer = await loadOrCreateDevIssuer(devIssuerDirFor(opts.devIssuerDir));
  opts.print(await issuer.signToken(opts.sub, scopes, opts.ttlSec));
  return 0;
}
