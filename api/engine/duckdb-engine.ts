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
 * are discovery globs and `datasetGlob(id)`, both under the archive.
 *
 * Owns: dataset discovery (via DuckDB `glob`/`read_text`, so it is sandboxed too), manifest
 * reading (lenient), error mapping. Never: echoes SQL, paths or DuckDB messages to callers —
 * errors become stable codes with generic messages (the original is kept as `cause` for logs).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, BIGINT, BOOLEAN, DOUBLE, UBIGINT, VARCHAR } from '@duckdb/node-api';
import type { DuckDBConnection, DuckDBType } from '@duckdb/node-api';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { DatasetId } from '../../schemas/claims.ts';
import type { CompiledSql, DatasetInfo, EngineResult, EngineRunOptions, QueryEngine, QueryParam } from '../ports.ts';
import { toJsonValue } from './json-value.ts';
import { summarizeDatasets } from './dataset-summary.ts';

export interface DuckDbEngineOptions {
  /** Absolute path of the archive root. */
  readonly archiveDir: string;
  /** DuckDB `memory_limit`. Default `1GB`. */
  readonly memoryLimit?: string;
  /** DuckDB `threads`. Default 2. */
  readonly threads?: number;
  /**
   * Whether DuckDB may spill to disk (in a private directory the engine creates under the OS
   * temp dir and removes on close). Default true; false keeps every query in `memoryLimit`.
   */
  readonly spill?: boolean;
  /** How long a dataset listing is reused, ms. Default 10 000. */
  readonly datasetCacheMs?: number;
  readonly now?: () => number;
}

export interface DuckDbEngine extends QueryEngine {
  close(): Promise<void>;
}

/** How often a connection past its deadline is interrupted again until its statement stops. */
const INTERRUPT_REPEAT_MS = 20;

function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

function paramType(v: QueryParam): DuckDBType {
  if (typeof v === 'bigint') return UBIGINT;
  if (typeof v === 'boolean') return BOOLEAN;
  if (typeof v === 'string') return VARCHAR;
  return Number.isInteger(v) ? BIGINT : DOUBLE;
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
  const root = options.archiveDir.replace(/\/+$/, '');
  if (!root.startsWith('/')) throw new TypeError('archiveDir must be an absolute path');
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
    await boot.run('SET parquet_metadata_cache = true');
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
   * One connection with a deadline `timeoutMs` from now. At the deadline the connection is
   * interrupted, and interrupted again every INTERRUPT_REPEAT_MS until `body` settles: DuckDB
   * clears a connection's interrupt flag when a statement starts, so an interrupt that lands
   * while the statement still waits for a worker thread (prepare and execute run on the
   * runtime's worker pool) is lost, and the statement would then run to completion. An abort
   * of `signal` (the client went away) stops the statement the same way.
   */
  async function withConnection<T>(timeoutMs: number, signal: AbortSignal | undefined, body: (c: DuckDBConnection, isStopped: () => boolean) => Promise<T>): Promise<T> {
    const aborted = () => new AppError(ErrorCode.BadRequest, 'request aborted by the client');
    if (signal?.aborted) throw aborted();
    if (!(timeoutMs > 0)) throw new AppError(ErrorCode.QueryTimeout, 'query exceeded its deadline');
    const conn = await instance.connect();
    let stop: 'timeout' | 'abort' | null = null;
    let repeat: ReturnType<typeof setInterval> | undefined;
    const halt = (why: 'timeout' | 'abort'): void => {
      if (stop !== null) return;
      stop = why;
      conn.interrupt();
      repeat = setInterval(() => conn.interrupt(), INTERRUPT_REPEAT_MS);
    };
    const timer = setTimeout(() => halt('timeout'), timeoutMs);
    const onAbort = (): void => halt('abort');
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const out = await body(conn, () => stop !== null);
      if (stop === 'abort') throw aborted();
      return out;
    } catch (err) {
      if (stop === 'abort') throw aborted();
      throw mapDuckDbError(err, stop === 'timeout');
    } finally {
      clearTimeout(timer);
      clearInterval(repeat);
      signal?.removeEventListener('abort', onAbort);
      conn.closeSync();
    }
  }

  async function readRows(sql: string, params: readonly QueryParam[], opts: EngineRunOptions): Promise<EngineResult> {
    return withConnection(opts.timeoutMs, opts.signal, async (conn, isStopped) => {
      const result = await conn.stream(sql, [...params], params.map(paramType));
      const names = result.columnNames();
      const types = result.columnTypes();
      const columns = names.map((name, i) => ({ name, type: String(types[i]) }));
      const rows: unknown[][] = [];
      let truncated = false;
      for (;;) {
        const chunk = await result.fetchChunk();
        // An interrupt during fetching ends the stream silently: the deadline flag tells.
        if (isStopped()) {
          if (rows.length === 0) throw new AppError(ErrorCode.QueryTimeout, 'query exceeded its deadline');
          truncated = true;
          break;
        }
        if (!chunk || chunk.rowCount === 0) break;
        if (rows.length >= opts.maxRows) {
          truncated = true;
          break;
        }
        for (const raw of chunk.getRows()) {
          if (rows.length >= opts.maxRows) {
            truncated = true;
            break;
          }
          rows.push(raw.map(toJsonValue));
        }
      }
      return { columns, rows, truncated };
    });
  }

  let cache: { at: number; value: readonly DatasetInfo[] } | null = null;

  async function discover(): Promise<readonly DatasetInfo[]> {
    const budget = { maxRows: 10_000_000, timeoutMs: 30_000 };
    const files = await readRows('SELECT file FROM glob($1)', [`${root}/*/date=*/hour=*/*.parquet`], budget);
    const byDataset = new Map<string, string[]>();
    for (const [file] of files.rows) {
      const id = String(file).slice(root.length + 1).split('/')[0];
      if (!DatasetId.safeParse(id).success) continue;
      const list = byDataset.get(id) ?? [];
      list.push(String(file));
      byDataset.set(id, list);
    }
    const manifestFiles = await readRows('SELECT file FROM glob($1)', [`${root}/*/manifests/*.json`], budget);
    const manifests: { dataset: string; text: string }[] = [];
    if (manifestFiles.rows.length > 0) {
      const texts = await readRows('SELECT filename, content FROM read_text($1)', [`${root}/*/manifests/*.json`], budget);
      for (const [filename, content] of texts.rows) {
        manifests.push({ dataset: String(filename).slice(root.length + 1).split('/')[0], text: String(content) });
      }
    }
    const out: DatasetInfo[] = [];
    for (const [id, list] of [...byDataset].sort(([a], [b]) => a.localeCompare(b))) {
      const own = manifests.filter((m) => m.dataset === id).map((m) => m.text);
      let fallback: Parameters<typeof summarizeDatasets>[3] = null;
      if (own.length === 0) {
        const glob = `${root}/${id}/**/*.parquet`;
        const stats = await readRows(
          `SELECT min(time_start), max(time_end), count(*) FROM read_parquet($1, hive_partitioning = true, union_by_name = true)`,
          [glob],
          budget,
        );
        const kv = await readRows(
          `SELECT DISTINCT decode(key), decode(value) FROM parquet_kv_metadata($1) WHERE decode(key) IN ('flowseal.policy_hash', 'flowseal.key_id')`,
          [glob],
          budget,
        );
        fallback = { stats: stats.rows[0] ?? [null, null, 0], kv: kv.rows.map(([k, v]) => [String(k), String(v)] as const) };
      }
      out.push(summarizeDatasets(id, list.length, own, fallback));
    }
    return out;
  }

  return {
    async listDatasets() {
      const t = now();
      if (cache && t - cache.at < cacheMs) return cache.value;
      const value = await discover();
      cache = { at: t, value };
      return value;
    },
    datasetGlob(id: string) {
      if (!DatasetId.safeParse(id).success) throw new TypeError('datasetGlob needs a validated dataset id');
      return `${root}/${id}/**/*.parquet`;
    },
    run(query: CompiledSql, opts: EngineRunOptions) {
      return readRows(query.sql, query.params, opts);
    },
    async close() {
      instance.closeSync();
      removeSpillDir();
    },
  };
}
