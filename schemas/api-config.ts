/**
 * Configuration of the query API (`flowseal serve`): listen address, trusted token issuers,
 * query limits, rate limits, admission control, trusted proxies, DuckDB resources and the audit
 * log path.
 *
 * Owns: the config file's shape and defaults, and parsing it from YAML/JSON text.
 * Never: reads files or the environment (the Node adapter does), or holds secrets — issuers
 * are described by their *public* keys (JWKS) only.
 */
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { AppError, ErrorCode } from './errors.ts';
import { parseAddress, parsePrefix } from './ip-address.ts';

/** Asymmetric JWS algorithms we accept. `none` and every HS* are deliberately absent. */
export const TokenAlgorithm = z.enum(['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256']);
export type TokenAlgorithm = z.infer<typeof TokenAlgorithm>;

/** Where an issuer's public keys come from: inline JWKS, a file (read by the adapter), or a URL. */
export const JwksSource = z.union([
  z.strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1) }),
  z.strictObject({ file: z.string().min(1) }),
  z.strictObject({ url: z.url({ protocol: /^https?$/ }) }),
]);
export type JwksSource = z.infer<typeof JwksSource>;

/** One trusted token issuer. */
export const IssuerConfig = z.strictObject({
  /** Expected `iss` claim, exactly. */
  issuer: z.string().min(1),
  /** Expected `aud` (one of). Default `flowseal-api`. */
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).default('flowseal-api'),
  jwks: JwksSource,
  /** Allowed algorithms. Default ES256, EdDSA, RS256. */
  algorithms: z.array(TokenAlgorithm).min(1).default(['ES256', 'EdDSA', 'RS256']),
  /** Reject tokens without an `nbf` claim. Default false (many IdPs omit it; it is checked when present). */
  requireNbf: z.boolean().default(false),
});
export type IssuerConfig = z.infer<typeof IssuerConfig>;

export const ApiLimits = z.strictObject({
  /** Rows per record listing (request without groupBy). Default 1000. */
  maxRecordRows: z.number().int().positive().default(1000),
  /** Record rows one subject may list per period. Default 100 000. */
  maxRowsPerPeriod: z.number().int().positive().default(100_000),
  /** Length of the record budget period, seconds. Default 86 400 (one day). */
  recordPeriodSec: z.number().int().positive().default(86_400),
  /** Groups per aggregate response. Default 10 000. */
  maxGroupRows: z.number().int().positive().default(10_000),
  /** Deadline of one query, milliseconds. Default 10 000. */
  queryTimeoutMs: z.number().int().positive().default(10_000),
  /** Longest `timeRange` a request may span, days. Default 31. */
  maxTimeRangeDays: z.number().positive().default(31),
  /**
   * Aggregate groups (and no-group totals) over fewer flows are withheld. Default 5; set 1
   * explicitly to disable suppression (e.g. a private deployment whose users may list records).
   */
  minGroupSize: z.number().int().positive().default(5),
  /** Request body cap, bytes. Default 65 536. */
  maxBodyBytes: z.number().int().positive().default(65_536),
  /** Leaves + combinators in one filter tree. Default 64. */
  maxFilterNodes: z.number().int().positive().default(64),
  /**
   * Terms in one filter: every listed value (CIDR, port, protocol) counts one. Default 1024.
   * Checked before validation; DuckDB's planning time grows with it and cannot be interrupted.
   */
  maxFilterTerms: z.number().int().positive().max(100_000).default(1024),
  /**
   * Rendered bytes of an answer held before sending (default 1 MiB): answers that fit are sent
   * whole, with their stats in the `Flowseal-Stats` header; larger ones stream (bounded memory)
   * and only the JSON format carries their stats, at the end of the body.
   */
  streamBufferBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  /** Rows a Parquet answer may have (it is built whole before sending). Default 100 000. */
  maxParquetRows: z.number().int().positive().max(10_000_000).default(100_000),
});
export type ApiLimits = z.infer<typeof ApiLimits>;

export const RateLimitConfig = z.strictObject({
  /** Tokens refilled per minute per subject. Default 60. */
  perMinute: z.number().positive().default(60),
  /** Bucket capacity (burst). Default 20. */
  burst: z.number().int().positive().default(20),
  /** Tokens one `POST /v1/query` (and query GET) costs; other requests cost 1. Default 2. */
  queryCost: z.number().int().positive().default(2),
  /**
   * Per client address: requests under `/v1/` whose token is missing or refused. A token is
   * taken from the address's bucket before the bearer token is verified and given back when it
   * verifies, so only refused requests count and a flood of bad signatures is refused without
   * any signature check. Tokens refilled per minute. Default 60.
   */
  unauthenticatedPerMinute: z.number().positive().default(60),
  /** Capacity of each client address's bucket for unauthenticated requests. Default 20. */
  unauthenticatedBurst: z.number().int().positive().default(20),
}).refine((r) => r.queryCost <= r.burst, { message: 'queryCost must not exceed burst (no query could ever run)', path: ['queryCost'] });
export type RateLimitConfig = z.infer<typeof RateLimitConfig>;

/**
 * Admission control for queries (api/admission/): how many run at once, how many may wait, and
 * the cost estimate checked before a query runs. Cost is in *row-equivalents*: one unit is
 * about one flow row through the scan; on the reference machine (2 cores) DuckDB gets through
 * about 10 million a second per thread (see api/admission/query-cost.ts for the factors and
 * how they were fitted).
 */
export const AdmissionConfig = z.strictObject({
  /**
   * Queries running at once, all subjects together: also the number of DuckDB connections open
   * for queries. Default 2. Keep it below the runtime's worker pool (Node: `UV_THREADPOOL_SIZE`,
   * 4 by default): a running query holds a worker while DuckDB executes, and file IO such as the
   * audit log needs one too.
   */
  maxConcurrent: z.number().int().positive().max(64).default(2),
  /**
   * Of those, expensive queries (estimated cost above `expensiveCost`) at most. Default 1, so the
   * other slots are always free for cheap queries; equal to `maxConcurrent` reserves none.
   */
  maxExpensiveConcurrent: z.number().int().positive().default(1),
  /** Queries one subject may have running at once. Default 1. */
  maxConcurrentPerSubject: z.number().int().positive().default(1),
  /** Queries waiting for a slot, all subjects together; beyond it: 503 ERR_OVERLOADED. Default 32. */
  maxQueued: z.number().int().min(0).max(10_000).default(32),
  /** Queries one subject may have waiting; beyond it: 429 ERR_RATE_LIMITED. Default 4. */
  maxQueuedPerSubject: z.number().int().min(0).default(4),
  /** Estimated cost above which a query is expensive (its own lane). Default 10 million (about 1 s on one thread). */
  expensiveCost: z.number().positive().default(10_000_000),
  /**
   * Estimated cost above which a query is refused before running (400 ERR_QUERY_TOO_EXPENSIVE,
   * naming the factor). Default 100 million: about what the default 10 s deadline allows one
   * DuckDB thread. Scale it with `limits.queryTimeoutMs` and `duckdb.threads`.
   */
  maxCost: z.number().positive().default(100_000_000),
})
  .refine((a) => a.maxExpensiveConcurrent <= a.maxConcurrent, { message: 'maxExpensiveConcurrent must not exceed maxConcurrent', path: ['maxExpensiveConcurrent'] })
  .refine((a) => a.maxConcurrentPerSubject <= a.maxConcurrent, { message: 'maxConcurrentPerSubject must not exceed maxConcurrent', path: ['maxConcurrentPerSubject'] })
  .refine((a) => a.maxQueuedPerSubject <= a.maxQueued, { message: 'maxQueuedPerSubject must not exceed maxQueued', path: ['maxQueuedPerSubject'] })
  .refine((a) => a.expensiveCost <= a.maxCost, { message: 'expensiveCost must not exceed maxCost', path: ['expensiveCost'] });
export type AdmissionConfig = z.infer<typeof AdmissionConfig>;

/** An address or CIDR (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`). */
export const AddressOrCidr = z.string().min(2).max(64).refine((t) => (t.includes('/') ? parsePrefix(t) : parseAddress(t)) !== null, { message: 'expected an IPv4/IPv6 address or CIDR' });

export const DuckdbConfig = z.strictObject({
  /** DuckDB `memory_limit`, e.g. `1GB`. */
  memoryLimit: z.string().regex(/^\d+(\.\d+)?\s?(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/).default('1GB'),
  /**
   * DuckDB `threads`, shared by every running query. Default 1: each query then runs on its
   * own thread only, so queries run side by side (`admission.maxConcurrent` of them) and one
   * expensive query cannot take every core from the HTTP handling and the cheap queries next
   * to it. Raise it on machines with cores to spare: a query alone gets faster, but then
   * shares these threads with whatever else runs.
   */
  threads: z.number().int().positive().max(256).default(1),
});
export type DuckdbConfig = z.infer<typeof DuckdbConfig>;

/**
 * Public keys of the sealed processor's manifest signing key (`flowseal signing-key public`),
 * inline or in a JWKS file. Once set, runs whose manifest does not verify under one of them
 * are not readable and datasets are listed `verified: true`.
 */
export const ManifestKeysSource = z.union([
  z.strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(16) }),
  z.strictObject({ file: z.string().min(1) }),
]);
export type ManifestKeysSource = z.infer<typeof ManifestKeysSource>;

export const ApiConfig = z.strictObject({
  /** Archive root; the Node adapter's `archiveDir` option overrides it. */
  archiveDir: z.string().min(1).optional(),
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65_535).default(8787),
  issuers: z.array(IssuerConfig).default([]),
  /** Clock tolerance for `exp`/`nbf`, seconds. Default 30. */
  clockToleranceSec: z.number().int().min(0).max(300).default(30),
  /** Longest token lifetime accepted (`exp - iat`), seconds. Default 24 h, at most 30 days. */
  maxTokenLifetimeSec: z.number().int().min(60).max(30 * 86_400).default(86_400),
  limits: ApiLimits.prefault({}),
  rateLimit: RateLimitConfig.prefault({}),
  duckdb: DuckdbConfig.prefault({}),
  admission: AdmissionConfig.prefault({}),
  /**
   * Reverse proxies whose `X-Forwarded-For` is believed (addresses or CIDRs). The client address
   * (audit log, per-address limit) is the socket peer; only when the peer is in this list is it
   * taken from `X-Forwarded-For`: the right-most entry not itself in the list. Default none.
   */
  trustedProxies: z.array(AddressOrCidr).max(256).default([]),
  /** NDJSON audit log file (appended). Default `.flowseal/audit.ndjson` (Node adapter). */
  auditLogPath: z.string().min(1).optional(),
  /**
   * Node server: time a client has to send its request headers (default 10 s) and its whole
   * request (default 30 s), and the most connections held at once (default 1024). Slow or
   * idle clients (slowloris) are cut off instead of holding sockets.
   */
  server: z
    .strictObject({
      headersTimeoutMs: z.number().int().min(1000).max(120_000).default(10_000),
      requestTimeoutMs: z.number().int().min(1000).max(600_000).default(30_000),
      maxConnections: z.number().int().min(16).max(1_000_000).default(1024),
    })
    .prefault({}),
  /** Pinned manifest signing keys; without them datasets are listed `verified: false`. */
  manifestKeys: ManifestKeysSource.optional(),
  /**
   * Cross-origin access for browser apps: the origins (`https://host[:port]`, exactly) allowed
   * to call the API with a bearer token. Default none (no CORS headers at all). Credentials
   * (cookies) are never allowed: the API takes bearer tokens only.
   */
  cors: z
    .strictObject({
      origins: z.array(z.string().regex(/^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/, 'expected an origin such as https://notebook.example.org')).max(64).default([]),
      /** How long browsers may cache a preflight answer, seconds. */
      maxAgeSec: z.number().int().min(0).max(86_400).default(600),
    })
    .prefault({}),
  /**
   * Where the 32-byte key that encrypts pagination cursors comes from (hex or base64): an
   * environment variable or a file, read by the adapter at start. Every replica behind one
   * address needs the same key to continue each other's cursors. Default: a random key per
   * process (cursors then survive neither a restart nor a change of replica).
   */
  cursorKey: z.union([z.strictObject({ env: z.string().regex(/^[A-Z_][A-Z0-9_]{0,63}$/) }), z.strictObject({ file: z.string().min(1) })]).optional(),
  /**
   * Check each committed file's SHA-256 against its manifest (once per file, size and mtime;
   * costs one read of the archive at start). Default true; false checks sizes only.
   */
  verifyFileHashes: z.boolean().default(true),
});
export type ApiConfig = z.infer<typeof ApiConfig>;

/**
 * Parses API config text (YAML or JSON) and applies defaults. Empty text gives all defaults.
 * @throws AppError ERR_CONFIG_INVALID with issue paths (never the offending values).
 */
export function loadApiConfig(text: string): ApiConfig {
  let raw: unknown;
  try {
    raw = text.trim() === '' ? {} : parseYaml(text);
  } catch (cause) {
    throw new AppError(ErrorCode.ConfigInvalid, 'API config is not valid YAML/JSON', { cause });
  }
  const parsed = ApiConfig.safeParse(raw ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join('.'), code: i.code }));
    throw new AppError(ErrorCode.ConfigInvalid, `API config invalid at ${issues.map((i) => i.path || '(root)').join(', ')}`, { details: { issues } });
  }
  return parsed.data;
}
