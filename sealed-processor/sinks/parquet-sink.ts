/**
 * Archive sink: buffers anonymized flow rows in an in-process DuckDB and writes them as
 * Hive-partitioned, time-sorted, zstd Parquet files into a staging directory.
 *
 * Owns: the Parquet physical layout (column order and types from schemas/columns.ts, KV
 * metadata, `date=YYYY-MM-DD/hour=HH/<run>-<seq>.parquet` names). It writes only into the
 * staging directory it is given; publishing (atomic rename into the archive) is the
 * supervisor's job. Never: accepts anything but `AnonFlowRow` (branded anonymized values).
 */
import { mkdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBAppender, DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { flowFilePath } from '../../schemas/archive.ts';
import { FLOW_COLUMNS } from '../../schemas/columns.ts';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { AnonFlowRow } from '../flows/flow-record.ts';
import { duckdbApi } from './duckdb-modules.ts';
import { RowChunks } from './row-chunks.ts';

export interface StagedFile {
  /** Path relative to the staging root (same as its final path relative to the dataset dir). */
  relPath: string;
  rows: number;
  bytes: number;
  /** ISO-8601 of min/max time_start in the file, or null when the time column is dropped. */
  timeStart: string | null;
  timeEnd: string | null;
}

export interface ParquetSinkOptions {
  /** Directory files are written into (created). */
  stagingDir: string;
  /** Run id: file name prefix, `[A-Za-z0-9_-]+`. */
  runId: string;
  /** The part of the run the files belong to (schemas/archive.ts `partId` is their stem); default none (pre-part layout). */
  part?: number;
  /** Written into every file's key/value metadata. Values must be non-sensitive. */
  metadata: Record<string, string>;
  /** Rows buffered before a batch of files is written out (bounds memory). Default 2,000,000. */
  flushRows?: number;
}

const SAFE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SAFE_META = /^[A-Za-z0-9_.:+\/=-]{0,256}$/;

function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** Buffers rows and writes partitioned Parquet files. Not reentrant: call from one task. */
export class ParquetSink {
  readonly #opts: Required<ParquetSinkOptions>;
  readonly #conn: DuckDBConnection;
  readonly #instance: DuckDBInstance;
  #appender: DuckDBAppender;
  /** Rows buffered column-wise, appended a data chunk at a time (row-chunks.ts). */
  readonly #chunks = new RowChunks(() => this.#appender);
  #buffered = 0;
  /** Rows `stage` could not buffer yet (a full batch waits for `drain`), and its failure. */
  #waiting: AnonFlowRow[] = [];
  #stageError: unknown = null;
  #seq = 0;
  #files: StagedFile[] = [];

  private constructor(opts: Required<ParquetSinkOptions>, instance: DuckDBInstance, conn: DuckDBConnection, appender: DuckDBAppender) {
    this.#opts = opts;
    this.#instance = instance;
    this.#conn = conn;
    this.#appender = appender;
  }

  /** @throws TypeError on an unsafe run id or metadata value (programmer error). */
  static async open(options: ParquetSinkOptions): Promise<ParquetSink> {
    if (!SAFE_ID.test(options.runId)) throw new TypeError('runId must match [A-Za-z0-9_-]{1,64}');
    for (const [k, v] of Object.entries(options.metadata)) {
      if (!SAFE_META.test(k) || !SAFE_META.test(v)) throw new TypeError(`unsafe metadata entry ${k}`);
    }
    await mkdir(options.stagingDir, { recursive: true });
    const instance = await duckdbApi.DuckDBInstance.create(':memory:', {
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      threads: '2',
      temp_directory: join(options.stagingDir, '.duckdb-tmp'),
    });
    const conn = await instance.connect();
    const cols = FLOW_COLUMNS.map((c) => `"${c.name}" ${c.duckdbType}`).join(', ');
    await conn.run(`CREATE TABLE flows (${cols})`);
    const appender = await conn.createAppender('flows');
    return new ParquetSink({ flushRows: 2_000_000, part: 0, ...options }, instance, conn, appender);
  }

  /** Appends one anonymized row. Writes a batch of files when `flushRows` is reached. */
  async append(row: AnonFlowRow): Promise<void> {
    this.#chunks.append(row);
    if (++this.#buffered >= this.#opts.flushRows) await this.#writeBatch();
  }

  /**
   * Appends rows in order, as `append` one by one would, without a promise per row (the worker
   * hands over every row of a RECORDS frame at once).
   */
  async appendRows(rows: readonly AnonFlowRow[]): Promise<void> {
    const flushRows = this.#opts.flushRows;
    for (let i = 0; i < rows.length; i++) {
      this.#chunks.append(rows[i]);
      if (++this.#buffered >= flushRows) await this.#writeBatch();
    }
  }

  /**
   * Buffers one row without waiting: what `append` does, for a caller that cannot await between
   * rows (the worker stages rows as the decoder makes them). Rows past a full batch wait, in
   * order, for the next `drain`, so batches hold exactly the rows `append` would have put in
   * them; a row the sink cannot hold is kept as the failure `drain` throws (the rows after it
   * are not buffered, as `append` would not have reached them).
   */
  stage(row: AnonFlowRow): void {
    if (this.#stageError !== null) return;
    if (this.#waiting.length > 0 || this.#buffered >= this.#opts.flushRows) {
      this.#waiting.push(row);
      return;
    }
    try {
      this.#chunks.append(row);
    } catch (e) {
      this.#stageError = e;
      return;
    }
    this.#buffered++;
  }

  /** Writes the batches `stage` filled and appends the rows that waited; throws a staging failure. */
  async drain(): Promise<void> {
    if (this.#stageError !== null) throw this.#stageError;
    if (this.#buffered >= this.#opts.flushRows) await this.#writeBatch();
    const waiting = this.#waiting;
    this.#waiting = [];
    await this.appendRows(waiting);
  }

  /** Writes what is buffered and returns every staged file. The sink is closed afterwards. */
  async finish(): Promise<StagedFile[]> {
    await this.drain();
    await this.#writeBatch();
    this.#appender.closeSync();
    this.#conn.closeSync();
    this.#instance.closeSync();
    return this.#files;
  }

  async #writeBatch(): Promise<void> {
    this.#chunks.flush();
    this.#appender.flushSync();
    if (this.#buffered === 0) return;
    // One pass finds every partition with its row count and time range. Each partition is one
    // hour, so its rows are exactly those between its first and last time_start (plus the rows
    // without one, which go to 1970-01-01/00): the COPY selects that range instead of formatting
    // two strings per row again, and no second query counts what it wrote.
    const parts = await this.#conn.runAndReadAll(
      `SELECT coalesce(strftime(time_start, '%Y-%m-%d'), '1970-01-01') AS d,
              coalesce(strftime(time_start, '%H'), '00') AS h,
              count(*)::BIGINT, epoch_us(min(time_start))::BIGINT, epoch_us(max(time_start))::BIGINT,
              strftime(min(time_start), '%Y-%m-%dT%H:%M:%S.%fZ'), strftime(max(time_start), '%Y-%m-%dT%H:%M:%S.%fZ'),
              count(*) FILTER (WHERE time_start IS NULL)::BIGINT
         FROM flows GROUP BY d, h ORDER BY d, h`,
    );
    const kv = Object.entries(this.#opts.metadata).map(([k, v]) => `${sqlString(k)}: ${sqlString(v)}`).join(', ');
    for (const [d, h, rows, minUs, maxUs, t0, t1, untimed] of parts.getRows() as [string, string, bigint, bigint | null, bigint | null, string | null, string | null, bigint][]) {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(d) || !/^\d{2}$/.test(h)) throw new TypeError('bad partition value');
      const rel = flowFilePath(`${d}T${h}:00:00Z`, this.#opts.runId, this.#seq++, this.#opts.part || undefined);
      const final = join(this.#opts.stagingDir, rel);
      const tmp = `${final}.tmp`;
      await mkdir(join(this.#opts.stagingDir, `date=${d}`, `hour=${h}`), { recursive: true });
      const timed = minUs === null || maxUs === null ? 'false' : `time_start BETWEEN make_timestamp(${minUs}) AND make_timestamp(${maxUs})`;
      const where = untimed > 0n ? `(time_start IS NULL OR ${timed})` : timed;
      try {
        await this.#conn.run(
          `COPY (SELECT * FROM flows WHERE ${where} ORDER BY time_start) TO ${sqlString(tmp)}
           (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880, KV_METADATA {${kv}})`,
        );
        await rename(tmp, final);
        const { size } = await stat(final);
        this.#files.push({ relPath: rel, rows: Number(rows), bytes: size, timeStart: t0, timeEnd: t1 });
      } catch (cause) {
        throw new AppError(ErrorCode.ArchiveWriteFailed, 'writing a Parquet file failed', { cause });
      }
    }
    await this.#conn.run('DELETE FROM flows');
    this.#appender.closeSync();
    this.#appender = await this.#conn.createAppender('flows');
    this.#buffered = 0;
  }
}
