#!/usr/bin/env node
// Test entry point (`npm test`, called by .ci/run): type-checks, then runs every *.test.ts file
// with Node's built-in test runner under tsx, and closes with the counts of passed, failed and
// skipped tests and every skip with its reason. Pass file paths or substrings to run a subset.
//
// It fails (exit 1) when a test fails, when the runner fails, when no test file matches, and
// when no test ran at all. Under CI=true it also fails on any skipped or todo test: .ci/run
// installs every tool the suite needs, so a skip there means a layer of the suite went
// untested (a skipped suite counts too, although Node's own summary leaves it out).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const roots = ['schemas', 'api', 'ingest', 'sealed-processor', 'client', 'test', 'bin', 'scripts', 'bench'];
const skipDirs = new Set(['node_modules', '.tmp', 'fixtures']);
const inCi = process.env.CI === 'true';

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
// FLOWSEAL_TEST_DIR (absolute) replaces the source roots: the runner's own test uses it.
const testDir = process.env.FLOWSEAL_TEST_DIR;
let files = (testDir ? walk(testDir, []) : roots.flatMap((r) => walk(join(root, r), []))).sort();
if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error(`no test file matches ${filters.length ? filters.map((f) => JSON.stringify(f)).join(', ') : '(no filter)'}`);
  process.exit(1);
}

if (!filters.length && !testDir && !process.env.FLOWSEAL_SKIP_TYPECHECK) {
  const tsc = spawnSync('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit'], { cwd: root, stdio: 'inherit' });
  if (tsc.status !== 0) {
    console.error('typecheck failed');
    process.exit(tsc.status ?? 1);
  }
}

const outDir = mkdtempSync(join(tmpdir(), 'flowseal-test-run-'));
const outcomesPath = join(outDir, 'outcomes.ndjson');
const concurrency = Number(process.env.FLOWSEAL_TEST_CONCURRENCY ?? availableParallelism());
const run = spawnSync(
  process.execPath,
  [
    '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`,
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    `--test-reporter=${join(root, 'scripts', 'test-summary-reporter.mjs')}`, `--test-reporter-destination=${outcomesPath}`,
    ...files,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);

let outcomes = [];
try {
  outcomes = readFileSync(outcomesPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
} catch (err) {
  console.error(`test run left no outcomes (${err.code ?? err.message})`);
}
rmSync(outDir, { recursive: true, force: true });

const where = (o) => `${o.file ? relative(root, o.file) : '?'}: ${o.name}`;
const tests = outcomes.filter((o) => o.kind === 'test');
const skipped = outcomes.filter((o) => o.skip !== null);
const todo = outcomes.filter((o) => o.todo !== null && o.skip === null);
const failed = tests.filter((o) => o.outcome === 'fail' && o.todo === null);
const passed = tests.filter((o) => o.outcome === 'pass' && o.skip === null && o.todo === null);

for (const o of skipped) console.log(`skipped ${o.kind}: ${where(o)} (${o.skip})`);
for (const o of todo) console.log(`todo ${o.kind}: ${where(o)} (${o.todo})`);
for (const o of failed) console.log(`failed: ${where(o)}`);

const problems = [];
if (run.status !== 0) problems.push(`the test runner exited with ${run.status ?? run.signal}`);
if (failed.length) problems.push(`${failed.length} failed`);
if (passed.length === 0) problems.push('no test ran');
if (inCi && skipped.length) problems.push(`${skipped.length} skipped under CI=true (CI installs every tool: a skip means an untested layer)`);
if (inCi && todo.length) problems.push(`${todo.length} todo under CI=true`);
if (problems.length) console.error(`test run failed: ${problems.join('; ')}`);
console.log(`${files.length} files, ${todo.length} todo`);
console.log(`tests: ${passed.length} passed, ${failed.length} failed, ${skipped.length} skipped`);
process.exit(problems.length ? 1 : 0);
