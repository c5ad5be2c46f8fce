/**
 * The OpenAPI document: `redocly lint` (redocly.yaml, recommended-strict) finds no error in it —
 * nor in the document built from a QueryRequest extended the way the query contract grows
 * (relative times, nfdump text filters, top-N rest rows, a new recursive schema) — and a broken
 * document does fail the lint, so the check can fail. Besides: every `$ref` resolves, operations
 * have ids, summaries, descriptions and tags, only the service routes are public, the parameters
 * and media types are the schemas' and the renderers' own, and every error status lists its codes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { openApiDocument } from './openapi.ts';
import { RESPONSE_FORMATS } from './format.ts';
import { createApp } from '../app.ts';
import { createMemoryRateLimitStore } from '../rate-limit/memory-store.ts';
import { createMemoryAuditSink } from '../audit/memory-sink.ts';
import { ApiConfig } from '../../schemas/api-config.ts';
import { errorStatus } from '../../schemas/errors.ts';
import type { ErrorCode } from '../../schemas/errors.ts';
import { GET_QUERY_PARAMS } from '../../schemas/http-params.ts';
import { Metric, QueryFilter, QueryRequest, TimeBucket } from '../../schemas/query.ts';
import { REPO_ROOT, localBin } from '../../test/cross-runtime/server-process.ts';
import { skipUnlessNpmBin } from '../../test/support/required-tools.ts';

type Doc = Record<string, any>;
const doc: Doc = openApiDocument();
const redocly = localBin('redocly');

interface Problem { ruleId: string; severity: string; message: string; location: { pointer: string }[] }

/** `redocly lint` of `document` with the repo's ruleset, offline (no telemetry, no update check). */
function lint(document: unknown): Problem[] {
  const dir = mkdtempSync(join(tmpdir(), 'flowseal-openapi-'));
  try {
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(document, null, 1));
    const r = spawnSync(redocly!, ['lint', '--config', join(REPO_ROOT, 'redocly.yaml'), '--format=json', file], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_NOTIFICATIONS: 'true', NO_COLOR: '1' },
    });
    assert.ok(r.stdout.trim().startsWith('{'), `redocly answered JSON (status ${r.status}): ${r.stdout.slice(0, 300)} ${r.stderr.slice(-500)}`);
    return (JSON.parse(r.stdout) as { problems: Problem[] }).problems;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const show = (ps: Problem[]) => ps.map((p) => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`).join('\n');
/** The warnings we keep, and why (see redocly.yaml): /healthz has no client error to document. */
const ACCEPTED_WARNINGS = new Set(['operation-4xx-response #/paths/~1healthz/get/responses']);

function assertLintClean(document: unknown): void {
  const problems = lint(document);
  const errors = problems.filter((p) => p.severity === 'error');
  assert.deepEqual(errors, [], `redocly lint errors:\n${show(errors)}`);
  const unexpected = problems.filter((p) => !ACCEPTED_WARNINGS.has(`${p.ruleId} ${p.location[0]?.pointer}`));
  assert.deepEqual(unexpected, [], `unexpected warnings:\n${show(unexpected)}`);
}

test('redocly lint: no error, and only the warnings redocly.yaml explains', { skip: skipUnlessNpmBin('redocly', redocly) }, () => {
  assertLintClean(doc);
});

test('redocly lint fails a broken document (dangling $ref, example the schema refuses, missing operationId)', { skip: skipUnlessNpmBin('redocly', redocly) }, () => {
  const broken = structuredClone(doc);
  delete broken.components.schemas.DatasetSummary;
  broken.paths['/v1/query'].post.requestBody.content['application/json'].examples.timeSeries.value.metrics = ['no_such_metric'];
  delete broken.paths['/v1/datasets'].get.operationId;
  const rules = new Set(lint(broken).filter((p) => p.severity === 'error').map((p) => p.ruleId));
  for (const r of ['no-unresolved-refs', 'no-invalid-media-type-examples', 'operation-operationId']) assert.ok(rules.has(r), `${r} reported`);
});

test('the document stays lint-clean as QueryRequest grows the way the query contract says', { skip: skipUnlessNpmBin('redocly', redocly) }, () => {
  const Time = z.union([z.iso.datetime({ offset: true }), z.string().regex(/^(now|-\d{1,6}[smhdw])$/)]);
  const TimeRange = z.strictObject({ from: Time, to: Time });
  // A post-aggregation condition tree nobody registers: it must be hoisted, not left in $defs.
  const Condition: z.ZodType<unknown> = z.lazy(() => z.union([z.strictObject({ metric: Metric, min: z.number().optional(), max: z.number().optional() }), z.strictObject({ all: z.array(Condition).min(1) })]));
  const Extended = QueryRequest.extend({
    timeRange: TimeRange,
    filter: z.union([z.string().min(1).max(8192), QueryFilter]).optional(),
    other: z.boolean().optional(),
    fill: z.boolean().optional(),
    having: Condition.optional(),
    cursor: z.string().max(4096).optional(),
  });
  const grown: Doc = openApiDocument({ queryRequest: Extended, timeRange: TimeRange });
  assertLintClean(grown);
  const examples = grown.paths['/v1/query'].post.requestBody.content['application/json'].examples as Record<string, { value: Record<string, unknown> }>;
  assert.equal(examples.httpsRecords!.value.filter, 'proto tcp and dst port 443 and not net 10.0.0.0/8', 'the nfdump form shows once the schema takes it');
  assert.deepEqual(examples.topDestinationPorts!.value.timeRange, { from: '-1h', to: 'now' });
  assert.equal(examples.topDestinationPorts!.value.other, true);
  assert.ok(grown.components.schemas.QueryRequestHaving, 'the unregistered recursive schema has a component of its own');
  assert.equal(grown.paths['/v1/datasets/{id}/top'].get.parameters.find((p: Doc) => p.name === 'from').example, '-1h');
});

/** The value a local `$ref` points at. */
function resolve(ref: string): unknown {
  assert.match(ref, /^#\//);
  return ref.slice(2).split('/').map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~')).reduce<any>((node, key) => node?.[key], doc);
}

test('every $ref resolves within the document; no zod $defs are left', () => {
  const text = JSON.stringify(doc);
  assert.ok(!text.includes('$defs') && !text.includes('"$id"') && !text.includes('"$schema"'));
  const refs = [...text.matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
  assert.ok(refs.length > 20);
  for (const r of refs) assert.notEqual(resolve(r), undefined, r);
  assert.ok(refs.includes('#/components/schemas/QueryFilter'));
});

const operations = Object.entries(doc.paths as Doc).flatMap(([path, item]) => Object.entries(item as Doc).map(([method, op]) => ({ path, method, op: op as Doc })));

test('operations: unique ids, summary, description, one defined tag; only /healthz, /openapi.json and /docs are public', () => {
  assert.equal(operations.length, 9);
  const tags = new Set((doc.tags as Doc[]).map((t) => t.name));
  assert.equal(new Set(operations.map((o) => o.op.operationId)).size, operations.length);
  for (const { path, op } of operations) {
    assert.match(op.operationId, /^[a-z][A-Za-z]+$/, path);
    assert.ok(op.summary && op.description, path);
    assert.equal(op.tags.length, 1);
    assert.ok(tags.has(op.tags[0]), path);
  }
  const publicPaths = operations.filter((o) => Array.isArray(o.op.security) && o.op.security.length === 0).map((o) => o.path).sort();
  assert.deepEqual(publicPaths, ['/docs', '/healthz', '/openapi.json']);
  assert.deepEqual(doc.security, [{ bearerAuth: ['query'] }]);
  assert.equal(doc.components.securitySchemes.bearerAuth.bearerFormat, 'JWT');
  assert.deepEqual(doc.servers.map((s: Doc) => s.url), ['/']);
});

const queryOps = operations.filter((o) => o.op.tags[0] === 'Queries');

test('query results: every renderer format as a media type, the format parameter enumerates them, Flowseal-Stats documented', () => {
  assert.equal(queryOps.length, 4);
  const mediaTypes = Object.values(RESPONSE_FORMATS as Record<string, unknown>).map((v) => (typeof v === 'string' ? v : (v as { mediaType: string }).mediaType));
  for (const { path, op } of queryOps) {
    const ok = op.responses['200'];
    assert.deepEqual(Object.keys(ok.content).sort(), [...mediaTypes].sort(), path);
    assert.deepEqual(ok.content['application/json'].schema, { $ref: '#/components/schemas/QueryResponse' });
    assert.ok(ok.headers['Flowseal-Stats'] && ok.headers['RateLimit-Remaining'], path);
    assert.deepEqual(op.parameters.find((p: Doc) => p.name === 'format').schema.enum, Object.keys(RESPONSE_FORMATS), path);
  }
});

test('GET parameters are the http-params schemas: names, required, comma lists, enums from schemas/query.ts', () => {
  for (const [route, path] of [['records', '/v1/datasets/{id}/records'], ['top', '/v1/datasets/{id}/top'], ['timeseries', '/v1/datasets/{id}/timeseries']] as const) {
    const params = doc.paths[path].get.parameters as Doc[];
    assert.deepEqual(params.map((p) => p.name), ['id', ...Object.keys(GET_QUERY_PARAMS[route].shape), 'format'], path);
    assert.deepEqual(params.filter((p) => p.required).map((p) => p.name), ['id', 'from', 'to'], path);
    for (const p of params) {
      assert.ok(p.description, `${path} ${p.name} has a description`);
      if (p.schema.type === 'array') assert.deepEqual([p.style, p.explode], ['form', false], `${path} ${p.name}`);
    }
    const byName = Object.fromEntries(params.map((p) => [p.name, p]));
    assert.deepEqual(byName.shape.schema.enum, ['arrays', 'objects']);
    if (route !== 'records') assert.deepEqual(byName.metric.schema.items.enum, Metric.options);
    if (route === 'timeseries') assert.deepEqual(byName.bucket.schema.enum, TimeBucket.options);
    if (route === 'top') assert.deepEqual(byName.n.schema.type, 'integer');
  }
});

test('error statuses: each operation lists what it can answer, each status names its codes, 429 says Retry-After', () => {
  const post = doc.paths['/v1/query'].post.responses as Doc;
  assert.deepEqual(Object.keys(post).sort(), ['200', '400', '401', '403', '404', '406', '413', '415', '429', '500', '502', '503', '504']);
  const top = doc.paths['/v1/datasets/{id}/top'].get.responses as Doc;
  assert.ok(!top['413'] && !top['415'] && top['406'] && top['504']);
  assert.deepEqual(Object.keys(doc.paths['/openapi.json'].get.responses).sort(), ['200', '429', '500', '503']);
  for (const { path, op } of operations) {
    for (const [status, r] of Object.entries(op.responses as Record<string, Doc>)) {
      if (status === '200') continue;
      const codes = (/Codes: (.*)\.$/.exec(r.description)?.[1] ?? '').split(', ') as ErrorCode[];
      assert.ok(codes.length > 0 && codes.every((c) => String(errorStatus[c]) === status), `${path} ${status}: ${r.description}`);
      assert.deepEqual(r.content['application/json'].schema, { $ref: '#/components/schemas/Error' });
      if (status === '429') assert.ok(r.headers['Retry-After'] && r.headers['RateLimit-Reset'], path);
    }
  }
});

test('request examples: a top-N, a time series and a record listing with a filter, each accepted by QueryRequest', () => {
  const examples = doc.paths['/v1/query'].post.requestBody.content['application/json'].examples as Record<string, { value: Doc }>;
  for (const [name, e] of Object.entries(examples)) assert.ok(QueryRequest.safeParse(e.value).success, name);
  const values = Object.values(examples).map((e) => e.value);
  assert.ok(values.some((v) => v.limit && v.groupBy?.length && v.orderBy?.[0]?.dir === 'desc'), 'top-N');
  assert.ok(values.some((v) => v.groupBy?.some((g: Doc) => typeof g === 'object' && 'timeBucket' in g)), 'time series');
  assert.ok(values.some((v) => v.groupBy === undefined && v.filter !== undefined), 'record listing with a filter');
});

test('the QueryFilter component: every key of the schema, each described with its nfdump form; the router-export keys among them', () => {
  const props = doc.components.schemas.QueryFilter.properties as Record<string, Doc>;
  assert.deepEqual(Object.keys(props).sort(), Object.keys(QueryFilter.shape).sort());
  for (const [key, p] of Object.entries(props)) assert.match(String(p.description), /nfdump|flowseal: `/, key);
  for (const key of ['recordSource', 'exporterNet', 'nextHopNet', 'bgpNextHopNet', 'srcAs', 'dstAs', 'as', 'inputInterface', 'outputInterface', 'interface', 'tos', 'observationDomain']) {
    assert.ok(props[key], key);
  }
  assert.deepEqual(props.recordSource!.anyOf[0].enum, ['packets', 'netflow5', 'netflow9', 'ipfix']);
  assert.equal(props.srcAs!.anyOf[0].maximum, 4294967295);
  const examples = doc.paths['/v1/query'].post.requestBody.content['application/json'].examples as Record<string, { value: Doc }>;
  assert.equal(examples.exportTopAs!.value.filter, 'recordsource in [ netflow9 ipfix ] and in if 3', 'the router-export example shows its nfdump text');
});

test('GET /openapi.json serves this document without a token', async () => {
  const app = createApp({
    engine: { listDatasets: async () => [], execute: async () => assert.fail('no query') },
    verifier: { verify: async () => assert.fail('no token') },
    rateLimit: createMemoryRateLimitStore(),
    audit: createMemoryAuditSink(),
    config: ApiConfig.parse({}),
    logger: { info: () => {}, error: () => {} },
  });
  const res = await app.request('/openapi.json');
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), JSON.parse(JSON.stringify(doc)));
});
