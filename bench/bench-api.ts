/**
 * The API side of the query benchmarks: the real Node server (api/adapters/node.ts) over an
 * archive, in this process on loopback, with auth (DEV issuer tokens, one subject per client),
 * rate limits raised so nothing is refused, admission defaults, the audit log in a temporary
 * directory and a pinned manifest key; one-request and many-clients helpers; CPU accounting.
 *
 * Owns: starting and stopping the bench API and timing calls. Never: touches the archive or
 * anything outside its temporary directory.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { startNodeServer, type RunningServer } from '../api/adapters/node.ts';
import { loadOrCreateDevIssuer } from '../api/adapters/dev-issuer-files.ts';
import { summarize, type Summary } from './bench-stats.ts';

/** A running API over the archive plus one token per client subject. */
export interface BenchApi {
  readonly server: RunningServer;
  readonly tokens: readonly string[];
  readonly workDir: string;
  close(): Promise<void>;
}

export interface BenchApiOptions {
  readonly archiveDir: string;
  /** Pinned manifest signing key; null: manifests are checked against their own key (listed unverified). */
  readonly manifestKey: JWK | null;
  readonly clients: number;
  readonly threads: number;
  /** Token scopes. Default datasets:read and query. */
  readonly scopes?: readonly string[];
}

/**
 * Starts the API over an archive with auth, rate limits (raised, not off), admission and audit
 * on. `clients` subjects get tokens (`bench-client-<k>`).
 */
export async function startBenchApi(o: BenchApiOptions): Promise<BenchApi> {
  const workDir = mkdtempSync(join(tmpdir(), 'flowseal-query-bench-'));
  const config = {
    duckdb: { threads: o.threads, memoryLimit: '1GB' },
    rateLimit: { perMinute: 1_000_000, burst: 100_000 },
    limits: { queryTimeoutMs: 120_000, maxRowsPerPeriod: 100_000_000 },
    ...(o.manifestKey ? { manifestKeys: { keys: [o.manifestKey] } } : {}),
    auditLogPath: join(workDir, 'audit.ndjson'),
  };
  const configPath = join(workDir, 'api.json');
  writeFileSync(configPath, JSON.stringify(config));
  const devIssuerDir = join(workDir, 'dev-issuer');
  const logs: string[] = [];
  const server = await startNodeServer({
    archiveDir: o.archiveDir,
    configPath,
    port: 0,
    host: '127.0.0.1',
    devIssuerDir,
    logger: { info: () => {}, error: (m, f) => void logs.push(`${m} ${JSON.stringify(f ?? {})}`) },
  });
  const dev = await loadOrCreateDevIssuer(devIssuerDir);
  const scopes = o.scopes ?? ['datasets:read', 'query'];
  const tokens = await Promise.all(Array.from({ length: Math.max(1, o.clients) }, (_, k) => dev.signToken(`bench-client-${k}`, scopes, 3600)));
  return {
    server,
    tokens,
    workDir,
    async close() {
      await server.close();
      rmSync(workDir, { recursive: true, force: true });
      if (logs.length) process.stderr.write(`API errors during the bench:\n${logs.slice(0, 10).join('\n')}\n`);
    },
  };
}

/** One `POST /v1/query`, body read to the end; throws on a non-200 answer. */
export async function apiQuery(url: string, token: string, body: unknown): Promise<{ rows: unknown[][]; elapsedMs: number }> {
  const res = await fetch(`${url}/v1/query`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`API answered ${res.status}: ${text.slice(0, 300)}`);
  const json = JSON.parse(text) as { rows: unknown[][]; stats: { elapsedMs: number } };
  return { rows: json.rows, elapsedMs: json.stats.elapsedMs };
}

/** Process CPU milliseconds (user + system, every thread) spent while `f` runs. */
export async function cpuMs<T>(f: () => Promise<T>): Promise<{ value: T; cpu: number; wall: number }> {
  const c = process.cpuUsage();
  const t = performance.now();
  const value = await f();
  const wall = performance.now() - t;
  const d = process.cpuUsage(c);
  return { value, cpu: (d.user + d.system) / 1000, wall };
}

export interface LoadResult {
  readonly side: 'api' | 'direct';
  readonly clients: number;
  readonly seconds: number;
  readonly requests: number;
  readonly perSecond: number;
  readonly latency: Summary;
  readonly failures: Record<string, number>;
}

/** `clients` loops issuing `one(k)` back to back for `seconds`: throughput and latency. */
export async function hammer(side: 'api' | 'direct', clients: number, seconds: number, one: (k: number) => Promise<number>): Promise<LoadResult> {
  const lat: number[] = [];
  const failures: Record<string, number> = {};
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, k) => {
      while (performance.now() < end) {
        const t = performance.now();
        const status = await one(k).catch(() => -1);
        if (status === 200) lat.push(performance.now() - t);
        else failures[String(status)] = (failures[String(status)] ?? 0) + 1;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  return { side, clients, seconds: elapsed, requests: lat.length, perSecond: lat.length / elapsed, latency: summarize(lat), failures };
}
