/**
 * The rate-limit middleware through a tiny Hono app (principal from test headers, the API's
 * error handler, the memory store) and a clock the test advances: exact `RateLimit-*` and
 * `Retry-After` headers, request costs, refill, per-subject buckets, and `Retry-After` on a
 * 429 a route raises (the record budget).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import { rateLimit } from './rate-limit.ts';
import { errorHandler, notFound } from './error-handler.ts';
import type { AppEnv } from './context.ts';
import { createMemoryRateLimitStore } from '../rate-limit/memory-store.ts';
import type { RateLimitStore } from '../ports.ts';
import { RateLimitConfig } from '../../schemas/api-config.ts';
import { AppError, ErrorCode } from '../../schemas/errors.ts';

const ISS = 'https://idp.test';

/** The app under test; `clock.t` is the time in ms. Headers `x-sub`/`x-iss` pick the principal. */
function harness(config: Partial<RateLimitConfig>, store: RateLimitStore = createMemoryRateLimitStore()) {
  const clock = { t: 0 };
  const app = new Hono<AppEnv>();
  app.onError(errorHandler({ info: () => {}, error: () => {} }));
  app.notFound(notFound());
  app.use('*', async (c, next) => {
    const subject = c.req.header('x-sub') ?? 'alice';
    c.set('principal', { issuer: c.req.header('x-iss') ?? ISS, subject, scopes: new Set(), groups: [], datasets: null, expiresAt: 0 });
    await next();
  });
  app.use('*', rateLimit({ store, config: RateLimitConfig.parse(config), now: () => clock.t }));
  const ok = (c: { json(v: unknown): Response }) => c.json({ ok: true });
  app.get('/v1/datasets', ok);
  app.get('/v1/datasets/:id', ok);
  app.post('/v1/query', ok);
  app.get('/v1/datasets/:id/records', ok);
  app.get('/v1/datasets/:id/top', ok);
  app.get('/v1/datasets/:id/timeseries', ok);
  app.get('/v1/budget/:sec', (c) => {
    throw new AppError(ErrorCode.RateLimited, 'record budget used up', { details: { retryAfterSec: Number(c.req.param('sec')) } });
  });
  async function call(method: string, path: string, who: { sub?: string; iss?: string } = {}, extra: Record<string, string> = {}) {
    const headers: Record<string, string> = { ...extra };
    if (who.sub) headers['x-sub'] = who.sub;
    if (who.iss) headers['x-iss'] = who.iss;
    const res = await app.request(path, { method, headers });
    const json = (await res.json()) as { error?: { code: string; details?: { retryAfterSec?: number } } };
    const h = (name: string) => res.headers.get(name);
    return { status: res.status, json, limit: h('RateLimit-Limit'), remaining: h('RateLimit-Remaining'), reset: h('RateLimit-Reset'), retryAfter: h('Retry-After') };
  }
  return { clock, call };
}

test('RateLimit-* on every response: burst, whole tokens left (rounded down), seconds to full (rounded up)', async () => {
  const { clock, call } = harness({ burst: 5, perMinute: 60, queryCost: 2 });
  const a = await call('GET', '/v1/datasets');
  assert.deepEqual([a.status, a.limit, a.remaining, a.reset, a.retryAfter], [200, '5', '4', '1', null]);
  const b = await call('POST', '/v1/query');
  assert.deepEqual([b.remaining, b.reset], ['2', '3']);
  clock.t = 500; // 2.5 tokens, 1 taken: 1.5 left, full in 3.5 s
  const c = await call('GET', '/v1/datasets');
  assert.deepEqual([c.remaining, c.reset], ['1', '4']);
});

test('Retry-After: the exact wait in whole seconds rounded up, as header and details; waiting it is enough', async () => {
  const { clock, call } = harness({ burst: 3, perMinute: 60, queryCost: 3 });
  assert.equal((await call('POST', '/v1/query')).status, 200);
  clock.t = 600; // 0.6 tokens: 2.4 s until 3
  const early = await call('POST', '/v1/query');
  assert.equal(early.status, 429);
  assert.equal(early.json.error?.code, 'ERR_RATE_LIMITED');
  assert.equal(early.retryAfter, '3');
  assert.equal(early.json.error?.details?.retryAfterSec, 3);
  assert.deepEqual([early.remaining, early.reset], ['0', '3']);
  clock.t = 2999; // 1 ms short
  const almost = await call('POST', '/v1/query');
  assert.deepEqual([almost.status, almost.retryAfter], [429, '1']);
  clock.t = 3000;
  const onTime = await call('POST', '/v1/query');
  assert.deepEqual([onTime.status, onTime.retryAfter, onTime.remaining], [200, null, '0']);
});

test('Retry-After: a whole-minute wait is 60, not 61 (9 per minute, a query costing 9)', async () => {
  const { clock, call } = harness({ burst: 9, perMinute: 9, queryCost: 9 });
  await call('POST', '/v1/query');
  const refused = await call('POST', '/v1/query');
  assert.deepEqual([refused.status, refused.retryAfter, refused.reset], [429, '60', '60']);
  clock.t = 20_000;
  assert.equal((await call('GET', '/v1/datasets')).remaining, '2', '3 tokens refilled in 20 s, 1 taken');
  clock.t = 80_000;
  assert.equal((await call('POST', '/v1/query')).status, 200);
});

test('refill: after a 429 the bucket regains perMinute / 60 tokens a second, up to burst', async () => {
  const { clock, call } = harness({ burst: 4, perMinute: 120, queryCost: 2 });
  await call('POST', '/v1/query');
  await call('POST', '/v1/query');
  assert.equal((await call('GET', '/v1/datasets')).status, 429);
  for (const [t, left] of [[250, '0'], [1250, '1'], [60_000, '3']] as const) {
    clock.t = t;
    assert.equal((await call('GET', '/v1/datasets')).remaining, left, `at ${t} ms`);
  }
});

test('cost: POST /v1/query and the records/top/timeseries GETs cost queryCost, every other request 1', async () => {
  const { call } = harness({ burst: 20, perMinute: 1, queryCost: 3 });
  const steps: [string, string, string][] = [
    ['GET', '/v1/datasets', '19'],
    ['GET', '/v1/datasets/lab', '18'],
    ['POST', '/v1/query', '15'],
    ['GET', '/v1/datasets/lab/records', '12'],
    ['GET', '/v1/datasets/lab/top', '9'],
    ['GET', '/v1/datasets/lab/timeseries', '6'],
    ['GET', '/v1/datasets/lab/records/extra', '5'],
    ['GET', '/v1/queryx', '4'],
  ];
  for (const [method, path, left] of steps) assert.equal((await call(method, path)).remaining, left, `${method} ${path}`);
});

test('per subject: one subject exhausting its bucket leaves other subjects, and itself at another issuer, untouched', async () => {
  const { call } = harness({ burst: 2, perMinute: 1, queryCost: 2 });
  assert.equal((await call('POST', '/v1/query')).status, 200);
  assert.equal((await call('GET', '/v1/datasets')).status, 429);
  const bob = await call('GET', '/v1/datasets', { sub: 'bob' });
  assert.deepEqual([bob.status, bob.remaining], [200, '1']);
  const elsewhere = await call('GET', '/v1/datasets', { iss: 'https://other.test' });
  assert.deepEqual([elsewhere.status, elsewhere.remaining], [200, '1']);
  assert.equal((await call('GET', '/v1/datasets')).status, 429, 'alice is still limited');
});

test('the bucket is the verified principal only: headers, query strings and paths the client picks do not open a new one', async () => {
  const { call } = harness({ burst: 1, perMinute: 1, queryCost: 1 });
  assert.equal((await call('GET', '/v1/datasets')).status, 200);
  const tries: Array<[string, Record<string, string>]> = [
    ['/v1/datasets', { 'x-client-id': 'fresh-1' }],
    ['/v1/datasets', { 'x-forwarded-for': '198.51.100.7' }],
    ['/v1/datasets', { 'x-real-ip': '198.51.100.8', forwarded: 'for=198.51.100.9' }],
    ['/v1/datasets', { 'user-agent': 'other-agent/1.0', cookie: 'session=2' }],
    ['/v1/datasets?nonce=3', {}],
    ['/v1/datasets/other', {}],
  ];
  for (const [path, headers] of tries) {
    const r = await call('GET', path, {}, headers);
    assert.deepEqual([r.status, r.remaining], [429, '0'], `${path} ${JSON.stringify(headers)}`);
  }
});

test('a 429 a route raises (the record budget) gets Retry-After from its details', async () => {
  const { call } = harness({ burst: 10, perMinute: 60 });
  const r = await call('GET', '/v1/budget/3600');
  assert.deepEqual([r.status, r.json.error?.code, r.retryAfter, r.remaining], [429, 'ERR_RATE_LIMITED', '3600', '9']);
  assert.equal((await call('GET', '/v1/datasets')).retryAfter, null);
});

test('Retry-After is never 0: a store that reports a refusal with no wait still yields 1', async () => {
  const store: RateLimitStore = { take: async () => ({ allowed: false, remaining: 0, resetMs: 0, retryAfterMs: 0 }) };
  const r = await harness({}, store).call('GET', '/v1/datasets');
  assert.deepEqual([r.status, r.retryAfter, r.json.error?.details?.retryAfterSec], [429, '1', 1]);
});
