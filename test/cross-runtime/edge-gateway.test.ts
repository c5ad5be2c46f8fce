/**
 * What the Workers edge gateway (api/adapters/worker.ts) and the remote engine
 * (api/engine/remote-engine.ts) do themselves, checked in process with a fake origin `fetch`:
 * refusals happen at the edge without an origin round trip, only allow-listed headers cross,
 * origin failures become a 502, and a bad Worker environment fails closed. The shared
 * HTTP suite against a real origin under workerd is in cross-runtime.test.ts.
 */
import { PlanSchema } from '../../api/query/plan.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadApiConfig } from '../../schemas/api-config.ts';
import { createDevIssuer } from '../../api/auth/dev-issuer.ts';
import type { DevIssuer } from '../../api/auth/dev-issuer.ts';
import { createJoseVerifier } from '../../api/auth/jose-verifier.ts';
import { createMemoryRateLimitStore } from '../../api/rate-limit/memory-store.ts';
import { createMemoryAuditSink } from '../../api/audit/memory-sink.ts';
import { createRemoteEngine } from '../../api/engine/remote-engine.ts';
import worker, { createEdgeApp, edgeIssuers } from '../../api/adapters/worker.ts';
import { freePort } from './server-process.ts';

const ORIGIN = 'http://origin.invalid:8787/api';

function memoryStore() {
  const files = new Map<string, string>();
  return { read: async (n: string) => files.get(n) ?? null, write: async (n: string, t: string) => void files.set(n, t) };
}

interface Harness {
  readonly app: ReturnType<typeof createEdgeApp>;
  readonly issuer: DevIssuer;
  readonly seen: Request[];
  readonly logs: string[];
  readonly configJson: string;
}

async function harness(answer: (r: Request) => Promise<Response> = async () => Response.json({ ok: 'origin' }, { headers: { 'X-Request-Id': 'origin-id', 'Set-Cookie': 'a=b', Server: 'origin/1' } })): Promise<Harness> {
  const issuer = await createDevIssuer(memoryStore());
  const configJson = JSON.stringify({
    issuers: [{ issuer: issuer.issuer, audience: issuer.audience, algorithms: ['ES256'], jwks: issuer.jwks }],
    rateLimit: { burst: 10, perMinute: 1, queryCost: 2 },
    limits: { maxBodyBytes: 2048 },
  });
  const config = loadApiConfig(configJson);
  const seen: Request[] = [];
  const logs: string[] = [];
  const app = createEdgeApp({
    config,
    verifier: createJoseVerifier({ issuers: edgeIssuers(config) }),
    rateLimit: createMemoryRateLimitStore(),
    remote: createRemoteEngine({ originUrl: ORIGIN, fetch: async (r) => (seen.push(r), answer(r)), timeoutMs: 200 }),
    audit: createMemoryAuditSink(),
    logger: { info: (m) => void logs.push(m), error: (m, f) => void logs.push(`${m} ${JSON.stringify(f)}`) },
  });
  return { app, issuer, seen, logs, configJson };
}

const query = { dataset: 'lab', timeRange: { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' }, groupBy: ['protocol'] };

test('refusals happen at the edge: no token, bad token, invalid query, body too large, burst', async () => {
  const h = await harness();
  const tk = await h.issuer.signToken('ann', ['query'], 60);
  const post = (body: string, token = tk) => h.app.request('/v1/query', { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body });
  assert.equal((await h.app.request('/v1/datasets')).status, 401);
  assert.equal((await h.app.request('/v1/datasets', { headers: { Authorization: 'Bearer a.b.c' } })).status, 401);
  const hostile = await post(JSON.stringify({ ...query, filter: { srcNet: "10.0.0.0/8' OR 1=1 --" } }));
  assert.equal(hostile.status, 400);
  assert.equal((await post(JSON.stringify({ ...query, timeRange: { from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' } }))).status, 400);
  assert.equal((await post(JSON.stringify({ ...query, pad: 'x'.repeat(4000) }))).status, 413);
  assert.equal(h.seen.length, 0, 'nothing reached the origin');
  const burst = await h.issuer.signToken('bob', ['query'], 60);
  const statuses: number[] = [];
  for (let i = 0; i < 10; i++) statuses.push((await h.app.request('/v1/datasets', { headers: { Authorization: `Bearer ${burst}` } })).status);
  assert.deepEqual(statuses, Array(10).fill(200));
  const refused = await h.app.request('/v1/datasets', { headers: { Authorization: `Bearer ${burst}` } });
  assert.equal(refused.status, 429);
  assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  assert.equal(h.seen.length, 10, 'the refused request did not reach the origin');
});

test('forwarding: a query goes to the origin as a plan (never SQL) under the origin prefix; only allow-listed headers cross', async () => {
  const h = await harness();
  const tk = await h.issuer.signToken('cat', ['query'], 60);
  const body = JSON.stringify(query);
  const res = await h.app.request('/v1/query?format=json&trace=1', {
    method: 'POST',
    headers: { Authorization: `Bearer ${tk}`, 'Content-Type': 'application/json', Cookie: 'session=1', 'X-Forwarded-For': '198.51.100.7', 'X-Request-Id': 'client-chosen' },
    body,
  });
  assert.equal(res.status, 200);
  assert.equal(h.seen.length, 1);
  const sent = h.seen[0];
  assert.equal(sent.method, 'POST');
  assert.equal(sent.url, `${ORIGIN}/v1/plan?format=json`, 'only the rendering parameters go along');
  const forwarded = JSON.parse(await sent.text());
  const plan = PlanSchema.parse(forwarded.plan);
  assert.equal(plan.dataset, query.dataset);
  assert.ok(!/SELECT |read_parquet|WHERE /i.test(JSON.stringify(forwarded)), 'no SQL crosses');
  assert.equal(sent.headers.get('authorization'), `Bearer ${tk}`);
  assert.deepEqual([...sent.headers.keys()].sort(), ['authorization', 'content-type']);
  assert.equal(res.headers.get('x-request-id'), 'origin-id', "the origin's id, matching its body");
  assert.match(res.headers.get('x-edge-request-id') ?? '', /^[0-9a-f-]{36}$/);
  assert.equal(res.headers.get('set-cookie'), null);
  assert.equal(res.headers.get('server'), null);
  assert.equal(res.headers.get('ratelimit-limit'), '10', "the edge's rate-limit headers when the origin sends none");
  assert.deepEqual(await res.json(), { ok: 'origin' });
  // A one-line GET is planned at the edge too: the origin gets the same kind of plan.
  const top = await h.app.request(`/v1/datasets/lab/top?from=${query.timeRange.from}&to=${query.timeRange.to}&by=dst_port&format=csv`, { headers: { Authorization: `Bearer ${tk}` } });
  assert.equal(top.status, 200);
  assert.equal(h.seen[1].url, `${ORIGIN}/v1/plan?format=csv`);
  assert.equal(h.seen[1].method, 'POST');
  assert.deepEqual(PlanSchema.parse(JSON.parse(await h.seen[1].text()).plan).groupBy, ['dst_port']);
  const typo = await h.app.request(`/v1/datasets/lab/top?from=${query.timeRange.from}&to=${query.timeRange.to}&bukcet=1h`, { headers: { Authorization: `Bearer ${tk}` } });
  assert.equal(typo.status, 400, 'refused at the edge, naming the parameter');
  assert.equal(h.seen.length, 2);
  const get = await h.app.request('/openapi.json');
  assert.equal(get.status, 200);
  assert.equal(h.seen[2].url, `${ORIGIN}/openapi.json`);
});

test('the edge sends the client address it determined (CF-Connecting-IP) as X-Forwarded-For, never the client\'s own', async () => {
  const h = await harness();
  const tk = await h.issuer.signToken('fay', ['query'], 60);
  const res = await h.app.request('/v1/datasets', { headers: { Authorization: `Bearer ${tk}`, 'CF-Connecting-IP': '2001:DB8::7', 'X-Forwarded-For': '198.51.100.7' } });
  assert.equal(res.status, 200);
  assert.equal(h.seen[0].headers.get('x-forwarded-for'), '2001:db8::7', 'normalised, and only the edge\'s view');
  const blind = await h.app.request('/v1/datasets', { headers: { Authorization: `Bearer ${tk}`, 'X-Forwarded-For': '198.51.100.7' } });
  assert.equal(blind.status, 200);
  assert.equal(h.seen[1].headers.get('x-forwarded-for'), null, 'no known address: nothing is forwarded');
});

test('origin failures become a 502 ERR_UPSTREAM_UNAVAILABLE envelope that reveals nothing', async () => {
  const cases: [string, (r: Request) => Promise<Response>][] = [
    ['unreachable', async () => { throw new TypeError('fetch failed: connect ECONNREFUSED origin.invalid'); }],
    // AbortSignal.timeout's timer does not keep Node alive on its own (a real socket would): hold a timer until the abort.
    ['slow', (r) => new Promise((_ok, fail) => {
      const hold = setTimeout(() => {}, 10_000);
      r.signal.addEventListener('abort', () => (clearTimeout(hold), fail(r.signal.reason)));
    })],
    ['redirect', async () => new Response(null, { status: 302, headers: { Location: 'http://elsewhere.invalid/' } })],
  ];
  for (const [label, answer] of cases) {
    const h = await harness(answer);
    const tk = await h.issuer.signToken('dan', ['query'], 60);
    const res = await h.app.request('/v1/datasets', { headers: { Authorization: `Bearer ${tk}` } });
    assert.equal(res.status, 502, label);
    const text = await res.text();
    const body = JSON.parse(text);
    assert.equal(body.error.code, 'ERR_UPSTREAM_UNAVAILABLE', label);
    assert.match(body.error.message, /^origin (unreachable|did not answer in time|answered with a redirect)$/, label);
    assert.equal(body.error.requestId, res.headers.get('x-request-id'), label);
    assert.ok(!text.includes('origin.invalid') && !text.includes('elsewhere'), `${label}: no origin details`);
    assert.ok(h.logs.some((l) => l.includes('origin')), `${label}: the reason is logged`);
  }
});

test('the Worker entry fails closed on a bad environment and reaches a real origin over fetch', async (t) => {
  const quiet = t.mock.method(console, 'error', () => {});
  t.mock.method(console, 'log', () => {});
  const h = await harness();
  const bad: Record<string, string>[] = [
    {},
    { ORIGIN_URL: 'http://127.0.0.1:1' },
    { ORIGIN_URL: 'ftp://x', FLOWSEAL_CONFIG: h.configJson },
    { ORIGIN_URL: 'http://127.0.0.1:1', FLOWSEAL_CONFIG: JSON.stringify({ issuers: [{ issuer: 'x', jwks: { file: 'jwks.json' } }] }) },
    { ORIGIN_URL: 'http://127.0.0.1:1', FLOWSEAL_CONFIG: h.configJson, ORIGIN_TIMEOUT_MS: 'soon' },
  ];
  for (const env of bad) {
    const res = await worker.fetch(new Request('http://edge.test/healthz'), env);
    assert.equal(res.status, 500, JSON.stringify(env).slice(0, 80));
    assert.deepEqual(Object.keys((await res.json()).error).sort(), ['code', 'message', 'requestId']);
  }
  assert.equal(quiet.mock.callCount(), bad.length, 'each misconfiguration is logged');
  // A closed local port: the real global fetch fails and the client gets a 502.
  const env = { ORIGIN_URL: `http://127.0.0.1:${await freePort()}`, FLOWSEAL_CONFIG: h.configJson };
  assert.equal((await worker.fetch(new Request('http://edge.test/healthz'), env)).status, 200);
  const tk = await h.issuer.signToken('eve', ['query'], 60);
  const res = await worker.fetch(new Request('http://edge.test/v1/datasets', { headers: { Authorization: `Bearer ${tk}` } }), env);
  assert.equal(res.status, 502);
  assert.equal((await res.json()).error.code, 'ERR_UPSTREAM_UNAVAILABLE');
});

test('createRemoteEngine rejects origin URLs it cannot forward to safely', () => {
  for (const bad of ['', 'origin', 'ftp://o.test', 'http://user:pw@o.test', 'http://o.test/?x=1', 'http://o.test/#f']) {
    assert.throws(() => createRemoteEngine({ originUrl: bad }), TypeError, bad);
  }
  assert.throws(() => createRemoteEngine({ originUrl: 'http://o.test', timeoutMs: 0 }), TypeError);
  assert.equal(createRemoteEngine({ originUrl: 'https://o.test/api//' }).originUrl, 'https://o.test/api');
});
