/**
 * The SQL that generates the bench archive's flow rows (bench/gen-flow-archive.ts): every column a
 * deterministic function of the row index `i` and its time `t`, through DuckDB's `hash` — uniform
 * draws, log-uniform (Zipf-like) ranks, keyed values — in three nested SELECT levels: draws,
 * derived integers (ports, addresses, halves), and the final columns cast to FLOW_COLUMNS' types
 * in order.
 *
 * Owns: the synthetic distributions. Never: real addresses or names (every value is a hash).
 */
import { FLOW_COLUMNS, type FlowColumnName } from '../schemas/columns.ts';

/** What the row SQL depends on. */
export interface RowOptions {
  /** Share of IPv6 flows, in [0, 1]. */
  readonly ipv6Share: number;
  /** Salt of every pseudo-random column, 0-1000. */
  readonly seed: number;
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
export function srcPrefix24(r: string, seed: number): string {
  return `(${keyed(r, 101, seed)} % 16777216)`;
}

const POPULAR_PORTS = [8080, 123, 22, 993, 25, 3389, 445, 8443, 5223, 587, 110, 143, 995, 1194, 500, 4500, 3478, 853, 5228, 1935];
const MACS = Array.from({ length: 8 }, (_, k) => `'02:1a:${(0x30 + k * 17).toString(16)}:7c:${(0x10 + k * 29).toString(16).padStart(2, '0')}:e${k}'`);

/** The row SELECT in three levels: draws, derived integers, final typed columns (FLOW_COLUMNS order). */
export function rowSelect(o: RowOptions, from: string): string {
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
  const cols: Record<FlowColumnName, string> = {
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
    // The packet path's rows: the export-only columns are NULL.
    record_source: "'packets'",
    exporter_addr: 'NULL', exporter_addr_hi: 'NULL', exporter_addr_lo: 'NULL',
    observation_domain: 'NULL', input_interface: 'NULL', output_interface: 'NULL',
    next_hop_addr: 'NULL', next_hop_addr_hi: 'NULL', next_hop_addr_lo: 'NULL',
    bgp_next_hop_addr: 'NULL', bgp_next_hop_addr_hi: 'NULL', bgp_next_hop_addr_lo: 'NULL',
    src_as: 'NULL', dst_as: 'NULL', tos: 'NULL', sampling_interval: 'NULL',
    tunnel_type: 'NULL', tunnel_src_addr: 'NULL', tunnel_src_addr_hi: 'NULL', tunnel_src_addr_lo: 'NULL',
    tunnel_dst_addr: 'NULL', tunnel_dst_addr_hi: 'NULL', tunnel_dst_addr_lo: 'NULL',
  };
  const final = FLOW_COLUMNS.map((c) => `CAST(${cols[c.name]} AS ${c.duckdbType}) AS ${c.name}`).join(', ');
  return `SELECT ${final} FROM (SELECT ${level3} FROM (SELECT ${level2} FROM (SELECT ${level1} FROM ${from})))`;
}
