/**
 * The tool gate itself: every tool a test may require is installed by .ci/setup-system.sh and
 * verified there with the same probe, and a missing tool skips locally but throws under
 * CI=true (checked in a child process whose PATH holds no tools).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { REQUIRED_TOOLS } from './required-tools.ts';

const SETUP = readFileSync(new URL('../../.ci/setup-system.sh', import.meta.url), 'utf8');

test('.ci/setup-system.sh installs and verifies every required tool', () => {
  const packages = /PACKAGES=\(([\s\S]*?)\n\)/.exec(SETUP)?.[1] ?? '';
  const listed = new Set(packages.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean));
  for (const [name, tool] of Object.entries(REQUIRED_TOOLS)) {
    assert.ok(listed.has(tool.apt), `${name}: package ${tool.apt} is in PACKAGES`);
    assert.ok(SETUP.includes(`"${tool.probe.join(' ')}"`), `${name}: setup-system.sh verifies it with \`${tool.probe.join(' ')}\``);
  }
});

function gate(env: Record<string, string>, tools: string[] = ['tshark', 'tcpdump']) {
  const code = `import { skipUnlessTools } from './test/support/required-tools.ts'; console.log(JSON.stringify(skipUnlessTools(${tools.map((t) => `'${t}'`).join(', ')})));`;
  const { CI: _ci, ...rest } = process.env;
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: new URL('../..', import.meta.url).pathname,
    encoding: 'utf8',
    env: { ...rest, PATH: '/nonexistent', ...env },
  });
}

test('a missing tool is a skip with a reason locally and an error under CI=true', () => {
  const local = gate({});
  assert.equal(local.status, 0, local.stderr);
  const reason = JSON.parse(local.stdout) as string;
  assert.match(reason, /tshark .*\[apt: tshark\].*tcpdump \[apt: tcpdump\]/);
  const ci = gate({ CI: 'true' });
  assert.notEqual(ci.status, 0);
  assert.match(ci.stderr, /CI=true but the suite's required tools are missing: tshark/);
  for (const one of ['tshark', 'editcap', 'capture-on-lo']) {
    const single = gate({ CI: 'true' }, [one]);
    assert.notEqual(single.status, 0, `${one} alone missing under CI=true fails too`);
    assert.match(single.stderr, /CI=true but the suite's required tools are missing/);
  }
});
