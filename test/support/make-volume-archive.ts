/**
 * Test helper: writes a *large* synthetic flow archive fast, entirely inside DuckDB
 * (`COPY (SELECT ... FROM range(n)) TO ...`), in the layout the sealed processor produces —
 * `<dir>/<dataset>/date=YYYY-MM-DD/hour=HH/<run>-<seq>.parquet`, zstd, columns exactly
 * FLOW_COLUMNS in order, rows sorted by time_start, KV metadata — plus the signed run manifest that
 * commits them (flow count and time range: what `DatasetInfo` reports, so cost estimates see
 * the density).
 *
 * Rows are a deterministic function of their index: IPv4 only, `flows` spread evenly over
 * `hours` hours from `start`, source addresses in 10.0.0.0/8 with about `sourceCardinality`
 * distinct values, destinations in 198.18.0.0/15, ports and sizes pseudo-random (DuckDB `hash`).
 * test/support/make-archive.ts stays the helper for small, hand-written rows; this one is for
 * load tests that need queries to be really expensive (a million rows in about a second).
 *
 * Owns: volume fixture generation. Never: used by production code.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { FLOW_COLUMNS, SCHEMA_VERSION, type FlowColumnName } from '../../schemas/columns.ts';
import { writeRunManifest } from './make-archive.ts';

export interface VolumeArchiveOptions {
  readonly dataset: string;
  /** Total flows. */
  readonly flows: number;
  /** First hour, ISO-8601 `Z` on a whole hour. */
  readonly start: string;
  /** Hours the flows cover (one file per hour). */
  readonly hours: number;
  /** About how many distinct source addresses. Default 1 000 000. */
  readonly sourceCardinality?: number;
  readonly runId?: string;
}

export interface VolumeArchive {
  readonly files: readonly string[];
  readonly timeStart: string;
  readonly timeEnd: string;
}

const HOUR_US = 3_600_000_000;

/** SQL expression for each column, over `i` (row index) and `t` (time_start, µs since epoch). */
function columnSql(sourceCardinality: number): Record<FlowColumnName, string> {
  const h = (salt: number) => `hash(i * 7919 + ${salt})`;
  const src = `(167772160 + (${h(1)} % ${sourceCardinality}))::UBIGINT`; // 10.0.0.0 + n
  const dst = `(3323068416 + (${h(2)} % 131072))::UBIGINT`; // 198.18.0.0 + n
  const v4text = (v: string) => `concat_ws('.', (${v} >> 24) & 255, (${v} >> 16) & 255, (${v} >> 8) & 255, ${v} & 255)`;
  return {
    time_start: 'make_timestamp(t)',
    time_end: `make_timestamp(t + (${h(3)} % 5000000)::BIGINT)`,
    ip_version: '4::UTINYINT',
    protocol: `[6, 6, 17, 1][1 + (${h(4)} % 4)::INTEGER]::UTINYINT`,
    src_addr: v4text(src),
    src_addr_hi: '0::UBIGINT',
    src_addr_lo: `(281470681743360 + ${src})::UBIGINT`, // ::ffff:0:0 + address
    dst_addr: v4text(dst),
    dst_addr_hi: '0::UBIGINT',
    dst_addr_lo: `(281470681743360 + ${dst})::UBIGINT`,
    src_port: `(1024 + ${h(5)} % 64000)::USMALLINT`,
    dst_port: `[53, 80, 443, 443, 8080, 22][1 + (${h(6)} % 6)::INTEGER]::USMALLINT`,
    icmp_type: 'NULL::UTINYINT',
    icmp_code: 'NULL::UTINYINT',
    vlan_id: 'NULL::USMALLINT',
    src_mac: 'NULL::VARCHAR',
    dst_mac: 'NULL::VARCHAR',
    packets_fwd: `(1 + ${h(7)} % 50)::UBIGINT`,
    bytes_fwd: `(40 + ${h(8)} % 60000)::UBIGINT`,
    packets_rev: `(${h(9)} % 50)::UBIGINT`,
    bytes_rev: `(${h(10)} % 90000)::UBIGINT`,
    tcp_flags_fwd: '2::UTINYINT',
    tcp_flags_rev: '18::UTINYINT',
    end_reason: `['idle', 'fin', 'rst'][1 + (${h(11)} % 3)::INTEGER]`,
    dns_qname: 'NULL::VARCHAR',
    tls_sni: 'NULL::VARCHAR',
    http_host: 'NULL::VARCHAR',
    record_source: "'packets'",
    exporter_addr: 'NULL::VARCHAR',
    exporter_addr_hi: 'NULL::UBIGINT',
    exporter_addr_lo: 'NULL::UBIGINT',
    observation_domain: 'NULL::UINTEGER',
    input_interface: 'NULL::UINTEGER',
    output_interface: 'NULL::UINTEGER',
    next_hop_addr: 'NULL::VARCHAR',
    next_hop_addr_hi: 'NULL::UBIGINT',
    next_hop_addr_lo: 'NULL::UBIGINT',
    bgp_next_hop_addr: 'NULL::VARCHAR',
    bgp_next_hop_addr_hi: 'NULL::UBIGINT',
    bgp_next_hop_addr_lo: 'NULL::UBIGINT',
    src_as: 'NULL::UINTEGER',
    dst_as: 'NULL::UINTEGER',
    tos: 'NULL::UTINYINT',
    sampling_interval: 'NULL::UINTEGER',
    tunnel_type: 'NULL::VARCHAR',
    tunnel_src_addr: 'NULL::VARCHAR',
    tunnel_src_addr_hi: 'NULL::UBIGINT',
    tunnel_src_addr_lo: 'NULL::UBIGINT',
    tunnel_dst_addr: 'NULL::VARCHAR',
    tunnel_dst_addr_hi: 'NULL::UBIGINT',
    tunnel_dst_addr_lo: 'NULL::UBIGINT',
  };
}

/** Writes the archive and its manifest under `dir`. */
export async function makeVolumeArchive(dir: string, options: VolumeArchiveOptions): Promise<VolumeArchive> {
  const startUs = Date.parse(options.start) * 1000;
  if (!Number.isFinite(startUs) || startUs % HOUR_US !== 0) throw new TypeError('start must be a whole hour');
  const runId = options.runId ?? 'vol1';
  const perHour = Math.ceil(options.flows / options.hours);
  const exprs = columnSql(options.sourceCardinality ?? 1_000_000);
  const select = FLOW_COLUMNS.map((c) => `${exprs[c.name]} AS ${c.name}`).join(', ');
  const kv = `{'flowseal.schema_version': '${SCHEMA_VERSION}', 'flowseal.policy_hash': 'sha256:test-policy', 'flowseal.key_id': 'kid-test', 'flowseal.run_id': '${runId}'}`;
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const conn = await instance.connect();
  const files: string[] = [];
  try {
    for (let hour = 0; hour < options.hours; hour++) {
      const first = hour * perHour;
      const last = Math.min(options.flows, first + perHour);
      if (last <= first) break;
      const hourUs = startUs + hour * HOUR_US;
      const d = new Date(hourUs / 1000).toISOString();
      const partDir = join(dir, options.dataset, `date=${d.slice(0, 10)}`, `hour=${d.slice(11, 13)}`);
      mkdirSync(partDir, { recursive: true });
      const file = join(partDir, `${runId}-${String(hour).padStart(4, '0')}.parquet`);
      // Evenly spaced within the hour, so the rows are already sorted by time_start.
      const step = Math.floor(HOUR_US / perHour);
      await conn.run(
        `COPY (SELECT ${select} FROM (SELECT range AS i, ${hourUs} + (range - ${first}) * ${step} AS t FROM range(${first}, ${last}))) ` +
          `TO '${file}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880, KV_METADATA ${kv})`,
      );
      files.push(file);
    }
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
  const timeStart = new Date(startUs / 1000).toISOString();
  const timeEnd = new Date(startUs / 1000 + options.hours * 3_600_000).toISOString();
  await writeRunManifest(dir, {
    dataset: options.dataset,
    runId,
    timeStart,
    timeEnd,
    files: files.map((f, hour) => {
      const first = hour * perHour;
      const rows = Math.min(options.flows, first + perHour) - first;
      const t0 = startUs / 1000 + hour * 3_600_000;
      return { file: f, rows, timeStart: new Date(t0).toISOString(), timeEnd: new Date(t0 + 3_600_000).toISOString() };
    }),
  });
  return { files, timeStart, timeEnd };
}
