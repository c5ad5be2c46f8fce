#!/usr/bin/env node
// Test entry point (`npm test`, called by .ci/run): type-checks, then runs every *.test.ts file
// with Node's built-in test runner under tsx. Pass file paths or substrings to run a subset.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const roots = ['schemas', 'api', 'ingest', 'sealed-processor', 'test', 'bin'];
const skipDirs = new Set(['node_modules', '.tmp', 'fixtures']);

function walk(dir, out) {
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries) {
    if (skipDirs.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

const filters = process.argv.slice(2);
let files = roots.flatMap((r) => walk(join(root, r), [])).sort();
if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));

if (!filters.length && !process.env.FLOWSEAL_SKIP_TYPECHECK) {
  const tsc = spawnSync('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit'], { cwd: root, stdio: 'inherit' });
  if (tsc.status !== 0) {
    console.error('typecheck failed');
    process.exit(tsc.status ?? 1);
  }
}

const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, NODE_ENV: 'test' },
});
process.exit(run.status ?? 1);
