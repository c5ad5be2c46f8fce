/**
 * Query benchmark: the real API (api/adapters/node.ts `startNodeServer`, in this process, on
 * loopback) against DuckDB used directly over the same committed Parquet files, in one run,
 * interleaved (API, direct, direct, API, ...), over the bench archive (bench/gen-flow-archive.ts,
 * default 20 M flows over two days, cached under `.bench-cache/`).
 *
 * Four questions (request bodies in REQUEST_BODIES, direct SQL in directSql): top-10
 * destination ports over everything, an hourly bytes series for `proto tcp and dst port 443`
 * over one day, one source /24 over one hour (small), and the grand total. Each answer from
 * the API is checked against the direct one (the bench fails on any difference). Then
 * CLIENTS concurrent clients (own subjects and tokens) hammer the small aggregate for a fixed
 * time: requests/s and latency percentiles.
 *
 * The API runs with its real middleware (JWT verification with the DEV issuer's ES256 key,
 * per-subject rate limits and admission with the defaults except rate limits raised so
 * nothing is refused, the NDJSON audit log, the manifest catalog with the bench key pinned and
 * file hashes checked). Both sides get the same DuckDB settings (threads, memory_limit,
 * parquet_metadata_cache): the ratio measures what the API adds, not different settings.
 *
 * Environment: BENCH_FLOWS (default 20 000 000), BENCH_DAYS (2), BENCH_ITER_LARGE (7),
 * BENCH_ITER_SMALL (101), BENCH_CLIENTS (8), BENCH_CONCURRENT_SECONDS (10), BENCH_THREADS (2),
 * BENCH_PART_MINUTES (1440: one run per day; 5 emulates rolling 5-minute parts, 576 files).
 * CLI: `node bin/run-ts.mjs bench/query.bench.ts`.
 *
 * Owns: the API-vs-direct comparison. Never: asserts a speed (it reports numbers), edits the
 * archive, or reaches outside loopback.
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { apiQuery, cpuMs, hammer, startBenchApi, type LoadResult } from './bench-api.ts';
import { ensureFlowArchive, type FlowArchive } from './gen-flow-archive.ts';
import { ms, normalizeRows, summarize, table, type Summary } from './bench-stats.ts';

export type QueryName = 'top10DstPorts' | 'hourlyTcp443' | 'prefixHour' | 'grandTotal';

/** The hour of the small query: 15:00 UTC of the first day (the diurnal peak). */
export function probeHour(a: FlowArchive): { from: string; to: string } {
  const from = Date.parse(a.timeStart) + 15 * 3_600_000;
  return { from: new Date(from).toISOString(), to: new Date(from + 3_600_000).toISOString() };
}

function firstDay(a: FlowArchive): { from: string; to: string } {
  const from = Date.parse(a.timeStart);
  return { from: new Date(from).toISOString(), to: new Date(from + 86_400_000).toISOString() };
}

// ─────────────────────────────────────────────────────────────────────────────────────────
// REQUEST BODIES — the shapes `POST /v1/query` accepts today (structured filter JSON;
// `groupBy: []` is the no-group total). When the filter syntax changes, update this table only.
// ─────────────────────────────────────────────────────────────────────────────────────────
export function REQUEST_BODIES(a: FlowArchive): Record<QueryName, Record<string, unknown>> {
  const all = { from: a.timeStart, to: a.timeEnd };
  return {
    top10DstPorts: { dataset: a.dataset, timeRange: all, groupBy: ['dst_port'], metrics: ['flows'], orderBy: [{ by: 'flows', dir: 'desc' }], limit: 10 },
    hourlyTcp443: {
      dataset: a.dataset,
      timeRange: firstDay(a),
      filter: { protocol: 'tcp', dstPort: 443 },
      groupBy: [{ timeBucket: '1h' }],
      metrics: ['bytes'],
      orderBy: [{ by: 'time_bucket', dir: 'asc' }],
    },
    prefixHour: { dataset: a.dataset, timeRange: probeHour(a), filter: { srcNet: a.probePrefix }, groupBy: [], metrics: ['flows', 'packets', 'bytes'] },
    grandTotal: { dataset: a.dataset, timeRange: all, groupBy: [], metrics: ['flows', 'packets', 'bytes'] },
  };
}

/** IPv4 `a.b.c.d/24` → the inclusive range of its IPv4-mapped low halves. */
export function v4PrefixLoRange(cidr: string): [bigint, bigint] {
  const [addr, len] = cidr.split('/');
  const n = addr!.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  const size = 1n << BigInt(32 - Number(len));
  const base = 0xffff00000000n + (n & ~(size - 1n));
  return [base, base + size - 1n];
}

function sqlList(files: readonly string[]): string {
  return `[${files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ')}]`;
}

function ts(iso: string): string {
  return `TIMESTAMP '${iso.replace('T', ' ').replace(/\.000Z$|Z$/, '')}'`;
}

/**
 * The same questions as a user writes them in DuckDB over the dataset's committed files:
 * plain columns in WHERE (no Hive predicates), the documented address halves for the /24.
 */
export function directSql(a: FlowArchive, files: readonly string[]): Record<QueryName, string> {
  const src = `read_parquet(${sqlList(files)})`;
  const day = firstDay(a);
  const hour = probeHour(a);
  const [lo, hi] = v4PrefixLoRange(a.probePrefix);
  return {
    top10DstPorts: `SELECT dst_port, count(*) AS flows FROM ${src} GROUP BY dst_port ORDER BY flows DESC LIMIT 10`,
    hourlyTcp443:
      `SELECT time_bucket(INTERVAL '1 hour', time_start) AS bucket, sum(bytes_fwd + bytes_rev) AS bytes FROM ${src} ` +
      `WHERE time_start >= ${ts(day.from)} AND time_start < ${ts(day.to)} AND protocol = 6 AND dst_port = 443 GROUP BY bucket ORDER BY bucket`,
    prefixHour:
      `SELECT count(*) AS flows, sum(packets_fwd + packets_rev) AS packets, sum(bytes_fwd + bytes_rev) AS bytes FROM ${src} ` +
      `WHERE time_start >= ${ts(hour.from)} AND time_start < ${ts(hour.to)} AND src_addr_hi = 0 AND src_addr_lo BETWEEN ${lo} AND ${hi}`,
    grandTotal: `SELECT count(*) AS flows, sum(packets_fwd + packets_rev) AS packets, sum(bytes_fwd + bytes_rev) AS bytes FROM ${src}`,
  };
}

export interface BenchSettings {
  readonly flows: number;
  readonly days: number;
  readonly iterLarge: number;
  readonly iterSmall: number;
  readonly clients: number;
  readonly concurrentSeconds: number;
  readonly threads: number;
  /** Minutes per run of the archive (gen-flow-archive `partMinutes`): 1440 = daily runs, 5 = rolling parts. */
  readonly partMinutes: number;
}

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): BenchSettings {
  const n = (k: string, d: number) => (env[k] === undefined || env[k] === '' ? d : Number(env[k]));
  return {
    flows: n('BENCH_FLOWS', 20_000_000),
    days: n('BENCH_DAYS', 2),
    iterLarge: n('BENCH_ITER_LARGE', 7),
    iterSmall: n('BENCH_ITER_SMALL', 101),
    clients: n('BENCH_CLIENTS', 8),
    concurrentSeconds: n('BENCH_CONCURRENT_SECONDS', 10),
    threads: n('BENCH_THREADS', 2),
    partMinutes: n('BENCH_PART_MINUTES', 1440),
  };
}

/** The direct-DuckDB side: one instance with the engine's settings, one session connection. */
export async function openDirect(threads: number): Promise<{ conn: DuckDBConnection; close(): void; instance: DuckDBInstance }> {
  const instance = await DuckDBInstance.create(':memory:', { threads: String(threads), memory_limit: '1GB' });
  const conn = await instance.connect();
  // GLOBAL, as the engine sets it: the concurrent clients' own connections get the cache too.
  await conn.run('SET GLOBAL parquet_metadata_cache = true');
  return { conn, instance, close: () => (conn.closeSync(), instance.closeSync()) };
}

export async function directQuery(conn: DuckDBConnection, sql: string): Promise<unknown[][]> {
  const r = await conn.runAndReadAll(sql);
  return r.getRows() as unknown[][];
}

export interface PairResult {
  readonly name: QueryName;
  readonly api: Summary;
  readonly direct: Summary;
  /** API's own `stats.elapsedMs` (admission to result), median. */
  readonly apiServerMedian: number;
  readonly ratio: number;
  readonly addedMs: number;
  /** Process CPU (user + system, all threads) per call: steadier than wall time on a shared machine. */
  readonly apiCpu: Summary;
  readonly directCpu: Summary;
  readonly rows: number;
}

/** Runs `iterations` interleaved pairs (ABBA order) after one warm-up of each; checks answers agree. */
export async function comparePair(name: QueryName, iterations: number, api: () => Promise<{ rows: unknown[][]; elapsedMs: number }>, direct: () => Promise<unknown[][]>): Promise<PairResult> {
  const a0 = await api();
  const d0 = await direct();
  const an = JSON.stringify(normalizeRows(a0.rows));
  const dn = JSON.stringify(normalizeRows(d0));
  if (an !== dn) throw new Error(`${name}: API and direct DuckDB disagree\n API    ${an.slice(0, 600)}\n direct ${dn.slice(0, 600)}`);
  const at: number[] = [];
  const dt: number[] = [];
  const ac: number[] = [];
  const dc: number[] = [];
  const server: number[] = [];
  const timeApi = async () => {
    const r = await cpuMs(api);
    at.push(r.wall);
    ac.push(r.cpu);
    server.push(r.value.elapsedMs);
  };
  const timeDirect = async () => {
    const r = await cpuMs(direct);
    dt.push(r.wall);
    dc.push(r.cpu);
  };
  for (let i = 0; i < iterations; i++) {
    if (i % 2 === 0) {
      await timeApi();
      await timeDirect();
    } else {
      await timeDirect();
      await timeApi();
    }
  }
  const as = summarize(at);
  const ds = summarize(dt);
  return { name, api: as, direct: ds, apiServerMedian: summarize(server).median, ratio: as.median / ds.median, addedMs: as.median - ds.median, apiCpu: summarize(ac), directCpu: summarize(dc), rows: a0.rows.length };
}

export interface QueryBenchResult {
  readonly settings: BenchSettings;
  readonly archive: { flows: number; files: number; runs: number; bytes: number; generateSeconds: number; probePrefix: string; filesInProbeHour: number };
  /** 1-minute load average of the machine before and after (a shared machine: read the numbers with it). */
  readonly loadAverage: readonly [number, number];
  readonly pairs: readonly PairResult[];
  readonly load: readonly LoadResult[];
}

export async function runQueryBench(s: BenchSettings = settingsFromEnv(), log: (line: string) => void = (l) => console.log(l)): Promise<QueryBenchResult> {
  const a = await ensureFlowArchive({ flows: s.flows, days: s.days, partMinutes: s.partMinutes }, undefined, false, (l) => process.stderr.write(`gen-flow-archive: ${l}\n`));
  const files = a.files.map((f) => f.path);
  const hourKey = probeHour(a).from.slice(0, 13);
  log(`archive: ${a.options.flows.toLocaleString('en')} flows, ${files.length} files in ${a.runs} runs, ${(a.totalBytes / 1e6).toFixed(0)} MB (generated in ${a.generateSeconds.toFixed(0)} s); probe ${a.probePrefix} in ${hourKey}:00 (${a.files.filter((f) => f.hour === hourKey).length} files)`);
  const load0 = loadavg()[0]!;
  const api = await startBenchApi({ archiveDir: a.archiveDir, manifestKey: a.manifestKey, clients: s.clients, threads: s.threads });
  const direct = await openDirect(s.threads);
  try {
    const url = api.server.url;
    const bodies = REQUEST_BODIES(a);
    const sql = directSql(a, files);
    const pairs: PairResult[] = [];
    // The first request builds the manifest catalog (hashing every file): not timed.
    await apiQuery(url, api.tokens[0]!, bodies.grandTotal);
    for (const name of ['top10DstPorts', 'hourlyTcp443', 'prefixHour', 'grandTotal'] as const) {
      const iterations = name === 'prefixHour' ? s.iterSmall : s.iterLarge;
      const r = await comparePair(name, iterations, () => apiQuery(url, api.tokens[0]!, bodies[name]), () => directQuery(direct.conn, sql[name]));
      pairs.push(r);
      log(`${name}: API ${ms(r.api.median)} ms (p90 ${ms(r.api.p90)}), direct ${ms(r.direct.median)} ms (p90 ${ms(r.direct.p90)}), ×${r.ratio.toFixed(2)}, +${ms(r.addedMs)} ms; CPU ${ms(r.apiCpu.median)} vs ${ms(r.directCpu.median)} ms`);
    }
    const load: LoadResult[] = [];
    const body = JSON.stringify(bodies.prefixHour);
    load.push(
      await hammer('api', s.clients, s.concurrentSeconds, async (k) => {
        const res = await fetch(`${url}/v1/query`, { method: 'POST', headers: { Authorization: `Bearer ${api.tokens[k % api.tokens.length]}`, 'Content-Type': 'application/json' }, body });
        await res.arrayBuffer();
        return res.status;
      }),
    );
    const conns = await Promise.all(Array.from({ length: s.clients }, () => direct.instance.connect()));
    load.push(
      await hammer('direct', s.clients, s.concurrentSeconds, async (k) => {
        await directQuery(conns[k]!, sql.prefixHour);
        return 200;
      }),
    );
    for (const c of conns) c.closeSync();
    for (const l of load) log(`${l.clients} clients, ${l.side}: ${l.perSecond.toFixed(0)} req/s, p50 ${ms(l.latency.median)} ms, p99 ${ms(l.latency.p99)} ms, failures ${JSON.stringify(l.failures)}`);
    return {
      settings: s,
      archive: { flows: a.options.flows, files: files.length, runs: a.runs, bytes: a.totalBytes, generateSeconds: a.generateSeconds, probePrefix: a.probePrefix, filesInProbeHour: a.files.filter((f) => f.hour === hourKey).length },
      pairs,
      load,
      loadAverage: [load0, loadavg()[0]!],
    };
  } finally {
    direct.close();
    await api.close();
  }
}

/** The result as markdown tables (for bench/RESULTS.md). */
export function queryBenchMarkdown(r: QueryBenchResult): string {
  const pairs = table(
    ['query', 'API median (p90) ms', 'API server-side median ms', 'direct median (p90) ms', 'API / direct', 'added ms (median)', 'CPU ms API / direct (medians)', 'CPU ratio'],
    r.pairs.map((p) => [p.name, `${ms(p.api.median)} (${ms(p.api.p90)})`, ms(p.apiServerMedian), `${ms(p.direct.median)} (${ms(p.direct.p90)})`, `${p.ratio.toFixed(2)}×`, ms(p.addedMs), `${ms(p.apiCpu.median)} / ${ms(p.directCpu.median)}`, `${(p.apiCpu.median / p.directCpu.median).toFixed(2)}×`]),
  );
  const load = table(
    ['side', 'clients', 'requests', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'failures'],
    r.load.map((l) => [l.side, String(l.clients), String(l.requests), l.perSecond.toFixed(0), ms(l.latency.median), ms(l.latency.p90), ms(l.latency.p99), ms(l.latency.max), JSON.stringify(l.failures)]),
  );
  const a = r.archive;
  const head = `${a.flows.toLocaleString('en')} flows, ${a.files} files in ${a.runs} runs, ${(a.bytes / 1e6).toFixed(0)} MB; probe hour has ${a.filesInProbeHour} files; DuckDB threads ${r.settings.threads}; load average ${r.loadAverage[0].toFixed(1)} → ${r.loadAverage[1].toFixed(1)}`;
  return `${head}\n\n${pairs}\n\n${load}`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await runQueryBench();
  console.log(`\n${queryBenchMarkdown(r)}\n`);
  console.log(JSON.stringify(r));
}
