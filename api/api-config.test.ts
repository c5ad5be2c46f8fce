import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadApiConfig } from '../schemas/api-config.ts';
import { AppError } from '../schemas/errors.ts';

test('empty config gives documented defaults', () => {
  const c = loadApiConfig('');
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.port, 8787);
  assert.equal(c.limits.maxRecordRows, 1000);
  assert.equal(c.limits.queryTimeoutMs, 10_000);
  assert.equal(c.limits.minGroupSize, 5, 'aggregates suppress groups under 5 flows unless configured otherwise');
  assert.deepEqual(c.issuers, []);
});

test('issuer algorithms exclude none and HS*; unknown keys are rejected with paths', () => {
  const bad = (text: string) => assert.throws(() => loadApiConfig(text), (e: unknown) => e instanceof AppError && e.code === 'ERR_CONFIG_INVALID');
  bad('issuers: [{ issuer: x, jwks: { url: "https://x/jwks" }, algorithms: [HS256] }]');
  bad('issuers: [{ issuer: x, jwks: { url: "https://x/jwks" }, algorithms: [none] }]');
  bad('limits: { maxRecordRows: 0 }');
  bad('limitz: {}');
  bad('port: [');
  const ok = loadApiConfig('{"issuers":[{"issuer":"x","jwks":{"file":"k.json"}}],"limits":{"minGroupSize":5}}');
  assert.deepEqual(ok.issuers[0].algorithms, ['ES256', 'EdDSA', 'RS256']);
  assert.equal(ok.issuers[0].audience, 'flowseal-api');
  assert.equal(ok.limits.minGroupSize, 5);
  assert.equal(ok.limits.maxRecordRows, 1000);
});

test('minGroupSize 1 (no suppression) is allowed when set explicitly; 0 is not', () => {
  assert.equal(loadApiConfig('limits: { minGroupSize: 1 }').limits.minGroupSize, 1);
  assert.throws(() => loadApiConfig('limits: { minGroupSize: 0 }'), (e: unknown) => e instanceof AppError && e.code === 'ERR_CONFIG_INVALID');
});

test('rate limit: a query cost above the burst (no query could ever run) is refused, naming the field', () => {
  assert.throws(() => loadApiConfig('rateLimit: { burst: 5, queryCost: 6 }'), (e: unknown) => e instanceof AppError && e.code === 'ERR_CONFIG_INVALID' && /rateLimit\.queryCost/.test(e.message));
  assert.equal(loadApiConfig('rateLimit: { burst: 5, queryCost: 5 }').rateLimit.queryCost, 5);
  assert.equal(loadApiConfig('').rateLimit.queryCost, 2);
  assert.throws(() => loadApiConfig('maxTokenLifetimeSec: 10'), (e: unknown) => e instanceof AppError && e.code === 'ERR_CONFIG_INVALID');
});

test('admission, per-address limit and trusted proxies: safe defaults for a small machine; inconsistent settings and bad CIDRs are refused, naming the field', () => {
  const c = loadApiConfig('');
  assert.deepEqual(c.admission, { maxConcurrent: 2, maxExpensiveConcurrent: 1, maxConcurrentPerSubject: 1, maxQueued: 32, maxQueuedPerSubject: 4, expensiveCost: 10_000_000, maxCost: 100_000_000 });
  assert.equal(c.duckdb.threads, 1, 'one DuckDB thread per running query by default: one query cannot take every core');
  assert.deepEqual([c.rateLimit.unauthenticatedBurst, c.rateLimit.unauthenticatedPerMinute], [20, 60]);
  assert.deepEqual(c.trustedProxies, []);
  const bad = (text: string, path: RegExp) => assert.throws(() => loadApiConfig(text), (e: unknown) => e instanceof AppError && e.code === 'ERR_CONFIG_INVALID' && path.test(e.message));
  bad('admission: { maxConcurrent: 2, maxExpensiveConcurrent: 3 }', /admission\.maxExpensiveConcurrent/);
  bad('admission: { maxConcurrent: 2, maxConcurrentPerSubject: 3 }', /admission\.maxConcurrentPerSubject/);
  bad('admission: { maxQueued: 2, maxQueuedPerSubject: 3 }', /admission\.maxQueuedPerSubject/);
  bad('admission: { expensiveCost: 10, maxCost: 5 }', /admission\.expensiveCost/);
  bad('trustedProxies: ["10.0.0.0/33"]', /trustedProxies\.0/);
  bad('trustedProxies: ["proxy.example"]', /trustedProxies\.0/);
  assert.deepEqual(loadApiConfig('trustedProxies: ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]').trustedProxies, ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7']);
});
