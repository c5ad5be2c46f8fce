/**
 * `GET /openapi.json`: an OpenAPI 3.1 document whose request/response schemas are generated
 * from the zod schemas in schemas/query.ts (`z.toJSONSchema`), so the document cannot drift
 * from what the server validates.
 *
 * Owns: the path list and its descriptions. Never: hand-writes a schema that zod already has.
 */
import { z } from 'zod';
import { QueryRequest, QueryResponse } from '../../schemas/query.ts';
import { RESPONSE_FORMATS } from './format.ts';

const ERROR = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, requestId: { type: 'string' }, details: { type: 'object' } }, required: ['code', 'message', 'requestId'] } },
  required: ['error'],
} as const;

/** Builds the document once (it is static). */
export function openApiDocument(): Record<string, unknown> {
  const errorResponses = Object.fromEntries(
    ['400', '401', '403', '404', '406', '413', '415', '429', '500', '503', '504'].map((s) => [s, { description: 'Error envelope', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }]),
  );
  const ok = (ref: string, description: string) => ({ description, content: { 'application/json': { schema: ref ? { $ref: `#/components/schemas/${ref}` } : { type: 'object' } } } });
  const timeParams = ['from', 'to'].map((name) => ({ name, in: 'query', required: true, schema: { type: 'string', format: 'date-time' } }));
  const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' } };
  const filterParam = { name: 'filter', in: 'query', required: false, description: 'Structured filter as JSON', schema: { type: 'string' } };
  /** Query results in every format routes/format.ts renders (chosen by Accept or ?format=). */
  const result = (description: string) => ({
    description: `${description}. NDJSON and CSV carry the stats in the Flowseal-Stats header.`,
    headers: { 'Flowseal-Stats': { description: 'JSON stats (rows, truncated, suppression, budget) for NDJSON and CSV answers', schema: { type: 'string' } } },
    content: {
      'application/json': { schema: { $ref: '#/components/schemas/QueryResponse' } },
      'application/x-ndjson': { schema: { type: 'string', description: 'One JSON object per row, keyed by column name' } },
      'text/csv': { schema: { type: 'string', description: 'RFC 4180, header row of column names; null is empty' } },
    },
  });
  const formatParam = { name: 'format', in: 'query', required: false, description: 'Overrides Accept', schema: { type: 'string', enum: Object.keys(RESPONSE_FORMATS) } };
  return {
    openapi: '3.1.0',
    info: { title: 'flowseal query API', version: '1' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: {
        QueryRequest: z.toJSONSchema(QueryRequest, { io: 'input', unrepresentable: 'any' }),
        QueryResponse: z.toJSONSchema(QueryResponse, { unrepresentable: 'any' }),
        Error: ERROR,
      },
    },
    security: [{ bearer: [] }],
    paths: {
      '/healthz': { get: { security: [], responses: { 200: ok('', 'Alive') } } },
      '/v1/datasets': { get: { summary: 'Datasets visible to the caller (scope datasets:read or query)', responses: { 200: ok('', 'Dataset list'), ...errorResponses } } },
      '/v1/datasets/{id}': { get: { summary: 'One dataset: schema, time range, policy, key id', parameters: [idParam], responses: { 200: ok('', 'Dataset'), ...errorResponses } } },
      '/v1/query': {
        post: {
          summary: 'Aggregate query (scope query) or capped record listing (scopes query + records)',
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/QueryRequest' } } } },
          parameters: [formatParam],
          responses: { 200: result('Result'), ...errorResponses },
        },
      },
      '/v1/datasets/{id}/records': { get: { parameters: [idParam, ...timeParams, filterParam, formatParam, { name: 'limit', in: 'query', schema: { type: 'integer' } }], responses: { 200: result('Records'), ...errorResponses } } },
      '/v1/datasets/{id}/top': { get: { parameters: [idParam, ...timeParams, filterParam, formatParam, { name: 'by', in: 'query', schema: { type: 'string' } }, { name: 'metric', in: 'query', schema: { type: 'string' } }, { name: 'n', in: 'query', schema: { type: 'integer' } }], responses: { 200: result('Top N'), ...errorResponses } } },
      '/v1/datasets/{id}/timeseries': { get: { parameters: [idParam, ...timeParams, filterParam, formatParam, { name: 'bucket', in: 'query', schema: { type: 'string', enum: ['1m', '5m', '1h', '1d'] } }, { name: 'metric', in: 'query', schema: { type: 'string' } }], responses: { 200: result('Time series'), ...errorResponses } } },
    },
  };
}
