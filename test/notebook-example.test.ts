/**
 * examples/notebook.py (requests + pandas) run for real against the real API: it must print
 * the DataFrame's dtypes — integers as Int64, times as datetime64[ns, UTC] — and rows equal to
 * the API's own answer to the same query. Skipped with a reason when no Python with pandas and
 * requests is found (and failing instead under CI=true, where .ci/setup-system.sh installs
 * python3-pandas and python3-requests).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { inCi } from './support/required-tools.ts';
import { SAMPLE_FROM, SAMPLE_TO, startTestApi } from './support/api-server.ts';
import type { TestApi } from './support/api-server.ts';

const SCRIPT = fileURLToPath(new URL('../examples/notebook.py', import.meta.url));

/**
 * The first interpreter that imports pandas and requests: $FLOWSEAL_PYTHON, `python3` on the
 * PATH, then Debian's /usr/bin/python3 (where python3-pandas installs, even when a pyenv or
 * virtualenv python3 comes first on the PATH).
 */
function findPython(): string | null {
  const candidates = [process.env.FLOWSEAL_PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string => !!c);
  for (const c of candidates) {
    if (spawnSync(c, ['-c', 'import pandas, requests'], { stdio: 'ignore', timeout: 60_000 }).status === 0) return c;
  }
  return null;
}

const PYTHON = findPython();
if (PYTHON === null && inCi()) throw new Error('CI=true but no python3 with pandas and requests: .ci/setup-system.sh must install python3-pandas and python3-requests');
const skip = PYTHON === null ? 'no python3 with pandas and requests [apt: python3-pandas python3-requests]; .ci/setup-system.sh installs them' : false;

function run(cmd: string, args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

let api: TestApi;
before(async () => {
  if (skip) return;
  api = await startTestApi();
});
after(async () => {
  await api?.close();
});

test('examples/notebook.py: typed DataFrame equal to the API answer', { skip }, async () => {
  const token = await api.token(['query']);
  const r = await run(PYTHON!, [SCRIPT], { FLOWSEAL_URL: api.url, FLOWSEAL_TOKEN: token, FLOWSEAL_DATASET: 'lab', FLOWSEAL_FROM: SAMPLE_FROM, FLOWSEAL_TO: SAMPLE_TO, PYTHONWARNINGS: 'error::FutureWarning' });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stderr.includes(token) && !r.stdout.includes(token));
  const [dtypeText, csv] = r.stdout.split('\n---\n');
  const dtypes = Object.fromEntries(dtypeText!.trim().split('\n').map((l) => l.trim().split(/\s{2,}/) as [string, string]));
  assert.deepEqual(dtypes, { time_bucket: 'datetime64[ns, UTC]', flows: 'Int64', packets: 'Int64', bytes: 'Int64', duration_avg_ms: 'float64' });

  // The same query straight from the API.
  const body = {
    dataset: 'lab',
    groupBy: [{ timeBucket: '1h' }],
    timeRange: { from: SAMPLE_FROM, to: SAMPLE_TO },
    metrics: ['flows', 'packets', 'bytes', 'duration_avg_ms'],
    orderBy: [{ by: 'time_bucket', dir: 'asc' }],
  };
  const res = await fetch(`${api.url}/v1/query`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200);
  const want = (await res.json()) as { columns: { name: string }[]; rows: [string, number, number, number, number][] };
  const lines = csv!.trim().split('\n');
  assert.equal(lines[0], want.columns.map((c) => c.name).join(','));
  const got = lines.slice(1).map((l) => l.split(','));
  assert.ok(want.rows.length >= 3, 'one row per hour of the fixture');
  assert.equal(got.length, want.rows.length);
  got.forEach((g, i) => {
    const w = want.rows[i]!;
    assert.match(g[0]!, /\+00:00$/, 'times in UTC');
    assert.equal(Date.parse(g[0]!.replace(' ', 'T')), Date.parse(w[0]), `row ${i} time_bucket`);
    assert.deepEqual(g.slice(1, 4).map(Number), w.slice(1, 4), `row ${i} integers`);
    assert.ok(Math.abs(Number(g[4]) - w[4]) <= 1e-9 * Math.abs(w[4]), `row ${i} duration`);
  });
});
