/**
 * The test runner (`npm test`) must fail whenever the suite did not really run: no file
 * matched, a test failed, every test skipped, or (under CI=true) anything skipped; and it must
 * close with the counts and every skip's reason. Each case runs the real runner on a few
 * generated test files in a temporary directory (FLOWSEAL_TEST_DIR).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RUNNER = new URL('./test.mjs', import.meta.url).pathname;

function runOn(files: Record<string, string>, env: Record<string, string> = {}, args: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'flowseal-runner-'));
  try {
    for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), `import { test, describe } from 'node:test';\n${body}\n`);
    // NODE_TEST_CONTEXT would make the inner runner think it is nested and run nothing.
    const { CI: _ci, NODE_TEST_CONTEXT: _ctx, ...rest } = process.env;
    const r = spawnSync(process.execPath, [RUNNER, ...args], { encoding: 'utf8', env: { ...rest, FLOWSEAL_TEST_DIR: dir, ...env } });
    return { code: r.status, out: `${r.stdout}\n${r.stderr}`, last: r.stdout.trim().split('\n').at(-1) ?? '' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('passing tests: exit 0 and a closing "N passed, N failed, N skipped" line', () => {
  const r = runOn({ 'a.test.ts': "test('one', () => {}); test('two', () => {});" });
  assert.equal(r.code, 0, r.out);
  assert.equal(r.last, 'tests: 2 passed, 0 failed, 0 skipped');
});

test('a failing test fails the run and is named', () => {
  const r = runOn({ 'a.test.ts': "test('good', () => {}); test('bad one', () => { throw new Error('x'); });" });
  assert.equal(r.code, 1);
  assert.equal(r.last, 'tests: 1 passed, 1 failed, 0 skipped');
  assert.match(r.out, /failed: .*a\.test\.ts: bad one/);
});

test('a file that cannot load fails the run', () => {
  const r = runOn({ 'a.test.ts': "test('good', () => {});", 'b.test.ts': "throw new Error('import-time failure');" });
  assert.equal(r.code, 1, r.out);
  assert.match(r.last, /^tests: 1 passed, 1 failed/);
});

test('no matching file fails the run', () => {
  const r = runOn({ 'a.test.ts': "test('one', () => {});" }, {}, ['no-such-file']);
  assert.equal(r.code, 1);
  assert.match(r.out, /no test file matches "no-such-file"/);
});

test('a run where every test skipped fails: no test ran', () => {
  const r = runOn({ 'a.test.ts': "test('s', { skip: 'tool missing' }, () => {});" });
  assert.equal(r.code, 1);
  assert.match(r.out, /no test ran/);
  assert.equal(r.last, 'tests: 0 passed, 0 failed, 1 skipped');
});

test('skips are listed with their reasons, skipped suites counted; allowed locally, a failure under CI=true', () => {
  const files = {
    'a.test.ts': [
      "test('runs', () => {});",
      "test('needs x', { skip: 'x is not installed' }, () => {});",
      "describe('needs y', { skip: 'y is not installed' }, () => { test('inner', () => {}); });",
    ].join('\n'),
  };
  const local = runOn(files);
  assert.equal(local.code, 0, local.out);
  assert.equal(local.last, 'tests: 1 passed, 0 failed, 2 skipped');
  assert.match(local.out, /skipped test: .*a\.test\.ts: needs x \(x is not installed\)/);
  assert.match(local.out, /skipped suite: .*a\.test\.ts: needs y \(y is not installed\)/);
  const ci = runOn(files, { CI: 'true' });
  assert.equal(ci.code, 1);
  assert.match(ci.out, /2 skipped under CI=true/);
});
