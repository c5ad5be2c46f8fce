/**
 * `GET /openapi.json`: the OpenAPI 3.1 document of the API, generated from the zod schemas —
 * request body (schemas/query.ts), responses (query, datasets, error envelope), the GETs'
 * query-string parameters (schemas/http-params.ts) and the response formats the renderers
 * offer (`RESPONSE_FORMATS`). Nothing here names a field of those schemas, so it stays valid
 * as they grow; the request examples are checked against `QueryRequest` when the document is
 * built, each falling back to a plainer equivalent the schema accepts (relative times → ISO,
 * nfdump text → the structured filter), and `redocly lint` runs on the result in the suite.
 *
 * Owns: paths, operation ids, summaries, tags, which statuses each route can answer (from the
 * error codes it can raise), headers and examples. Never: hand-writes a schema zod already has.
 */
import { z } from 'zod';
import { DatasetId, Scope } from '../../schemas/claims.ts';
import { DatasetDetail, DatasetList, DatasetSummary } from '../../schemas/datasets-response.ts';
import { ErrorEnvelope } from '../../schemas/error-envelope.ts';
import { ErrorCode, errorStatus } from '../../schemas/errors.ts';
import { GET_QUERY_PARAMS } from '../../schemas/http-params.ts';
import type { GetQueryRoute } from '../../schemas/http-params.ts';
import { QueryFilter, QueryRequest, QueryResponse } from '../../schemas/query.ts';
import { RESPONSE_FORMATS } from './format.ts';
import { pruneUnusedSchemas, zodComponents } from './openapi-schemas.ts';
import type { JsonSchema } from './openapi-schemas.ts';
import { requestExamples, timeExamples } from './openapi-examples.ts';

/** `GET /healthz`. */
export const HealthResponse = z.strictObject({ ok: z.literal(true) });

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const header = (name: string) => ({ $ref: `#/components/headers/${name}` });
const E = ErrorCode;

// The codes each kind of route can answer; the statuses follow from schemas/errors.ts.
const ALWAYS = [E.Internal, E.AuditUnavailable];
const PUBLIC = [...ALWAYS, E.RateLimited];
const V1 = [...PUBLIC, E.AuthMissing, E.AuthInvalid, E.AuthExpired, E.Forbidden, E.UpstreamUnavailable];
const QUERY_GET = [...V1, E.BadRequest, E.QueryInvalid, E.QueryFilterInvalid, E.QueryFilterSyntax, E.QueryCursorInvalid, E.QueryTooLarge, E.QueryTooExpensive, E.DatasetNotFound, E.NotAcceptable, E.Overloaded, E.ArchiveChanged, E.QueryTimeout];
const QUERY_POST = [...QUERY_GET, E.PayloadTooLarge, E.UnsupportedMediaType];

const STATUS_TEXT: Record<number, string> = { 400: 'Bad request', 401: 'Missing, invalid or expired bearer token', 403: 'The token lacks a scope or the dataset', 404: 'Not found', 406: 'No acceptable response format', 413: 'Body too large', 415: 'Body is not JSON', 429: 'Rate limited or record budget spent', 500: 'Internal error (details are logged, not returned)', 502: 'Origin unreachable (edge gateway, federation)', 503: 'Busy: query queue full, archive changed under the query, or audit log unavailable', 504: 'Query deadline passed' };

/** The error responses of an operation that can raise `codes`, one per status, listing its codes. */
function errorResponses(codes: readonly ErrorCode[]): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const c of new Set(codes)) byStatus.set(errorStatus[c], [...(byStatus.get(errorStatus[c]) ?? []), c]);
  return Object.fromEntries(
    [...byStatus].sort(([a], [b]) => a - b).map(([status, list]) => {
      const headers: Record<string, unknown> = { 'X-Request-Id': header('X-Request-Id') };
      if (status === 401 || status === 403) headers['WWW-Authenticate'] = header('WWW-Authenticate');
      if (status === 429 || status === 503) headers['Retry-After'] = header('Retry-After');
      if (status === 429) Object.assign(headers, rateLimitHeaders());
      return [String(status), { description: `${STATUS_TEXT[status] ?? 'Error'}. Codes: ${list.join(', ')}.`, headers, content: { 'application/json': { schema: ref('Error') } } }];
    }),
  );
}

const rateLimitHeaders = () => ({ 'RateLimit-Limit': header('RateLimit-Limit'), 'RateLimit-Remaining': header('RateLimit-Remaining'), 'RateLimit-Reset': header('RateLimit-Reset') });

/** Notes on the formats routes/format.ts may offer; a format not listed here still gets a media type. */
const FORMAT_NOTES: Record<string, { schema?: JsonSchema; note: string }> = {
  json: { schema: ref('QueryResponse'), note: 'the QueryResponse object, stats in the body' },
  ndjson: { schema: { type: 'string' }, note: 'one JSON object (or array, `shape=arrays`) per row' },
  csv: { schema: { type: 'string' }, note: 'RFC 4180 with a header row of column names; null is empty' },
  arrow: { note: 'an Apache Arrow IPC stream' },
  parquet: { note: 'a Parquet file' },
};

function mediaTypeOf(format: string, value: unknown): string {
  const v = typeof value === 'string' ? value : (value as { mediaType?: unknown; contentType?: unknown } | null)?.mediaType ?? (value as { contentType?: unknown } | null)?.contentType;
  if (typeof v !== 'string') throw new TypeError(`RESPONSE_FORMATS.${format} has no media type`);
  return v;
}

const FORMATS = Object.keys(RESPONSE_FORMATS);

/** A 200 answer with query rows, in every format the renderers offer. */
function queryResult(description: string): Record<string, unknown> {
  const notes = Object.entries(RESPONSE_FORMATS).map(([f, v]) => `\`${f}\` (${mediaTypeOf(f, v)}): ${FORMAT_NOTES[f]?.note ?? 'rows'}`);
  const content = Object.fromEntries(Object.entries(RESPONSE_FORMATS).map(([f, v]) => {
    const schema = FORMAT_NOTES[f]?.schema;
    return [mediaTypeOf(f, v), schema ? { schema } : {}];
  }));
  return {
    description: `${description}. By \`?format=\` or \`Accept\`: ${notes.join('; ')}. Outside JSON the stats ride in the \`Flowseal-Stats\` header when the answer is small enough to buffer.`,
    headers: { 'Flowseal-Stats': header('Flowseal-Stats'), 'X-Request-Id': header('X-Request-Id'), ...rateLimitHeaders() },
    content,
  };
}

const json = (schema: string, description: string, headers: Record<string, unknown> = {}) => ({ description, headers: { 'X-Request-Id': header('X-Request-Id'), ...headers }, content: { 'application/json': { schema: ref(schema) } } });

/** A zod schema as a query parameter (`style: form, explode: false` for comma lists). */
function parameter(name: string, field: z.ZodType, example?: unknown): Record<string, unknown> {
  const schema = z.toJSONSchema(field, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const { $schema: _s, description, examples, ...rest } = schema;
  const shown = example ?? (Array.isArray(examples) ? examples[0] : undefined);
  return {
    name,
    in: 'query',
    required: !field.safeParse(undefined).success,
    ...(typeof description === 'string' ? { description } : {}),
    ...(rest.type === 'array' ? { style: 'form', explode: false } : {}),
    schema: rest,
    ...(shown !== undefined ? { example: shown } : {}),
  };
}

const idParameter = { name: 'id', in: 'path', required: true, description: 'Dataset id (from `GET /v1/datasets`).', schema: parameter('id', DatasetId).schema, example: 'lab' };
const formatParameter = { name: 'format', in: 'query', required: false, description: `Response format; overrides \`Accept\`. An unknown one is 406.`, schema: { type: 'string', enum: FORMATS } };
const shapeParameter = parameter('shape', GET_QUERY_PARAMS.records.shape.shape);

/** The parameters of a convenience GET, from its schema in schemas/http-params.ts. */
function getParameters(route: GetQueryRoute, times: { from: string; to: string }): unknown[] {
  return [idParameter, ...Object.entries(GET_QUERY_PARAMS[route].shape).map(([name, field]) => parameter(name, field as z.ZodType, name === 'from' ? times.from : name === 'to' ? times.to : undefined)), formatParameter];
}

const QUERY = [{ bearerAuth: [Scope.Query] }];
const DATASETS = [{ bearerAuth: [Scope.DatasetsRead] }, { bearerAuth: [Scope.Query] }];

function getQuery(route: GetQueryRoute, times: { from: string; to: string }, operationId: string, summary: string, description: string, security: unknown[]): Record<string, unknown> {
  return { get: { operationId, tags: ['Queries'], summary, description, security, parameters: getParameters(route, times), responses: { 200: queryResult(summary), ...errorResponses(QUERY_GET) } } };
}

const INFO_DESCRIPTION = [
  'Query anonymized network flow archives sealed by flowseal. Every `/v1` call needs a bearer JWT from an issuer this server trusts; its `scope` claim grants `datasets:read` (list datasets), `query` (aggregates) and `records` (individual flow records, capped per request and per period), and its `datasets` claim may restrict the datasets.',
  'Addresses in answers and filters are anonymized (prefix-preserving): CIDR filters keep their meaning within the anonymized space.',
  'Errors are `{ "error": { "code", "message", "requestId", "details"? } }` with a stable `code`. Authenticated answers carry `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`; a 429 says `Retry-After`.',
].join('\n\n');

/** Schemas the document is built from, replaceable so a test can show it stays valid as they grow. */
export interface OpenApiSources {
  /** Default schemas/query.ts `QueryRequest`. */
  readonly queryRequest?: z.ZodType;
  /** Default schemas/query.ts `QueryFilter`: a component of its own (it is recursive). */
  readonly queryFilter?: z.ZodType;
  /** Default schemas/query.ts `TimeRange`: decides whether the examples show relative times. */
  readonly timeRange?: z.ZodType;
}

let built: Record<string, unknown> | undefined;

/**
 * The document. The one from the default sources is built once per process (about 0.2 s of
 * schema conversion) and shared: treat it as read-only.
 * @throws TypeError when a schema cannot be shown or an example fits none of its fallbacks (a programmer error).
 */
export function openApiDocument(sources: OpenApiSources = {}): Record<string, unknown> {
  if (Object.keys(sources).length > 0) return buildDocument(sources);
  built ??= buildDocument({});
  return built;
}

function buildDocument(sources: OpenApiSources): Record<string, unknown> {
  const queryRequest = sources.queryRequest ?? QueryRequest;
  const times = timeExamples(sources.timeRange);
  const schemas = {
    ...zodComponents([{ id: 'QueryRequest', schema: queryRequest }, { id: 'QueryFilter', schema: sources.queryFilter ?? QueryFilter }], 'input'),
  };
  const answers = zodComponents([
    { id: 'QueryResponse', schema: QueryResponse },
    { id: 'Error', schema: ErrorEnvelope },
    { id: 'DatasetList', schema: DatasetList },
    { id: 'DatasetSummary', schema: DatasetSummary },
    { id: 'DatasetDetail', schema: DatasetDetail },
    { id: 'Health', schema: HealthResponse },
  ], 'output');
  for (const [id, s] of Object.entries(answers)) {
    if (id in schemas) throw new TypeError(`component ${id} is both a request and a response schema`);
    (schemas as Record<string, JsonSchema>)[id] = s;
  }
  const doc = {
    openapi: '3.1.0',
    info: { title: 'flowseal query API', version: '1', description: INFO_DESCRIPTION, license: { name: 'Apache-2.0', identifier: 'Apache-2.0' } },
    servers: [{ url: '/', description: 'The server that served this document' }],
    tags: [
      { name: 'Queries', description: 'Aggregates and capped record listings over a dataset and a time range.' },
      { name: 'Datasets', description: 'What the token may query: ids, time ranges, policies, key ids, the column schema.' },
      { name: 'Service', description: 'Health, this document and the API reference page; no token needed.' },
    ],
    security: QUERY,
    paths: {
      '/healthz': { get: { operationId: 'getHealth', tags: ['Service'], summary: 'Liveness probe', description: 'Answers `{"ok":true}` while the process serves; not audited, not rate limited.', security: [], responses: { 200: json('Health', 'Alive') } } },
      '/openapi.json': { get: { operationId: 'getOpenApiDocument', tags: ['Service'], summary: 'This OpenAPI document', description: 'Generated from the schemas the server validates with. Limited per client address.', security: [], responses: { 200: { description: 'The OpenAPI 3.1 document', headers: { 'X-Request-Id': header('X-Request-Id') }, content: { 'application/json': { schema: { type: 'object' } } } }, ...errorResponses(PUBLIC) } } },
      '/docs': { get: { operationId: 'getApiReference', tags: ['Service'], summary: 'Interactive API reference', description: 'An HTML page rendering this document, with its script served from this server (no third-party origin). 404 when the server was started without the page assets.', security: [], responses: { 200: { description: 'The reference page', headers: { 'X-Request-Id': header('X-Request-Id') }, content: { 'text/html': { schema: { type: 'string' } } } }, ...errorResponses([...PUBLIC, E.NotFound]) } } },
      '/v1/datasets': { get: { operationId: 'listDatasets', tags: ['Datasets'], summary: 'List datasets', description: 'The datasets the token may see (scope `datasets:read` or `query`). Without `records` the time ranges are widened to whole minutes.', security: DATASETS, responses: { 200: json('DatasetList', 'The visible datasets', rateLimitHeaders()), ...errorResponses(V1) } } },
      '/v1/datasets/{id}': { get: { operationId: 'getDataset', tags: ['Datasets'], summary: 'Describe a dataset', description: 'Time range, counts, policy hashes, key ids and the column schema. A dataset outside the token looks absent (404).', security: DATASETS, parameters: [idParameter], responses: { 200: json('DatasetDetail', 'The dataset', rateLimitHeaders()), ...errorResponses([...V1, E.DatasetNotFound]) } } },
      '/v1/query': {
        post: {
          operationId: 'runQuery',
          tags: ['Queries'],
          summary: 'Run a query',
          description: 'An aggregate (with `groupBy`; `[]` is one total row) needs scope `query`; a record listing (no `groupBy`), or group keys identifying single connections, also needs `records` and counts against the record budget. Groups under the minimum group size are withheld (`stats.suppressedGroups`).',
          parameters: [formatParameter, shapeParameter],
          requestBody: { required: true, content: { 'application/json': { schema: ref('QueryRequest'), examples: requestExamples(queryRequest) } } },
          responses: { 200: queryResult('Query result'), ...errorResponses(QUERY_POST) },
        },
      },
      '/v1/datasets/{id}/records': getQuery('records', times, 'listRecords', 'List flow records', 'A capped record listing (scopes `query` and `records`), paged by `cursor`: the same as `POST /v1/query` without `groupBy`.', [{ bearerAuth: [Scope.Query, Scope.Records] }]),
      '/v1/datasets/{id}/top': getQuery('top', times, 'getTopN', 'Top N groups', 'The `n` largest groups by the first metric (scope `query`), optionally with the rest summed as one more row (`other=true`).', QUERY),
      '/v1/datasets/{id}/timeseries': getQuery('timeseries', times, 'getTimeSeries', 'Time series', 'Metrics per time bucket, optionally stacked by group keys (scope `query`), in time order.', QUERY),
    },
    components: {
      schemas,
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Access token (JWT) from a configured issuer. Scopes in the `scope` claim: `datasets:read`, `query`, `records`.' } },
      headers: {
        'X-Request-Id': { description: 'Id of this request (also `requestId` in JSON answers and the audit log).', schema: { type: 'string' } },
        'Flowseal-Stats': { description: 'The answer\'s stats (rows, truncated, suppression, budget, nextCursor, ...) as JSON, for formats other than JSON.', schema: { type: 'string' } },
        'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 1 } },
        'RateLimit-Limit': { description: "The subject's burst capacity (requests).", schema: { type: 'integer', minimum: 0 } },
        'RateLimit-Remaining': { description: 'Requests left in the burst now.', schema: { type: 'integer', minimum: 0 } },
        'RateLimit-Reset': { description: 'Seconds until the bucket is full again.', schema: { type: 'integer', minimum: 0 } },
        'WWW-Authenticate': { description: 'RFC 6750 bearer challenge.', schema: { type: 'string' } },
      },
    },
  };
  pruneUnusedSchemas({ ...doc, components: { ...doc.components, schemas: {} } }, schemas);
  return doc;
}
