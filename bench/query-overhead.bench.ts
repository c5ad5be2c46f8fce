/**
 * Where the API's per-request cost goes on the small query (one source /24, one hour): each
 * stage of the request path timed on its own with the real modules (imported read-only from
 * api/), round-robin in one loop so the machine's load hits every stage alike, plus the
 * DuckDB variants that decide the lever (the whole dataset's file list bound as a parameter, as
 * the engine does, vs only the hour's files; union_by_name; prepare vs execute), and a CPU
 * profile of the server's main thread while CLIENTS clients hammer the query.
 *
 * Stages (what the request does, in order): HTTP round trip (fetch to /healthz on the same
 * server: Node http + undici on loopback, with the deadline/request-id/address middleware),
 * bearer-token verification (jose, ES256), two rate-limit bucket operations, body parse and
 * zod validation, dataset lookup and cost estimate, admission acquire/release, compile, DuckDB
 * connection open/close, the compiled statement (prepare + bind + execute + fetch), the
 * per-query file check (`stillCommitted`: one lstat per file of the dataset), result shaping
 * and JSON rendering, and the audit line (NDJSON append). "in-process app.request" is the
 * whole app without a socket; "HTTP POST" the whole thing as clients see it.
 *
 * Environment: as bench/query.bench.ts (BENCH_FLOWS, BENCH_DAYS, BENCH_ITER_SMALL, BENCH_CLIENTS,
 * BENCH_CONCURRENT_SECONDS, BENCH_THREADS). CLI: `node bin/run-ts.mjs bench/query-overhead.bench.ts`.
 *
 * Owns: the overhead breakdown. Never: modifies api/ (it wraps nothing; it calls the same
 * functions the route calls, with the same inputs).
 */
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIGINT, DOUBLE, DuckDBInstance, LIST, UBIGINT, VARCHAR, BOOLEAN, listValue, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api';
import { loadApiConfig } from '../schemas/api-config.ts';
import type { QueryParam } from '../api/ports.ts';
import { createApp } from '../api/app.ts';
import { createDuckDbEngine } from '../api/engine/duckdb-engine.ts';
import { createManifestCatalog, stillCommitted } from '../api/engine/manifest-catalog.ts';
import { createJoseVerifier } from '../api/auth/jose-verifier.ts';
import { createMemoryRateLimitStore } from '../api/rate-limit/memory-store.ts';
import { openNdjsonAuditSink } from '../api/adapters/ndjson-audit-sink.ts';
import { createDevIssuer } from '../api/auth/dev-issuer.ts';
import { parseQueryRequest } from '../api/routes/execute-query.ts';
import { estimateQueryCost } from '../api/admission/query-cost.ts';
import { createAdmissionController } from '../api/admission/admission-controller.ts';
import { compileQuery } from '../api/query/compile-query.ts';
import { shapeResult } from '../api/query/shape-result.ts';
import { renderResponse } from '../api/routes/format.ts';
import { toJsonValue } from '../api/engine/json-value.ts';
import { ensureFlowArchive } from './gen-flow-archive.ts';
import { REQUEST_BODIES, directSql, probeHour, settingsFromEnv, startBenchApi, hammer, type BenchSettings } from './query.bench.ts';
import { ms, summarize, table, type Summary } from './bench-stats.ts';

function paramType(v: QueryParam): DuckDBType {
  if (Array.isArray(v)) return LIST(VARCHAR);
  if (typeof v === 'bigint') return UBIGINT;
  if (typeof v === 'boolean') return BOOLEAN;
  if (typeof v === 'string') return VARCHAR;
  return Number.isInteger(v) ? BIGINT : DOUBLE;
}

function bindValue(v: QueryParam) {
  return Array.isArray(v) ? listValue([...v]) : (v as string | number | bigint | boolean);
}

/** The engine's read path (duckdb-engine.ts readRows) on `conn`: stream, fetch chunks, JSON-safe cells. */
async function streamRows(conn: DuckDBConnection, sql: string, params: readonly QueryParam[]): Promise<{ columns: { name: string; type: string }[]; rows: unknown[][] }> {
  const result = await conn.stream(sql, params.map(bindValue), params.map(paramType));
  const columns = result.columnNames().map((name, i) => ({ name, type: String(result.columnTypes()[i]) }));
  const rows: unknown[][] = [];
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    for (const raw of chunk.getRows()) rows.push(raw.map(toJsonValue));
  }
  return { columns, rows };
}

export interface StageResult {
  readonly stage: string;
  readonly summary: Summary;
}

export interface ProfileBucket {
  readonly bucket: string;
  readonly ms: number;
  readonly share: number;
}

export interface OverheadResult {
  readonly settings: BenchSettings;
  readonly files: { readonly dataset: number; readonly hour: number };
  readonly stages: readonly StageResult[];
  readonly profile: { readonly requests: number; readonly wallMs: number; readonly perRequestUs: number; readonly buckets: readonly ProfileBucket[] };
}

/** Groups a CPU profile's self time by where the code lives (repo folder, package, or V8 category). */
function bucketOf(url: string, fn: string, root: string): string {
  if (url === '') return fn === '(idle)' ? '(idle)' : fn === '(garbage collector)' ? 'GC' : fn === '(program)' ? '(program: native, incl. DuckDB bindings)' : `(${fn.replace(/[()]/g, '')})`;
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf(`${sep}node_modules${sep}`);
  if (nm >= 0) {
    const rest = path.slice(nm + 14).split(sep);
    return `npm:${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (path.startsWith(root)) {
    const rel = path.slice(root.length + 1).split(sep);
    return rel[0] === 'api' ? `api/${rel[1]}${rel.length > 3 ? `/${rel[2]}` : ''}` : rel.slice(0, 2).join('/');
  }
  if (path.startsWith('node:')) return path.split('/').slice(0, 3).join('/');
  return path;
}

interface CpuProfile {
  nodes: { id: number; callFrame: { url: string; functionName: string } }[];
  samples: number[];
  timeDeltas: number[];
}

function summarizeProfile(p: CpuProfile, root: string): ProfileBucket[] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  let all = 0;
  p.samples.forEach((id, i) => {
    const n = byId.get(id)!;
    const us = p.timeDeltas[i] ?? 0;
    const b = bucketOf(n.callFrame.url, n.callFrame.functionName, root);
    totals.set(b, (totals.get(b) ?? 0) + us);
    all += us;
  });
  return [...totals].sort((a, b) => b[1] - a[1]).map(([bucket, us]) => ({ bucket, ms: us / 1000, share: us / all }));
}

export async function runOverheadBench(s: BenchSettings = settingsFromEnv(), log: (l: string) => void = (l) => console.log(l)): Promise<OverheadResult> {
  const a = await ensureFlowArchive({ flows: s.flows, days: s.days });
  const root = realpathSync(a.archiveDir);
  const hour = probeHour(a);
  const hourKey = hour.from.slice(0, 13);
  const allFiles = a.files.map((f) => f.path);
  const hourFiles = a.files.filter((f) => f.hour === hourKey).map((f) => f.path);
  const work = mkdtempSync(join(tmpdir(), 'flowseal-overhead-'));
  const bench = await startBenchApi({ archiveDir: a.archiveDir, manifestKey: a.manifestKey, clients: s.clients, threads: s.threads });
  const instance = await DuckDBInstance.create(':memory:', { threads: String(s.threads), memory_limit: '1GB' });
  const boot = await instance.connect();
  await boot.run('SET parquet_metadata_cache = true');
  try {
    const config = loadApiConfig(JSON.stringify({ duckdb: { threads: s.threads }, rateLimit: { perMinute: 1_000_000, burst: 100_000 }, manifestKeys: { keys: [a.manifestKey] } }));
    const body = REQUEST_BODIES(a).prefixHour;
    const bodyText = JSON.stringify(body);
    const token = bench.tokens[0]!;
    const url = bench.server.url;

    // The same pieces the Node adapter wires, built here so each can be called alone.
    const memKeys = new Map<string, string>();
    const dev = await createDevIssuer({ read: async (k) => memKeys.get(k) ?? null, write: async (k, v) => void memKeys.set(k, v) });
    const devToken = await dev.signToken('overhead', ['datasets:read', 'query'], 3600);
    const verifier = createJoseVerifier({ issuers: [{ issuer: dev.issuer, audience: dev.audience, algorithms: ['ES256'], jwks: dev.jwks }] });
    const store = createMemoryRateLimitStore();
    const sink = await openNdjsonAuditSink(join(work, 'audit.ndjson'));
    const admission = createAdmissionController(config.admission);
    const engine = await createDuckDbEngine({ archiveDir: a.archiveDir, threads: s.threads, manifestKeys: [a.manifestKey], verifyHashes: false });
    const app = createApp({ engine, verifier, rateLimit: store, audit: sink, config, logger: { info: () => {}, error: () => {} } });
    const datasets = await engine.listDatasets();
    const dataset = datasets.find((d) => d.id === a.dataset)!;
    const catalog = await createManifestCatalog({ root, pinnedKeys: [a.manifestKey], verifyHashes: false }).build();
    const limits = { recordRows: config.limits.maxRecordRows, groupRows: config.limits.maxGroupRows, minGroupSize: config.limits.minGroupSize, maxTimeRangeDays: config.limits.maxTimeRangeDays, maxFilterNodes: config.limits.maxFilterNodes };
    const req = parseQueryRequest(body, config.limits);
    const compiledAll = compileQuery(req, limits, allFiles);
    const compiledHour = compileQuery(req, limits, hourFiles);
    const noUnion = (sql: string) => sql.replace(', union_by_name = true', '');
    const user = directSql(a, allFiles).prefixHour;
    const userHour = directSql(a, hourFiles).prefixHour;
    const engineResult = await streamRows(boot, compiledAll.sql, compiledAll.params);
    const spec = { capacity: 100_000, refillPerMs: 1_000_000 / 60_000 };
    let n = 0;

    const stages: [string, () => Promise<unknown>][] = [
      ['HTTP round trip (GET /healthz)', async () => (await fetch(`${url}/healthz`)).arrayBuffer()],
      ['token verification (jose ES256)', () => verifier.verify(devToken)],
      ['rate limit (2 bucket operations)', async () => (await store.take(`a${n}`, 0, spec, Date.now()), store.take('subject', 2, spec, Date.now()))],
      ['body JSON.parse + zod validation', async () => parseQueryRequest(JSON.parse(bodyText), config.limits)],
      ['dataset lookup + cost estimate', async () => estimateQueryCost(req, (await engine.listDatasets()).find((d) => d.id === a.dataset) ?? dataset, config.admission)],
      ['admission acquire + release', async () => (await admission.acquire({ subject: 's', lane: 'cheap', deadlineAt: Date.now() + 10_000 })).release()],
      ['compile (all files)', async () => compileQuery(req, limits, engine.datasetFiles(a.dataset))],
      ['DuckDB connect + close', async () => (await instance.connect()).closeSync()],
      [`DuckDB compiled SQL, all ${allFiles.length} files bound as $1 (fresh connection)`, async () => { const c = await instance.connect(); try { return await streamRows(c, compiledAll.sql, compiledAll.params); } finally { c.closeSync(); } }],
      [`DuckDB compiled SQL, only the hour's ${hourFiles.length} files`, () => streamRows(boot, compiledHour.sql, compiledHour.params)],
      ['DuckDB compiled SQL, all files, no union_by_name', () => streamRows(boot, noUnion(compiledAll.sql), compiledAll.params)],
      ["DuckDB compiled SQL, hour's files, no union_by_name", () => streamRows(boot, noUnion(compiledHour.sql), compiledHour.params)],
      ['DuckDB prepare only (compiled SQL, all files)', async () => (await boot.prepare(compiledAll.sql)).destroySync()],
      ['direct user SQL, all files (the baseline)', async () => (await boot.runAndReadAll(user)).getRows()],
      ["direct user SQL, hour's files", async () => (await boot.runAndReadAll(userHour)).getRows()],
      [`stillCommitted (lstat × ${allFiles.length})`, () => stillCommitted(catalog, allFiles)],
      [`stillCommitted (lstat × ${hourFiles.length}, hour's files)`, () => stillCommitted(catalog, hourFiles)],
      ['shape + JSON render', async () => renderResponse({ ...shapeResult(compiledAll, { ...engineResult, truncated: false }), stats: { rows: 1, truncated: false, elapsedMs: 1 }, requestId: 'x' } as never, 'json')],
      ['audit line (NDJSON append)', () => sink.write({ time: new Date().toISOString(), requestId: String(n), clientAddress: '127.0.0.1', subject: 's', issuer: 'i', method: 'POST', path: '/v1/query', status: 200, dataset: a.dataset, query: req, rows: 1, errorCode: undefined, errorReason: undefined, durationMs: 1 } as never)],
      ['in-process app.request (whole API, no socket)', async () => { const r = await app.request('/v1/query', { method: 'POST', headers: { Authorization: `Bearer ${devToken}`, 'Content-Type': 'application/json' }, body: bodyText }); if (r.status !== 200) throw new Error(`app.request ${r.status}: ${await r.text()}`); return r.arrayBuffer(); }],
      ['HTTP POST /v1/query (whole API, as clients see it)', async () => { const r = await fetch(`${url}/v1/query`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: bodyText }); if (r.status !== 200) throw new Error(`POST ${r.status}`); return r.arrayBuffer(); }],
    ];
    for (const [, f] of stages) await f();
    const times = new Map<string, number[]>(stages.map(([k]) => [k, []]));
    for (let i = 0; i < s.iterSmall; i++, n++) {
      for (const [k, f] of stages) {
        const t = performance.now();
        await f();
        times.get(k)!.push(performance.now() - t);
      }
    }
    const results = stages.map(([stage]) => ({ stage, summary: summarize(times.get(stage)!) }));
    for (const r of results) log(`${r.stage}: ${ms(r.summary.median)} ms (p90 ${ms(r.summary.p90)})`);

    // CPU profile of this process's main thread while the clients hammer the real server.
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
    const load = await hammer('api', s.clients, Math.min(5, s.concurrentSeconds), async (k) => {
      const r = await fetch(`${url}/v1/query`, { method: 'POST', headers: { Authorization: `Bearer ${bench.tokens[k % bench.tokens.length]}`, 'Content-Type': 'application/json' }, body: bodyText });
      await r.arrayBuffer();
      return r.status;
    });
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: CpuProfile };
    session.disconnect();
    const repo = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
    const buckets = summarizeProfile(profile, repo);
    if (process.env.BENCH_PROFILE_FUNCTIONS) {
      const byId = new Map(profile.nodes.map((x) => [x.id, x]));
      const fns = new Map<string, number>();
      profile.samples.forEach((id, i) => {
        const f = byId.get(id)!.callFrame;
        const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '')}`;
        fns.set(key, (fns.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
      });
      for (const [k, us] of [...fns].sort((x, y) => y[1] - x[1]).slice(0, 40)) log(`    fn ${(us / 1000).toFixed(1)} ms ${k}`);
      const parent = new Map<number, number>();
      for (const x of profile.nodes as { id: number; children?: number[] }[]) for (const ch of x.children ?? []) parent.set(ch, x.id);
      const chains = new Map<string, number>();
      profile.samples.forEach((id, i) => {
        const f = byId.get(id)!.callFrame;
        if (!['dispatch', 'lstat', '', 'run'].includes(f.functionName) || f.url !== '') return;
        const chain: string[] = [];
        for (let p = parent.get(id); p !== undefined && chain.length < 4; p = parent.get(p)) chain.push(`${byId.get(p)!.callFrame.functionName}@${byId.get(p)!.callFrame.url.split('/').slice(-1)[0]}`);
        const key = `${f.functionName || '(anon)'} <- ${chain.join(' <- ')}`;
        chains.set(key, (chains.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
      });
      for (const [k, us] of [...chains].sort((x, y) => y[1] - x[1]).slice(0, 12)) log(`    chain ${(us / 1000).toFixed(1)} ms ${k}`);
    }
    const busy = buckets.filter((b) => b.bucket !== '(idle)').reduce((x, b) => x + b.ms, 0);
    log(`profile: ${load.requests} requests in ${ms(load.seconds * 1000)} ms, main thread busy ${ms(busy)} ms = ${((busy * 1000) / load.requests).toFixed(0)} µs per request (client and server share the thread)`);
    for (const b of buckets.slice(0, 16)) log(`  ${b.bucket}: ${ms(b.ms)} ms (${(b.share * 100).toFixed(1)} %)`);
    await engine.close();
    return { settings: s, files: { dataset: allFiles.length, hour: hourFiles.length }, stages: results, profile: { requests: load.requests, wallMs: load.seconds * 1000, perRequestUs: (busy * 1000) / load.requests, buckets } };
  } finally {
    boot.closeSync();
    instance.closeSync();
    await bench.close();
    rmSync(work, { recursive: true, force: true });
  }
}

export function overheadMarkdown(r: OverheadResult): string {
  const stages = table(['stage', 'median ms', 'p90 ms'], r.stages.map((x) => [x.stage, ms(x.summary.median), ms(x.summary.p90)]));
  const prof = table(['where (main thread self time)', 'ms', 'share'], r.profile.buckets.slice(0, 16).map((b) => [b.bucket, ms(b.ms), `${(b.share * 100).toFixed(1)} %`]));
  return `${stages}\n\nCPU profile: ${r.profile.requests} requests in ${ms(r.profile.wallMs)} ms; ${r.profile.perRequestUs.toFixed(0)} µs of main-thread CPU per request (client + server)\n\n${prof}`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await runOverheadBench();
  console.log(`\n${overheadMarkdown(r)}\n`);
}
