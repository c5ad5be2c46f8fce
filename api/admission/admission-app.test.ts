/**
 * Admission through `createApp`, with a real DuckDB engine over a small archive, the real jose
 * verifier and real signed tokens: the cost check refuses before the engine is called and names
 * the factor; the per-address limit on unauthenticated requests refuses without verifying a
 * signature once an address's bucket is empty, never counts valid tokens, and keys by the
 * client address (the socket peer, or `X-Forwarded-For` behind a trusted proxy), which the
 * audit entry records. The socket peer comes from the `peerAddress` port; here it reads a
 * test header, as a runtime adapter would read the socket (node.test.ts covers a real one).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../app.ts';
import { createDuckDbEngine } from '../engine/duckdb-engine.ts';
import type { DuckDbEngine } from '../engine/duckdb-engine.ts';
import { createJoseVerifier } from '../auth/jose-verifier.ts';
import { createDevIssuer } from '../auth/dev-issuer.ts';
import type { DevIssuer } from '../auth/dev-issuer.ts';
import { createMemoryRateLimitStore } from '../rate-limit/memory-store.ts';
import { createMemoryAuditSink } from '../audit/memory-sink.ts';
import type { QueryEngine, TokenVerifier } from '../ports.ts';
import { ApiConfig } from '../../schemas/api-config.ts';
import { makeArchive } from '../../test/support/make-archive.ts';

let dir: string;
let engine: DuckDbEngine;
let dev: DevIssuer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flowseal-admission-'));
  const rows = Array.from({ length: 200 }, (_, i) => ({
    time_start: new Date(Date.parse('2026-02-01T10:00:00Z') + i * 30_000).toISOString(),
    src_addr: `10.0.${i % 4}.${i % 200}`,
    dst_addr: '198.51.100.1',
  }));
  await makeArchive(dir, { dataset: 'lab', rows });
  engine = await createDuckDbEngine({ archiveDir: dir, threads: 1, memoryLimit: '128MB' });
  const files = new Map<string, string>();
  dev = await createDevIssuer({ read: async (n) => files.get(n) ?? null, write: async (n, t) => void files.set(n, t) });
});
after(async () => {
  await engine?.close();
  rmSync(dir, { recursive: true, force: true });
});

function harness(config: Record<string, unknown>) {
  const clock = { t: 1_800_000_000_000 };
  const audit = createMemoryAuditSink();
  const counts = { verify: 0, run: 0 };
  const jose = createJoseVerifier({ issuers: [{ issuer: dev.issuer, audience: dev.audience, algorithms: ['ES256'], jwks: dev.jwks }] });
  const verifier: TokenVerifier = { verify: (t) => (counts.verify++, jose.verify(t)) };
  const spy: QueryEngine = {
    listDatasets: () => engine.listDatasets(),
    execute: (plan, o) => (counts.run++, engine.execute(plan, o)),
  };
  const app = createApp({
    engine: spy,
    verifier,
    rateLimit: createMemoryRateLimitStore(),
    audit,
    config: ApiConfig.parse({ limits: { minGroupSize: 1 }, ...config }),
    logger: { info: () => {}, error: () => {} },
    now: () => clock.t,
    peerAddress: (c) => c.req.header('x-test-peer'),
  });
  const call = async (path: string, init: { peer?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.peer !== undefined) headers['x-test-peer'] = init.peer;
    if (init.token !== undefined) headers.Authorization = `Bearer ${init.token}`;
    if (init.body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await app.request(path, { method: init.body === undefined ? 'GET' : 'POST', headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
    const text = await res.text();
    return { status: res.status, code: (JSON.parse(text) as { error?: { code: string; details?: Record<string, unknown> } }).error?.code ?? null, json: JSON.parse(text), retryAfter: res.headers.get('retry-after') };
  };
  return { clock, audit, counts, call };
}

const DAY = { from: '2026-02-01T00:00:00Z', to: '2026-02-02T00:00:00Z' };

test('a query estimated over maxCost is refused with 400 ERR_QUERY_TOO_EXPENSIVE naming the factor, before the engine runs', async () => {
  // 200 flows in the dataset: a whole-day total costs 200 + 4 units, a /32 grouping more.
  const h = harness({ admission: { expensiveCost: 50, maxCost: 500 } });
  const token = await dev.signToken('ann', ['query'], 600);
  const ok = await h.call('/v1/query', { token, body: { dataset: 'lab', timeRange: DAY, groupBy: [] } });
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  assert.equal(h.counts.run, 1);
  const grouped = await h.call('/v1/query', { token, body: { dataset: 'lab', timeRange: DAY, groupBy: [{ column: 'src_addr', prefixV4: 32 }], metrics: ['bytes_p95'] } });
  assert.equal(grouped.status, 400);
  assert.equal(grouped.code, 'ERR_QUERY_TOO_EXPENSIVE');
  assert.equal(grouped.json.error.details.factor, 'metrics');
  assert.equal(grouped.json.error.details.maxCost, 500);
  assert.match(grouped.json.error.message, /quantile or distinct/);
  const wide = await h.call('/v1/query', { token, body: { dataset: 'lab', timeRange: DAY, groupBy: [], filter: { net: Array.from({ length: 64 }, (_, i) => `10.${i}.0.0/16`) } } });
  assert.equal(wide.code, 'ERR_QUERY_TOO_EXPENSIVE');
  assert.equal(wide.json.error.details.factor, 'filter');
  assert.equal(h.counts.run, 1, 'refused queries never reach the engine');
  assert.equal(h.audit.entries.at(-1)?.errorCode, 'ERR_QUERY_TOO_EXPENSIVE');
});

test('unauthenticated requests are limited per client address, before any signature check; valid tokens never count', async () => {
  const h = harness({ rateLimit: { unauthenticatedBurst: 3, unauthenticatedPerMinute: 60 } });
  const forged = `${(await dev.signToken('eve', ['query'], 600)).slice(0, -8)}AAAAAAAA`;
  const valid = await dev.signToken('ann', ['datasets:read'], 600);
  const a = '198.51.100.7';
  for (let i = 0; i < 3; i++) assert.equal((await h.call('/v1/datasets', { peer: a, token: forged })).status, 401);
  assert.equal(h.counts.verify, 3);
  const refused = await h.call('/v1/datasets', { peer: a, token: forged });
  assert.deepEqual([refused.status, refused.code, refused.retryAfter], [429, 'ERR_RATE_LIMITED', '1']);
  assert.equal((await h.call('/v1/datasets', { peer: a })).status, 429, 'no token at all: refused too');
  assert.equal((await h.call('/v1/datasets', { peer: a, token: valid })).status, 429, 'while the bucket is empty, the address is refused whatever it sends');
  assert.equal(h.counts.verify, 3, 'nothing was verified once the bucket was empty');
  // Another address has its own bucket; valid tokens never use it.
  const b = '2001:db8::7';
  for (let i = 0; i < 10; i++) assert.equal((await h.call('/v1/datasets', { peer: b, token: valid })).status, 200);
  assert.equal((await h.call('/v1/datasets', { peer: '2001:db8::8', token: forged })).status, 401);
  // One token a second comes back.
  h.clock.t += 1_000;
  assert.equal((await h.call('/v1/datasets', { peer: a, token: valid })).status, 200);
  assert.equal((await h.call('/v1/datasets', { peer: a, token: forged })).status, 401);
  assert.equal((await h.call('/v1/datasets', { peer: a, token: forged })).status, 429);
  // No known address (a runtime without one): not limited by address.
  for (let i = 0; i < 5; i++) assert.equal((await h.call('/v1/datasets', { token: forged })).status, 401);
  const addresses = h.audit.entries.map((e) => e.clientAddress);
  assert.equal(addresses[0], a);
  assert.ok(addresses.includes(b));
  assert.equal(addresses.at(-1), null);
});

test('behind a trusted proxy the client is the right-most X-Forwarded-For hop; from anyone else the header is ignored', async () => {
  const h = harness({ trustedProxies: ['10.0.0.0/8'], rateLimit: { unauthenticatedBurst: 1, unauthenticatedPerMinute: 1 } });
  const valid = await dev.signToken('ann', ['datasets:read'], 600);
  assert.equal((await h.call('/v1/datasets', { peer: '::ffff:10.1.2.3', token: valid, headers: { 'X-Forwarded-For': '192.0.2.1, 203.0.113.9' } })).status, 200);
  assert.equal((await h.call('/v1/datasets', { peer: '198.51.100.20', token: valid, headers: { 'X-Forwarded-For': '203.0.113.9' } })).status, 200);
  assert.deepEqual(h.audit.entries.map((e) => e.clientAddress), ['203.0.113.9', '198.51.100.20']);
  // The per-address bucket follows the resolved address: two clients behind one proxy are apart.
  assert.equal((await h.call('/v1/datasets', { peer: '10.1.2.3', headers: { 'X-Forwarded-For': '203.0.113.9' } })).status, 401);
  assert.equal((await h.call('/v1/datasets', { peer: '10.1.2.3', headers: { 'X-Forwarded-For': '203.0.113.9' } })).status, 429);
  assert.equal((await h.call('/v1/datasets', { peer: '10.1.2.3', headers: { 'X-Forwarded-For': '203.0.113.10' } })).status, 401, 'another client behind the same proxy');
});
