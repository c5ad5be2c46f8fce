/**
 * The one HTTP suite every runtime must pass (Node, Bun, Deno origins; the Workers edge in front
 * of an origin): health, authentication failures, dataset listing, a grouped query and a
 * convenience GET with totals known from the fixture, hostile input, scopes, unknown routes,
 * media type, the rate limit, and the per-address limit on unauthenticated requests (which
 * needs the runtime to report the client address: Node, Bun and Deno from the socket, the
 * Workers edge from CF-Connecting-IP) — each answer checked for the error envelope
 * `{ error: { code, message, requestId } }` with `requestId` equal to the `X-Request-Id` header.
 *
 * Each check uses its own token subject (prefixed with the target name), so rate-limit buckets
 * never leak between checks or between targets sharing an origin.
 *
 * Owns: what "the API works" means over HTTP. Never: starts servers (the runners do) or
 * depends on a runtime — only `fetch`.
 */
import assert from 'node:assert/strict';
import { SUITE_DATASET, SUITE_FROM, SUITE_RATE_LIMIT, SUITE_ROWS, SUITE_TO, SUITE_UNAUTHENTICATED, expectedByProtocol, expectedTopPortsByBytes } from './fixture.ts';

export interface SuiteTarget {
  /** Label of the runtime under test; prefixes token subjects. */
  readonly name: string;
  /** Base URL, no trailing slash, e.g. `http://127.0.0.1:34567`. */
  readonly baseUrl: string;
  /** Mints a bearer token the target trusts. A negative `ttlSec` gives an expired one. */
  mintToken(sub: string, scopes: readonly string[], ttlSec?: number): Promise<string>;
}

export interface SuiteCheck {
  readonly name: string;
  run(target: SuiteTarget): Promise<void>;
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: any;
}

async function call(target: SuiteTarget, method: string, path: string, init: { token?: string; body?: unknown; raw?: string; contentType?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (init.token !== undefined) headers.Authorization = `Bearer ${init.token}`;
  let body: string | undefined;
  if (init.raw !== undefined) body = init.raw;
  else if (init.body !== undefined) body = JSON.stringify(init.body);
  if (body !== undefined) headers['Content-Type'] = init.contentType ?? 'application/json';
  const res = await fetch(`${target.baseUrl}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Asserts the error envelope, its code, and that `requestId` matches the header. */
function assertError(a: Answer, status: number, code: string | RegExp): void {
  assert.equal(a.status, status, `status (body ${a.text.slice(0, 200)})`);
  assert.match(a.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(typeof a.json?.error, 'object', 'error envelope');
  const { error } = a.json;
  if (typeof code === 'string') assert.equal(error.code, code);
  else assert.match(error.code, code);
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0 && error.message.length < 300, 'short message');
  assert.match(error.requestId, /^[0-9a-f-]{36}$/);
  assert.equal(error.requestId, a.headers.get('x-request-id'), 'requestId equals X-Request-Id');
}

function token(t: SuiteTarget, check: string, scopes: readonly string[], ttlSec?: number): Promise<string> {
  return t.mintToken(`${t.name}:${check}`, scopes, ttlSec);
}

const AGG_SCOPES = ['datasets:read', 'query'] as const;
const range = { from: SUITE_FROM, to: SUITE_TO };

/** The checks, in the order they are reported. */
export const SUITE_CHECKS: readonly SuiteCheck[] = [
  {
    name: 'GET /healthz answers ok without a token',
    async run(t) {
      const a = await call(t, 'GET', '/healthz');
      assert.equal(a.status, 200);
      assert.equal(a.json.ok, true);
    },
  },
  {
    name: '401 envelopes: no token, malformed token, expired token',
    async run(t) {
      const missing = await call(t, 'GET', '/v1/datasets');
      assertError(missing, 401, 'ERR_AUTH_MISSING');
      assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer realm="flowseal"/);
      assertError(await call(t, 'GET', '/v1/datasets', { token: 'abc.def.ghi' }), 401, 'ERR_AUTH_INVALID');
      assertError(await call(t, 'GET', '/v1/datasets', { token: await token(t, 'expired', AGG_SCOPES, -600) }), 401, 'ERR_AUTH_EXPIRED');
    },
  },
  {
    name: 'GET /v1/datasets lists the fixture dataset with its flow count and time range',
    async run(t) {
      const a = await call(t, 'GET', '/v1/datasets', { token: await token(t, 'datasets', ['datasets:read']) });
      assert.equal(a.status, 200, a.text.slice(0, 200));
      assert.deepEqual(a.json.datasets.map((d: { id: string }) => d.id), [SUITE_DATASET]);
      const [d] = a.json.datasets;
      assert.equal(d.flows, SUITE_ROWS.length);
      const starts = SUITE_ROWS.map((r) => Date.parse(r.time_start));
      assert.equal(Date.parse(d.timeRange.from), Math.min(...starts));
      assert.equal(a.json.requestId, a.headers.get('x-request-id'));
      assert.equal(a.headers.get('ratelimit-limit'), String(SUITE_RATE_LIMIT.burst));
      const missing = await call(t, 'GET', '/v1/datasets/nosuch', { token: await token(t, 'datasets-404', ['datasets:read']) });
      assertError(missing, 404, 'ERR_DATASET_NOT_FOUND');
    },
  },
  {
    name: 'POST /v1/query grouped by protocol returns the fixture totals',
    async run(t) {
      const body = { dataset: SUITE_DATASET, timeRange: range, groupBy: ['protocol'], metrics: ['flows', 'packets', 'bytes'], orderBy: [{ by: 'protocol', dir: 'asc' }] };
      const a = await call(t, 'POST', '/v1/query', { token: await token(t, 'grouped', AGG_SCOPES), body });
      assert.equal(a.status, 200, a.text.slice(0, 300));
      assert.deepEqual(a.json.columns.map((c: { name: string }) => c.name), ['protocol', 'flows', 'packets', 'bytes']);
      assert.deepEqual(a.json.rows.map((r: unknown[]) => r.map(Number)), expectedByProtocol());
      assert.equal(a.json.stats.rows, expectedByProtocol().length);
      assert.equal(a.json.stats.truncated, false);
      assert.equal(a.json.requestId, a.headers.get('x-request-id'));
    },
  },
  {
    name: 'filtered total and the top-ports convenience GET match the fixture',
    async run(t) {
      const tk = await token(t, 'filtered', AGG_SCOPES);
      const total = await call(t, 'POST', '/v1/query', { token: tk, body: { dataset: SUITE_DATASET, timeRange: range, filter: { protocol: 6, dstPort: 443 }, groupBy: [], metrics: ['flows'] } });
      assert.equal(total.status, 200, total.text.slice(0, 300));
      assert.deepEqual(total.json.rows.map((r: unknown[]) => r.map(Number)), [[SUITE_ROWS.filter((r) => r.dst_port === 443).length]]);
      const q = new URLSearchParams({ from: SUITE_FROM, to: SUITE_TO, by: 'dst_port', metric: 'bytes', n: '2' });
      const top = await call(t, 'GET', `/v1/datasets/${SUITE_DATASET}/top?${q}`, { token: tk });
      assert.equal(top.status, 200, top.text.slice(0, 300));
      assert.deepEqual(top.json.rows.map((r: unknown[]) => r.map(Number)), expectedTopPortsByBytes(2));
    },
  },
  {
    name: 'a hostile filter is refused with 400 and not echoed',
    async run(t) {
      const hostile = "10.0.0.0/8' OR 1=1 --";
      const a = await call(t, 'POST', '/v1/query', { token: await token(t, 'hostile', AGG_SCOPES), body: { dataset: SUITE_DATASET, timeRange: range, groupBy: [], filter: { srcNet: hostile } } });
      assertError(a, 400, /^ERR_QUERY_(INVALID|FILTER_INVALID)$/);
      assert.ok(!a.text.includes('OR 1=1'), 'the hostile value is not echoed');
      const badJson = await call(t, 'POST', '/v1/query', { token: await token(t, 'hostile-json', AGG_SCOPES), raw: '{"dataset":' });
      assertError(badJson, 400, 'ERR_QUERY_INVALID');
    },
  },
  {
    name: '403 without the query scope, 415 for a non-JSON body, 404 for an unknown route',
    async run(t) {
      const readOnly = await token(t, 'scopes', ['datasets:read']);
      const body = { dataset: SUITE_DATASET, timeRange: range, groupBy: ['protocol'] };
      const forbidden = await call(t, 'POST', '/v1/query', { token: readOnly, body });
      assertError(forbidden, 403, 'ERR_FORBIDDEN');
      const media = await call(t, 'POST', '/v1/query', { token: await token(t, 'media', AGG_SCOPES), raw: 'dataset=xrt', contentType: 'text/plain' });
      assertError(media, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE');
      assertError(await call(t, 'GET', '/v1/nosuch', { token: await token(t, 'route', AGG_SCOPES) }), 404, 'ERR_NOT_FOUND');
      assertError(await call(t, 'GET', '/nosuch'), 404, 'ERR_NOT_FOUND');
    },
  },
  {
    name: `429 with Retry-After once the burst of ${SUITE_RATE_LIMIT.burst} requests is used`,
    async run(t) {
      const tk = await token(t, 'burst', ['datasets:read']);
      for (let i = 1; i <= SUITE_RATE_LIMIT.burst; i++) {
        const ok = await call(t, 'GET', '/v1/datasets', { token: tk });
        assert.equal(ok.status, 200, `request ${i} of the burst`);
        assert.equal(ok.headers.get('ratelimit-remaining'), String(SUITE_RATE_LIMIT.burst - i));
      }
      const refused = await call(t, 'GET', '/v1/datasets', { token: tk });
      assertError(refused, 429, 'ERR_RATE_LIMITED');
      assert.ok(Number(refused.headers.get('retry-after')) >= 1, 'Retry-After in seconds');
      assert.ok(refused.json.error.details.retryAfterSec >= 1);
      const other = await call(t, 'GET', '/v1/datasets', { token: await token(t, 'burst-other', ['datasets:read']) });
      assert.equal(other.status, 200, 'another subject is not limited');
    },
  },
  {
    // Last: it empties this address's bucket (which refills within a second or two).
    name: `unauthenticated requests from one address: 429 with Retry-After after ${SUITE_UNAUTHENTICATED.unauthenticatedBurst}, served again after the wait`,
    async run(t) {
      const forged = `eyJhbGciOiJFUzI1NiIsImtpZCI6IngifQ.eyJzdWIiOiJtYWxsb3J5In0.${'A'.repeat(86)}`;
      let refused: Answer | null = null;
      for (let i = 0; i < SUITE_UNAUTHENTICATED.unauthenticatedBurst + 3 && refused === null; i++) {
        const a = await call(t, 'GET', '/v1/datasets', { token: forged });
        if (a.status === 429) refused = a;
        else assertError(a, 401, 'ERR_AUTH_INVALID');
      }
      assert.ok(refused !== null, 'the address was limited');
      assertError(refused, 429, 'ERR_RATE_LIMITED');
      const wait = Number(refused.headers.get('retry-after'));
      assert.ok(Number.isInteger(wait) && wait >= 1 && wait <= 5, `Retry-After ${wait}`);
      await new Promise((r) => setTimeout(r, wait * 1000));
      const ok = await call(t, 'GET', '/v1/datasets', { token: await token(t, 'unauthenticated-after', ['datasets:read']) });
      assert.equal(ok.status, 200, 'after Retry-After the address is served again');
    },
  },
];
