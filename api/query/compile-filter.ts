/**
 * Compiles the structured filter (schemas/query.ts `QueryFilter`) into a SQL boolean
 * expression with `$n` placeholders.
 *
 * Owns: the mapping filter key → fixed SQL fragment, CIDR → integer range predicates over
 * the `*_addr_hi`/`*_addr_lo` halves, and the filter size limit. Never: puts a user value into
 * SQL text — column names come from constants in this file, every value goes through
 * `ParamList.add`. Pure: no IO, no clock.
 */
import type { QueryFilter } from '../../schemas/query.ts';
import { MAX_FILTER_DEPTH } from '../../schemas/query.ts';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { QueryParam } from '../ports.ts';
import { parseCidr } from './cidr.ts';

/** Collects bound values; `add` returns the placeholder to splice into SQL. */
export class ParamList {
  readonly values: QueryParam[] = [];
  add(value: QueryParam): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

type IntMatcher = number | number[] | { min: number; max: number };
type Side = 'src' | 'dst';

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

/** One CIDR against one side: integer ranges on the halves (prunable by row-group stats). */
function cidrPredicate(side: Side, text: string, p: ParamList): string {
  const range = parseCidr(text);
  if (!range) throw new AppError(ErrorCode.QueryFilterInvalid, 'malformed CIDR in address filter');
  const hi = `${side}_addr_hi`;
  const lo = `${side}_addr_lo`;
  if (range.version === 4) {
    return `(${hi} = ${p.add(0n)} AND ${lo} BETWEEN ${p.add(range.loMin)} AND ${p.add(range.loMax)})`;
  }
  if (range.prefix <= 64) {
    return `(ip_version = 6 AND ${hi} BETWEEN ${p.add(range.hiMin)} AND ${p.add(range.hiMax)})`;
  }
  return `(ip_version = 6 AND ${hi} = ${p.add(range.hiMin)} AND ${lo} BETWEEN ${p.add(range.loMin)} AND ${p.add(range.loMax)})`;
}

function netPredicate(sides: readonly Side[], m: string | string[], p: ParamList): string {
  const cidrs = Array.isArray(m) ? m : [m];
  const terms = sides.flatMap((side) => cidrs.map((c) => cidrPredicate(side, c, p)));
  return terms.length === 1 ? terms[0] : `(${terms.join(' OR ')})`;
}

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
  if (f.port !== undefined) leaf(`(${intPredicate('src_port', f.port, p)} OR ${intPredicate('dst_port', f.port, p)})`);
  if (f.srcNet !== undefined) leaf(netPredicate(['src'], f.srcNet, p));
  if (f.dstNet !== undefined) leaf(netPredicate(['dst'], f.dstNet, p));
  if (f.net !== undefined) leaf(netPredicate(['src', 'dst'], f.net, p));
  if (f.vlanId !== undefined) leaf(intPredicate('vlan_id', f.vlanId, p));
  if (f.bytes !== undefined) leaf(rangePredicate('(bytes_fwd + bytes_rev)', 'bytes', f.bytes, p));
  if (f.packets !== undefined) leaf(rangePredicate('(packets_fwd + packets_rev)', 'packets', f.packets, p));
  if (f.endReason !== undefined) {
    const reasons = Array.isArray(f.endReason) ? f.endReason : [f.endReason];
    leaf(`end_reason IN (${reasons.map((r) => p.add(r)).join(', ')})`);
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
    // coalesce: NOT over a nullable column (vlan_id) must keep rows where the value is absent.
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
