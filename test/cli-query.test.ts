/**
 * `flowseal query` as a user runs it (the real bin/flowseal.mjs as a child process) against the
 * real API over HTTP: each output format compared with the API's own answer, the default time
 * range, record listings, API errors with their exit codes, and the token kept out of every
 * output.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { runFlowseal } from './support/run-flowseal.ts';
import { SAMPLE_FROM, SAMPLE_TO, sampleRows, skipUnlessContract, startTestApi } from './support/api-server.ts';
import type { TestApi } from './support/api-server.ts';

const ROWS = sampleRows();

describe('flowseal query', () => {
  let api: TestApi;
  let token: string;
  let env: Record<string, string>;
  const range = ['--from', SAMPLE_FROM, '--to', SAMPLE_TO];
  /** The API's own answer to a GET, for comparison. */
  const direct = async (path: string, accept = 'text/csv') => {
    const res = await fetch(`${api.url}${path}`, { headers: { Authorization: `Bearer ${token}`, Accept: accept } });
    assert.equal(res.status, 200);
    return res.text();
  };

  before(async () => {
    api = await startTestApi({ config: { rateLimit: { burst: 1000, perMinute: 1000 } } });
    token = await api.token(['datasets:read', 'query', 'records'], 'cli-user');
    env = { FLOWSEAL_TOKEN: token, FLOWSEAL_URL: api.url };
  });
  after(async () => {
    await api?.close();
  });

  test('-s dst_port -o csv is exactly what the API answers for the same top-N', async () => {
    const r = await runFlowseal(['query', '--dataset', 'lab', ...range, '-s', 'dst_port', '-m', 'bytes', '-n', '3', '-o', 'csv'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, await direct(`/v1/datasets/lab/top?from=${SAMPLE_FROM}&to=${SAMPLE_TO}&by=dst_port&metric=bytes&n=3`));
    assert.equal(r.stdout.split('\r\n')[0], 'dst_port,bytes');
  });

  test('table output: aligned columns on stdout, stats on stderr', async () => {
    const r = await runFlowseal(['query', '--url', api.url, '-d', 'lab', ...range, '-s', 'protocol', '-m', 'flows'], { env: { FLOWSEAL_TOKEN: token } });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^protocol +flows$/);
    const counts = new Map<number, number>();
    for (const row of ROWS) counts.set(row.protocol!, (counts.get(row.protocol!) ?? 0) + 1);
    const want = [...counts].sort((a, b) => b[1] - a[1]);
    assert.deepEqual(lines.slice(1).map((l) => l.trim().split(/ +/).map(Number)), want);
    assert.equal(new Set(lines.map((l) => l.length)).size, 1, 'every line as wide as the header');
    assert.match(r.stderr, /^# 3 rows · \d+ ms/m);
  });

  test('json and ndjson outputs carry the same rows as the API', async () => {
    const json = await runFlowseal(['query', '-d', 'lab', ...range, '--bucket', '1h', '-m', 'flows', '-o', 'json'], { env });
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout);
    const api1 = JSON.parse(await direct(`/v1/datasets/lab/timeseries?from=${SAMPLE_FROM}&to=${SAMPLE_TO}&bucket=1h&metric=flows`, 'application/json'));
    assert.deepEqual(parsed.columns, api1.columns);
    assert.deepEqual(parsed.rows, api1.rows);
    assert.equal(parsed.rows.reduce((n: number, r: [string, number]) => n + r[1], 0), ROWS.length);
    const nd = await runFlowseal(['query', '-d', 'lab', ...range, '--bucket', '1h', '-m', 'flows', '-o', 'ndjson'], { env });
    assert.equal(nd.code, 0, nd.stderr);
    assert.deepEqual(nd.stdout.trim().split('\n').map((l) => JSON.parse(l)), api1.rows.map(([time_bucket, flows]: [string, number]) => ({ time_bucket, flows })));
  });

  test('without --from/--to the query covers the whole dataset', async () => {
    const r = await runFlowseal(['query', '-d', 'lab', '-m', 'flows,packets', '-o', 'csv'], { env });
    assert.equal(r.code, 0, r.stderr);
    const packets = ROWS.reduce((n, x) => n + x.packets_fwd! + x.packets_rev!, 0);
    assert.equal(r.stdout, `flows,packets\r\n${ROWS.length},${packets}\r\n`);
  });

  test('--records lists flows as CSV, capped by -n, with --select and --order', async () => {
    const r = await runFlowseal(['query', '-d', 'lab', ...range, '--records', '--select', 'dst_port,bytes_fwd', '--order', '-bytes_fwd', '-n', '4', '-o', 'csv'], { env });
    assert.equal(r.code, 0, r.stderr);
    const want = [...ROWS].sort((a, b) => b.bytes_fwd! - a.bytes_fwd!).slice(0, 4).map((x) => `${x.dst_port},${x.bytes_fwd}`);
    assert.equal(r.stdout, ['dst_port,bytes_fwd', ...want, ''].join('\r\n'));
  });

  test('--records follows the cursor past one page', { skip: skipUnlessContract('cursor', 'record cursors (stats.nextCursor)') }, async () => {
    const small = await startTestApi({ config: { limits: { maxRecordRows: 9 } } });
    try {
      const t = await small.token(['query', 'records']);
      const r = await runFlowseal(['query', '--url', small.url, '-d', 'lab', ...range, '--records', '--select', 'time_start,src_port', '--order', 'time_start,src_port', '-n', '30', '-o', 'ndjson'], { env: { FLOWSEAL_TOKEN: t } });
      assert.equal(r.code, 0, r.stderr);
      const got = r.stdout.trim().split('\n').map((l) => JSON.parse(l).src_port);
      const want = [...ROWS].sort((a, b) => Date.parse(a.time_start) - Date.parse(b.time_start) || a.src_port! - b.src_port!).slice(0, 30).map((x) => x.src_port);
      assert.deepEqual(got, want);
    } finally {
      await small.close();
    }
  });

  test('an nfdump filter string reaches the server; its syntax error is shown with a caret', { skip: skipUnlessContract('stringFilter', 'nfdump-style filter strings') }, async () => {
    const ok = await runFlowseal(['query', '-d', 'lab', ...range, '--filter', 'proto udp', '-m', 'flows', '-o', 'csv'], { env });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, `flows\r\n${ROWS.filter((x) => x.protocol === 17).length}\r\n`);
    const filter = 'proto tcp and dst prot 443';
    const bad = await runFlowseal(['query', '-d', 'lab', ...range, '--filter', filter], { env });
    assert.equal(bad.code, 2);
    const lines = bad.stderr.split('\n');
    assert.match(lines[0]!, /^error ERR_QUERY_FILTER_SYNTAX: /);
    assert.equal(lines[1], `  ${filter}`);
    const caret = lines[2]!.indexOf('^') - 2;
    assert.ok(caret >= 'proto tcp and dst '.length && caret <= 'proto tcp and dst prot'.length, `caret under the bad word (at ${caret})`);
  });

  test('relative times are passed to the server', { skip: skipUnlessContract('relativeTimes', 'relative times (-1h, now)') }, async () => {
    const r = await runFlowseal(['query', '-d', 'lab', '--from', '-1h', '-m', 'flows', '-o', 'csv'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^flows\r\n/);
  });

  test('API errors: error CODE: message on stderr, exit 2 for 4xx', async () => {
    const missing = await runFlowseal(['query', '-d', 'nope', ...range], { env });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error ERR_DATASET_NOT_FOUND: no such dataset\n/);
    assert.equal(missing.stdout, '');
    const aggregateOnly = await api.token(['query']);
    const forbidden = await runFlowseal(['query', '-d', 'lab', ...range, '--records'], { env: { ...env, FLOWSEAL_TOKEN: aggregateOnly } });
    assert.equal(forbidden.code, 2);
    assert.match(forbidden.stderr, /^error ERR_FORBIDDEN: /);
    const badMetric = await runFlowseal(['query', '-d', 'lab', ...range, '-m', 'bytez'], { env });
    assert.equal(badMetric.code, 2);
    assert.match(badMetric.stderr, /^error ERR_QUERY_INVALID: .*metrics/);
  });

  test('no server there: exit 1 naming the API, never the token', async () => {
    // A port that was just free: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const r = await runFlowseal(['query', '--url', `http://127.0.0.1:${port}`, '-d', 'lab', ...range], { env: { FLOWSEAL_TOKEN: token } });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: cannot reach the API at http://127.0.0.1:${port} (ECONNREFUSED): fetch failed\n`);
  });

  test('the token never appears in any output, from --token-file or --token', async () => {
    const file = join(api.dir, 'tok.txt');
    writeFileSync(file, `${token}\n`);
    const runs = [
      await runFlowseal(['query', '--url', api.url, '--token-file', file, '-d', 'lab', ...range, '-s', 'dst_port']),
      await runFlowseal(['query', '--url', api.url, '--token', token, '-d', 'nope', ...range]),
      await runFlowseal(['query', '--url', api.url, '--token', `${token}x`, '-d', 'lab', ...range]),
    ];
    assert.equal(runs[0]!.code, 0, runs[0]!.stderr);
    assert.equal(runs[1]!.code, 2);
    assert.equal(runs[2]!.code, 2, 'a refused token is a 4xx');
    assert.match(runs[2]!.stderr, /ERR_AUTH_INVALID/);
    const sig = token.split('.')[2]!;
    for (const r of runs) assert.ok(!r.stdout.includes(sig) && !r.stderr.includes(sig), 'no part of the token is printed');
  });

  test('usage errors exit 2 before any request', async () => {
    const r = await runFlowseal(['query', '-d', 'lab', '--records', '-s', 'dst_port'], { env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--stat aggregates: it cannot be combined with --records/);
    const noDataset = await runFlowseal(['query'], { env });
    assert.equal(noDataset.code, 2);
    assert.match(noDataset.stderr, /--dataset is required/);
  });
});
