/**
 * Test helper: writes a small synthetic (already "anonymized") flow archive in the layout the
 * sealed processor produces — `<dir>/<dataset>/date=YYYY-MM-DD/hour=HH/<run>-<seq>.parquet`,
 * zstd, columns exactly FLOW_COLUMNS in order, rows sorted by time_start, KV metadata — plus
 * the signed run manifest `<dir>/<dataset>/manifests/<run>.json` that commits them (listing
 * every file with its rows, size and SHA-256; signed by `signer`, default a per-process
 * ephemeral key as a processor without a configured key would). `manifest: false` leaves the
 * files uncommitted, as a processor killed while publishing does.
 *
 * Owns: fixture generation for API tests. Address halves are computed here with its own small
 * parser (not api/query/cidr.ts) so tests compare the API against an independent computation.
 * Never: used by production code.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ArchiveKv, MANIFEST_DIR, flowFilePath, manifestFileName } from '../../schemas/archive.ts';
import { RunManifest } from '../../schemas/manifest.ts';
import { loadManifestSigner, type ManifestSigner } from '../../sealed-processor/sinks/manifest-signer.ts';
import { DuckDBInstance } from '@duckdb/node-api';
import { FLOW_COLUMNS, SCHEMA_VERSION, type FlowColumnName } from '../../schemas/columns.ts';

/** One synthetic flow; unspecified fields get plausible defaults. Times are ISO-8601 `Z`. */
export interface FlowRowInput {
  time_start: string;
  time_end?: string;
  protocol?: number;
  src_addr: string;
  dst_addr: string;
  src_port?: number;
  dst_port?: number;
  icmp_type?: number | null;
  icmp_code?: number | null;
  vlan_id?: number | null;
  src_mac?: string | null;
  dst_mac?: string | null;
  packets_fwd?: number;
  bytes_fwd?: number;
  packets_rev?: number;
  bytes_rev?: number;
  tcp_flags_fwd?: number;
  tcp_flags_rev?: number;
  end_reason?: string;
  dns_qname?: string | null;
  tls_sni?: string | null;
  http_host?: string | null;
  /** Default 'packets'. */
  record_source?: string | null;
  exporter_addr?: string | null;
  observation_domain?: number | null;
  input_interface?: number | null;
  output_interface?: number | null;
  next_hop_addr?: string | null;
  bgp_next_hop_addr?: string | null;
  src_as?: number | null;
  dst_as?: number | null;
  tos?: number | null;
  sampling_interval?: number | null;
  tunnel_type?: string | null;
  tunnel_src_addr?: string | null;
  tunnel_dst_addr?: string | null;
}

export interface MakeArchiveOptions {
  dataset: string;
  rows: readonly FlowRowInput[];
  runId?: string;
  /** Write the run manifest that commits the files (default true). */
  manifest?: boolean;
  /** Signs the manifest (default: one ephemeral key per test process). */
  signer?: ManifestSigner;
  policyHash?: string;
  keyId?: string;
  /**
   * An older archive: the schema version its files and manifest declare (default the current
   * SCHEMA_VERSION), and the columns its files lack (default none).
   */
  schemaVersion?: number;
  omitColumns?: readonly string[];
}

/** Address text → [hi, lo] halves (IPv4 as ::ffff:a.b.c.d), by expanding to 32 hex digits. */
export function addressHalves(text: string): { version: 4 | 6; hi: bigint; lo: bigint } {
  if (!text.includes(':')) {
    const hex = text.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join('');
    return { version: 4, hi: 0n, lo: BigInt(`0x0000ffff${hex}`) };
  }
  const [head, tail = ''] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = text.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const full = groups.map((g) => g.padStart(4, '0')).join('');
  return { version: 6, hi: BigInt(`0x${full.slice(0, 16)}`), lo: BigInt(`0x${full.slice(16)}`) };
}

function row(r: FlowRowInput): unknown[] {
  const src = addressHalves(r.src_addr);
  const dst = addressHalves(r.dst_addr);
  const us = (iso: string): number => Date.parse(iso) * 1000;
  const opt = (text: string | null | undefined) => (text == null ? { text: null, hi: null, lo: null } : { text, ...addressHalves(text) });
  const exporter = opt(r.exporter_addr);
  const nextHop = opt(r.next_hop_addr);
  const bgpNextHop = opt(r.bgp_next_hop_addr);
  const tunnelSrc = opt(r.tunnel_src_addr);
  const tunnelDst = opt(r.tunnel_dst_addr);
  const values: Record<FlowColumnName, unknown> = {
    time_start: us(r.time_start),
    time_end: us(r.time_end ?? r.time_start),
    ip_version: src.version,
    protocol: r.protocol ?? 6,
    src_addr: r.src_addr,
    src_addr_hi: src.hi,
    src_addr_lo: src.lo,
    dst_addr: r.dst_addr,
    dst_addr_hi: dst.hi,
    dst_addr_lo: dst.lo,
    src_port: r.src_port ?? 40000,
    dst_port: r.dst_port ?? 443,
    icmp_type: r.icmp_type ?? null,
    icmp_code: r.icmp_code ?? null,
    vlan_id: r.vlan_id ?? null,
    src_mac: r.src_mac ?? null,
    dst_mac: r.dst_mac ?? null,
    packets_fwd: r.packets_fwd ?? 1,
    bytes_fwd: r.bytes_fwd ?? 60,
    packets_rev: r.packets_rev ?? 0,
    bytes_rev: r.bytes_rev ?? 0,
    tcp_flags_fwd: r.tcp_flags_fwd ?? 2,
    tcp_flags_rev: r.tcp_flags_rev ?? 0,
    end_reason: r.end_reason ?? 'idle',
    dns_qname: r.dns_qname ?? null,
    tls_sni: r.tls_sni ?? null,
    http_host: r.http_host ?? null,
    record_source: r.record_source === undefined ? 'packets' : r.record_source,
    exporter_addr: exporter.text,
    exporter_addr_hi: exporter.hi,
    exporter_addr_lo: exporter.lo,
    observation_domain: r.observation_domain ?? null,
    input_interface: r.input_interface ?? null,
    output_interface: r.output_interface ?? null,
    next_hop_addr: nextHop.text,
    next_hop_addr_hi: nextHop.hi,
    next_hop_addr_lo: nextHop.lo,
    bgp_next_hop_addr: bgpNextHop.text,
    bgp_next_hop_addr_hi: bgpNextHop.hi,
    bgp_next_hop_addr_lo: bgpNextHop.lo,
    src_as: r.src_as ?? null,
    dst_as: r.dst_as ?? null,
    tos: r.tos ?? null,
    sampling_interval: r.sampling_interval ?? null,
    tunnel_type: r.tunnel_type ?? null,
    tunnel_src_addr: tunnelSrc.text,
    tunnel_src_addr_hi: tunnelSrc.hi,
    tunnel_src_addr_lo: tunnelSrc.lo,
    tunnel_dst_addr: tunnelDst.text,
    tunnel_dst_addr_hi: tunnelDst.hi,
    tunnel_dst_addr_lo: tunnelDst.lo,
  };
  return FLOW_COLUMNS.map((c) => values[c.name]);
}

/** A written flow file to commit: absolute path, rows, time range. */
export interface CommittedFile {
  readonly file: string;
  readonly rows: number;
  readonly timeStart: string | null;
  readonly timeEnd: string | null;
}

/**
 * Writes the signed manifest committing `files` (sizes and SHA-256 read from disk) as
 * `<dir>/<dataset>/manifests/<run>.json`: what the processor's publish step does last.
 */
export async function writeRunManifest(
  dir: string,
  run: { dataset: string; runId: string; timeStart: string | null; timeEnd: string | null; files: readonly CommittedFile[]; policyHash?: string; keyId?: string; signer?: ManifestSigner; schemaVersion?: number },
): Promise<void> {
  const manifest = RunManifest.parse({
    manifestVersion: 1,
    runId: run.runId,
    dataset: run.dataset,
    schemaVersion: run.schemaVersion ?? SCHEMA_VERSION,
    processorVersion: 'test',
    createdAt: new Date(0).toISOString(),
    timeStart: run.timeStart,
    timeEnd: run.timeEnd,
    flows: run.files.reduce((n, f) => n + f.rows, 0),
    files: run.files.map((f) => ({
      path: relative(join(dir, run.dataset), f.file),
      rows: f.rows,
      bytes: statSync(f.file).size,
      sha256: createHash('sha256').update(readFileSync(f.file)).digest('hex'),
      timeStart: f.timeStart,
      timeEnd: f.timeEnd,
    })),
    counts: {},
    policyHash: run.policyHash ?? 'sha256:test-policy',
    keyId: run.keyId ?? 'kid-test',
    releaseNotes: null,
  });
  const mdir = join(dir, run.dataset, MANIFEST_DIR);
  mkdirSync(mdir, { recursive: true });
  const signer = run.signer ?? (await defaultSigner());
  writeFileSync(join(mdir, manifestFileName(run.runId)), JSON.stringify(await signer.sign(manifest)));
}

let ephemeral: Promise<ManifestSigner> | null = null;
function defaultSigner(): Promise<ManifestSigner> {
  ephemeral ??= loadManifestSigner(undefined, {});
  return ephemeral;
}

function quote(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/**
 * Writes the archive files for `rows` under `dir` and returns the Parquet paths written.
 * One file per (date, hour) of time_start, rows sorted by time_start.
 */
export async function makeArchive(dir: string, options: MakeArchiveOptions): Promise<string[]> {
  const runId = options.runId ?? 'run1';
  const policyHash = options.policyHash ?? 'sha256:test-policy';
  const keyId = options.keyId ?? 'kid-test';
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  const cols = FLOW_COLUMNS.map((c) => `${c.name} ${c.duckdbType}`).join(', ');
  await conn.run(`CREATE TABLE flows (${cols})`);
  const sorted = [...options.rows].sort((a, b) => Date.parse(a.time_start) - Date.parse(b.time_start));
  for (let i = 0; i < sorted.length; i += 100) {
    const batch = sorted.slice(i, i + 100);
    const params: unknown[] = [];
    const tuples = batch.map((r) => {
      const vals = row(r);
      const slots = FLOW_COLUMNS.map((c, j) => {
        params.push(vals[j]);
        const ph = `$${params.length}`;
        return c.kind === 'timestamp' ? `make_timestamp(${ph}::BIGINT)` : `${ph}::${c.duckdbType}`;
      });
      return `(${slots.join(', ')})`;
    });
    await conn.run(`INSERT INTO flows VALUES ${tuples.join(', ')}`, params as never);
  }
  const hours = [...new Set(sorted.map((r) => Math.floor(Date.parse(r.time_start) / 3_600_000)))];
  const files: string[] = [];
  const listed: CommittedFile[] = [];
  let seq = 0;
  for (const h of hours) {
    const d = new Date(h * 3_600_000).toISOString();
    const file = join(dir, options.dataset, flowFilePath(d, runId, seq++));
    mkdirSync(join(file, '..'), { recursive: true });
    const kv = `{${quote(ArchiveKv.schemaVersion)}: '${options.schemaVersion ?? SCHEMA_VERSION}', ${quote(ArchiveKv.policyHash)}: ${quote(policyHash)}, ${quote(ArchiveKv.keyId)}: ${quote(keyId)}, ${quote(ArchiveKv.runId)}: ${quote(runId)}}`;
    await conn.run(
      `COPY (SELECT *${options.omitColumns?.length ? ` EXCLUDE (${options.omitColumns.join(', ')})` : ''} FROM flows WHERE date_trunc('hour', time_start) = make_timestamp(${h * 3_600_000_000}::BIGINT) ORDER BY time_start) ` +
        `TO ${quote(file)} (FORMAT parquet, COMPRESSION zstd, KV_METADATA ${kv})`,
    );
    files.push(file);
    const inHour = sorted.filter((r) => Math.floor(Date.parse(r.time_start) / 3_600_000) === h);
    listed.push({
      file,
      rows: inHour.length,
      timeStart: new Date(Date.parse(inHour[0]!.time_start)).toISOString(),
      timeEnd: new Date(Math.max(...inHour.map((r) => Date.parse(r.time_end ?? r.time_start)))).toISOString(),
    });
  }
  conn.closeSync();
  instance.closeSync();
  if (options.manifest ?? true) {
    const times = sorted.map((r) => Date.parse(r.time_start));
    const ends = sorted.map((r) => Date.parse(r.time_end ?? r.time_start));
    await writeRunManifest(dir, {
      dataset: options.dataset,
      runId,
      timeStart: times.length ? new Date(Math.min(...times)).toISOString() : null,
      timeEnd: ends.length ? new Date(Math.max(...ends)).toISOString() : null,
      files: listed,
      policyHash,
      keyId,
      ...(options.signer ? { signer: options.signer } : {}),
      ...(options.schemaVersion !== undefined ? { schemaVersion: options.schemaVersion } : {}),
    });
  }
  return files;
}
