/**
 * Node runtime adapter: reads the config file, file-based JWKS and the API reference bundle
 * (docs-assets.ts), opens the DuckDB engine over the archive, wires the in-memory rate limiter
 * and the NDJSON audit log, and serves the app with @hono/node-server.
 *
 * Without a config file (or one with no issuers) only the DEV issuer is trusted and a log line
 * says so. Owns: process-level IO for the API. Never: puts runtime code into the app itself.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { JSONWebKeySet, JWK } from 'jose';
import { loadApiConfig } from '../../schemas/api-config.ts';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { ApiConfig, IssuerConfig, ManifestKeysSource } from '../../schemas/api-config.ts';
import { createApp, consoleLogger } from '../app.ts';
import { nodeBrotliCompressor } from './node-brotli.ts';
import type { Logger } from '../ports.ts';
import type { PeerAddress } from '../middleware/client-address.ts';
import { createDuckDbEngine } from '../engine/duckdb-engine.ts';
import { createJoseVerifier } from '../auth/jose-verifier.ts';
import type { ResolvedIssuer } from '../auth/jose-verifier.ts';
import { createMemoryRateLimitStore } from '../rate-limit/memory-store.ts';
import { openNdjsonAuditSink } from './ndjson-audit-sink.ts';
import { loadOrCreateDevIssuer } from './dev-issuer-files.ts';
import { loadDocsAssets } from './docs-assets.ts';

export interface NodeServerOptions {
  /** Archive root; falls back to the config's `archiveDir`. */
  readonly archiveDir?: string;
  readonly configPath?: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** DEV issuer key directory, used when no issuer is configured. Default `.flowseal/dev-issuer`. */
  readonly devIssuerDir?: string;
  /** Overrides the config's audit log path. */
  readonly auditLogPath?: string;
  readonly logger?: Logger;
  /** How the runtime reports the socket peer. `startNodeServer` sets Node's; Bun and Deno set theirs. */
  readonly peerAddress?: PeerAddress;
}

/** The socket peer under @hono/node-server. */
export const nodePeerAddress: PeerAddress = (c) => getConnInfo(c).remote.address;

export interface RunningServer {
  readonly url: string;
  close(): Promise<void>;
}

async function resolveIssuer(cfg: IssuerConfig, baseDir: string): Promise<ResolvedIssuer> {
  const { jwks } = cfg;
  let keys: JSONWebKeySet | URL;
  if ('keys' in jwks) keys = jwks as JSONWebKeySet;
  else if ('file' in jwks) keys = JSON.parse(await readFile(resolve(baseDir, jwks.file), 'utf8')) as JSONWebKeySet;
  else keys = new URL(jwks.url);
  return { issuer: cfg.issuer, audience: cfg.audience, algorithms: cfg.algorithms, requireNbf: cfg.requireNbf, jwks: keys };
}

/** What every runtime adapter needs: the app, its engine (to close) and the parsed config. */
export interface BuiltApp {
  readonly app: ReturnType<typeof createApp>;
  readonly engine: { close(): Promise<void> };
  readonly config: ApiConfig;
}

/**
 * The pinned manifest keys: Ed25519 public JWKs, inline or from a JWKS file.
 * @throws AppError ERR_CONFIG_INVALID naming what is wrong (never the key material).
 */
async function resolveManifestKeys(source: ManifestKeysSource, baseDir: string): Promise<JWK[]> {
  let keys: unknown;
  if ('keys' in source) keys = source.keys;
  else {
    const text = await readFile(resolve(baseDir, source.file), 'utf8').catch(() => {
      throw new AppError(ErrorCode.ConfigInvalid, `manifestKeys.file: cannot read ${source.file}`);
    });
    try {
      keys = (JSON.parse(text) as { keys?: unknown }).keys;
    } catch {
      throw new AppError(ErrorCode.ConfigInvalid, `manifestKeys.file: ${source.file} is not a JSON Web Key Set`);
    }
  }
  if (!Array.isArray(keys) || keys.length === 0) throw new AppError(ErrorCode.ConfigInvalid, 'manifestKeys: expected a non-empty "keys" array');
  keys.forEach((k: unknown, i) => {
    const o = k as Record<string, unknown> | null;
    if (o === null || typeof o !== 'object' || o.kty !== 'OKP' || o.crv !== 'Ed25519' || typeof o.x !== 'string' || 'd' in o) {
      throw new AppError(ErrorCode.ConfigInvalid, `manifestKeys.keys.${i}: expected a public Ed25519 JWK (kty OKP, crv Ed25519, x; no private part)`);
    }
  });
  return keys as JWK[];
}

/**
 * The cursor key from its source: 32 bytes, hex (64 digits) or base64.
 * @throws AppError ERR_CONFIG_INVALID naming the source when it is missing or not 32 bytes.
 */
export async function resolveCursorKey(source: NonNullable<ApiConfig['cursorKey']>, baseDir: string): Promise<Uint8Array> {
  const where = 'env' in source ? `cursorKey.env ${source.env}` : `cursorKey.file ${source.file}`;
  let text: string | undefined;
  if ('env' in source) text = process.env[source.env];
  else {
    try {
      text = await readFile(resolve(baseDir, source.file), 'utf8');
    } catch {
      throw new AppError(ErrorCode.ConfigInvalid, `${where}: cannot read the file`);
    }
  }
  if (text === undefined || text.trim() === '') throw new AppError(ErrorCode.ConfigInvalid, `${where}: not set`);
  const t = text.trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (bytes.length !== 32) throw new AppError(ErrorCode.ConfigInvalid, `${where}: expected 32 bytes as 64 hex digits or base64`);
  return new Uint8Array(bytes);
}

/**
 * Wires the app from files (config, JWKS files, dev issuer keys) and the archive. Uses node:fs,
 * which Bun and Deno also provide, so their adapters reuse it.
 * @throws AppError ERR_CONFIG_INVALID for a bad config file; IO errors for unreadable files.
 */
export async function buildAppFromFiles(options: NodeServerOptions): Promise<BuiltApp> {
  const logger = options.logger ?? consoleLogger;
  const configText = options.configPath ? await readFile(options.configPath, 'utf8') : '';
  const config: ApiConfig = loadApiConfig(configText);
  const baseDir = options.configPath ? resolve(options.configPath, '..') : process.cwd();
  const issuers = await Promise.all(config.issuers.map((i) => resolveIssuer(i, baseDir)));
  if (issuers.length === 0) {
    const devDir = resolve(options.devIssuerDir ?? '.flowseal/dev-issuer');
    const dev = await loadOrCreateDevIssuer(devDir);
    issuers.push({ issuer: dev.issuer, audience: dev.audience, algorithms: ['ES256'], jwks: dev.jwks });
    logger.info('no token issuers configured: trusting the DEV issuer only (not for production)', { devIssuerDir: devDir });
  }
  // Every running query holds one of the runtime's worker threads while DuckDB executes it;
  // the audit log's file writes and token verification (WebCrypto) need one too.
  const workerPool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  if (config.admission.maxConcurrent >= workerPool) {
    logger.info('admission.maxConcurrent is not below the worker pool: file IO and token checks will wait behind running queries', { maxConcurrent: config.admission.maxConcurrent, UV_THREADPOOL_SIZE: workerPool });
  }
  const archiveDir = options.archiveDir ?? config.archiveDir;
  if (archiveDir === undefined) throw new AppError(ErrorCode.ConfigInvalid, 'no archive directory given (option or config archiveDir)');
  const audit = await openNdjsonAuditSink(resolve(options.auditLogPath ?? config.auditLogPath ?? '.flowseal/audit.ndjson'));
  const manifestKeys = config.manifestKeys === undefined ? null : await resolveManifestKeys(config.manifestKeys, baseDir);
  if (manifestKeys === null) logger.info('no manifest signing key pinned (manifestKeys): datasets are listed as unverified');
  const engine = await createDuckDbEngine({
    archiveDir: resolve(archiveDir),
    memoryLimit: config.duckdb.memoryLimit,
    threads: config.duckdb.threads,
    manifestKeys,
    verifyHashes: config.verifyFileHashes,
    onRejectedRun: (r) => logger.error('run left out of the archive: its manifest or files failed a check', { code: ErrorCode.ArchiveRunRejected, ...r }),
  });
  const cursorKey = config.cursorKey === undefined ? null : await resolveCursorKey(config.cursorKey, baseDir);
  const docsAssets = await loadDocsAssets(logger);
  const app = createApp({
    engine,
    ...(cursorKey ? { cursorKey } : {}),
    brotli: nodeBrotliCompressor(),
    verifier: createJoseVerifier({ issuers, clockToleranceSec: config.clockToleranceSec, maxLifetimeSec: config.maxTokenLifetimeSec }),
    rateLimit: createMemoryRateLimitStore(),
    audit,
    config,
    logger,
    ...(options.peerAddress ? { peerAddress: options.peerAddress } : {}),
    ...(docsAssets ? { docsAssets } : {}),
  });
  return { app, engine, config };
}

/**
 * Starts the API server with @hono/node-server.
 * @throws as `buildAppFromFiles`, or when the port cannot be bound.
 */
export async function startNodeServer(options: NodeServerOptions): Promise<RunningServer> {
  const logger = options.logger ?? consoleLogger;
  const { app, engine, config } = await buildAppFromFiles({ peerAddress: nodePeerAddress, ...options });
  const host = options.host ?? config.host;
  const port = options.port ?? config.port;
  const server = await new Promise<ReturnType<typeof serve>>((ok, fail) => {
    // Slow clients are cut off (slowloris): headers and the whole request have deadlines
    // (checked every second), and open sockets are capped (beyond it, closed at accept).
    const serverOptions = {
      headersTimeout: config.server.headersTimeoutMs,
      requestTimeout: config.server.requestTimeoutMs,
      connectionsCheckingInterval: 1000,
    };
    const s = serve({ fetch: app.fetch, hostname: host, port, serverOptions }, () => ok(s));
    s.once('error', fail);
  });
  server.maxConnections = config.server.maxConnections;
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  logger.info('flowseal API listening', { url });
  return {
    url,
    async close() {
      await new Promise<void>((ok) => server.close(() => ok()));
      await engine.close();
    },
  };
}
