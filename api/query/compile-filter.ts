/**
 * Compiles the structured filter (schemas/query.ts `QueryFilter`) into a SQL boolean
 * expression with `$n` placeholders.
 *
 * Owns: the mapping filter key → fixed SQL fragment, CIDR → integer range predicates over
 * the `*_addr_hi`/`*_addr_lo` halves (the flow's sides, the exporter and the next hops), the
 * derived quantities (duration, bps, pps, bpp: safe from division by zero, 0 when the divisor
 * is 0 as in nfdump) and the filter size limit. Absent values: a key over a NULL column (a
 * packet row's export columns, any column an older file lacks — the engine reads those as
 * NULL) is false, and a `not` of it true, so such a filter never errs and never matches a row
 * that lacks the value. Never: puts
 * a user value into SQL text — column names and expressions come from constants in this file,
 * every value goes through `ParamList.add`. Pure: no IO, no clock.
 */
import type { QueryFilter, RealComparison } from '../../schemas/query.ts';
import { MAX_FILTER_DEPTH, PROTOCOL_NUMBERS } from '../../schemas/query.ts';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { QueryParam } from '../ports.ts';
import { V4_MAPPED_LO, parseCidr } from './cidr.ts';

/** Collects bound values; `add` returns the placeholder to splice into SQL. */
export class ParamList {
  readonly values: QueryParam[] = [];
  add(value: QueryParam): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

type IntMatcher = number | number[] | { min: number; max: number };

function intPredicate(column: string, m: IntMatcher, p: ParamList): string {
  if (typeof m === 'number') return `${column} = ${p.add(m)}`;
  if (Array.isArray(m)) return `${column} IN (${m.map((v) => p.add(v)).join(', ')})`;
  if (m.min > m.max) throw new AppError(ErrorCode.QueryFilterInvalid, `range for ${column} has min > max`);
  return `${column} BETWEEN ${p.add(m.min)} AND ${p.add(m.max)}`;
}

function rangePredicate(expr: string, label: string, r: { min?: number; max?: number }, p: ParamList): string {
  const parts: string[] = [];
  if (r.min !== undefined && r.max !== undefined && r.min > r.max) {
    throw new AppError(ErrorCode.QueryFilterInvalid, `range for ${label} has min > max`);
  }
  if (r.min !== undefined) parts.push(`${expr} >= ${p.add(r.min)}`);
  if (r.max !== undefined) parts.push(`${expr} <= ${p.add(r.max)}`);
  return parts.length === 0 ? 'TRUE' : parts.join(' AND ');
}

/** Microseconds from first to last packet. */
const DURATION_US = "date_diff('microsecond', time_start, time_end)";
const TOTAL_BYTES = 'CAST(bytes_fwd + bytes_rev AS DOUBLE)';
const TOTAL_PACKETS = 'CAST(packets_fwd + packets_rev AS DOUBLE)';
/**
 * Derived real-valued quantities. A zero (or, for clock skew, negative) duration gives 0 bps and
 * 0 pps, no packets gives 0 bytes per packet: nfdump's rule, and never a division by zero.
 */
const DERIVED_SQL = {
  duration: `(${DURATION_US} / 1000.0)`,
  bps: `(CASE WHEN ${DURATION_US} > 0 THEN ${TOTAL_BYTES} * 8000000.0 / ${DURATION_US} ELSE 0.0 END)`,
  pps: `(CASE WHEN ${DURATION_US} > 0 THEN ${TOTAL_PACKETS} * 1000000.0 / ${DURATION_US} ELSE 0.0 END)`,
  bpp: `(CASE WHEN packets_fwd + packets_rev > 0 THEN ${TOTAL_BYTES} / ${TOTAL_PACKETS} ELSE 0.0 END)`,
} as const;

function realPredicate(key: keyof typeof DERIVED_SQL, c: RealComparison, p: ParamList): string {
  if (c.min !== undefined && c.max !== undefined && c.min > c.max) throw new AppError(ErrorCode.QueryFilterInvalid, `range for ${key} has min > max`);
  const expr = DERIVED_SQL[key];
  const parts: string[] = [];
  if (c.min !== undefined) parts.push(`${expr} >= ${p.add(c.min)}`);
  if (c.gt !== undefined) parts.push(`${expr} > ${p.add(c.gt)}`);
  if (c.max !== undefined) parts.push(`${expr} <= ${p.add(c.max)}`);
  if (c.lt !== undefined) parts.push(`${expr} < ${p.add(c.lt)}`);
  return parts.length === 0 ? 'TRUE' : `(${parts.join(' AND ')})`;
}

type TcpFlags = NonNullable<QueryFilter['tcpFlags']>;

/** nfdump's `flags`: a TCP flow whose flags, OR-ed over both directions, hold all of `all` and one of `any`. */
function tcpFlagsPredicate(f: TcpFlags, p: ParamList): string {
  const { all, any } = typeof f === 'number' ? { all: f, any: undefined } : f;
  const union = '(tcp_flags_fwd | tcp_flags_rev)';
  const parts = [`protocol = ${p.add(PROTOCOL_NUMBERS.tcp)}`];
  if (all !== undefined) {
    const m = p.add(all);
    parts.push(`(${union} & ${m}) = ${m}`);
  }
  if (any !== undefined) parts.push(`(${union} & ${p.add(any)}) <> 0`);
  return `(${parts.join(' AND ')})`;
}

/**
 * The address columns a CIDR can test: the flow's two sides (both of the flow's family, so the
 * family test is `ip_version`, which row-group statistics prune) and the router-export ones
 * (exporter, next hops), whose family is the address's own: an IPv6 range that reaches
 * `::ffff:0:0/96` must not take the IPv4-mapped values stored for IPv4 addresses.
 */
type AddressColumn = 'src_addr' | 'dst_addr' | 'exporter_addr' | 'next_hop_addr' | 'bgp_next_hop_addr';
const FLOW_SIDES: ReadonlySet<AddressColumn> = new Set(['src_addr', 'dst_addr']);

/** One CIDR against one address column: integer ranges on its halves (prunable by row-group stats). */
function cidrPredicate(column: AddressColumn, text: string, p: ParamList): string {
  const range = parseCidr(text);
  if (!range) throw new AppError(ErrorCode.QueryFilterInvalid, 'malformed CIDR in address filter');
  const hi = `${column}_hi`;
  const lo = `${column}_lo`;
  if (range.version === 4) {
    return `(${hi} = ${p.add(0n)} AND ${lo} BETWEEN ${p.add(range.loMin)} AND ${p.add(range.loMax)})`;
  }
  // The same text for every IPv6 range (SQL text depends on the filter's shape, not its values).
  const v6 = FLOW_SIDES.has(column)
    ? 'ip_version = 6'
    : `NOT (${hi} = ${p.add(0n)} AND ${lo} BETWEEN ${p.add(V4_MAPPED_LO)} AND ${p.add(V4_MAPPED_LO | 0xffff_ffffn)})`;
  if (range.prefix <= 64) {
    return `(${v6} AND ${hi} BETWEEN ${p.add(range.hiMin)} AND ${p.add(range.hiMax)})`;
  }
  return `(${v6} AND ${hi} = ${p.add(range.hiMin)} AND ${lo} BETWEEN ${p.add(range.loMin)} AND ${p.add(range.loMax)})`;
}

function netPredicate(columns: readonly AddressColumn[], m: string | string[], p: ParamList): string {
  const cidrs = Array.isArray(m) ? m : [m];
  const terms = columns.flatMap((column) => cidrs.map((c) => cidrPredicate(column, c, p)));
  return terms.length === 1 ? terms[0] : `(${terms.join(' OR ')})`;
}

/** `m` against each of `columns`, ORed (either side's port, either AS, either interface). */
function eitherPredicate(columns: readonly string[], m: IntMatcher, p: ParamList): string {
  return columns.length === 1 ? intPredicate(columns[0]!, m, p) : `(${columns.map((c) => intPredicate(c, m, p)).join(' OR ')})`;
}

/** The router-export keys (schema version 2) over integer columns. */
const EXPORT_INT_COLUMNS = {
  srcAs: ['src_as'], dstAs: ['dst_as'], as: ['src_as', 'dst_as'], inputInterface: ['input_interface'], outputInterface: ['output_interface'],
  interface: ['input_interface', 'output_interface'], tos: ['tos'], observationDomain: ['observation_domain'],
} as const satisfies Partial<Record<keyof QueryFilter, readonly string[]>>;
/** The router-export keys over address columns. */
const EXPORT_NET_COLUMNS = { exporterNet: 'exporter_addr', nextHopNet: 'next_hop_addr', bgpNextHopNet: 'bgp_next_hop_addr' } as const satisfies Partial<Record<keyof QueryFilter, AddressColumn>>;

interface Budget {
  nodes: number;
  readonly max: number;
  depth: number;
}

function spend(b: Budget): void {
  b.nodes += 1;
  if (b.nodes > b.max) {
    throw new AppError(ErrorCode.QueryFilterInvalid, `filter has more than ${b.max} terms`, { details: { maxFilterNodes: b.max } });
  }
}

function compileNode(f: QueryFilter, p: ParamList, b: Budget): string {
  if (b.depth > MAX_FILTER_DEPTH) throw new AppError(ErrorCode.QueryFilterInvalid, `filter nested deeper than ${MAX_FILTER_DEPTH} levels`);
  const terms: string[] = [];
  const leaf = (sql: string): void => {
    spend(b);
    terms.push(sql);
  };
  if (f.protocol !== undefined) leaf(intPredicate('protocol', f.protocol, p));
  if (f.ipVersion !== undefined) leaf(`ip_version = ${p.add(f.ipVersion)}`);
  if (f.srcPort !== undefined) leaf(intPredicate('src_port', f.srcPort, p));
  if (f.dstPort !== undefined) leaf(intPredicate('dst_port', f.dstPort, p));
  if (f.port !== undefined) leaf(eitherPredicate(['src_port', 'dst_port'], f.port, p));
  if (f.srcNet !== undefined) leaf(netPredicate(['src_addr'], f.srcNet, p));
  if (f.dstNet !== undefined) leaf(netPredicate(['dst_addr'], f.dstNet, p));
  if (f.net !== undefined) leaf(netPredicate(['src_addr', 'dst_addr'], f.net, p));
  if (f.vlanId !== undefined) leaf(intPredicate('vlan_id', f.vlanId, p));
  if (f.bytes !== undefined) leaf(rangePredicate('(bytes_fwd + bytes_rev)', 'bytes', f.bytes, p));
  if (f.packets !== undefined) leaf(rangePredicate('(packets_fwd + packets_rev)', 'packets', f.packets, p));
  if (f.endReason !== undefined) {
    const reasons = Array.isArray(f.endReason) ? f.endReason : [f.endReason];
    leaf(`end_reason IN (${reasons.map((r) => p.add(r)).join(', ')})`);
  }
  if (f.tcpFlags !== undefined) leaf(tcpFlagsPredicate(f.tcpFlags, p));
  for (const key of ['duration', 'bps', 'pps', 'bpp'] as const) {
    const c = f[key];
    if (c !== undefined) leaf(realPredicate(key, c, p));
  }
  if (f.recordSource !== undefined) {
    const sources = Array.isArray(f.recordSource) ? f.recordSource : [f.recordSource];
    leaf(`record_source IN (${sources.map((s) => p.add(s)).join(', ')})`);
  }
  for (const [key, column] of Object.entries(EXPORT_NET_COLUMNS) as [keyof typeof EXPORT_NET_COLUMNS, AddressColumn][]) {
    const m = f[key];
    if (m !== undefined) leaf(netPredicate([column], m, p));
  }
  for (const [key, columns] of Object.entries(EXPORT_INT_COLUMNS) as [keyof typeof EXPORT_INT_COLUMNS, readonly string[]][]) {
    const m = f[key];
    if (m !== undefined) leaf(eitherPredicate(columns, m, p));
  }
  b.depth += 1;
  if (f.and !== undefined) {
    spend(b);
    terms.push(`(${f.and.map((x) => compileNode(x, p, b)).join(' AND ')})`);
  }
  if (f.or !== undefined) {
    spend(b);
    terms.push(`(${f.or.map((x) => compileNode(x, p, b)).join(' OR ')})`);
  }
  if (f.not !== undefined) {
    spend(b);
    // coalesce: NOT over a nullable column (vlan_id, the export columns) keeps rows lacking the value.
    terms.push(`(NOT coalesce(${compileNode(f.not, p, b)}, FALSE))`);
  }
  b.depth -= 1;
  if (terms.length === 0) return 'TRUE';
  return terms.length === 1 ? terms[0] : `(${terms.join(' AND ')})`;
}

/**
 * Compiles a filter to a boolean SQL expression, appending its values to `params`.
 * @throws AppError ERR_QUERY_FILTER_INVALID for malformed CIDRs, inverted ranges, or a filter
 *   with more than `maxNodes` terms or deeper than 16 levels.
 */
export function compileFilter(filter: QueryFilter | undefined, params: ParamList, maxNodes: number): string {
  if (filter === undefined) return 'TRUE';
  return compileNode(filter, params, { nodes: 0, max: maxNodes, depth: 0 });
}
