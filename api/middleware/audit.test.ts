/**
 * Audit entries hold exactly the documented fields and nothing of the bearer token, not even a
 * fragment of it, for accepted and refused requests alike.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createApp } from '../app.ts';
import { createJoseVerifier } from '../auth/jose-verifier.ts';
import { createDevIssuer } from '../auth/dev-issuer.ts';
import { createMemoryRateLimitStore } from '../rate-limit/memory-store.ts';
import { createMemoryAuditSink } from '../audit/memory-sink.ts';
import type { QueryEngine } from '../ports.ts';
import { ApiConfig } from '../../schemas/api-config.ts';

const FIELDS = ['time', 'requestId', 'clientAddress', 'subject', 'issuer', 'method', 'path', 'status', 'dataset', 'query', 'rows', 'errorCode', 'errorReason', 'durationMs'].sort();

test('audit entries: exactly the documented fields, and no fragment of any token', async () => {
  const files = new Map<string, string>();
  const dev = await createDevIssuer({ read: async (n) => files.get(n) ?? null, write: async (n, t) => void files.set(n, t) });
  const audit = createMemoryAuditSink();
  const engine = { listDatasets: async () => [] } as unknown as QueryEngine;
  const app = createApp({
    engine,
    verifier: createJoseVerifier({ issuers: [{ issuer: dev.issuer, audience: dev.audience, algorithms: ['ES256'], jwks: dev.jwks }] }),
    rateLimit: createMemoryRateLimitStore(),
    audit,
    config: ApiConfig.parse({}),
    logger: { info: () => {}, error: () => {} },
  });
  const good = await dev.signToken('carol', ['datasets:read'], 60);
  const expired = await dev.signToken('carol', ['datasets:read'], -120);
  const forged = `${good.slice(0, good.lastIndexOf('.') + 1)}${'A'.repeat(86)}`;
  for (const token of [good, expired, forged]) await app.request('/v1/datasets', { headers: { Authorization: `Bearer ${token}` } });
  await app.request('/v1/datasets', { headers: { Authorization: 'Basic Y2Fyb2w6c2VjcmV0' } });
  assert.equal(audit.entries.length, 4);
  assert.deepEqual(audit.entries.map((e) => e.status), [200, 401, 401, 401]);
  const text = JSON.stringify(audit.entries);
  for (const e of audit.entries) assert.deepEqual(Object.keys(e).sort(), FIELDS);
  for (const token of [good, expired, forged, 'Y2Fyb2w6c2VjcmV0']) {
    for (const part of token.split('.')) {
      for (let i = 0; i + 12 <= part.length; i += 4) assert.ok(!text.includes(part.slice(i, i + 12)), 'no 12-character piece of a credential in the audit log');
    }
  }
});

test('floods without a token cannot grow the audit log: /healthz is not audited, unknown paths are limited per address, refusals are written once a minute per address', async () => {
  const audit = createMemoryAuditSink();
  const clock = { t: Date.parse('2026-05-01T00:00:00Z') };
  const engine = { listDatasets: async () => [] } as unknown as QueryEngine;
  const app = createApp({
    engine,
    verifier: { verify: async () => { throw new Error('unused'); } },
    rateLimit: createMemoryRateLimitStore(),
    audit,
    config: ApiConfig.parse({ rateLimit: { unauthenticatedBurst: 5, unauthenticatedPerMinute: 5 } }),
    logger: { info: () => {}, error: () => {} },
    now: () => clock.t,
    peerAddress: () => '192.0.2.7',
  });
  for (let i = 0; i < 50; i++) assert.equal((await app.request('/healthz')).status, 200);
  assert.equal(audit.entries.length, 0, 'liveness probes are not audited');
  const statuses: number[] = [];
  for (let i = 0; i < 200; i++) statuses.push((await app.request(`/${'x'.repeat(600)}${i}`)).status);
  assert.deepEqual([...new Set(statuses)].sort(), [404, 429]);
  assert.equal(statuses.filter((s) => s === 404).length, 5, 'the address burst, then refusals');
  assert.equal(audit.entries.length, 6, 'five 404s and one refusal line');
  clock.t += 61_000;
  for (let i = 0; i < 200; i++) await app.request('/v1/datasets');
  const last = audit.entries.at(-1)!;
  assert.equal(last.status, 429);
  assert.equal(last.suppressed, 194, 'the refusals left out since the last written one');
  assert.ok(audit.entries.length <= 6 + 6, `${audit.entries.length} entries`);
});
