/**
 * A real browser on `/docs`: headless Chromium loads the page from a server on 127.0.0.1 (the
 * real app, the real Redoc bundle read by the adapter, the page's own Content-Security-Policy)
 * and the rendered DOM shows every operation of every tag. The only thing the policy may
 * refuse is an image from elsewhere (the bundle's CDN logo): a refused script, style, font or
 * fetch would mean the policy and the bundle disagree. The network stays on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createApp } from '../app.ts';
import { loadDocsAssets } from '../adapters/docs-assets.ts';
import { openApiDocument } from './openapi.ts';
import { createMemoryRateLimitStore } from '../rate-limit/memory-store.ts';
import { createMemoryAuditSink } from '../audit/memory-sink.ts';
import { ApiConfig } from '../../schemas/api-config.ts';
import { REQUIRED_TOOLS, skipUnlessTools } from '../../test/support/required-tools.ts';

const CHROMIUM = REQUIRED_TOOLS.chromium.probe[0];

/**
 * Chromium's DOM after scripts ran (virtual time, so no wall-clock wait), and its console lines.
 * Run at the lowest CPU priority: the suite's files run in parallel, and some of them measure time.
 */
function dumpDom(url: string, profile: string): Promise<{ dom: string; console: string }> {
  const args = ['-n', '19', CHROMIUM, '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', `--user-data-dir=${profile}`, '--virtual-time-budget=20000', '--dump-dom', url];
  return new Promise((ok, fail) => {
    execFile('nice', args, { timeout: 180_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => (err ? fail(new Error(`${CHROMIUM} failed: ${err.message}\n${stderr.slice(-2000)}`)) : ok({ dom: stdout, console: stderr })));
  });
}

test('headless Chromium renders every operation from /docs under the page CSP', { skip: skipUnlessTools('chromium') }, async () => {
  const quiet = { info: () => {}, error: () => {} };
  const docsAssets = await loadDocsAssets(quiet);
  assert.ok(docsAssets, 'the redoc bundle is installed');
  const app = createApp({
    engine: { listDatasets: async () => [], execute: async () => assert.fail('no query') },
    verifier: { verify: async () => assert.fail('no token') },
    rateLimit: createMemoryRateLimitStore(),
    audit: createMemoryAuditSink(),
    config: ApiConfig.parse({ rateLimit: { unauthenticatedBurst: 1000, unauthenticatedPerMinute: 1000 } }),
    logger: quiet,
    docsAssets,
  });
  const server = await new Promise<ReturnType<typeof serve>>((ok) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => ok(s));
  });
  const profile = mkdtempSync(join(tmpdir(), 'flowseal-chromium-'));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/docs`;
    const doc = openApiDocument() as { tags: { name: string }[]; paths: Record<string, Record<string, { summary: string; tags: string[] }>> };
    const ops = Object.values(doc.paths).flatMap((item) => Object.values(item));
    for (const { name } of doc.tags) {
      const { dom, console } = await dumpDom(`${base}#/${name.toLowerCase()}`, profile);
      for (const op of ops.filter((o) => o.tags[0] === name)) assert.ok(dom.includes(`>${op.summary}<`), `${name}: "${op.summary}" rendered`);
      const refused = [...console.matchAll(/violates the following Content Security Policy directive:? "?([a-z-]+)/g)].map((m) => m[1]);
      assert.deepEqual(refused.filter((d) => d !== 'img-src'), [], `only images from elsewhere are refused:\n${console.slice(-3000)}`);
    }
  } finally {
    await new Promise<void>((ok) => server.close(() => ok()));
    rmSync(profile, { recursive: true, force: true });
  }
});
