/**
 * Cloudflare Workers edge gateway (`wrangler.toml` at the repo root): verifies bearer tokens
 * against the configured issuers' JWKS, enforces the per-subject rate limit, plans
 * `POST /v1/query` and the one-line GETs itself (refusing invalid ones) and forwards the *plan*
 * to the origin's `POST /v1/plan`; everything else under `/v1/` (and `/openapi.json`, `/docs`)
 * is forwarded as it is, through the remote engine (api/engine/remote-engine.ts). DuckDB never runs
 * here: the origin is the full Node/Bun/Deno API and re-checks everything (see remote-engine.ts
 * for why the split is whole requests).
 *
 * Environment (wrangler `[vars]` or secrets):
 * - `ORIGIN_URL` (required): base URL of an origin node, e.g. `https://query-1.example.org`.
 * - `FLOWSEAL_CONFIG`: the API config (schemas/api-config.ts) as JSON or YAML text. Its
 *   `issuers` must give JWKS inline (`keys`) or by `url`; `file` is refused. `rateLimit` and
 *   `limits` apply at the edge as at the origin. No issuer configured → every request fails:
 *   there is no DEV issuer at the edge.
 * - `ORIGIN_TIMEOUT_MS`: deadline for an origin answer, default 30 000.
 *
 * Rate limiting is in memory per isolate (api/rate-limit/memory-store.ts): Cloudflare runs many
 * isolates, so the edge limit is a first line that sheds floods, not an exact global quota —
 * the origin's limiter and per-period record budgets stay authoritative. A Durable Object
 * behind the same `RateLimitStore` port would make the edge limit global.
 *
 * Owns: the edge app and reading the Worker environment. Never: imports node:*, DuckDB or the
 * file system; trusts a DEV issuer; reveals the origin URL or config errors to clients.
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import { getConnInfo } from 'hono/cloudflare-workers';
import type { StatusCode } from 'hono/utils/http-status';
import { loadApiConfig } from '../../schemas/api-config.ts';
import type { ApiConfig } from '../../schemas/api-config.ts';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { consoleLogger } from '../app.ts';
import type { AuditSink, Logger, RateLimitStore, TokenVerifier } from '../ports.ts';
import type { AppEnv } from '../middleware/context.ts';
import { requestId } from '../middleware/request-id.ts';
import { clientAddress } from '../middleware/client-address.ts';
import { audit } from '../middleware/audit.ts';
import { errorHandler, notFound } from '../middleware/error-handler.ts';
import { limitBody, readJsonBody } from '../middleware/body.ts';
import { auth } from '../middleware/auth.ts';
import { rateLimit } from '../middleware/rate-limit.ts';
import { parseQueryRequest } from '../routes/execute-query.ts';
import { planQuery } from '../query/plan.ts';
import { parseRecordsParams, parseTimeseriesParams, parseTopParams } from '../routes/get-params.ts';
import type { QueryFilter } from '../../schemas/query.ts';
import { createJoseVerifier } from '../auth/jose-verifier.ts';
import type { ResolvedIssuer } from '../auth/jose-verifier.ts';
import { createMemoryRateLimitStore } from '../rate-limit/memory-store.ts';
import { createRemoteEngine } from '../engine/remote-engine.ts';
import type { RemoteEngine } from '../engine/remote-engine.ts';

/** The Worker's bindings this gateway reads (all strings, as wrangler `[vars]` give them). */
export interface EdgeEnv {
  readonly ORIGIN_URL?: string;
  readonly FLOWSEAL_CONFIG?: string;
  readonly ORIGIN_TIMEOUT_MS?: string;
}

export interface EdgeDeps {
  readonly config: ApiConfig;
  readonly verifier: TokenVerifier;
  readonly rateLimit: RateLimitStore;
  readonly remote: RemoteEngine;
  /** Default: one JSON line per request on the console (Workers Logs). */
  readonly audit?: AuditSink;
  readonly logger?: Logger;
  /** Clock, ms since the epoch. Default Date.now. */
  readonly now?: () => number;
  readonly newRequestId?: () => string;
}

/** An audit sink writing one JSON line per request with `console.log`. */
export const consoleAuditSink: AuditSink = {
  async write(entry) {
    console.log(JSON.stringify({ level: 'info', message: 'audit', edge: true, ...entry }));
  },
};

/**
 * The edge gateway app: request id → client address (CF-Connecting-IP) → audit → body limit →
 * `/healthz` (answered here) → `/openapi.json` (forwarded) → bearer auth (with the per-address
 * limit on unauthenticated requests) → rate limit → query validation → forward (the client
 * address as `X-Forwarded-For`). Admission control and cost checks happen at the origin.
 * Forwarded responses carry the origin's `X-Request-Id` and the edge's `X-Edge-Request-Id`.
 */
export function createEdgeApp(deps: EdgeDeps): Hono<AppEnv> {
  const now = deps.now ?? Date.now;
  const logger = deps.logger ?? consoleLogger;
  const { config, remote } = deps;
  const limits = config.limits;
  const app = new Hono<AppEnv>();
  app.onError(errorHandler(logger));
  app.notFound(notFound());
  app.use('*', requestId(deps.newRequestId));
  // Cloudflare sets CF-Connecting-IP to the visitor's address (clients cannot choose it there).
  app.use('*', clientAddress({ peer: (c) => getConnInfo(c).remote.address, trustedProxies: config.trustedProxies }));
  app.use('*', audit({ sink: deps.audit ?? consoleAuditSink, now, logger }));
  app.use('*', limitBody(limits.maxBodyBytes));

  const forward = async (c: Context<AppEnv>, body?: string, to?: { path: string; method: 'POST' }): Promise<Response> => {
    const answer = await remote.forward(c.req.raw, { clientAddress: c.get('clientAddress'), ...(body === undefined ? {} : { body }), ...(to ?? {}) });
    c.header('X-Edge-Request-Id', c.get('requestId'));
    return c.newResponse(answer.body, { status: answer.status as StatusCode, headers: answer.headers });
  };

  app.get('/healthz', (c) => c.json({ ok: true, role: 'edge' }));
  app.get('/openapi.json', (c) => forward(c));
  app.get('/docs', (c) => forward(c));
  app.get('/docs/*', (c) => forward(c));

  const addressLimit = { store: deps.rateLimit, perMinute: config.rateLimit.unauthenticatedPerMinute, burst: config.rateLimit.unauthenticatedBurst, now };
  app.use('/v1/*', auth({ verifier: deps.verifier, addressLimit }));
  app.use('/v1/*', rateLimit({ store: deps.rateLimit, config: config.rateLimit, now }));
  /**
   * Planned here (the same 400s the origin would give, before any round trip); the origin gets
   * the plan, never SQL, and plans it again under its own limits. Only `format` and `shape`
   * of the query string go along (they choose the rendering).
   */
  const forwardPlanned = (c: Context<AppEnv>, body: unknown): Promise<Response> => {
    const req = parseQueryRequest(body, limits);
    const facts = c.get('audit');
    facts.dataset = req.dataset;
    facts.query = req;
    const { plan } = planQuery(req, { now: now(), limits, filter: (req.filter ?? null) as QueryFilter | null });
    const incoming = new URL(c.req.url).searchParams;
    const keep = new URLSearchParams();
    for (const k of ['format', 'shape']) {
      const v = incoming.get(k);
      if (v !== null) keep.set(k, v);
    }
    const search = keep.size > 0 ? `?${keep}` : '';
    return forward(c, JSON.stringify({ plan, ...(req.cursor !== undefined ? { cursor: req.cursor } : {}) }), { path: `/v1/plan${search}`, method: 'POST' });
  };
  app.post('/v1/query', async (c) => forwardPlanned(c, await readJsonBody(c)));
  const params = (c: Context<AppEnv>): URLSearchParams => new URL(c.req.url).searchParams;
  app.get('/v1/datasets/:id/records', (c) => forwardPlanned(c, parseRecordsParams(params(c), c.req.param('id'))));
  app.get('/v1/datasets/:id/top', (c) => forwardPlanned(c, parseTopParams(params(c), c.req.param('id'))));
  app.get('/v1/datasets/:id/timeseries', (c) => forwardPlanned(c, parseTimeseriesParams(params(c), c.req.param('id'))));
  app.on(['GET', 'HEAD'], '/v1/*', (c) => forward(c));
  app.all('/v1/*', async (c) => forward(c, await c.req.text()));
  return app;
}

/**
 * The issuers of an edge config with their JWKS (inline or URL).
 * @throws AppError ERR_CONFIG_INVALID when none is configured or one names a JWKS file.
 */
export function edgeIssuers(config: ApiConfig): ResolvedIssuer[] {
  if (config.issuers.length === 0) throw new AppError(ErrorCode.ConfigInvalid, 'the edge needs at least one token issuer in FLOWSEAL_CONFIG');
  return config.issuers.map((cfg) => {
    const { jwks } = cfg;
    if ('file' in jwks) throw new AppError(ErrorCode.ConfigInvalid, `issuer ${cfg.issuer}: a JWKS file cannot be read at the edge; give keys inline or a url`);
    return {
      issuer: cfg.issuer,
      audience: cfg.audience,
      algorithms: cfg.algorithms,
      requireNbf: cfg.requireNbf,
      jwks: 'url' in jwks ? new URL(jwks.url) : { keys: jwks.keys },
    };
  });
}

/**
 * Builds the edge dependencies from the Worker environment.
 * @throws AppError ERR_CONFIG_INVALID for a missing/invalid ORIGIN_URL, config or issuers.
 */
export function edgeDepsFromEnv(env: EdgeEnv, overrides: Partial<EdgeDeps> = {}): EdgeDeps {
  const config = loadApiConfig(env.FLOWSEAL_CONFIG ?? '');
  const timeoutMs = env.ORIGIN_TIMEOUT_MS === undefined ? undefined : Number(env.ORIGIN_TIMEOUT_MS);
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0)) {
    throw new AppError(ErrorCode.ConfigInvalid, 'ORIGIN_TIMEOUT_MS must be a positive integer');
  }
  let remote: RemoteEngine;
  try {
    remote = createRemoteEngine({ originUrl: env.ORIGIN_URL ?? '', ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
  } catch (cause) {
    throw new AppError(ErrorCode.ConfigInvalid, 'ORIGIN_URL must be an absolute http(s) URL', { cause });
  }
  return {
    config,
    remote,
    verifier: createJoseVerifier({ issuers: edgeIssuers(config), clockToleranceSec: config.clockToleranceSec, maxLifetimeSec: config.maxTokenLifetimeSec }),
    rateLimit: createMemoryRateLimitStore(),
    ...overrides,
  };
}

/** One app per isolate, rebuilt only if the environment's values change. */
let built: { key: string; app: Hono<AppEnv> } | null = null;

function misconfigured(err: unknown): Response {
  const requestId = crypto.randomUUID();
  consoleLogger.error('edge misconfigured', { requestId, message: err instanceof Error ? err.message : String(err) });
  const body = { error: { code: ErrorCode.Internal, message: 'internal error', requestId } };
  return new Response(JSON.stringify(body), { status: 500, headers: { 'content-type': 'application/json', 'x-request-id': requestId } });
}

/**
 * The Worker entry (module syntax needs a default export — the one exception to named exports).
 * A bad environment answers every request with a generic 500 and logs the reason.
 */
const worker = {
  async fetch(request: Request, env: EdgeEnv): Promise<Response> {
    const key = JSON.stringify([env.ORIGIN_URL, env.FLOWSEAL_CONFIG, env.ORIGIN_TIMEOUT_MS]);
    if (built === null || built.key !== key) {
      try {
        built = { key, app: createEdgeApp(edgeDepsFromEnv(env)) };
      } catch (err) {
        return misconfigured(err);
      }
    }
    return built.app.fetch(request);
  },
};
export default worker;
