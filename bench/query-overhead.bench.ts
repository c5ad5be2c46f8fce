/**
 * Where the API's per-request cost goes on the small query (one source /24, one hour): each
 * stage of the request path timed on its own with the real modules (imported read-only from
 * api/), round-robin in one loop so the machine's load hits every stage alike, plus the
 * DuckDB variants that decide the lever (the whole dataset's file list bound as a parameter, as
 * the engine does, vs only the hour's files; union_by_name; prepare vs execute; EXPLAIN-only; a
 * re-sorted layout), a ladder of statement variants for the large queries, and a CPU profile of
 * `flowseal serve` in its own process (`--cpu-prof`) while CLIENTS clients hammer the query.
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
 * Environment: as bench/query.bench.ts (BENCH_FLOWS, BENCH_DAYS, BENCH_PART_MINUTES, BENCH_ITER_SMALL
 * rounds of the stages, BENCH_ITER_LARGE rounds of the ladder, BENCH_CLIENTS, BENCH_CONCURRENT_SECONDS
 * (the profiled load is at most 5 s), BENCH_THREADS); BENCH_PROFILE_FUNCTIONS=1 also prints the
 * profile's top functions with their callers. CLI: `node bin/run-ts.mjs bench/query-overhead.bench.ts`.
 *
 * Owns: the overhead breakdown. Never: modifies api/ (it wraps nothing; it calls the same
 * functions the route calls, with the same inputs).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import type { JWK } from 'jose';
import { loadOrCreateDevIssuer } from '../api/adapters/dev-issuer-files.ts';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadavg } from 'node:os';
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
import { planQuery } from '../api/query/plan.ts';
import type { QueryPlan } from '../api/query/plan.ts';
import { compilePlan } from '../api/engine/duckdb-plan-sql.ts';
import type { PlanSql } from '../api/engine/duckdb-plan-sql.ts';
import { createShaper, rowsBatch } from '../api/engine/duckdb-shape.ts';
import type { QueryRequest } from '../schemas/query.ts';

interface CompileLimits { recordRows: number; groupRows: number; minGroupSize: number; maxTimeRangeDays: number; maxFilterNodes: number }

/** The request as the API plans it (at the wall clock). */
function planOf(req: QueryRequest, limits: CompileLimits): QueryPlan {
  return planQuery(req, {
    now: Date.now(),
    limits: { maxRecordRows: limits.recordRows, maxGroupRows: limits.groupRows, minGroupSize: limits.minGroupSize, maxTimeRangeDays: limits.maxTimeRangeDays },
    filter: (req.filter ?? null) as QueryPlan['filter'],
  }).plan;
}

/** Plan + the DuckDB adapter's compiler: the statement the API runs over `files`. */
function compileQuery(req: QueryRequest, limits: CompileLimits, files: readonly string[]): PlanSql {
  return compilePlan(planOf(req, limits), files);
}

/** The adapter's row shaping over a whole result. */
function shapeResult(c: PlanSql, r: { columns: { name: string; type: string }[]; rows: unknown[][] }) {
  const shaper = createShaper(c, r.columns);
  const rows = shaper.push(rowsBatch(r.rows));
  return { columns: [...shaper.columns], rows, ...shaper.stats() };
}
import { renderResponse } from '../api/routes/format.ts';
import { toJsonValue } from '../api/engine/json-value.ts';
import { ensureFlowArchive, type FlowArchive } from './gen-flow-archive.ts';
import { REQUEST_BODIES, directSql, probeHour, settingsFromEnv, type BenchSettings } from './query.bench.ts';
import { cpuMs, hammer, startBenchApi, type LoadResult } from './bench-api.ts';
import { summarizeProfile, topFunctions, type CpuProfile, type ProfileBucket } from './cpu-profile.ts';

const FLOWSEAL = fileURLToPath(new URL('../bin/flowseal.mjs', import.meta.url));
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

/** `sql` with every `$n` replaced by its value as a SQL literal (bench only: the values are the bench's own). */
export function inlineParams(sql: string, params: readonly QueryParam[]): string {
  const lit = (v: QueryParam): string => {
    if (Array.isArray(v)) return `[${v.map((x) => `'${String(x).replaceAll("'", "''")}'`).join(', ')}]`;
    if (typeof v === 'string') return `'${v.replaceAll("'", "''")}'`;
    if (typeof v === 'bigint') return `${v}::UBIGINT`;
    return String(v);
  };
  return sql.replace(/\$(\d+)/g, (_, k: string) => lit(params[Number(k) - 1]!));
}

/** Statement-shape variants of an inlined compiled query, each removing one more thing the API adds. */
export function statementLadder(inlined: string): { step: string; sql: string }[] {
  const steps: { step: string; sql: string }[] = [{ step: 'compiled SQL, parameters inlined', sql: inlined }];
  const m = /^WITH g AS \((.*)\), s AS \(SELECT count\(\*\) AS __suppressed FROM g WHERE __flows < \d+\) SELECT g\.\*, s\.__suppressed FROM s LEFT JOIN g ON g\.__flows >= \d+ (ORDER BY .*)$/.exec(inlined);
  if (!m) throw new TypeError('unexpected aggregate shape');
  let sql = `SELECT * FROM (${m[1]}) ${m[2]}`;
  steps.push({ step: '− suppression CTE and join', sql });
  sql = sql.replace(', union_by_name = true', '');
  steps.push({ step: '− union_by_name', sql });
  sql = sql
    .replace(/ AND date BETWEEN CAST\('[^']*' AS DATE\) AND CAST\('[^']*' AS DATE\)/, '')
    .replace(/ AND \(date > CAST\('[^']*' AS DATE\) OR hour >= \d+\)/, '')
    .replace(/ AND \(date < CAST\('[^']*' AS DATE\) OR hour <= \d+\)/, '')
    .replace(/hive_partitioning = true, hive_types = \{[^}]*\}/, 'hive_partitioning = false');
  steps.push({ step: '− Hive partitioning and date/hour predicates', sql });
  sql = sql.replace(/time_start >= make_timestamp\(\d+\) AND time_start < make_timestamp\(\d+\) AND /, '');
  steps.push({ step: '− time_start predicates (whole range only: same answer)', sql });
  return steps;
}

export interface LadderResult {
  readonly query: string;
  readonly steps: readonly { readonly step: string; readonly summary: Summary; readonly cpu: Summary }[];
}

/** Times each ladder step (round-robin, `iterations` rounds) for the whole-range queries, plus the user's SQL. */
async function runLadder(conn: DuckDBConnection, a: FlowArchive, files: readonly string[], iterations: number, limits: CompileLimits, log: (l: string) => void): Promise<LadderResult[]> {
  const out: LadderResult[] = [];
  const bodies = REQUEST_BODIES(a);
  const user = directSql(a, files);
  for (const q of ['top10DstPorts', 'grandTotal'] as const) {
    const c = compileQuery(parseQueryRequest(bodies[q], { maxFilterNodes: 64, maxFilterTerms: 1024 }), limits, files);
    const steps = [...statementLadder(inlineParams(c.sql, c.params)), { step: 'user SQL (the direct baseline)', sql: user[q] }];
    for (const st of steps) await conn.runAndReadAll(st.sql);
    const times = steps.map(() => [] as number[]);
    const cpus = steps.map(() => [] as number[]);
    for (let i = 0; i < iterations; i++) {
      for (const [k, st] of steps.entries()) {
        const r = await cpuMs(() => conn.runAndReadAll(st.sql));
        times[k]!.push(r.wall);
        cpus[k]!.push(r.cpu);
      }
    }
    const r = { query: q, steps: steps.map((st, k) => ({ step: st.step, summary: summarize(times[k]!), cpu: summarize(cpus[k]!) })) };
    for (const st of r.steps) log(`ladder ${q}: ${st.step}: ${ms(st.summary.median)} ms, CPU ${ms(st.cpu.median)} ms`);
    out.push(r);
  }
  return out;
}

export interface StageResult {
  readonly stage: string;
  readonly summary: Summary;
  /** Process CPU (all threads) per call. */
  readonly cpu: Summary;
}

export interface OverheadResult {
  readonly settings: BenchSettings;
  readonly files: { readonly dataset: number; readonly hour: number };
  readonly ladder: readonly LadderResult[];
  readonly loadAverage: readonly [number, number];
  readonly stages: readonly StageResult[];
  readonly profile: { readonly requests: number; readonly wallMs: number; readonly perRequestUs: number; readonly load: LoadResult; readonly buckets: readonly ProfileBucket[] };
}

/** A free loopback port (bound and released). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((ok) => srv.close(() => ok()));
  return port;
}

/**
 * `flowseal serve` in its own process under `--cpu-prof` (so the profile holds the server's main
 * thread only, not the clients'), hammered by `s.clients` clients for up to 5 s, stopped with
 * SIGINT; returns the profile's self time by where the code lives.
 */
async function profileServerProcess(archiveDir: string, manifestKey: JWK, s: BenchSettings, bodyText: string, work: string, log: (l: string) => void): Promise<OverheadResult['profile']> {
  const dir = join(work, 'server');
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, 'api.json');
  writeFileSync(configPath, JSON.stringify({ duckdb: { threads: s.threads, memoryLimit: '1GB' }, rateLimit: { perMinute: 1_000_000, burst: 100_000 }, manifestKeys: { keys: [manifestKey] }, auditLogPath: join(dir, 'audit.ndjson') }));
  const port = await freePort();
  const devDir = join(dir, 'dev-issuer');
  const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=250', FLOWSEAL, 'serve', '--archive', archiveDir, '--config', configPath, '--port', String(port)], {
    env: { ...process.env, FLOWSEAL_DEV_ISSUER_DIR: devDir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
  const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)));
  try {
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      const up = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
      if (up) break;
      if (i > 600) throw new Error(`the server did not start: ${stderr.slice(-800)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const dev = await loadOrCreateDevIssuer(devDir);
    const tokens = await Promise.all(Array.from({ length: s.clients }, (_, k) => dev.signToken(`profile-${k}`, ['query'], 3600)));
    const post = async (k: number) => {
      const r = await fetch(`${url}/v1/query`, { method: 'POST', headers: { Authorization: `Bearer ${tokens[k]}`, 'Content-Type': 'application/json' }, body: bodyText });
      await r.arrayBuffer();
      return r.status;
    };
    await post(0);
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    const load = await hammer('api', s.clients, Math.min(5, s.concurrentSeconds), post);
    const toUs = Number(process.hrtime.bigint() / 1000n);
    child.kill('SIGINT');
    await exited;
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('the server wrote no CPU profile');
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    const repo = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
    const buckets = summarizeProfile(profile, repo, fromUs, toUs);
    const sampled = buckets.reduce((x, b) => x + b.ms, 0);
    const busy = buckets.filter((b) => b.bucket !== '(idle)').reduce((x, b) => x + b.ms, 0);
    log(`server process (own main thread): ${load.requests} requests, ${load.perSecond.toFixed(0)} req/s, p50 ${ms(load.latency.median)} ms, p99 ${ms(load.latency.p99)} ms; main thread busy ${ms(busy)} of ${ms(sampled)} ms sampled = ${((busy * 1000) / load.requests).toFixed(0)} µs per request`);
    if (process.env.BENCH_PROFILE_FUNCTIONS) for (const line of topFunctions(profile, 40, fromUs, toUs)) log(`    ${line}`);
    return { requests: load.requests, wallMs: load.seconds * 1000, perRequestUs: (busy * 1000) / Math.max(1, load.requests), load, buckets };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

export async function runOverheadBench(s: BenchSettings = settingsFromEnv(), log: (l: string) => void = (l) => console.log(l)): Promise<OverheadResult> {
  const a = await ensureFlowArchive({ flows: s.flows, days: s.days, partMinutes: s.partMinutes });
  const root = realpathSync(a.archiveDir);
  const hour = probeHour(a);
  const hourKey = hour.from.slice(0, 13);
  const allFiles = a.files.map((f) => f.path);
  const hourFiles = a.files.filter((f) => f.hour === hourKey).map((f) => f.path);
  const work = mkdtempSync(join(tmpdir(), 'flowseal-overhead-'));
  const load0 = loadavg()[0]!;
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

    // Layout experiment: the probe hour's rows rewritten sorted by source address (same writer settings), in the bench's temporary directory.
    const sortedFile = join(work, 'hour-sorted-by-src.parquet');
    await boot.run(`COPY (SELECT * FROM read_parquet(${JSON.stringify(hourFiles).replaceAll('"', "'")}) ORDER BY src_addr_hi, src_addr_lo, time_start) TO '${sortedFile}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`);
    const sortedRowGroups = Number((await boot.runAndReadAll(`SELECT count(DISTINCT row_group_id) FROM parquet_metadata('${sortedFile}')`)).getRows()[0]![0]);
    const userSorted = directSql(a, [sortedFile]).prefixHour;
    const fresh = async <T>(f: (c: DuckDBConnection) => Promise<T>): Promise<T> => {
      const c = await instance.connect();
      try {
        return await f(c);
      } finally {
        c.closeSync();
      }
    };
    const userBound = user.replace(/read_parquet\(\[[^\]]*\]\)/, () => 'read_parquet($1)');
    const userHive = user.replace(/read_parquet\(\[[^\]]*\]\)/, () => "read_parquet($1, hive_partitioning = true, hive_types = {'date': 'DATE', 'hour': 'INTEGER'}, union_by_name = true)");
    const stages: [string, () => Promise<unknown>][] = [
      // The request path, stage by stage.
      ['HTTP round trip (GET /healthz)', async () => (await fetch(`${url}/healthz`)).arrayBuffer()],
      ['token verification (jose ES256)', () => verifier.verify(devToken)],
      ['rate limit (2 bucket operations)', async () => (await store.take(`a${n}`, 0, spec, Date.now()), store.take('subject', 2, spec, Date.now()))],
      ['body JSON.parse + zod validation', async () => parseQueryRequest(JSON.parse(bodyText), config.limits)],
      ['dataset lookup + cost estimate', async () => estimateQueryCost(planOf(req, limits), (await engine.listDatasets()).find((d) => d.id === a.dataset) ?? dataset, config.admission)],
      ['admission acquire + release', async () => (await admission.acquire({ subject: 's', lane: 'cheap', deadlineAt: Date.now() + 10_000 })).release()],
      ['compile (all files)', async () => compileQuery(req, limits, engine.datasetFiles(a.dataset))],
      ['DuckDB connect + close', async () => (await instance.connect()).closeSync()],
      [`stillCommitted (lstat × ${allFiles.length}, all files)`, () => stillCommitted(catalog, allFiles)],
      [`stillCommitted (lstat × ${hourFiles.length}, the hour's files)`, () => stillCommitted(catalog, hourFiles)],
      ['shape + JSON render', async () => renderResponse({ ...shapeResult(compiledAll, engineResult), stats: { rows: 1, truncated: false, elapsedMs: 1 }, requestId: 'x' } as never, 'json')],
      ['audit line (NDJSON append)', () => sink.write({ time: new Date().toISOString(), requestId: String(n), clientAddress: '127.0.0.1', subject: 's', issuer: 'i', method: 'POST', path: '/v1/query', status: 200, dataset: a.dataset, query: req, rows: 1, errorCode: undefined, errorReason: undefined, durationMs: 1 } as never)],
      // The statement: what the user writes vs what the API runs, and the levers between them.
      [`SQL a: user SQL, all ${allFiles.length} files (the direct baseline)`, async () => (await boot.runAndReadAll(user)).getRows()],
      [`SQL b: user SQL, the hour's ${hourFiles.length} files`, async () => (await boot.runAndReadAll(userHour)).getRows()],
      ['SQL c: user SQL, all files, list bound as $1', () => streamRows(boot, userBound, [allFiles])],
      ['SQL d: user SQL + hive_partitioning + union_by_name, all files', () => streamRows(boot, userHive, [allFiles])],
      ['SQL e: compiled SQL, all files bound as $1, fresh connection (what the API runs)', () => fresh((c) => streamRows(c, compiledAll.sql, compiledAll.params))],
      ['SQL f: compiled SQL, all files, session connection', () => streamRows(boot, compiledAll.sql, compiledAll.params)],
      ['SQL g: compiled SQL, all files, no union_by_name', () => streamRows(boot, noUnion(compiledAll.sql), compiledAll.params)],
      ["SQL h: compiled SQL, only the hour's files", () => streamRows(boot, compiledHour.sql, compiledHour.params)],
      ["SQL i: compiled SQL, only the hour's files, no union_by_name", () => streamRows(boot, noUnion(compiledHour.sql), compiledHour.params)],
      ['SQL j: compiled SQL, all files, every parameter inlined (no prepared parameters)', async () => (await boot.runAndReadAll(inlineParams(compiledAll.sql, compiledAll.params))).getRows()],
      ['SQL k: prepare only (compiled SQL, all files; the file list is a parameter, so read_parquet binds at execution)', async () => (await boot.prepare(compiledAll.sql)).destroySync()],
      ['SQL l: EXPLAIN (bind + plan, no execution), compiled SQL, all files inlined', async () => (await boot.runAndReadAll(`EXPLAIN ${inlineParams(compiledAll.sql, compiledAll.params)}`)).getRows()],
      ['SQL m: EXPLAIN, compiled SQL, all files inlined, no union_by_name', async () => (await boot.runAndReadAll(`EXPLAIN ${inlineParams(noUnion(compiledAll.sql), compiledAll.params)}`)).getRows()],
      ["SQL n: EXPLAIN, compiled SQL, the hour's files inlined", async () => (await boot.runAndReadAll(`EXPLAIN ${inlineParams(compiledHour.sql, compiledHour.params)}`)).getRows()],
      [`SQL o: user SQL on the hour's rows re-sorted by source address (layout experiment, ${sortedRowGroups} row groups)`, async () => (await boot.runAndReadAll(userSorted)).getRows()],
      // The whole request.
      ['in-process app.request (whole API, no socket)', async () => { const r = await app.request('/v1/query', { method: 'POST', headers: { Authorization: `Bearer ${devToken}`, 'Content-Type': 'application/json' }, body: bodyText }); if (r.status !== 200) throw new Error(`app.request ${r.status}: ${await r.text()}`); return r.arrayBuffer(); }],
      ['HTTP POST /v1/query (whole API, as clients see it)', async () => { const r = await fetch(`${url}/v1/query`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: bodyText }); if (r.status !== 200) throw new Error(`POST ${r.status}`); return r.arrayBuffer(); }],
    ];
    for (const [, f] of stages) await f();
    const times = new Map<string, number[]>(stages.map(([k]) => [k, []]));
    const cpus = new Map<string, number[]>(stages.map(([k]) => [k, []]));
    for (let i = 0; i < s.iterSmall; i++, n++) {
      for (const [k, f] of stages) {
        const r = await cpuMs(f);
        times.get(k)!.push(r.wall);
        cpus.get(k)!.push(r.cpu);
      }
    }
    const results = stages.map(([stage]) => ({ stage, summary: summarize(times.get(stage)!), cpu: summarize(cpus.get(stage)!) }));
    for (const r of results) log(`${r.stage}: ${ms(r.summary.median)} ms (p90 ${ms(r.summary.p90)}), CPU ${ms(r.cpu.median)} ms`);

    const ladder = await runLadder(boot, a, allFiles, s.iterLarge, limits, log);
    const prof = await profileServerProcess(a.archiveDir, a.manifestKey, s, bodyText, work, log);
    await engine.close();
    return { settings: s, files: { dataset: allFiles.length, hour: hourFiles.length }, stages: results, ladder, profile: prof, loadAverage: [load0, loadavg()[0]!] };
  } finally {
    boot.closeSync();
    instance.closeSync();
    await bench.close();
    rmSync(work, { recursive: true, force: true });
  }
}

export function overheadMarkdown(r: OverheadResult): string {
  const head = `${r.files.dataset} files in the dataset, ${r.files.hour} in the query's hour; load average ${r.loadAverage[0].toFixed(1)} → ${r.loadAverage[1].toFixed(1)}`;
  const stages = table(['stage', 'median ms', 'p90 ms', 'CPU ms (median, all threads)'], r.stages.map((x) => [x.stage, ms(x.summary.median), ms(x.summary.p90), ms(x.cpu.median)]));
  const prof = table(['where (main thread self time)', 'ms', 'share'], r.profile.buckets.slice(0, 16).map((b) => [b.bucket, ms(b.ms), `${(b.share * 100).toFixed(1)} %`]));
  const ladder = r.ladder
    .map((q) => `${q.query} (DuckDB only, same session, medians):\n\n${table(['statement', 'median ms', 'p90 ms', 'CPU ms (median)'], q.steps.map((x) => [x.step, ms(x.summary.median), ms(x.summary.p90), ms(x.cpu.median)]))}`)
    .join('\n\n');
  const l = r.profile.load;
  return `${head}\n\n${stages}\n\n${ladder}\n\nServer in its own process (\`flowseal serve\` under --cpu-prof), ${l.clients} clients: ${l.requests} requests in ${ms(r.profile.wallMs)} ms = ${l.perSecond.toFixed(0)} req/s, p50 ${ms(l.latency.median)} ms, p99 ${ms(l.latency.p99)} ms, failures ${JSON.stringify(l.failures)}; server main-thread CPU ${r.profile.perRequestUs.toFixed(0)} µs per request (samples within the load window)\n\n${prof}`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await runOverheadBench();
  console.log(`\n${overheadMarkdown(r)}\n`);
}
