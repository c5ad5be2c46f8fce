/**
 * Runs the shared HTTP suite (suite.ts) against the API served by each runtime as a child
 * process on 127.0.0.1 with a free port — Node (`flowseal serve`), Bun and Deno (their
 * adapters, from the `bun`/`deno` devDependencies) — and against the Workers edge gateway run
 * by `wrangler dev` (workerd, local) in front of the Node origin. Also checks that each server
 * stops cleanly on SIGTERM, that `wrangler deploy --dry-run` bundles the Worker without DuckDB,
 * and that `deno check` accepts the adapters. A runtime whose binary is missing is skipped
 * with a message saying so.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SUITE_CHECKS } from './suite.ts';
import type { SuiteTarget } from './suite.ts';
import { writeSuiteFixture } from './fixture.ts';
import type { SuiteFixture } from './fixture.ts';
import { REPO_ROOT, freePort, localBin, startServer } from './server-process.ts';
import type { ServerProcess } from './server-process.ts';
import { skipUnlessNpmBin } from '../support/required-tools.ts';

const root = mkdtempSync(join(tmpdir(), 'flowseal-xrt-'));
let fixture: SuiteFixture;
const ready = (async () => {
  fixture = await writeSuiteFixture(root);
})();

const bun = localBin('bun');
const deno = localBin('deno');
const wrangler = localBin('wrangler');
const DENO_PERMISSIONS = ['--allow-read', '--allow-write', '--allow-net=127.0.0.1', '--allow-env', '--allow-ffi'];

function target(name: string, server: () => ServerProcess): SuiteTarget {
  return {
    name,
    get baseUrl() {
      return server().url;
    },
    mintToken: (sub, scopes, ttlSec) => fixture.issuer.signToken(sub, scopes, ttlSec),
  };
}

/** Declares a describe block that starts a server, runs every suite check, and stops it cleanly. */
function runtimeSuite(name: string, skip: string | false, start: () => Promise<ServerProcess>): void {
  describe(name, { skip }, () => {
    let server: ServerProcess | undefined;
    before(async () => {
      await ready;
      server = await start();
    });
    after(async () => {
      if (!server) return;
      const code = await server.stop();
      assert.equal(code, 0, `${name} exits 0 on SIGTERM\n${server.output().slice(-2000)}`);
    });
    for (const check of SUITE_CHECKS) {
      test(check.name, () => check.run(target(name, () => server as ServerProcess)));
    }
  });
}

// One Node origin serves the Node suite and sits behind the edge gateway.
let origin: ServerProcess | undefined;
async function nodeOrigin(): Promise<ServerProcess> {
  await ready;
  origin ??= await startServer({
    command: process.execPath,
    args: ['bin/flowseal.mjs', 'serve', '--archive', fixture.archiveDir, '--config', fixture.configPath, '--host', '127.0.0.1', '--port', '0'],
    env: { FLOWSEAL_DEV_ISSUER_DIR: fixture.devIssuerDir },
  });
  return origin;
}

after(async () => {
  try {
    if (origin) {
      const code = await origin.stop();
      assert.equal(code, 0, `node origin exits 0 on SIGTERM\n${origin.output().slice(-2000)}`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

describe('node (flowseal serve)', () => {
  before(nodeOrigin);
  for (const check of SUITE_CHECKS) {
    test(check.name, () => check.run(target('node', () => origin as ServerProcess)));
  }
});

function adapterArgs(runtime: string): string[] {
  return ['--archive', fixture.archiveDir, '--config', fixture.configPath, '--host', '127.0.0.1', '--port', '0', '--dev-issuer', fixture.devIssuerDir, '--audit-log', join(root, 'audit', `${runtime}.ndjson`)];
}

runtimeSuite('bun (api/adapters/bun.ts)', skipUnlessNpmBin('bun', bun), () =>
  startServer({ command: bun as string, args: ['api/adapters/bun.ts', ...adapterArgs('bun')] }),
);

runtimeSuite('deno (api/adapters/deno.ts)', skipUnlessNpmBin('deno', deno), () =>
  startServer({ command: deno as string, args: ['run', ...DENO_PERMISSIONS, 'api/adapters/deno.ts', ...adapterArgs('deno')] }),
);

/** A wrangler config in the temp dir (so `.wrangler/` state stays out of the repo), main pointing at the repo's Worker. */
function tempWranglerConfig(): string {
  const text = readFileSync(join(REPO_ROOT, 'wrangler.toml'), 'utf8').replace(/^main = .*$/m, `main = ${JSON.stringify(join(REPO_ROOT, 'api/adapters/worker.ts'))}`);
  const dir = mkdtempSync(join(root, 'wrangler-'));
  const path = join(dir, 'wrangler.toml');
  writeFileSync(path, text);
  return path;
}

const WRANGLER_ENV = { WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1' };
const noWrangler = skipUnlessNpmBin('wrangler', wrangler);

runtimeSuite('edge gateway (wrangler dev, workerd) → node origin', noWrangler, async () => {
  const upstream = await nodeOrigin();
  // A port picked free can be taken by a parallel test before workerd binds it: retry.
  for (let attempt = 1; ; attempt++) {
    const [port, inspector] = [await freePort(), await freePort()];
    try {
      return await startServer({
        command: wrangler as string,
        args: [
          'dev', '--config', tempWranglerConfig(), '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector),
          '--var', `ORIGIN_URL:${upstream.url}`, '--var', `FLOWSEAL_CONFIG:${fixture.edgeConfigJson}`,
        ],
        env: { ...WRANGLER_ENV, WRANGLER_LOG_PATH: join(root, 'wrangler-logs') },
        timeoutMs: 30_000,
      });
    } catch (e) {
      if (attempt >= 3 || !/Address already in use/.test(String((e as Error).message))) throw e;
    }
  }
});

test('wrangler deploy --dry-run bundles the Worker offline, without DuckDB', { skip: noWrangler }, () => {
  const outdir = join(root, 'dist');
  const run = spawnSync(wrangler as string, ['deploy', '--dry-run', '--outdir', outdir, '--config', tempWranglerConfig()], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...WRANGLER_ENV, WRANGLER_LOG_PATH: join(root, 'wrangler-logs') },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  const bundle = readFileSync(join(outdir, 'worker.js'), 'utf8');
  assert.ok(bundle.includes('X-Edge-Request-Id'), 'the bundle is the edge gateway');
  for (const banned of ['@duckdb/node-api', 'DuckDBInstance', 'node:fs', 'node:child_process']) {
    assert.ok(!bundle.includes(banned), `the Worker bundle must not contain ${banned}`);
  }
});

test('deno check accepts the Deno, Bun and Worker adapters', { skip: skipUnlessNpmBin('deno', deno) }, () => {
  const run = spawnSync(deno as string, ['check', 'api/adapters/deno.ts', 'api/adapters/bun.ts', 'api/adapters/worker.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, NO_COLOR: '1' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
});
