/**
 * The DuckDB `QueryEngine`: one in-memory instance, locked down as a sandbox at start, one
 * connection per query with a deadline, streamed reading with a row cap.
 *
 * Sandbox (order matters, see shared/FACTS.md): on a bootstrap connection
 * `SET temp_directory`, `SET allowed_directories = ['<archive>/']`,
 * `SET enable_external_access = false`, `SET lock_configuration = true`; extensions never
 * auto-install/auto-load. After that no connection can read or write outside the archive (and
 * the spill directory below), ATTACH, INSTALL/LOAD, or SET anything. `allowed_directories` also
 * permits writes under the archive, so the process must get the archive read-only from the OS
 * as well.
 *
 * Spilling: DuckDB adds its temp directory to `allowed_directories` when external access is
 * disabled, and its default is `<cwd>/.tmp` — a directory that may hold anything. So the temp
 * directory is set first, to a fresh, private (0700) directory created under the OS temp dir
 * and removed on `close()`, or to nothing (`spill: false`: no disk spilling, big aggregates
 * fail with ERR_QUERY_TOO_LARGE instead). Users never name paths: the only paths reaching SQL
 * are `datasetFiles(id)`, the committed files of a dataset.
 *
 * Record listings asked for with `rowText` (api/ports.ts) over files of the current schema
 * version come back as rows DuckDB rendered itself (engine/duckdb-row-text-sql.ts): one string
 * per row crosses the binding instead of one value per cell.
 *
 * What is readable is decided by engine/manifest-catalog.ts: only files listed in manifests
 * that verify (and match their size and hash); the catalog is rebuilt in the background once
 * it is older than `datasetCacheMs`, so new runs appear without a restart, and every query's
 * files are checked afterwards to still be the versions the catalog accepted.
 *
 * Owns: the DuckDB instance, its lockdown, the catalog's refresh, error mapping. Never: echoes
 * SQL, paths or DuckDB messages to callers — errors become stable codes with generic messages
 * (the original is kept as `cause` for logs).
 */
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, BIGINT, BOOLEAN, DOUBLE, LIST, UBIGINT, VARCHAR, listValue } from '@duckdb/node-api';
import type { DuckDBConnection, DuckDBDataChunk, DuckDBType, DuckDBValue } from '@duckdb/node-api';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { DatasetId } from '../../schemas/claims.ts';
import { fileHourStartMs } from '../../schemas/archive.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import { batchCells, batchRowCount } from '../ports.ts';
import type { Cell, DatasetInfo, EngineRunOptions, EngineStream, QueryEngine, QueryParam, RowBatch } from '../ports.ts';
import type { QueryPlan } from '../query/plan.ts';
import { compilePlan } from './duckdb-plan-sql.ts';
import { toJsonValue } from './json-value.ts';
import { createShaper, type ColumnBatch, type RowShaper } from './duckdb-shape.ts';
import { createManifestCatalog, stillCommitted, type Catalog, type RunRejection } from './manifest-catalog.ts';
import type { JWK } from 'jose';

export interface DuckDbEngineOptions {
  /** Absolute path of the archive root. */
  readonly archiveDir: string;
  /** DuckDB `memory_limit`. Default `1GB`. */
  readonly memoryLimit?: string;
  /** DuckDB `threads`. Default 2. */
  readonly threads?: number;
  /** Idle connections kept for reuse (the API's concurrent query slots are a good size). Default 8. */
  readonly poolSize?: number;
  /**
   * Whether DuckDB may spill to disk (in a private directory the engine creates under the OS
   * temp dir and removes on close). Default true; false keeps every query in `memoryLimit`.
   */
  readonly spill?: boolean;
  /** How long a dataset listing is reused, ms (new runs appear within this). Default 10 000. */
  readonly datasetCacheMs?: number;
  /** Pinned manifest signing keys (public JWKs); absent: manifests are checked against their own key and listed unverified. */
  readonly manifestKeys?: readonly JWK[] | null;
  /** Whether committed files' SHA-256 are checked (once per file version). Default true. */
  readonly verifyHashes?: boolean;
  /** Bytes hashed per catalog build at most (default 4 GiB); later runs are pending until the next build. */
  readonly hashBudgetBytes?: number;
  /** Called once per listing refresh for each run left out (dataset, run id, reason; no contents). */
  readonly onRejectedRun?: (r: { dataset: string; run: string; reason: RunRejection }) => void;
  readonly now?: () => number;
}

export interface DuckDbEngine extends QueryEngine {
  close(): Promise<void>;
  /** Rebuilds the dataset catalog now and waits for it (listings otherwise refresh in the background). */
  refresh(): Promise<void>;
  /**
   * Runs SQL text directly, for this adapter's own sandbox tests and benchmarks: no route or
   * port reaches it (the API only ever calls `execute` with a plan).
   */
  runSql(sql: string, params: readonly QueryParam[], options: EngineRunOptions & { maxRows: number }): Promise<{ columns: { name: string; type: string }[]; rows: Cell[][]; truncated: boolean }>;
  /** As `runSql`, with DuckDB's own values (lists, structs, bigint) instead of JSON-safe cells. */
  runSqlRaw(sql: string, params: readonly QueryParam[], options: EngineRunOptions & { maxRows: number }): Promise<{ columns: { name: string; type: string }[]; rows: unknown[][]; truncated: boolean }>;
  /** The committed files of a listed dataset (benchmarks compare direct DuckDB over the same files). */
  datasetFiles(id: string): readonly string[];
}

/** One parameterized statement. */
interface Statement {
  readonly sql: string;
  readonly params: readonly QueryParam[];
}

/** A DuckDB chunk as a column batch: a column is converted to JS values only when asked for. */
function chunkBatch(chunk: DuckDBDataChunk): ColumnBatch {
  const cols: (readonly unknown[] | undefined)[] = [];
  return {
    rowCount: chunk.rowCount,
    column: (i) => (cols[i] ??= chunk.getColumnValues(i)),
    value: (i, row) => (cols[i] !== undefined ? cols[i]![row] : chunk.getColumnVector(i).getItem(row)),
  };
}

/**
 * A record listing in time order, over files that all carry the hour layout, as the files of
 * each hour in turn (schemas/archive.ts: every flow of an hour's file starts within that hour,
 * so the answer's order is the hours' order): the engine reads an hour at a time and stops once
 * the limit is reached, instead of sorting every match of the range. Null when the plan's
 * order does not begin with `time_start` ascending, or a file has no hour.
 */
export function timeOrderedHours(plan: QueryPlan, files: readonly string[]): string[][] | null {
  if (plan.kind !== 'records' || files.length === 0) return null;
  const lead = plan.order[0];
  if (lead !== undefined && !(lead.by === 'time_start' && lead.dir === 'asc')) return null;
  const byHour = new Map<number, string[]>();
  for (const f of files) {
    const hour = fileHourStartMs(f);
    if (hour === null) return null;
    const list = byHour.get(hour);
    if (list) list.push(f);
    else byHour.set(hour, [f]);
  }
  return [...byHour].sort((a, b) => a[0] - b[0]).map(([, list]) => list);
}

/** How often a connection past its deadline is interrupted again until its statement stops. */
const INTERRUPT_REPEAT_MS = 20;

function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

function paramType(v: QueryParam): DuckDBType {
  if (Array.isArray(v)) return LIST(VARCHAR);
  if (typeof v === 'bigint') return UBIGINT;
  if (typeof v === 'boolean') return BOOLEAN;
  if (typeof v === 'string') return VARCHAR;
  return Number.isInteger(v) ? BIGINT : DOUBLE;
}

function bindValue(v: QueryParam): DuckDBValue | string | number | bigint | boolean {
  return Array.isArray(v) ? listValue([...v]) : (v as string | number | bigint | boolean);
}

/** Maps a DuckDB failure to a stable code; the message never contains SQL or paths. */
export function mapDuckDbError(err: unknown, timedOut: boolean): AppError {
  if (err instanceof AppError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (timedOut || msg.startsWith('INTERRUPT')) return new AppError(ErrorCode.QueryTimeout, 'query exceeded its deadline', { cause: err });
  if (msg.startsWith('Out of Memory')) return new AppError(ErrorCode.QueryTooLarge, 'query needs more memory than allowed; narrow the time range or filter', { cause: err });
  if (msg.startsWith('Out of Range')) return new AppError(ErrorCode.QueryInvalid, 'arithmetic overflow while evaluating the query', { cause: err });
  return new AppError(ErrorCode.Internal, 'query failed', { cause: err });
}

/**
 * Creates the engine and locks the instance down (creating the spill directory, see above).
 * @throws TypeError when `archiveDir` is not absolute or contains the OS temp directory.
 */
export async function createDuckDbEngine(options: DuckDbEngineOptions): Promise<DuckDbEngine> {
  let root = options.archiveDir.replace(/\/+$/, '');
  if (!root.startsWith('/')) throw new TypeError('archiveDir must be an absolute path');
  // The catalog requires every file's real path to be the path it reads; DuckDB resolves links.
  if (existsSync(root)) root = realpathSync(root);
  const now = options.now ?? Date.now;
  const cacheMs = options.datasetCacheMs ?? 10_000;
  const spillDir = options.spill === false ? null : mkdtempSync(join(tmpdir(), 'flowseal-duckdb-spill-'));
  if (spillDir !== null && (spillDir === root || spillDir.startsWith(`${root}/`))) {
    rmSync(spillDir, { recursive: true, force: true });
    throw new TypeError('archiveDir must not contain the spill directory (the OS temp directory)');
  }
  const removeSpillDir = (): void => {
    if (spillDir !== null) rmSync(spillDir, { recursive: true, force: true });
  };
  const instance = await DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    allow_community_extensions: 'false',
    threads: String(options.threads ?? 2),
    memory_limit: options.memoryLimit ?? '1GB',
  }).catch((err: unknown) => {
    removeSpillDir();
    throw err;
  });
  try {
    const boot = await instance.connect();
    // GLOBAL: a plain SET is this (bootstrap) connection's only, and the query connections
    // would parse every file's footer again on every query.
    await boot.run('SET GLOBAL parquet_metadata_cache = true');
    // Before the lockdown: DuckDB adds the temp directory to allowed_directories.
    await boot.run(`SET temp_directory = ${sqlString(spillDir ?? '')}`);
    await boot.run(`SET allowed_directories = [${sqlString(`${root}/`)}]`);
    await boot.run('SET enable_external_access = false');
    await boot.run('SET lock_configuration = true');
    boot.closeSync();
  } catch (err) {
    instance.closeSync();
    removeSpillDir();
    throw err;
  }

  /**
   * Connections whose last answer was read to its end: a new connection costs DuckDB a fresh
   * client context (measured ~10 ms on a 57-file top-10 — bench/RESULTS.md), so they are kept,
   * up to `poolSize`. Interrupted, failed or abandoned ones are closed.
   */
  const idle: DuckDBConnection[] = [];
  const poolSize = options.poolSize ?? 8;
  let shut = false;

  /**
   * Opens a streamed statement on its own connection with a deadline `timeoutMs` from now. At
   * the deadline the connection is interrupted, and interrupted again every INTERRUPT_REPEAT_MS
   * until the stream is closed: DuckDB clears a connection's interrupt flag when a statement
   * starts, so an interrupt that lands while the statement still waits for a worker thread
   * (prepare and execute run on the runtime's worker pool) is lost, and the statement would
   * then run to completion. An abort of `signal` (the client went away) stops it the same way.
   * Rows are shaped batch by batch (one DuckDB chunk, ~2 048 rows, at a time), column by
   * column. `next` gives the statements to run one after another on the connection: called
   * first, then after each statement has been read to its end unless the shaper is full (it
   * has seen more rows than its limit); null ends the answer. After the last batch `afterRead`
   * runs (the committed-files check) before the iteration ends.
   */
  async function openStream(next: (emitted: number) => Statement | null, opts: EngineRunOptions, shape: (columns: { name: string; type: string }[]) => RowShaper, afterRead: () => Promise<void>): Promise<EngineStream> {
    const aborted = () => new AppError(ErrorCode.BadRequest, 'request aborted by the client');
    if (opts.signal?.aborted) throw aborted();
    if (!(opts.timeoutMs > 0)) throw new AppError(ErrorCode.QueryTimeout, 'query exceeded its deadline');
    const conn = idle.pop() ?? (await instance.connect());
    /** Set when every statement was read to its end, uninterrupted: the connection may be reused. */
    let reusable = false;
    let stop: 'timeout' | 'abort' | null = null;
    let repeat: ReturnType<typeof setInterval> | undefined;
    const halt = (why: 'timeout' | 'abort'): void => {
      if (stop !== null) return;
      stop = why;
      conn.interrupt();
      repeat = setInterval(() => conn.interrupt(), INTERRUPT_REPEAT_MS);
    };
    const timer = setTimeout(() => halt('timeout'), opts.timeoutMs);
    const onAbort = (): void => halt('abort');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    let closed = false;
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      clearInterval(repeat);
      opts.signal?.removeEventListener('abort', onAbort);
      if (reusable && stop === null && !shut && idle.length < poolSize) idle.push(conn);
      else conn.closeSync();
    };
    const fail = (err: unknown): AppError => (stop === 'abort' ? aborted() : mapDuckDbError(err, stop === 'timeout'));
    const run = async (st: Statement): Promise<Awaited<ReturnType<DuckDBConnection['stream']>>> => {
      try {
        return await conn.stream(st.sql, st.params.map(bindValue), st.params.map(paramType));
      } catch (err) {
        await close();
        throw fail(err);
      }
    };
    const first = next(0);
    if (first === null) {
      await close();
      throw new TypeError('openStream without a statement');
    }
    let result = await run(first);
    const names = result.columnNames();
    const types = result.columnTypes();
    const shaper = shape(names.map((name, i) => ({ name, type: String(types[i]) })));
    let rowsOut = 0;
    let cut = false;
    let finished = false;
    async function* batches(): AsyncGenerator<RowBatch> {
      try {
        for (;;) {
          let chunk;
          try {
            chunk = await result.fetchChunk();
          } catch (err) {
            throw fail(err);
          }
          // An interrupt during fetching ends the stream silently: the flags tell.
          if (stop === 'abort') throw aborted();
          if (stop === 'timeout') {
            if (rowsOut === 0) throw new AppError(ErrorCode.QueryTimeout, 'query exceeded its deadline');
            cut = true;
            break;
          }
          if (!chunk || chunk.rowCount === 0) {
            const following = shaper.full ? null : next(rowsOut);
            if (following === null) {
              reusable = true;
              break;
            }
            result = await run(following);
            continue;
          }
          const out = shaper.push(chunkBatch(chunk));
          const n = batchRowCount(out);
          rowsOut += n;
          if (n > 0) yield out;
        }
        await afterRead();
        finished = true;
      } finally {
        await close();
      }
    }
    const gen = batches();
    return {
      columns: shaper.columns,
      batches: {
        [Symbol.asyncIterator]: () => gen,
      },
      stats() {
        if (!finished && !cut) throw new TypeError('stats() before the batches were read');
        const st = shaper.stats();
        return cut ? { ...st, truncated: true } : st;
      },
      async close() {
        await gen.return(undefined);
        await close();
      },
    };
  }

  /** SQL text straight to DuckDB (adapter tests and benchmarks only), raw values. */
  async function runDirect(sql: string, params: readonly QueryParam[], opts: EngineRunOptions & { maxRows: number }): Promise<{ columns: { name: string; type: string }[]; rows: unknown[][]; truncated: boolean }> {
    let cols: { name: string; type: string }[] = [];
    let truncated = false;
    const rows: unknown[][] = [];
    let once = false;
    const stream = await openStream(() => (once ? null : ((once = true), { sql, params })), opts, (columns) => {
      cols = columns;
      return {
        columns,
        full: false,
        // The shaper's cells are typed as Cell; raw values ride through unchanged here.
        push: (batch) => {
          const out: unknown[][] = [];
          const all = columns.map((_, i) => batch.column(i));
          for (let r = 0; r < batch.rowCount; r++) {
            if (rows.length + out.length >= opts.maxRows) truncated = true;
            else out.push(all.map((c) => c[r]));
          }
          return out as Cell[][];
        },
        stats: () => ({ truncated }),
      };
    }, async () => undefined);
    for await (const b of stream.batches) for (const r of batchCells(b)) rows.push([...r]);
    return { columns: cols, rows, truncated: stream.stats().truncated };
  }

  const catalog = createManifestCatalog({
    root,
    pinnedKeys: options.manifestKeys ?? null,
    ...(options.verifyHashes !== undefined ? { verifyHashes: options.verifyHashes } : {}),
    ...(options.hashBudgetBytes !== undefined ? { hashBudgetBytes: options.hashBudgetBytes } : {}),
  });
  let cache: { at: number; value: Catalog } | null = null;
  let building: Promise<Catalog> | null = null;
  const reported = new Set<string>();

  function rebuild(): Promise<Catalog> {
    building ??= catalog.build().then(
      (value) => {
        // An incomplete build (hash budget spent) is stale at once: the next call continues it.
        cache = { at: value.incomplete ? -Infinity : now(), value };
        building = null;
        const current = new Set<string>();
        for (const r of value.rejections) {
          const key = `${r.dataset}/${r.run}/${r.reason}`;
          current.add(key);
          if (!reported.has(key)) options.onRejectedRun?.(r);
        }
        reported.clear();
        for (const k of current) reported.add(k);
        return value;
      },
      (err: unknown) => {
        building = null;
        throw err;
      },
    );
    return building;
  }

  /**
   * The catalog to answer from: the first call waits for a build; after that a stale catalog
   * is answered from while one rebuild runs in the background (so a slow rebuild — many new
   * files to hash, or a hostile archive — never stalls requests).
   */
  async function current(): Promise<Catalog> {
    if (cache === null) return rebuild();
    if (now() - cache.at >= cacheMs) rebuild().catch(() => undefined);
    return cache.value;
  }

  return {
    async listDatasets() {
      return [...(await current()).datasets.values()].map((d) => d.info);
    },
    async execute(plan: QueryPlan, opts: EngineRunOptions) {
      if (!DatasetId.safeParse(plan.dataset).success) throw new TypeError('execute needs a validated dataset id');
      // Only ever asked after listDatasets() found the id (the executor resolves it first).
      if (cache === null) throw new TypeError('execute before listDatasets');
      const snapshot = cache.value;
      // Only the files whose hour overlaps the range: DuckDB binds every listed file's
      // metadata, and the committed-files check looks at each one.
      const files = (snapshot.datasets.get(plan.dataset)?.files ?? []).filter((f) => {
        const hour = fileHourStartMs(f);
        return hour === null || (hour < plan.toMs && hour + 3_600_000 > plan.fromMs);
      });
      const versions = snapshot.datasets.get(plan.dataset)?.schemaVersions;
      const currentSchema = versions !== undefined && files.every((f) => versions.get(f) === SCHEMA_VERSION);
      const hours = timeOrderedHours(plan, files);
      const compileOptions = { currentSchema, ...(opts.rowText !== undefined ? { rowText: opts.rowText } : {}) };
      const compiled = compilePlan(plan, hours?.[0] ?? files, compileOptions);
      const read: string[] = [];
      let k = 0;
      const next = (emitted: number): Statement | null => {
        if (hours === null) {
          if (k++ > 0) return null;
          read.push(...files);
          return compiled;
        }
        if (k >= hours.length) return null;
        const group = hours[k]!;
        read.push(...group);
        return k++ === 0 ? compiled : compilePlan({ ...plan, limit: plan.limit - emitted }, group, compileOptions);
      };
      return openStream(next, opts, (columns) => createShaper(compiled, columns), async () => {
        // The files read must still be the versions the catalog checked (a swap between the
        // check and DuckDB's read would otherwise be answered from).
        if (read.length > 0 && !(await stillCommitted(snapshot, read))) {
          if (cache) cache = { at: -Infinity, value: cache.value };
          throw new AppError(ErrorCode.ArchiveChanged, 'the archive changed while the query ran; retry');
        }
      });
    },
    async refresh() {
      await rebuild();
    },
    async runSql(sql, params, opts) {
      const r = await runDirect(sql, params, opts);
      return { ...r, rows: r.rows.map((row) => row.map((v) => toJsonValue(v) as Cell)) };
    },
    runSqlRaw: (sql, params, opts) => runDirect(sql, params, opts),
    datasetFiles(id: string) {
      if (!DatasetId.safeParse(id).success) throw new TypeError('datasetFiles needs a validated dataset id');
      if (cache === null) throw new TypeError('datasetFiles before listDatasets');
      return cache.value.datasets.get(id)?.files ?? [];
    },
    async close() {
      shut = true;
      for (const c of idle.splice(0)) c.closeSync();
      instance.closeSync();
      removeSpillDir();
    },
  };
}
