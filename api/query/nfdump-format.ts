/**
 * Prints a structured filter (schemas/query.ts `QueryFilter`, validated or as a client sent it)
 * as an nfdump-style expression that api/query/nfdump-filter.ts parses back to a filter matching
 * the same flows — and, for a filter that came from parsing text, to the same structure.
 *
 * Owns: the text of every key and value form: lists print as nfdump lists (`port in [ 80 443 ]`,
 * `src ip in [ ... ]`) or `or` chains, ranges as `>=`/`<=` pairs, flag masks as letters. nfdump
 * reads a negated `flags SA` as "none of S, A", so under an odd number of `not`s an all-of mask
 * prints one flag at a time (`flags S and flags A`) and an any-of mask as letters; elsewhere the
 * other way round. Parentheses only where precedence needs them. What nfdump itself lacks is
 * printed in flowseal's extensions: comparators on `proto`, `vlan`, `if` and `observation
 * domain id`, `endreason`, `recordsource`, flags E and C, `router`/`bgpnext` address lists and
 * `next`/`bgpnext`/`router net`.
 * Never: prints a CIDR it cannot parse (the error says which key, not the value). Pure.
 */
import type { QueryFilterInput } from '../../schemas/query.ts';
import { PROTOCOL_NUMBERS, TCP_FLAG_BITS } from '../../schemas/query.ts';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { parseCidr } from './cidr.ts';
import { assertFilterDepth } from './filter-depth.ts';

/** How tightly a printed piece binds: an `or` chain, an `and` chain, or one primitive / `not x`. */
type Prec = 0 | 1 | 2;
interface Piece {
  readonly text: string;
  readonly prec: Prec;
}
const OR: Prec = 0;
const AND: Prec = 1;
const ATOM: Prec = 2;

const atom = (text: string): Piece => ({ text, prec: ATOM });
const wrap = (p: Piece, min: Prec): string => (p.prec < min ? `(${p.text})` : p.text);
function chain(pieces: readonly Piece[], prec: typeof OR | typeof AND): Piece {
  if (pieces.length === 1) return pieces[0]!;
  return { text: pieces.map((p) => wrap(p, prec === AND ? AND : OR)).join(prec === AND ? ' and ' : ' or '), prec };
}

const NAME_OF: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmp6' };
const LETTERS = Object.entries(TCP_FLAG_BITS) as [string, number][];

function invalid(message: string): AppError {
  return new AppError(ErrorCode.QueryFilterInvalid, message);
}

function protocolNumber(v: number | string): number {
  return typeof v === 'number' ? v : PROTOCOL_NUMBERS[v as keyof typeof PROTOCOL_NUMBERS];
}

/** `name >= min and name <= max`, dropping a bound at the edge of [lo, hi]; `name n` for one value. */
function intRange(name: string, r: { min: number; max: number }, lo: number, hi: number): Piece {
  if (r.min > r.max) throw invalid(`range for ${name} has min > max`);
  if (r.min === r.max) return atom(`${name} ${r.min}`);
  const parts: Piece[] = [];
  if (r.min > lo || r.max === hi) parts.push(atom(`${name} >= ${r.min}`));
  if (r.max < hi) parts.push(atom(`${name} <= ${r.max}`));
  return chain(parts, AND);
}

type IntMatcher = number | readonly number[] | { min: number; max: number };

function intMatcher(name: string, m: IntMatcher, hi: number, listSyntax: boolean): Piece {
  if (typeof m === 'number') return atom(`${name} ${m}`);
  if (Array.isArray(m)) return listSyntax ? atom(`${name} in [ ${m.join(' ')} ]`) : chain(m.map((v) => atom(`${name} ${v}`)), OR);
  return intRange(name, m as { min: number; max: number }, 0, hi);
}

function protocolPiece(m: NonNullable<QueryFilterInput['protocol']>): Piece {
  const one = (v: number | string) => atom(`proto ${NAME_OF[protocolNumber(v)] ?? protocolNumber(v)}`);
  if (Array.isArray(m)) return chain(m.map(one), OR);
  if (typeof m === 'object') return intRange('proto', m as { min: number; max: number }, 0, 255);
  return one(m as number | string);
}

/**
 * Either of two columns (`port`, `as`, `if`). A one-sided range is nfdump's `port >= a` (either
 * side at least a); a range bounded on both sides needs `(src in range) or (dst in range)`,
 * since `port >= a and port <= b` could take its bounds from different sides.
 */
function eitherPiece(names: readonly [either: string, first: string, second: string], m: IntMatcher, hi: number, listSyntax: boolean): Piece {
  const [name, first, second] = names;
  if (typeof m === 'number' || Array.isArray(m)) return intMatcher(name, m, hi, listSyntax);
  const r = m as { min: number; max: number };
  if (r.min === r.max || r.min === 0 || r.max === hi) return intRange(name, r, 0, hi);
  return chain([intRange(first, r, 0, hi), intRange(second, r, 0, hi)], OR);
}

/** `<side>host|net <cidr>` or `<side>ip in [ ... ]`; `hostWord` names a single address (`host`, or `ip` as nfdump writes `next ip`). */
function netPiece(side: string, m: string | readonly string[], key: string, hostWord = 'host'): Piece {
  const cidrs = typeof m === 'string' ? [m] : m;
  for (const c of cidrs) if (parseCidr(c) === null) throw invalid(`malformed CIDR in ${key}`);
  if (typeof m === 'string') return atom(`${side}${m.includes('/') ? 'net' : hostWord} ${m}`);
  return atom(`${side}ip in [ ${m.join(' ')} ]`);
}

const U32_MAX = 0xffff_ffff;

function boundsPiece(name: string, c: { min?: number; max?: number; gt?: number; lt?: number }): Piece {
  if (c.min !== undefined && c.max !== undefined && c.min > c.max) throw invalid(`range for ${name} has min > max`);
  const parts: Piece[] = [];
  if (c.min !== undefined && c.min === c.max) parts.push(atom(`${name} ${c.min}`));
  else {
    if (c.min !== undefined) parts.push(atom(`${name} >= ${c.min}`));
    if (c.max !== undefined) parts.push(atom(`${name} <= ${c.max}`));
  }
  if (c.gt !== undefined) parts.push(atom(`${name} > ${c.gt}`));
  if (c.lt !== undefined) parts.push(atom(`${name} < ${c.lt}`));
  return parts.length === 0 ? atom('any') : chain(parts, AND);
}

function maskOf(v: number | string): number {
  if (typeof v === 'number') return v;
  return [...v.toUpperCase()].reduce((m, c) => m | (TCP_FLAG_BITS[c as keyof typeof TCP_FLAG_BITS] ?? 0), 0);
}

/** Flag pieces: one `flags` word for the set, or one `flags L` per bit joined by `joiner`. */
function flagSet(mask: number, whole: boolean, joiner: typeof OR | typeof AND): Piece {
  const letters = LETTERS.filter(([, bit]) => (mask & bit) !== 0).map(([l]) => l);
  if (whole || letters.length === 1) return atom(`flags ${letters.join('')}`);
  return chain(letters.map((l) => atom(`flags ${l}`)), joiner);
}

function tcpFlagsPiece(f: NonNullable<QueryFilterInput['tcpFlags']>, odd: boolean): Piece {
  const { all, any } = typeof f === 'object' ? f : { all: f, any: undefined };
  const parts: Piece[] = [];
  if (all !== undefined) parts.push(flagSet(maskOf(all), !odd, AND));
  if (any !== undefined) parts.push(flagSet(maskOf(any), odd, OR));
  return parts.length === 0 ? atom('proto tcp') : chain(parts, AND);
}

/** Pieces of one filter object, in a fixed key order; `odd` = under an odd number of `not`s. */
function pieces(f: QueryFilterInput, odd: boolean): Piece[] {
  const out: Piece[] = [];
  if (f.ipVersion !== undefined) out.push(atom(f.ipVersion === 4 ? 'ipv4' : 'ipv6'));
  if (f.protocol !== undefined) out.push(protocolPiece(f.protocol));
  if (f.srcNet !== undefined) out.push(netPiece('src ', f.srcNet, 'srcNet'));
  if (f.dstNet !== undefined) out.push(netPiece('dst ', f.dstNet, 'dstNet'));
  if (f.net !== undefined) out.push(netPiece('', f.net, 'net'));
  if (f.srcPort !== undefined) out.push(intMatcher('src port', f.srcPort as IntMatcher, 65_535, true));
  if (f.dstPort !== undefined) out.push(intMatcher('dst port', f.dstPort as IntMatcher, 65_535, true));
  if (f.port !== undefined) out.push(eitherPiece(['port', 'src port', 'dst port'], f.port as IntMatcher, 65_535, true));
  if (f.vlanId !== undefined) out.push(intMatcher('vlan', f.vlanId as IntMatcher, 65_535, false));
  if (f.tcpFlags !== undefined) out.push(tcpFlagsPiece(f.tcpFlags, odd));
  for (const key of ['bytes', 'packets', 'duration', 'bps', 'pps', 'bpp'] as const) {
    const c = f[key];
    if (c !== undefined) out.push(boundsPiece(key, c));
  }
  if (f.endReason !== undefined) out.push(atom(typeof f.endReason === 'string' ? `endreason ${f.endReason}` : `endreason in [ ${f.endReason.join(' ')} ]`));
  if (f.recordSource !== undefined) out.push(atom(typeof f.recordSource === 'string' ? `recordsource ${f.recordSource}` : `recordsource in [ ${f.recordSource.join(' ')} ]`));
  if (f.exporterNet !== undefined) out.push(netPiece('router ', f.exporterNet, 'exporterNet', 'ip'));
  if (f.nextHopNet !== undefined) out.push(netPiece('next ', f.nextHopNet, 'nextHopNet', 'ip'));
  if (f.bgpNextHopNet !== undefined) out.push(netPiece('bgpnext ', f.bgpNextHopNet, 'bgpNextHopNet', 'ip'));
  if (f.srcAs !== undefined) out.push(intMatcher('src as', f.srcAs as IntMatcher, U32_MAX, true));
  if (f.dstAs !== undefined) out.push(intMatcher('dst as', f.dstAs as IntMatcher, U32_MAX, true));
  if (f.as !== undefined) out.push(eitherPiece(['as', 'src as', 'dst as'], f.as as IntMatcher, U32_MAX, true));
  if (f.inputInterface !== undefined) out.push(intMatcher('in if', f.inputInterface as IntMatcher, U32_MAX, false));
  if (f.outputInterface !== undefined) out.push(intMatcher('out if', f.outputInterface as IntMatcher, U32_MAX, false));
  if (f.interface !== undefined) out.push(eitherPiece(['if', 'in if', 'out if'], f.interface as IntMatcher, U32_MAX, false));
  if (f.tos !== undefined) out.push(intMatcher('tos', f.tos as IntMatcher, 255, false));
  if (f.observationDomain !== undefined) out.push(intMatcher('observation domain id', f.observationDomain as IntMatcher, U32_MAX, false));
  if (f.and !== undefined) out.push(chain(f.and.map((x) => piece(x, odd)), AND));
  if (f.or !== undefined) out.push(chain(f.or.map((x) => piece(x, odd)), OR));
  if (f.not !== undefined) out.push(atom(`not ${wrap(piece(f.not, !odd), ATOM)}`));
  return out;
}

function piece(f: QueryFilterInput, odd: boolean): Piece {
  const parts = pieces(f, odd);
  return parts.length === 0 ? atom('any') : chain(parts, AND);
}

/**
 * Prints `filter` as an nfdump-style expression; `{}` prints as `any`.
 * @throws AppError ERR_QUERY_FILTER_INVALID for a malformed CIDR, an inverted range (as the
 *   compiler would) or a filter nested deeper than 16 levels (checked first, without recursion).
 */
export function formatFilterExpression(filter: QueryFilterInput): string {
  assertFilterDepth(filter);
  return piece(filter, false).text;
}
