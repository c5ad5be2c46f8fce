/**
 * Builds the whole query API from its ports: `createApp(deps)` returns a Hono app that runs on
 * any runtime with Web APIs (Node via api/adapters/node.ts, Bun, Deno).
 *
 * Middleware order: deadline → request id → client address → (`/healthz`) → audit (errors via onError) →
 * body limit → bearer auth (with the per-address limit on unauthenticated requests) →
 * per-subject rate limit → routes (queries: cost check → admission → engine within the
 * deadline). `/healthz` needs no token and is neither audited nor limited; `/openapi.json`,
 * `/docs` and unknown paths need no token and are limited per client address.
 * Owns: wiring. Never: imports node:*, DuckDB or the file system.
 */
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { compress } from './middleware/compress.ts';
import type { CompressorFactory } from './middleware/compress.ts';
import { createCursorCodec } from './query/cursor.ts';
import type { ApiConfig } from '../schemas/api-config.ts';
import type { AuditSink, Logger, QueryEngine, RateLimitStore, TokenVerifier } from './ports.ts';
import type { AppEnv } from './middleware/context.ts';
import { requestId } from './middleware/request-id.ts';
import { audit } from './middleware/audit.ts';
import { errorHandler, notFound } from './middleware/error-handler.ts';
import { limitBody } from './middleware/body.ts';
import { auth, limitByAddress } from './middleware/auth.ts';
import { rateLimit } from './middleware/rate-limit.ts';
import { datasetRoutes } from './routes/datasets.ts';
import { queryRoutes } from './routes/query.ts';
import { openApiDocument } from './routes/openapi.ts';
import { docsRoutes } from './routes/docs.ts';
import type { DocsAssets } from './routes/docs.ts';
import { requestDeadline } from './middleware/deadline.ts';
import { clientAddress } from './middleware/client-address.ts';
import type { PeerAddress } from './middleware/client-address.ts';
import { createAdmissionController } from './admission/admission-controller.ts';
import type { AdmissionController } from './admission/admission-controller.ts';

export interface AppDeps {
  readonly engine: QueryEngine;
  readonly verifier: TokenVerifier;
  readonly rateLimit: RateLimitStore;
  readonly audit: AuditSink;
  readonly config: ApiConfig;
  /** Clock, ms since the epoch. Default Date.now. */
  readonly now?: () => number;
  /** Default crypto.randomUUID. */
  readonly newRequestId?: () => string;
  /** Default: JSON lines on the console's error stream. */
  readonly logger?: Logger;
  /**
   * The socket peer's address, from the runtime adapter (e.g. `hono/conninfo` helpers). Without
   * it client addresses are unknown: the audit records null and nothing is limited per address.
   */
  readonly peerAddress?: PeerAddress;
  /** Default: one controller from `config.admission`. */
  readonly admission?: AdmissionController;
  /** The 32-byte cursor key (config `cursorKey`, read by the adapter); default a random key per process. */
  readonly cursorKey?: Uint8Array;
  /** A Brotli compressor from the runtime adapter (api/adapters/node-brotli.ts); without it only gzip is offered. */
  readonly brotli?: CompressorFactory;
  /** The API reference page's script, read by the runtime adapter; without it `/docs` answers 404. */
  readonly docsAssets?: DocsAssets;
}

/** A logger writing one JSON object per line to `console.error` / `console.log`. */
export const consoleLogger: Logger = {
  info: (message, fields) => console.log(JSON.stringify({ level: 'info', message, ...fields })),
  error: (message, fields) => console.error(JSON.stringify({ level: 'error', message, ...fields })),
};

/** Creates the API app. Throws nothing; misconfiguration surfaces per request. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const now = deps.now ?? Date.now;
  const logger = deps.logger ?? consoleLogger;
  const { config } = deps;
  const { engine } = deps;
  const admission = deps.admission ?? createAdmissionController(config.admission, now);
  const app = new Hono<AppEnv>();
  app.onError(errorHandler(logger));
  app.notFound(notFound());
  app.use('*', requestDeadline({ timeoutMs: config.limits.queryTimeoutMs, now }));
  app.use('*', requestId(deps.newRequestId));
  app.use('*', clientAddress({ ...(deps.peerAddress ? { peer: deps.peerAddress } : {}), trustedProxies: config.trustedProxies }));
  // Before auth: browsers send preflights without the token.
  if (config.cors.origins.length > 0) {
    const allowed = new Set(config.cors.origins);
    app.use(
      '*',
      cors({
        origin: (origin) => (allowed.has(origin) ? origin : null),
        allowMethods: ['GET', 'POST', 'OPTIONS'],
        allowHeaders: ['Authorization', 'Content-Type', 'Accept'],
        exposeHeaders: ['Flowseal-Stats', 'X-Request-Id', 'Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Content-Disposition'],
        maxAge: config.cors.maxAgeSec,
        credentials: false,
      }),
    );
  }
  // Liveness probes are answered before auditing: they carry nothing to audit, and a probe
  // loop must not grow the audit log.
  app.get('/healthz', (c) => c.json({ ok: true }));
  // Outside the audit: compression wraps the body as it goes out, streamed or not.
  app.use('*', compress(deps.brotli ? { brotli: deps.brotli } : {}));
  app.use('*', audit({ sink: deps.audit, now, logger }));
  app.use('*', limitBody(config.limits.maxBodyBytes));

  const addressLimit = { store: deps.rateLimit, perMinute: config.rateLimit.unauthenticatedPerMinute, burst: config.rateLimit.unauthenticatedBurst, now };
  const openapi = openApiDocument();
  app.get('/openapi.json', limitByAddress(addressLimit), (c) => c.json(openapi));
  app.use('*', async (c, next) => (c.req.path.startsWith('/v1/') ? next() : limitByAddress(addressLimit)(c, next)));
  app.route('/docs', docsRoutes(deps.docsAssets));
  app.use('/v1/*', auth({ verifier: deps.verifier, addressLimit }));
  app.use('/v1/*', rateLimit({ store: deps.rateLimit, config: config.rateLimit, now }));
  app.route('/v1/datasets', datasetRoutes(engine));
  const cursors = createCursorCodec(deps.cursorKey ?? null);
  app.route('/v1', queryRoutes({ engine, rateLimit: deps.rateLimit, config, now, admission, cursors }));
  return app;
}
