/**
 * Benchmark archive: writes a signed, committed flow archive of N flows (default 20 million)
 * in the archive layout the sealed processor publishes (schemas/archive.ts), fast, entirely
 * inside DuckDB (`COPY (SELECT <generated columns> FROM range(a, b)) TO ...`), and caches it
 * under `.bench-cache/flow-archive-<key>/` (key = hash of the options and GENERATOR_VERSION).
 *
 * Matches the real writer (sealed-processor/sinks/parquet-sink.ts): columns exactly
 * FLOW_COLUMNS in order and type, zstd, ROW_GROUP_SIZE 122880, rows sorted by time_start,
 * the four `flowseal.*` KV metadata keys, one file per (flush batch × hour) with the sink's
 * default flush of 2 000 000 rows (so an hour is usually one file, sometimes two), files named
 * `<run>-<seq>` with `seq` counting up through the run, and one signed manifest per run
 * (test/support/make-archive.ts `writeRunManifest`: sizes, SHA-256, rows, time ranges), signed
 * with a fixed bench Ed25519 key whose public JWK the API pins (datasets list `verified`).
 * A run covers `partMinutes` (default 1440: one capture per day); shorter parts emulate the
 * design's rolling parts (one run, one manifest and at least one file per part).
 *
 * Distributions (deterministic functions of the row index, DuckDB `hash`): diurnal volume
 * (peak 15:00 UTC, trough a third of it), 10 % IPv6, Zipf-like (log-uniform rank) source /24s
 * and /48s, destinations and ports (443 ≈ 40 %, DNS, HTTP, a tail of 8 000 ports), protocol
 * by port, heavy-tailed packets/bytes/durations, end reasons, a few MACs, hashed DNS/SNI/Host
 * names in the anonymizer's form. The values look anonymized; nothing here is real traffic.
 *
 * CLI: `node bin/run-ts.mjs bench/gen-flow-archive.ts [--flows N] [--days D] [--part-minutes M]
 * [--flush-rows R] [--cache DIR] [--force]` prints the archive directory and its summary.
 *
 * Owns: benchmark archive generation and its cache. Never: used by production code or tests'
 * fixtures; writes outside its cache directory.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import type { JWK } from 'jose';
import { ArchiveKv, flowFilePath } from '../schemas/archive.ts';
import { FLOW_COLUMNS, SCHEMA_VERSION } from '../schemas/columns.ts';
import { signerFromSeed } from '../sealed-processor/sinks/manifest-signer.ts';
import { writeRunManifest, type CommittedFile } from '../test/support/make-archive.ts';

/** Bumped whenever the generated data or layout changes (invalidates cached archives). */
export const GENERATOR_VERSION = 1;

export interface FlowArchiveOptions {
  /** Total flows. Default 20 000 000. */
  readonly flows?: number;
  /** Days covered, from `start`. Default 2. */
  readonly days?: number;
  /** First day, `YYYY-MM-DD` (UTC). Default 2026-03-02. */
  readonly start?: string;
  /** Minutes per run (manifest); divides 60 or is a multiple of 60. Default 1440. */
  readonly partMinutes?: number;
  /** Rows per sink flush (the processor's `flushRows`). Default 2 000 000. */
  readonly flushRows?: number;
  /** Share of IPv6 flows. Default 0.1. */
  readonly ipv6Share?: number;
  /** Salt of every pseudo-random column. Default 1. */
  readonly seed?: number;
  readonly dataset?: string;
}

type Resolved = Required<FlowArchiveOptions>;

/** One committed file, as the bench needs it. */
export interface ArchiveFileInfo {
  /** Absolute path. */
  readonly path: string;
  /** `YYYY-MM-DDTHH` of its partition. */
  readonly hour: string;
  readonly rows: number;
  readonly bytes: number;
}

/** A generated archive (also the cache's `meta.json`). */
export interface FlowArchive {
  readonly options: Resolved;
  /** Archive root (what `flowseal serve --archive` takes). */
  readonly archiveDir: string;
  readonly dataset: string;
  /** Committed files in manifest order, run by run. */
  readonly files: readonly ArchiveFileInfo[];
  readonly runs: number;
  /** First hour and end (exclusive) of the data, ISO-8601 `Z`. */
  readonly timeStart: string;
  readonly timeEnd: string;
  /** Public JWK of the manifests' signing key (pin it as `manifestKeys`). */
  readonly manifestKey: JWK;
  /** A mid-popularity source /24 (rank PROBE_RANK): a realistic "one prefix" lookup. */
  readonly probePrefix: string;
  readonly generateSeconds: number;
  readonly totalBytes: number;
}

const HOUR_US = 3_600_000_000;
const HOUR_MS = 3_600_000;
/** Popularity rank of the probe /24 among 65 535 source prefixes. */
export const PROBE_RANK = 300;

export function resolveOptions(o: FlowArchiveOptions = {}): Resolved {
  const r: Resolved = {
    flows: o.flows ?? 20_000_000,
    days: o.days ?? 2,
    start: o.start ?? '2026-03-02',
    partMinutes: o.partMinutes ?? 1440,
    flushRows: o.flushRows ?? 2_000_000,
    ipv6Share: o.ipv6Share ?? 0.1,
    seed: o.seed ?? 1,
    dataset: o.dataset ?? 'bench',
  };
  if (!Number.isInteger(r.flows) || r.flows < 1) throw new TypeError('flows must be a positive integer');
  if (!Number.isInteger(r.days) || r.days < 1 || r.days > 31) throw new TypeError('days must be an integer from 1 to 31');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(r.start) || !Number.isFinite(Date.parse(`${r.start}T00:00:00Z`))) throw new TypeError('start must be YYYY-MM-DD');
  const m = r.partMinutes;
  if (!Number.isInteger(m) || m < 1 || !(60 % m === 0 || m % 60 === 0)) throw new TypeError('partMinutes must divide 60 or be a multiple of 60');
  if (!Number.isInteger(r.flushRows) || r.flushRows < 1000) throw new TypeError('flushRows must be an integer ≥ 1000');
  if (!(r.ipv6Share >= 0 && r.ipv6Share <= 1)) throw new TypeError('ipv6Share must be within [0, 1]');
  if (!Number.isInteger(r.seed) || r.seed < 0 || r.seed > 1000) throw new TypeError('seed must be an integer from 0 to 1000');
  return r;
}

/** Cache key of an option set: changes with any option and with GENERATOR_VERSION. */
export function cacheKey(o: Resolved): string {
  return createHash('sha256').update(JSON.stringify({ v: GENERATOR_VERSION, ...o })).digest('hex').slice(0, 12);
}

/** Flows per hour: diurnal weights (peak 15:00 UTC), summing exactly to `flows`. */
export function hourlyCounts(flows: number, hours: number): number[] {
  const w = Array.from({ length: hours }, (_, h) => 2 + Math.cos((2 * Math.PI * ((h % 24) - 15)) / 24));
  const total = w.reduce((a, b) => a + b, 0);
  const counts = w.map((x) => Math.floor((flows * x) / total));
  let rest = flows - counts.reduce((a, b) => a + b, 0);
  for (let h = 0; rest > 0; h = (h + 1) % hours, rest--) counts[h]++;
  return counts;
}

/** A uniform draw in [0, 1) for row `i`, stream `k` (53 bits of DuckDB's hash). */
function u(k: number, seed: number): string {
  return `((hash(i * 7919 + ${seed * 1000 + k}) >> 11)::DOUBLE / 9007199254740992.0)`;
}

/** Log-uniform rank in [1, n): P(rank = r) ∝ log(1 + 1/r), Zipf-like with exponent ≈ 1. */
function rank(n: number, draw: string): string {
  return `least(${n - 1}, floor(pow(${n}, ${draw}))::BIGINT)`;
}

/** 64-bit pseudo-random value keyed by an integer expression and a salt. */
function keyed(expr: string, salt: number, seed: number): string {
  return `hash((${expr})::BIGINT * 1000003 + ${seed * 1000 + salt})`;
}

/** IPv4 /24 (as the integer of its network address >> 8) of source prefix rank `r`. */
function srcPrefix24(r: string, seed: number): string {
  return `(${keyed(r, 101, seed)} % 16777216)`;
}

const POPULAR_PORTS = [8080, 123, 22, 993, 25, 3389, 445, 8443, 5223, 587, 110, 143, 995, 1194, 500, 4500, 3478, 853, 5228, 1935];
const MACS = Array.from({ length: 8 }, (_, k) => `'02:1a:${(0x30 + k * 17).toString(16)}:7c:${(0x10 + k * 29).toString(16).padStart(2, '0')}:e${k}'`);

/** The row SELECT in three levels: draws, derived integers, final typed columns (FLOW_COLUMNS order). */
function rowSelect(o: Resolved, from: string): string {
  const s = o.seed;
  const v6group = (half: string, shift: number) => `printf('%x', (${half} >> ${shift}) & 65535)`;
  const v6text = (hi: string, lo: string) =>
    `concat_ws(':', ${[48, 32, 16, 0].map((k) => v6group(hi, k)).join(', ')}, ${[48, 32, 16, 0].map((k) => v6group(lo, k)).join(', ')})`;
  const v4text = (v: string) => `concat_ws('.', (${v} >> 24) & 255, (${v} >> 16) & 255, (${v} >> 8) & 255, ${v} & 255)`;
  // Every IPv6 group gets a non-zero top nibble: the text is then canonical (RFC 5952) without `::`.
  const nz = '1152939097061330944'; // 0x1000100010001000
  const name = (r: string, salt: number, suffix: string) => `printf('%016x.%016x.${suffix}', ${keyed(r, salt, s)}, ${keyed(r, salt + 1, s)})`;
  const level1 = [
    'i',
    't',
    `${u(1, s)} < ${o.ipv6Share} AS v6`,
    `${u(2, s)} < 0.015 AS icmp`,
    `${u(3, s)} AS up`,
    `${u(4, s)} AS uproto`,
    `${rank(65536, u(5, s))} AS rs`,
    `${rank(254, u(6, s))} AS rh`,
    `${rank(1048576, u(7, s))} AS rd`,
    `${rank(2000, u(9, s))}::UBIGINT AS pf`,
    `${u(10, s)} AS urev`,
    `${u(11, s)} AS uratio`,
    `${u(12, s)} AS usz`,
    `${u(13, s)} AS uszr`,
    `${u(14, s)} AS udur`,
    `${u(15, s)} AS uend`,
    `${u(16, s)} AS uname`,
    `${keyed('i', 17, s)} AS hsp`,
  ].join(', ');
  const tailRank = `floor(pow(8192, (up - 0.60) / 0.40))::INTEGER`;
  const level2 = [
    '*',
    `CASE WHEN icmp THEN 0 WHEN up < 0.42 THEN 443 WHEN up < 0.52 THEN 53 WHEN up < 0.60 THEN 80 ` +
      `WHEN ${tailRank} <= ${POPULAR_PORTS.length} THEN [${POPULAR_PORTS.join(', ')}][${tailRank}] ` +
      `ELSE 1024 + (${keyed(tailRank, 18, s)} % 64000)::INTEGER END AS dport`,
    // IPv4 values and IPv6 halves (hi: /48 prefix + /64 subnet, lo: host), prefix-structured.
    `(${srcPrefix24('rs', s)} << 8) + rh AS src4`,
    `(${keyed('rd', 102, s)} % 4294967296) AS dst4`,
    `((((${keyed('rs % 4096', 103, s)} % 281474976710656) << 16) + rh) | ${nz})::UBIGINT AS src6hi`,
    `((${keyed('rs * 256 + rh', 104, s)}) | ${nz})::UBIGINT AS src6lo`,
    `((((${keyed('rd % 65536', 105, s)} % 281474976710656) << 16) + (rd % 7)) | ${nz})::UBIGINT AS dst6hi`,
    `((${keyed('rd', 106, s)}) | ${nz})::UBIGINT AS dst6lo`,
  ].join(', ');
  const protoSql =
    `CASE WHEN icmp THEN (CASE WHEN v6 THEN 58 ELSE 1 END) WHEN dport IN (53, 123, 500, 4500, 3478) THEN 17 ` +
    `WHEN dport = 443 AND uproto < 0.12 THEN 17 WHEN uproto < 0.08 THEN 17 ELSE 6 END`;
  const level3 = ['*', `${protoSql} AS proto`, `CASE WHEN urev < 0.1 THEN 0 ELSE floor(pf * (0.3 + 1.4 * uratio))::UBIGINT END AS pr`].join(', ');
  const mac = (salt: number) => `[${MACS.join(', ')}][1 + (${keyed('rs', salt, s)} % ${MACS.length})::INTEGER]`;
  const cols: Record<string, string> = {
    time_start: 'make_timestamp(t)',
    time_end: `make_timestamp(t + CASE WHEN pf + pr <= 1 THEN 0 ELSE floor(pow(300000000, udur))::BIGINT END)`,
    ip_version: 'CASE WHEN v6 THEN 6 ELSE 4 END',
    protocol: 'proto',
    src_addr: `CASE WHEN v6 THEN ${v6text('src6hi', 'src6lo')} ELSE ${v4text('src4')} END`,
    src_addr_hi: 'CASE WHEN v6 THEN src6hi ELSE 0 END',
    src_addr_lo: 'CASE WHEN v6 THEN src6lo ELSE 281470681743360 + src4 END',
    dst_addr: `CASE WHEN v6 THEN ${v6text('dst6hi', 'dst6lo')} ELSE ${v4text('dst4')} END`,
    dst_addr_hi: 'CASE WHEN v6 THEN dst6hi ELSE 0 END',
    dst_addr_lo: 'CASE WHEN v6 THEN dst6lo ELSE 281470681743360 + dst4 END',
    src_port: `CASE WHEN icmp THEN 0 ELSE 32768 + (hsp % 28232) END`,
    dst_port: 'dport',
    icmp_type: `CASE WHEN NOT icmp THEN NULL WHEN v6 THEN 128 ELSE 8 END`,
    icmp_code: `CASE WHEN icmp THEN 0 END`,
    vlan_id: 'NULL',
    src_mac: mac(107),
    dst_mac: mac(108),
    packets_fwd: 'pf',
    bytes_fwd: `pf * (40 + floor(usz * 600)::UBIGINT)`,
    packets_rev: 'pr',
    bytes_rev: `pr * (40 + floor(uszr * 1400)::UBIGINT)`,
    tcp_flags_fwd: `CASE WHEN proto <> 6 THEN 0 WHEN pr = 0 THEN 2 WHEN uend < 0.62 THEN 27 WHEN uend < 0.75 THEN 22 ELSE 26 END`,
    tcp_flags_rev: `CASE WHEN proto <> 6 OR pr = 0 THEN 0 WHEN uend < 0.62 THEN 27 ELSE 26 END`,
    end_reason: `CASE WHEN proto <> 6 THEN 'idle' WHEN uend < 0.62 THEN 'fin' WHEN uend < 0.75 THEN 'rst' WHEN uend < 0.95 THEN 'idle' ELSE 'active' END`,
    dns_qname: `CASE WHEN dport = 53 AND proto = 17 THEN ${name(rank(100000, 'uname'), 110, 'com')} END`,
    tls_sni: `CASE WHEN dport = 443 AND proto = 6 AND uname < 0.85 THEN ${name(rank(200000, '(uname / 0.85)'), 112, 'com')} END`,
    http_host: `CASE WHEN dport = 80 AND proto = 6 THEN ${name(rank(50000, 'uname'), 114, 'net')} END`,
  };
  const final = FLOW_COLUMNS.map((c) => `CAST(${cols[c.name]} AS ${c.duckdbType}) AS ${c.name}`).join(', ');
  return `SELECT ${final} FROM (SELECT ${level3} FROM (SELECT ${level2} FROM (SELECT ${level1} FROM ${from})))`;
}

/** One file to write: a row range inside one hour (and one flush batch of one run). */
interface FilePlan {
  readonly run: string;
  readonly seq: number;
  readonly hour: number;
  readonly first: number;
  readonly last: number;
}

/** Runs (parts) and their files: per run, flush batches of `flushRows`, split at hour boundaries. */
export function planFiles(o: Resolved): { runs: { id: string; files: FilePlan[] }[]; counts: number[]; hourFirst: number[] } {
  const hours = o.days * 24;
  const counts = hourlyCounts(o.flows, hours);
  const hourFirst: number[] = [];
  counts.reduce((acc, n, h) => ((hourFirst[h] = acc), acc + n), 0);
  // Row index at minute `m` (from the start): rows are evenly spaced inside each hour.
  const rowAt = (m: number): number => {
    const h = Math.floor(m / 60);
    if (h >= hours) return o.flows;
    return hourFirst[h] + Math.floor((counts[h] * (m % 60)) / 60);
  };
  const runs: { id: string; files: FilePlan[] }[] = [];
  for (let m0 = 0, part = 0; m0 < hours * 60; m0 += o.partMinutes, part++) {
    const id = `bench${String(part).padStart(5, '0')}`;
    const a = rowAt(m0);
    const b = rowAt(Math.min(hours * 60, m0 + o.partMinutes));
    const files: FilePlan[] = [];
    let seq = 0;
    for (let batch = a; batch < b; batch += o.flushRows) {
      const end = Math.min(b, batch + o.flushRows);
      for (let h = Math.floor(m0 / 60); h < hours; h++) {
        const lo = Math.max(batch, hourFirst[h]);
        const hi = Math.min(end, hourFirst[h] + counts[h]);
        if (lo < hi) files.push({ run: id, seq: seq++, hour: h, first: lo, last: hi });
        if (hourFirst[h] + counts[h] >= end) break;
      }
    }
    runs.push({ id, files });
  }
  return { runs, counts, hourFirst };
}

function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** The fixed bench manifest key's seed (a bench key, not a secret: it signs synthetic data only). */
export function benchSeed(): Uint8Array {
  return new Uint8Array(createHash('sha256').update('flowseal bench manifest signing key').digest());
}

/** Writes the archive under `dir` (which must not exist yet) and returns its description. */
export async function writeFlowArchive(dir: string, options: FlowArchiveOptions = {}, log: (s: string) => void = () => {}): Promise<FlowArchive> {
  const o = resolveOptions(options);
  const t0 = performance.now();
  const archiveDir = join(dir, 'archive');
  const startMs = Date.parse(`${o.start}T00:00:00Z`);
  const plan = planFiles(o);
  const signer = await signerFromSeed(benchSeed(), true);
  const instance = await DuckDBInstance.create(':memory:', { threads: '2', preserve_insertion_order: 'true' });
  const conn = await instance.connect();
  const files: ArchiveFileInfo[] = [];
  let totalBytes = 0;
  try {
    for (const [runIndex, run] of plan.runs.entries()) {
      const kv = `{${sqlString(ArchiveKv.schemaVersion)}: '${SCHEMA_VERSION}', ${sqlString(ArchiveKv.policyHash)}: 'sha256:bench-policy', ${sqlString(ArchiveKv.keyId)}: 'kid-bench', ${sqlString(ArchiveKv.runId)}: ${sqlString(run.id)}}`;
      const committed: CommittedFile[] = [];
      for (const f of run.files) {
        const hourIso = new Date(startMs + f.hour * HOUR_MS).toISOString();
        const file = join(archiveDir, o.dataset, flowFilePath(hourIso, f.run, f.seq));
        mkdirSync(join(file, '..'), { recursive: true });
        const hourUs = (startMs + f.hour * HOUR_MS) * 1000;
        const n = plan.counts[f.hour];
        const step = Math.floor(HOUR_US / n);
        // Evenly spaced slots within the hour, jittered inside each slot: sorted by time_start.
        const t = `${hourUs} + ((range - ${plan.hourFirst[f.hour]}) * ${HOUR_US}) // ${n} + (hash(range * 31 + ${o.seed}) % ${step})::BIGINT`;
        const from = `(SELECT range AS i, ${t} AS t FROM range(${f.first}, ${f.last}))`;
        await conn.run(`COPY (${rowSelect(o, from)}) TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880, KV_METADATA ${kv})`);
        const info = await conn.runAndReadAll(
          `SELECT count(*)::BIGINT, strftime(min(time_start), '%Y-%m-%dT%H:%M:%S.%fZ'), strftime(max(time_start), '%Y-%m-%dT%H:%M:%S.%fZ') FROM read_parquet(${sqlString(file)})`,
        );
        const [rows, ts, te] = info.getRows()[0] as [bigint, string, string];
        if (Number(rows) !== f.last - f.first) throw new Error(`file ${file} has ${rows} rows, expected ${f.last - f.first}`);
        committed.push({ file, rows: Number(rows), timeStart: ts, timeEnd: te });
        const size = statSync(file).size;
        totalBytes += size;
        files.push({ path: file, hour: hourIso.slice(0, 13), rows: Number(rows), bytes: size });
      }
      const first = committed[0];
      const ends = await conn.runAndReadAll(
        `SELECT strftime(max(time_end), '%Y-%m-%dT%H:%M:%S.%fZ') FROM read_parquet([${committed.map((c) => sqlString(c.file)).join(', ')}])`,
      );
      await writeRunManifest(archiveDir, {
        dataset: o.dataset,
        runId: run.id,
        timeStart: first ? first.timeStart : null,
        timeEnd: first ? (ends.getRows()[0]![0] as string) : null,
        files: committed,
        policyHash: 'sha256:bench-policy',
        keyId: 'kid-bench',
        signer,
      });
      if (plan.runs.length <= 48 || (runIndex + 1) % 48 === 0) log(`run ${run.id}: ${committed.length} files, ${files.length} so far, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
    const probe = await conn.runAndReadAll(`SELECT ${srcPrefix24(`${PROBE_RANK}::BIGINT`, o.seed)}::BIGINT`);
    const p = Number(probe.getRows()[0]![0] as bigint);
    const probePrefix = `${(p >> 16) & 255}.${(p >> 8) & 255}.${p & 255}.0/24`;
    return {
      options: o,
      archiveDir,
      dataset: o.dataset,
      files,
      runs: plan.runs.length,
      timeStart: new Date(startMs).toISOString(),
      timeEnd: new Date(startMs + o.days * 24 * HOUR_MS).toISOString(),
      manifestKey: signer.publicJwk,
      probePrefix,
      generateSeconds: (performance.now() - t0) / 1000,
      totalBytes,
    };
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/** Default cache root: `<repo>/.bench-cache`. */
export const DEFAULT_CACHE = fileURLToPath(new URL('../.bench-cache/', import.meta.url));

/**
 * The cached archive for `options`, generating it first when absent (into a temporary
 * directory renamed into place when complete, so an interrupted run leaves no half archive).
 * `force` regenerates. The cache directory gets a `.gitignore` of `*`.
 */
export async function ensureFlowArchive(options: FlowArchiveOptions = {}, cache = DEFAULT_CACHE, force = false, log: (s: string) => void = () => {}): Promise<FlowArchive> {
  const o = resolveOptions(options);
  const root = resolve(cache);
  mkdirSync(root, { recursive: true });
  if (!existsSync(join(root, '.gitignore'))) writeFileSync(join(root, '.gitignore'), '*\n');
  const dir = join(root, `flow-archive-${cacheKey(o)}`);
  const meta = join(dir, 'meta.json');
  if (!force && existsSync(meta)) return JSON.parse(readFileSync(meta, 'utf8')) as FlowArchive;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const made = await writeFlowArchive(tmp, o, log);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  // Paths move with the rename; the manifests hold relative paths only.
  const fixed: FlowArchive = { ...made, archiveDir: join(dir, 'archive'), files: made.files.map((f) => ({ ...f, path: join(dir, f.path.slice(tmp.length)) })) };
  writeFileSync(meta, JSON.stringify(fixed, null, 1));
  return fixed;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      flows: { type: 'string' },
      days: { type: 'string' },
      'part-minutes': { type: 'string' },
      'flush-rows': { type: 'string' },
      cache: { type: 'string' },
      force: { type: 'boolean' },
    },
  });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const a = await ensureFlowArchive(
    { flows: num(values.flows) ?? 20_000_000, days: num(values.days) ?? 2, partMinutes: num(values['part-minutes']) ?? 1440, flushRows: num(values['flush-rows']) ?? 2_000_000 },
    values.cache ?? DEFAULT_CACHE,
    values.force ?? false,
    (s) => process.stderr.write(`${s}\n`),
  );
  console.log(JSON.stringify({ archiveDir: a.archiveDir, files: a.files.length, runs: a.runs, bytes: a.totalBytes, generateSeconds: a.generateSeconds, probePrefix: a.probePrefix }, null, 1));
}
