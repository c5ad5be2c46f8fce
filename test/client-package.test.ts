/**
 * How a consumer gets the client: `import … from 'flowseal/client'` (package.json `exports`,
 * pointing at the TypeScript source for tsx, Bun, Deno and bundlers), and the compiled form for
 * plain Node and browsers (`npx tsc -p client/tsconfig.build.json`), which must run without any
 * TypeScript loader and import nothing outside the client at run time.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlowsealClient as Direct } from '../client/index.ts';
import { startTestApi } from './support/api-server.ts';
import type { TestApi } from './support/api-server.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

let api: TestApi;
let out: string;
before(async () => {
  api = await startTestApi();
  out = mkdtempSync(join(tmpdir(), 'flowseal-client-build-'));
});
after(async () => {
  await api?.close();
  rmSync(out, { recursive: true, force: true });
});

test("'flowseal/client' resolves through package.json exports to the client", async () => {
  const mod = (await import('flowseal/client' as string)) as typeof import('../client/index.ts');
  assert.equal(mod.FlowsealClient, Direct);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
  assert.ok(pkg.exports['./client']);
});

test('the compiled client runs on plain Node (no TypeScript loader) against the real API', async () => {
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'client', 'tsconfig.build.json'), '--outDir', out], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
  const files = readdirSync(join(out, 'client')).filter((f) => f.endsWith('.js'));
  assert.ok(files.includes('index.js'));
  for (const f of files) {
    const js = readFileSync(join(out, 'client', f), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
    const specs = [...js.matchAll(/\b(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!);
    assert.deepEqual(specs.filter((s) => !/^\.\/[a-z-]+\.js$/.test(s)), [], `${f} imports only sibling client files`);
  }
  // What a consumer's package says; the compiled files are ES modules.
  writeFileSync(join(out, 'package.json'), '{"type":"module"}');
  const token = await api.token(['datasets:read', 'query']);
  const script = `import { FlowsealClient } from ${JSON.stringify(join(out, 'client', 'index.js'))};
const c = new FlowsealClient({ baseUrl: process.env.API, token: process.env.TOKEN });
const list = await c.datasets();
const err = await c.dataset('nope').catch((e) => e);
console.log(JSON.stringify({ ids: list.datasets.map((d) => d.id), code: err.code, status: err.status, name: err.name }));`;
  // Asynchronously: the server answering it runs in this process.
  const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH ?? '', API: api.url, TOKEN: token } }, (e, stdout, stderr) =>
      e && typeof (e as { code?: unknown }).code !== 'number' ? reject(e) : resolve({ status: e ? Number((e as { code?: unknown }).code) : 0, stdout, stderr }),
    );
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { ids: ['lab'], code: 'ERR_DATASET_NOT_FOUND', status: 404, name: 'FlowsealApiError' });
});
