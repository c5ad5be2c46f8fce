/**
 * No authorized user can stall the API for others (issue 6 §2), under real concurrency against
 * a real server: `flowseal serve` as a child process on 127.0.0.1 over a 1 M-flow archive
 * (test/support/make-volume-archive.ts), DuckDB memory_limit 256 MB, the default admission,
 * rate-limit and DuckDB thread settings, a 5 s query deadline. Ten subjects send ten legal but expensive
 * queries each, all at once (per-source /32 groupings with two quantiles, and wide `or` filters
 * of 256 CIDRs on both sides); then an eleventh subject sends one small query. Asserted, measured
 * client side: the small query is answered 200 within 2 s; no request takes longer than its
 * deadline + 1 s; every refusal (429/503) carries `Retry-After`; and the server's peak RSS
 * (VmHWM, /proc) stays under memory_limit + 300 MB. Every wait is bounded (each fetch aborts
 * at deadline + 10 s), so on a server without admission control the test fails instead of
 * hanging.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { makeVolumeArchive } from './support/make-volume-archive.ts';
import { loadOrCreateDevIssuer } from '../api/adapters/dev-issuer-files.ts';
import type { DevIssuer } from '../api/auth/dev-issuer.ts';
import { startServer } from './cross-runtime/server-process.ts';
import type { ServerProcess } from './cross-runtime/server-process.ts';

const DEADLINE_MS = 5_000;
const MEMORY_LIMIT_MB = 256;
/** The stated bound on the server's peak RSS. */
const RSS_BOUND_MB = MEMORY_LIMIT_MB + 300;
const SMALL_WITHIN_MS = 2_000;
const DAY = { from: '2026-04-01T00:00:00Z', to: '2026-04-02T00:00:00Z' };

let root: string;
let server: ServerProcess;
let issuer: DevIssuer;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'flowseal-load-'));
  const archiveDir = join(root, 'archive');
  await makeVolumeArchive(archiveDir, { dataset: 'vol', flows: 1_000_000, start: '2026-04-01T00:00:00Z', hours: 24 });
  issuer = await loadOrCreateDevIssuer(join(root, 'dev-issuer'));
  const configPath = join(root, 'api.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      host: '127.0.0.1',
      issuers: [{ issuer: issuer.issuer, audience: issuer.audience, algorithms: ['ES256'], jwks: issuer.jwks }],
      limits: { queryTimeoutMs: DEADLINE_MS },
      duckdb: { memoryLimit: `${MEMORY_LIMIT_MB}MB` },
      auditLogPath: join(root, 'audit.ndjson'),
    }),
  );
  server = await startServer({
    command: process.execPath,
    args: ['bin/flowseal.mjs', 'serve', '--archive', archiveDir, '--config', configPath, '--host', '127.0.0.1', '--port', '0'],
    env: { FLOWSEAL_DEV_ISSUER_DIR: join(root, 'dev-issuer') },
  });
});

after(async () => {
  try {
    await server?.stop();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

interface Outcome {
  readonly status: number;
  readonly ms: number;
  readonly code: string | null;
  readonly retryAfter: string | null;
}

/**
 * Sends one query (`body` already JSON text) over node:http — a lighter client than `fetch`, so
 * a burst of a hundred reaches the server sooner on a busy machine — and times it from the call
 * to the end of the answer. Gives up (status 0) at deadline + 10 s.
 */
function postQuery(token: string, body: string): Promise<Outcome> {
  const started = performance.now();
  const url = new URL('/v1/query', server.url);
  return new Promise((resolve) => {
    const done = (status: number, code: string | null, retryAfter: string | null) => resolve({ status, ms: performance.now() - started, code, retryAfter });
    const req = request(
      url,
      { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }, signal: AbortSignal.timeout(DEADLINE_MS + 10_000) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => done(0, err.name, null));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          const code = status === 200 ? null : ((JSON.parse(text) as { error?: { code?: string } }).error?.code ?? null);
          const retry = res.headers['retry-after'];
          done(status, code, typeof retry === 'string' ? retry : null);
        });
      },
    );
    req.on('error', (err) => done(0, err.name, null));
    req.end(body);
  });
}

/** Four `or` branches of 64 /24s on both sides (`net`): 4 × 64 × 2 = 512 CIDR comparisons a row. */
function wideOr(seed: number): unknown {
  const branch = (k: number) => ({ net: Array.from({ length: 64 }, (_, i) => `10.${(i + 31 * (k + seed)) % 256}.${(7 * i) % 256}.0/24`) });
  return { dataset: 'vol', timeRange: DAY, groupBy: [], metrics: ['flows'], filter: { or: Array.from({ length: 4 }, (_, k) => branch(k)) } };
}

const perSourceQuantiles = { dataset: 'vol', timeRange: DAY, groupBy: [{ column: 'src_addr', prefixV4: 32 }], metrics: ['flows', 'bytes_p50', 'bytes_p95'] };
const small = { dataset: 'vol', timeRange: { from: '2026-04-01T10:00:00Z', to: '2026-04-01T11:00:00Z' }, groupBy: ['protocol'], metrics: ['flows'], filter: { srcNet: '10.1.0.0/16' } };

function peakRssMb(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(kb, 'VmHWM readable');
  return Number(kb[1]) / 1024;
}

test('100 parallel expensive queries from 10 subjects: a different subject is answered in 2 s, deadlines hold, RSS stays bounded', async () => {
  const tokens = await Promise.all(Array.from({ length: 11 }, (_, i) => issuer.signToken(`load-user-${i}`, ['datasets:read', 'query'], 600)));
  const warm = await fetch(`${server.url}/v1/datasets`, { headers: { Authorization: `Bearer ${tokens[10]}` } });
  assert.equal(warm.status, 200, 'server up, listing cached');

  const bodies = Array.from({ length: 100 }, (_, i) => JSON.stringify(i % 2 === 0 ? perSourceQuantiles : wideOr(i)));
  const expensive = bodies.map((body, i) => postQuery(tokens[i % 10], body));
  await new Promise((r) => setTimeout(r, 250));
  const smallOutcome = await postQuery(tokens[10], JSON.stringify(small));
  const outcomes = await Promise.all(expensive);
  const peak = peakRssMb(server.pid);

  const summary = JSON.stringify({
    small: smallOutcome,
    byStatus: Object.fromEntries([...new Set(outcomes.map((o) => `${o.status} ${o.code ?? ''}`))].map((k) => [k, outcomes.filter((o) => `${o.status} ${o.code ?? ''}` === k).length])),
    slowestMs: Object.fromEntries([...new Set(outcomes.map((o) => o.status))].map((st) => [st, Math.round(Math.max(...outcomes.filter((o) => o.status === st).map((o) => o.ms)))])),
    peakRssMb: Math.round(peak),
  });
  assert.equal(smallOutcome.status, 200, `the small query is answered: ${summary}`);
  assert.ok(smallOutcome.ms <= SMALL_WITHIN_MS, `the small query within ${SMALL_WITHIN_MS} ms: ${summary}`);
  for (const o of [...outcomes, smallOutcome]) {
    assert.ok(o.ms <= DEADLINE_MS + 1_000, `no request outlives its deadline by more than 1 s: ${summary}`);
    assert.ok([200, 429, 503, 504].includes(o.status), `answered with a result or a stable refusal: ${summary}`);
    if (o.status === 429 || o.status === 503) assert.ok(Number(o.retryAfter) >= 1, `refusals carry Retry-After: ${summary}`);
    if (o.status === 504) assert.equal(o.code, 'ERR_QUERY_TIMEOUT');
  }
  assert.ok(outcomes.some((o) => o.status === 200 || o.status === 504), `some expensive queries were admitted (answered, or stopped at their deadline): ${summary}`);
  assert.ok(outcomes.some((o) => o.status === 429 || o.status === 503), `the bounded queue refused the excess at once: ${summary}`);
  assert.ok(peak < RSS_BOUND_MB, `peak RSS ${Math.round(peak)} MB under ${RSS_BOUND_MB} MB: ${summary}`);

  const after = await postQuery(tokens[10], JSON.stringify(small));
  assert.equal(after.status, 200, 'the server answers normally afterwards');
  console.log(`admission load: ${summary}`);
});
