/**
 * Benchmark archive: writes a signed, committed flow archive of N flows (default 20 million)
 * in the archive layout the sealed processor publishes (schemas/archive.ts), fast, entirely
 * inside DuckDB (`COPY (SELECT <generated columns> FROM range(a, b)) TO ...`), and caches it
 * under `.bench-cache/flow-archive-<key>/` (key = hash of the options, GENERATOR_VERSION and SCHEMA_VERSION).
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
import { SCHEMA_VERSION } from '../schemas/columns.ts';
import { rowSelect, srcPrefix24 } from './flow-rows-sql.ts';
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

/**
 * Cache key of an option set: changes with any option, with GENERATOR_VERSION and with the
 * flow record's SCHEMA_VERSION — an archive of an older schema is read by the API in its
 * compatibility mode (files unified by column name), which a comparison with DuckDB reading
 * the same files directly would then measure instead of the current layout.
 */
export function cacheKey(o: Resolved): string {
  return createHash('sha256').update(JSON.stringify({ v: GENERATOR_VERSION, schema: SCHEMA_VERSION, ...o })).digest('hex').slice(0, 12);
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
