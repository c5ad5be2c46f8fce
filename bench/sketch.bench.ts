/**
 * Cost of partial aggregate states (api/engine/duckdb-sketch-sql.ts) against DuckDB's exact
 * aggregates, on a generated 2 M-flow zstd Parquet file (BENCH_SKETCH_ROWS to change):
 * `count(DISTINCT src_addr)` vs the HLL state, `quantile_disc(bytes, 0.95)` vs the DDSketch
 * state, a mixed query, by 3 groups (protocol) and 1,000 groups (dst_port); plus the
 * formulations the builder did not choose (one sub-aggregate per sketch joined on the keys,
 * single-level `histogram()`) and the hash alone. Medians of 5 runs after one warm-up, ms.
 *
 * Run: `node bin/run-ts.mjs bench/sketch.bench.ts`. Owns: measurement only; never a test.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import {
  FLOW_VALUE_SQL,
  ddsketchIndexSql,
  ddsketchValueSql,
  distinctInput,
  hllHashSql,
  hllRegisterSql,
  hllRhoSql,
  partialAggregateSql,
  readPartialRows,
  type StateMetricSql,
} from '../api/engine/duckdb-sketch-sql.ts';
import { toJsonValue } from '../api/engine/json-value.ts';
import { rowSetToJson } from '../api/query/sketches/partial-state.ts';

const ROWS = Number(process.env.BENCH_SKETCH_ROWS ?? 2_000_000);
const RUNS = 5;

const dir = await mkdtemp(join(tmpdir(), 'flowseal-sketch-bench-'));
const file = join(dir, 'flows.parquet');
const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
try {
  const t0 = performance.now();
  await conn.run(
    `COPY (SELECT make_timestamp(1767225600000000 + i * 1000) AS time_start, ` +
      `make_timestamp(1767225600000000 + i * 1000 + CAST(hash(i + 1) % 5000000 AS BIGINT)) AS time_end, ` +
      `CAST([6, 17, 1][1 + CAST(hash(i + 2) % 3 AS INTEGER)] AS UTINYINT) AS protocol, ` +
      // ~600k distinct sources, a quarter IPv6
      `CASE WHEN hash(i + 3) % 4 = 0 THEN '2001:db8:' || printf('%x', hash(i + 4) % 65536) || '::' || printf('%x', hash(i + 5) % 16) ` +
      `ELSE '10.' || CAST(hash(i + 4) % 64 AS VARCHAR) || '.' || CAST(hash(i + 5) % 256 AS VARCHAR) || '.' || CAST(hash(i + 6) % 32 AS VARCHAR) END AS src_addr, ` +
      `CAST(hash(i + 7) % 1000 AS USMALLINT) AS dst_port, ` +
      `CAST(floor(exp((hash(i + 8) % 1000000) / 1000000.0 * 20)) AS UBIGINT) AS bytes_fwd, CAST(hash(i + 9) % 3000 AS UBIGINT) AS bytes_rev ` +
      `FROM range(${ROWS}) t(i)) TO '${file}' (FORMAT parquet, COMPRESSION zstd)`,
  );
  console.log(`generated ${ROWS.toLocaleString('en')} flows, ${((await stat(file)).size / 2 ** 20).toFixed(1)} MiB, ${Math.round(performance.now() - t0)} ms`);
  const from = `read_parquet('${file}')`;

  async function time(sql: string): Promise<{ ms: number; rows: unknown[][] }> {
    let out: unknown[][] = [];
    const ts: number[] = [];
    for (let i = 0; i <= RUNS; i++) {
      const s = performance.now();
      out = (await conn.runAndReadAll(sql)).getRows().map((r) => r.map(toJsonValue));
      if (i > 0) ts.push(performance.now() - s);
    }
    ts.sort((a, b) => a - b);
    return { ms: ts[Math.floor(ts.length / 2)]!, rows: out };
  }

  const partial = (key: string, metrics: StateMetricSql[]) => partialAggregateSql({ keys: [{ name: key, sql: key }], metrics, from });
  const distinct: StateMetricSql = { name: 'distinct_src_addr', kind: 'distinct', ...distinctInput('src_addr') };
  const p95: StateMetricSql = { name: 'bytes_p95', kind: 'quantile', valueSql: FLOW_VALUE_SQL.bytes };
  const mixed: StateMetricSql[] = [{ name: 'flows', kind: 'count' }, { name: 'bytes', kind: 'sum', valueSql: FLOW_VALUE_SQL.bytes }, distinct, p95];
  const bytes = FLOW_VALUE_SQL.bytes;

  const rowsOut: Array<Record<string, string | number>> = [];
  for (const key of ['protocol', 'dst_port']) {
    const h = hllHashSql('src_addr', 'string');
    const cases: Array<[string, string, string]> = [
      ['distinct', `SELECT ${key}, count(DISTINCT src_addr) FROM ${from} GROUP BY ALL`, partial(key, [distinct]).sql],
      ['p95 bytes', `SELECT ${key}, quantile_disc(${bytes}, 0.95) FROM ${from} GROUP BY ALL`, partial(key, [p95]).sql],
      [
        'flows+bytes+distinct+p95',
        `SELECT ${key}, count(*), sum(${bytes}), count(DISTINCT src_addr), quantile_disc(${bytes}, 0.95) FROM ${from} GROUP BY ALL`,
        partial(key, mixed).sql,
      ],
      // formulations not chosen, and the hash alone
      [
        'distinct: join per sketch',
        `SELECT ${key}, count(DISTINCT src_addr) FROM ${from} GROUP BY ALL`,
        `WITH r AS (SELECT ${key} AS k, ${h} AS h FROM ${from}) SELECT k, string_agg(CAST(s * 64 + m AS VARCHAR), ',') FROM ` +
          `(SELECT k, ${hllRegisterSql('h')} AS s, max(${hllRhoSql('h')}) AS m FROM r GROUP BY ALL) GROUP BY k`,
      ],
      [
        'distinct: histogram()',
        `SELECT ${key}, count(DISTINCT src_addr) FROM ${from} GROUP BY ALL`,
        `WITH r AS (SELECT ${key} AS k, ${h} AS h FROM ${from}) SELECT k, map_keys(histogram(${hllRegisterSql('h')} * 64 + ${hllRhoSql('h')})) FROM r GROUP BY k`,
      ],
      ['p95: histogram()', `SELECT ${key}, quantile_disc(${bytes}, 0.95) FROM ${from} GROUP BY ALL`, `SELECT ${key}, histogram(${ddsketchIndexSql(ddsketchValueSql(bytes))}) FROM ${from} GROUP BY ALL`],
      ['md5 hash only', `SELECT ${key}, count(*) FROM ${from} GROUP BY ALL`, `SELECT ${key}, max(${h}) FROM ${from} GROUP BY ALL`],
    ];
    for (const [name, exactSql, stateSql] of cases) {
      const exact = await time(exactSql);
      const state = await time(stateSql);
      const row: Record<string, string | number> = { groups: `${key} (${exact.rows.length})`, metric: name, exactMs: Math.round(exact.ms), stateMs: Math.round(state.ms), ratio: +(state.ms / exact.ms).toFixed(2) };
      if (stateSql.startsWith('WITH __src')) {
        const q = partial(key, name === 'distinct' ? [distinct] : name === 'p95 bytes' ? [p95] : mixed);
        row.wireKiB = +(JSON.stringify(rowSetToJson(readPartialRows(q.kinds, 1, state.rows))).length / 1024).toFixed(1);
      }
      rowsOut.push(row);
      console.log(JSON.stringify(row));
    }
  }
  console.table(rowsOut);
} finally {
  conn.closeSync();
  instance.closeSync();
  await rm(dir, { recursive: true, force: true });
}
