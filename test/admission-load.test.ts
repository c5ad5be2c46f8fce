/**
 * No authorized user can stall the API for others (issue 6 §2), under real concurrency against
 * a real server: `flowseal serve` as a child process on 127.0.0.1 over a 1 M-flow archive
 * (test/support/make-volume-archive.ts), DuckDB memory_limit 256 MB, the default admission
 * and rate-limit settings, a 5 s query deadline. Ten subjects send ten legal but expensive
 * queries each, all at once (per-source /32 groupings with two quantiles, and wide `or` filters
 * of 4 096 CIDR terms); then an eleventh subject sends one small query. Asserted, measured
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
      duckdb: { memoryLimit: `${MEMORY_LIMIT_MB}MB`, threads: 2 },
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

async function postQuery(token: string, body: unknown): Promise<Outcome> {
  const started = performance.now();
  try {
    const res = await fetch(`${server.url}/v1/query`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(DEADLINE_MS + 10_000),
    });
    const text = await res.text();
    const code = res.ok ? null : ((JSON.parse(text) as { error?: { code?: string } }).error?.code ?? null);
    return { status: res.status, ms: performance.now() - started, code, retryAfter: res.headers.get('retry-after') };
  } catch (err) {
    return { status: 0, ms: performance.now() - started, code: (err as Error).name, retryAfter: null };
  }
}

/** 256 /24s per `or` branch, on both sides (`net`): 8 × 256 × 2 = 4 096 CIDR comparisons. */
function wideOr(seed: number): unknown {
  const branch = (k: number) => ({ net: Array.from({ length: 256 }, (_, i) => `10.${(i + 31 * (k + seed)) % 256}.${(7 * i) % 256}.0/24`) });
  return { dataset: 'vol', timeRange: DAY, groupBy: [], metrics: ['flows'], filter: { or: Array.from({ length: 8 }, (_, k) => branch(k)) } };
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

  const expensive = Array.from({ length: 100 }, (_, i) => postQuery(tokens[i % 10], i % 2 === 0 ? perSourceQuantiles : wideOr(i)));
  await new Promise((r) => setTimeout(r, 250));
  const smallOutcome = await postQuery(tokens[10], small);
  const outcomes = await Promise.all(expensive);
  const peak = peakRssMb(server.pid);

  const summary = JSON.stringify({
    small: smallOutcome,
    byStatus: Object.fromEntries([...new Set(outcomes.map((o) => `${o.status} ${o.code ?? ''}`))].map((k) => [k, outcomes.filter((o) => `${o.status} ${o.code ?? ''}` === k).length])),
    slowestMs: Math.round(Math.max(...outcomes.map((o) => o.ms))),
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
  assert.ok(outcomes.some((o) => o.status === 200), `some expensive queries ran: ${summary}`);
  assert.ok(outcomes.some((o) => o.status === 429 || o.status === 503), `the bounded queue refused the excess at once: ${summary}`);
  assert.ok(peak < RSS_BOUND_MB, `peak RSS ${Math.round(peak)} MB under ${RSS_BOUND_MB} MB: ${summary}`);

  const after = await postQuery(tokens[10], small);
  assert.equal(after.status, 200, 'the server answers normally afterwards');
  console.log(`admission load: ${summary}`);
});
