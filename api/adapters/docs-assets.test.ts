/**
 * The API reference bundle is found in node_modules and read whole at startup — on Node, and
 * by the same module under Bun and Deno (their adapters reuse `buildAppFromFiles`) — and a
 * missing one leaves `/docs` off with a log line instead of failing startup.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { DOCS_SCRIPT_SPECIFIER, loadDocsAssets } from './docs-assets.ts';
import { REPO_ROOT, localBin } from '../../test/cross-runtime/server-process.ts';
import { skipUnlessNpmBin } from '../../test/support/required-tools.ts';

const quiet = { info: () => {}, error: () => {} };
const bundlePath = createRequire(import.meta.url).resolve(DOCS_SCRIPT_SPECIFIER);

test('Node: the whole standalone bundle of the installed redoc package', async () => {
  const assets = await loadDocsAssets(quiet);
  assert.ok(assets);
  const expected = readFileSync(bundlePath);
  assert.ok(expected.length > 1_000_000, `the standalone bundle is ${expected.length} bytes`);
  assert.ok(Buffer.from(assets.scriptJs).equals(expected));
  const pkg = JSON.parse(readFileSync(new URL('../../node_modules/redoc/package.json', import.meta.url), 'utf8')) as { version: string };
  assert.match(pkg.version, /^3\./, 'the page is written for Redoc 3 (the <redoc> element and its attributes)');
});

test('a bundle that cannot be found: undefined, and one log line naming it', async () => {
  const errors: { message: string; fields: Record<string, unknown> | undefined }[] = [];
  const assets = await loadDocsAssets({ info: () => {}, error: (message, fields) => void errors.push({ message, fields }) }, 'redoc/bundles/no-such-bundle.js');
  assert.equal(assets, undefined);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /GET \/docs answers 404/);
  assert.equal(errors[0]!.fields?.specifier, 'redoc/bundles/no-such-bundle.js');
});

const PROBE = "import { loadDocsAssets } from './api/adapters/docs-assets.ts'; const a = await loadDocsAssets({ info() {}, error(m) { console.error(m); } }); console.log(a ? a.scriptJs.length : -1);";
const size = () => String(readFileSync(bundlePath).length);

test('Bun reads the same bundle', { skip: skipUnlessNpmBin('bun', localBin('bun')) }, () => {
  const r = spawnSync(localBin('bun')!, ['-e', PROBE], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.stdout.trim(), size(), r.stderr);
});

test('Deno reads the same bundle', { skip: skipUnlessNpmBin('deno', localBin('deno')) }, () => {
  const r = spawnSync(localBin('deno')!, ['eval', '--ext=ts', PROBE], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(r.stdout.trim(), size(), r.stderr);
});
