/**
 * `GET /docs` through `createApp`: the page (strict CSP, no inline script, only same-origin
 * references, the script under its content hash), the script (immutable caching, gzip when
 * accepted, exact bytes), 404s that say why, and the per-address limit on these public routes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { createApp } from '../app.ts';
import type { AppDeps } from '../app.ts';
import { DOCS_CONTENT_SECURITY_POLICY } from './docs.ts';
import type { DocsAssets } from './docs.ts';
import { createMemoryRateLimitStore } from '../rate-limit/memory-store.ts';
import { createMemoryAuditSink } from '../audit/memory-sink.ts';
import { ApiConfig } from '../../schemas/api-config.ts';

const SCRIPT = `customElements.define('redoc', class extends HTMLElement {}); // ${'x'.repeat(5000)}`;

function app(docsAssets: DocsAssets | undefined, config: Record<string, unknown> = {}, extra: Partial<AppDeps> = {}) {
  return createApp({
    engine: { listDatasets: async () => [], execute: async () => assert.fail('no query') },
    verifier: { verify: async () => assert.fail('no token needed') },
    rateLimit: createMemoryRateLimitStore(),
    audit: createMemoryAuditSink(),
    config: ApiConfig.parse(config),
    logger: { info: () => {}, error: () => {} },
    ...(docsAssets ? { docsAssets } : {}),
    ...extra,
  });
}

const scriptPath = (html: string) => /<script type="module" src="(\/docs\/redoc\.[0-9a-f]{16}\.js)"><\/script>/.exec(html)?.[1];

test('the page: HTML with a strict CSP, no inline script, nothing from another origin, the spec from /openapi.json', async () => {
  const res = await app({ scriptJs: SCRIPT }).request('/docs');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.equal(csp, DOCS_CONTENT_SECURITY_POLICY);
  const directives = new Map(csp.split('; ').map((d) => [d.split(' ')[0]!, d.split(' ').slice(1)]));
  assert.deepEqual(directives.get('default-src'), ["'none'"]);
  assert.deepEqual(directives.get('script-src'), ["'self'"], 'no unsafe-inline or unsafe-eval for scripts');
  assert.deepEqual(directives.get('connect-src'), ["'self'"]);
  assert.deepEqual(directives.get('frame-ancestors'), ["'none'"]);
  for (const [name, sources] of directives) assert.ok(sources.every((s) => s.startsWith("'") || s === 'data:'), `${name} names no host`);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('cache-control'), 'no-cache');
  const html = await res.text();
  assert.ok(!/https?:|\/\//.test(html.replace('<!doctype html>', '')), 'no absolute or protocol-relative URL');
  for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)) {
    assert.match(m[1]!, /\ssrc="\/docs\//, 'every script is an asset of ours');
    assert.equal(m[2], '', 'no inline script');
  }
  assert.match(html, /<redoc spec-url="\/openapi\.json" disable-telemetry="true"><\/redoc>/);
  assert.ok(!/\son[a-z]+=|style=/i.test(html), 'no inline handlers or styles');
});

test('the script: named by its SHA-256, exact bytes, cached for a year as immutable, gzip when accepted', async () => {
  const a = app({ scriptJs: SCRIPT });
  const path = scriptPath(await (await a.request('/docs')).text());
  assert.ok(path);
  assert.equal(path, `/docs/redoc.${createHash('sha256').update(SCRIPT).digest('hex').slice(0, 16)}.js`);
  const plain = await a.request(path);
  assert.equal(plain.status, 200);
  assert.equal(plain.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal(plain.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.equal(plain.headers.get('vary'), 'Accept-Encoding');
  assert.equal(plain.headers.get('content-encoding'), null);
  assert.equal(await plain.text(), SCRIPT);
  const zipped = await a.request(path, { headers: { 'Accept-Encoding': 'br, gzip;q=0.8' } });
  assert.equal(zipped.headers.get('content-encoding'), 'gzip');
  const bytes = Buffer.from(await zipped.arrayBuffer());
  assert.ok(bytes.length < SCRIPT.length / 10, 'compressed');
  assert.equal(gunzipSync(bytes).toString('utf8'), SCRIPT);
  const refused = await a.request(path, { headers: { 'Accept-Encoding': 'gzip;q=0, identity' } });
  assert.equal(refused.headers.get('content-encoding'), null);
  // Bytes and text give the same asset and name.
  const fromBytes = app({ scriptJs: new TextEncoder().encode(SCRIPT) });
  assert.equal(scriptPath(await (await fromBytes.request('/docs')).text()), path);
});

test('another asset name, or a server without the assets, is a 404 that says why', async () => {
  const other = await app({ scriptJs: SCRIPT }).request('/docs/redoc.0000000000000000.js');
  assert.equal(other.status, 404);
  assert.equal(((await other.json()) as { error: { code: string } }).error.code, 'ERR_NOT_FOUND');
  for (const path of ['/docs', '/docs/redoc.0000000000000000.js']) {
    const res = await app(undefined).request(path);
    assert.equal(res.status, 404, path);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'ERR_NOT_FOUND');
    assert.match(body.error.message, /API reference page is not available: this server was started without its assets/);
  }
});

test('the docs routes need no token and are limited per client address like /openapi.json', async () => {
  const a = app({ scriptJs: SCRIPT }, { rateLimit: { unauthenticatedBurst: 2, unauthenticatedPerMinute: 1 } }, { peerAddress: () => '192.0.2.7' });
  assert.equal((await a.request('/docs')).status, 200);
  assert.equal((await a.request('/docs')).status, 200);
  const limited = await a.request('/docs');
  assert.equal(limited.status, 429);
  assert.ok(Number(limited.headers.get('retry-after')) > 0);
});
