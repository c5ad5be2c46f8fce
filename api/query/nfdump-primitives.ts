/**
 * The primitives of the nfdump-style filter language, each parsed into a leaf of the structured
 * filter (schemas/query.ts `QueryFilter`): `any`, `ipv4`/`inet`, `ipv6`/`inet6`, `proto`,
 * `[src|dst|src or dst|src and dst] host|ip <addr>` and `... ip in [ list ]`, `... net <cidr>` or
 * `net <addr> <dotted mask>`, `... port [comp] <n>` and `... port in [ list ]`, `flags`, `bytes`,
 * `packets`, `duration`, `bps`, `pps`, `bpp`, `vlan` and flowseal's `endreason`.
 *
 * Owns: each primitive's grammar and meaning, number syntax (decimal, `0x` hex, nfdump's scale
 * suffixes k/m/g/t = 1000^1..4), turning comparisons on integers into inclusive ranges, and the
 * expected-token sets of syntax errors. Never: echoes a non-keyword word in an error. Pure.
 */
import type { QueryFilter } from '../../schemas/query.ts';
import { MAX_REAL_BOUND, PROTOCOL_NUMBERS, TCP_FLAG_BITS } from '../../schemas/query.ts';
import { EndReason } from '../../schemas/columns.ts';
import { parseAddress } from './cidr.ts';
import { AppError } from '../../schemas/errors.ts';
import { describeToken, syntaxError, type Token } from './nfdump-lexer.ts';

/** The parse tree before normalisation (api/query/nfdump-filter.ts). `flags` marks a `flags` leaf. */
export type Ast =
  | { readonly kind: 'leaf'; readonly filter: QueryFilter; readonly flags?: number }
  | { readonly kind: 'and' | 'or'; readonly items: Ast[]; depth: number }
  | { readonly kind: 'not'; readonly item: Ast; readonly depth: number };

/** A position in the token list. */
export class Cursor {
  i = 0;
  readonly tokens: readonly Token[];
  constructor(tokens: readonly Token[]) {
    this.tokens = tokens;
  }
  peek(ahead = 0): Token {
    return this.tokens[Math.min(this.i + ahead, this.tokens.length - 1)]!;
  }
  next(): Token {
    const t = this.peek();
    if (t.kind !== 'end') this.i += 1;
    return t;
  }
  isWord(word: string, ahead = 0): boolean {
    const t = this.peek(ahead);
    return t.kind === 'word' && t.lower === word;
  }
  /** Throws the syntax error for the current token. */
  fail(expected: readonly string[], after?: string): never {
    const t = this.peek();
    throw syntaxError(t.pos, expected, describeToken(t), after);
  }
}

/** Matches nothing: what an impossible comparison (`port > 65535`, `bytes < 0`) becomes (a fresh object each time). */
const matchNone = (): QueryFilter => ({ not: {} });
const leaf = (filter: QueryFilter, flags?: number): Ast => (flags === undefined ? { kind: 'leaf', filter } : { kind: 'leaf', filter, flags });
const both = (a: QueryFilter, b: QueryFilter): Ast => ({ kind: 'and', items: [leaf(a), leaf(b)], depth: 1 });

const SCALE = { k: 1e3, m: 1e6, g: 1e9, t: 1e12 } as const;
const NUMBER = /^(?:0x[0-9a-f]+|(\d+(?:\.\d+)?(?:e-?\d+)?)([kmgt])?)$/i;

/** A number word's value (nfdump syntax plus decimals/exponents), or null when it is not one. */
export function numberValue(text: string): number | null {
  const m = NUMBER.exec(text);
  if (!m) return null;
  if (m[1] === undefined) return Number(text);
  const v = Number(m[1]) * (m[2] ? SCALE[m[2].toLowerCase() as keyof typeof SCALE] : 1);
  return Number.isFinite(v) ? v : null;
}

type Comparator = 'eq' | 'gt' | 'ge' | 'lt' | 'le';
/** Comparator spellings (a Map: a word like `constructor` must not find a prototype member). */
const OP_COMPARATORS = new Map<string, Comparator>(Object.entries({ '=': 'eq', '==': 'eq', '>': 'gt', '>=': 'ge', '<': 'lt', '<=': 'le', eq: 'eq', gt: 'gt', ge: 'ge', lt: 'lt', le: 'le' }) as [string, Comparator][]);
/** The expected-set entry for an optional comparator. */
export const A_COMPARATOR = 'a comparator (= == > < >= <= eq gt lt ge le)';

function comparator(cur: Cursor): { cmp: Comparator; text: string } | null {
  const t = cur.peek();
  const cmp = t.kind === 'op' || t.kind === 'word' ? OP_COMPARATORS.get(t.lower) : undefined;
  if (cmp === undefined) return null;
  cur.next();
  return { cmp, text: t.lower };
}

/** An integer in [lo, hi] (after scaling); `what` names it in the error, `also` lists other acceptable tokens. */
function integer(cur: Cursor, lo: number, hi: number, what: string, after: string, also: readonly string[] = []): number {
  const v = cur.peek().kind === 'word' ? numberValue(cur.peek().text) : null;
  if (v === null || !Number.isInteger(v) || v < lo || v > hi) cur.fail([`${what} ${lo}-${hi}`, ...also], after);
  cur.next();
  return v;
}

/** `[comp] n` over integers in [lo, hi]: a value, an inclusive range, or null when nothing matches. */
function intComparison(cur: Cursor, lo: number, hi: number, what: string, keyword: string, also: readonly string[] = []): number | { min: number; max: number } | null {
  const c = comparator(cur);
  const n = c ? integer(cur, lo, hi, what, c.text) : integer(cur, lo, hi, what, keyword, [A_COMPARATOR, ...also]);
  const cmp = c?.cmp ?? 'eq';
  const min = cmp === 'gt' ? n + 1 : cmp === 'eq' || cmp === 'ge' ? n : lo;
  const max = cmp === 'lt' ? n - 1 : cmp === 'eq' || cmp === 'le' ? n : hi;
  if (min > max) return null;
  return min === max ? min : { min, max };
}

/** `[ a b, c ]`: values read by `item`, separated by spaces and/or commas, 1 to 256 of them. */
function list<T>(cur: Cursor, after: string, item: () => T): T[] {
  if (cur.peek().kind !== '[') cur.fail(["'['"], after);
  cur.next();
  const out: T[] = [];
  for (let comma = false; ; ) {
    if (cur.peek().kind === ']' && out.length > 0 && !comma) break;
    if (out.length === 256) cur.fail(["']' (a list holds at most 256 values)"]);
    const at = cur.peek().pos;
    try {
      out.push(item());
    } catch (err) {
      // After the first value a closing bracket is as welcome as another value.
      const d = err instanceof AppError ? (err.details as { position?: number; expected?: string[]; found?: string } | undefined) : undefined;
      if (out.length === 0 || comma || d?.position !== at) throw err;
      throw syntaxError(at, [...(d.expected ?? []), "']'"], d.found ?? '', after);
    }
    comma = cur.peek().kind === ',';
    if (comma) cur.next();
  }
  cur.next();
  return out;
}

type Direction = 'src' | 'dst' | 'either' | 'both';

/** `src`, `dst`, `src or dst`, `dst or src`, `src and dst`, `dst and src`; null when absent. */
function direction(cur: Cursor): { dir: Direction; last: string } | null {
  if (!cur.isWord('src') && !cur.isWord('dst')) return null;
  const first = cur.next().lower;
  const other = first === 'src' ? 'dst' : 'src';
  const link = cur.peek();
  const isOr = link.kind === 'word' ? link.lower === 'or' : link.text === '||';
  const isAnd = link.kind === 'word' ? link.lower === 'and' : link.text === '&&';
  if ((isOr || isAnd) && cur.isWord(other, 1)) {
    cur.next();
    cur.next();
    return { dir: isOr ? 'either' : 'both', last: other };
  }
  return { dir: first as 'src' | 'dst', last: first };
}

function sided(dir: Direction | null, keys: readonly [keyof QueryFilter, keyof QueryFilter, keyof QueryFilter], value: unknown): Ast {
  const [srcKey, dstKey, eitherKey] = keys;
  if (dir === 'src') return leaf({ [srcKey]: value });
  if (dir === 'dst') return leaf({ [dstKey]: value });
  if (dir === 'both') return both({ [srcKey]: value }, { [dstKey]: structuredClone(value) });
  return leaf({ [eitherKey]: value });
}
const NET_KEYS = ['srcNet', 'dstNet', 'net'] as const;
const PORT_KEYS = ['srcPort', 'dstPort', 'port'] as const;

/** An address word (no prefix), returned as written. */
function address(cur: Cursor, after: string): string {
  const t = cur.peek();
  if (t.kind !== 'word' || parseAddress(t.text) === null) cur.fail(['an IPv4 or IPv6 address'], after);
  cur.next();
  return t.text;
}

/** `addr/len` with len checked against the address family. */
function prefixAfter(cur: Cursor, addr: string): string {
  cur.next(); // '/'
  const max = addr.includes(':') ? 128 : 32;
  const len = integer(cur, 0, max, 'a prefix length', '/');
  return `${addr}/${len}`;
}

/** A dotted IPv4 netmask as a prefix length; null when the word is not a contiguous mask. */
function maskLength(text: string): number | null {
  const a = parseAddress(text);
  if (a === null || a.version !== 4) return null;
  const m = Number(a.lo & 0xffff_ffffn);
  // Contiguous ones then zeros exactly when the inverted mask plus one is a power of two.
  const len = 32 - Math.log2((~m >>> 0) + 1);
  return Number.isInteger(len) ? len : null;
}

function netPrimitive(cur: Cursor, dir: Direction | null): Ast {
  const addr = address(cur, 'net');
  if (cur.peek().kind === '/') return sided(dir, NET_KEYS, prefixAfter(cur, addr));
  const t = cur.peek();
  if (!addr.includes(':') && t.kind === 'word' && /^\d+\.\d+\.\d+\.\d+$/.test(t.text)) {
    const len = maskLength(t.text);
    if (len === null) cur.fail(['a contiguous netmask (ones, then zeros)'], 'net');
    cur.next();
    return sided(dir, NET_KEYS, `${addr}/${len}`);
  }
  return cur.fail(addr.includes(':') ? ["'/' and a prefix length"] : ["'/' and a prefix length", 'a dotted netmask'], 'net');
}

function hostPrimitive(cur: Cursor, dir: Direction | null, keyword: string): Ast {
  if (!cur.isWord('in')) return sided(dir, NET_KEYS, address(cur, keyword));
  cur.next();
  const cidrs = list(cur, 'in', () => {
    const addr = address(cur, 'in');
    return cur.peek().kind === '/' ? prefixAfter(cur, addr) : addr;
  });
  return sided(dir, NET_KEYS, cidrs);
}

function portPrimitive(cur: Cursor, dir: Direction | null): Ast {
  if (cur.isWord('in')) {
    cur.next();
    return sided(dir, PORT_KEYS, list(cur, 'in', () => integer(cur, 0, 65_535, 'a port number', 'in')));
  }
  const m = intComparison(cur, 0, 65_535, 'a port number', 'port', ["'in'"]);
  return m === null ? leaf(matchNone()) : sided(dir, PORT_KEYS, m);
}

const PROTOCOL_EXPECTED = ['a protocol number 0-255', `a protocol name (${Object.keys(PROTOCOL_NUMBERS).join(', ')})`];

function protoPrimitive(cur: Cursor): Ast {
  const t = cur.peek();
  const named = t.kind === 'word' && Object.hasOwn(PROTOCOL_NUMBERS, t.lower) ? PROTOCOL_NUMBERS[t.lower as keyof typeof PROTOCOL_NUMBERS] : undefined;
  if (named !== undefined) {
    cur.next();
    return leaf({ protocol: named });
  }
  if (t.kind !== 'op' && !(t.kind === 'word' && (OP_COMPARATORS.has(t.lower) || numberValue(t.text) !== null))) cur.fail(PROTOCOL_EXPECTED, 'proto');
  const m = intComparison(cur, 0, 255, 'a protocol number', 'proto', [PROTOCOL_EXPECTED[1]!]);
  return leaf(m === null ? matchNone() : { protocol: m });
}

/** `flags` letters: nfdump's FSRPAU (X = all six), plus flowseal's E (ECE) and C (CWR); any case. */
function flagsPrimitive(cur: Cursor): Ast {
  const t = cur.peek();
  if (t.kind !== 'word' || !/^[fsrpauecx]{1,9}$/.test(t.lower)) cur.fail(['TCP flag letters (F S R P A U E C, or X for FSRPAU)'], 'flags');
  cur.next();
  let mask = 0;
  for (const c of t.text.toUpperCase()) mask |= c === 'X' ? 63 : TCP_FLAG_BITS[c as keyof typeof TCP_FLAG_BITS];
  return leaf({ tcpFlags: mask }, mask);
}

/** `bytes`/`packets` `[comp] n`: whole numbers, as an inclusive `{min, max}` range. */
function countPrimitive(cur: Cursor, key: 'bytes' | 'packets'): Ast {
  const c = comparator(cur);
  const n = c ? integer(cur, 0, Number.MAX_SAFE_INTEGER, 'a whole number', c.text) : integer(cur, 0, Number.MAX_SAFE_INTEGER, 'a whole number', key, [A_COMPARATOR]);
  const cmp = c?.cmp ?? 'eq';
  if ((cmp === 'lt' && n === 0) || (cmp === 'gt' && n === Number.MAX_SAFE_INTEGER)) return leaf(matchNone());
  const range = cmp === 'eq' ? { min: n, max: n } : cmp === 'gt' ? { min: n + 1 } : cmp === 'ge' ? { min: n } : cmp === 'lt' ? { max: n - 1 } : { max: n };
  return leaf({ [key]: range });
}

/** `duration`/`bps`/`pps`/`bpp` `[comp] x`: real-valued, so exclusive bounds stay exclusive. */
function realPrimitive(cur: Cursor, key: 'duration' | 'bps' | 'pps' | 'bpp'): Ast {
  const c = comparator(cur);
  const t = cur.peek();
  const v = t.kind === 'word' ? numberValue(t.text) : null;
  if (v === null || v > MAX_REAL_BOUND) cur.fail(c ? [`a number 0-${MAX_REAL_BOUND}`] : [`a number 0-${MAX_REAL_BOUND}`, A_COMPARATOR], c?.text ?? key);
  cur.next();
  const cmp = c?.cmp ?? 'eq';
  const bound = cmp === 'eq' ? { min: v, max: v } : cmp === 'gt' ? { gt: v } : cmp === 'ge' ? { min: v } : cmp === 'lt' ? { lt: v } : { max: v };
  return leaf({ [key]: bound });
}

const END_REASONS = Object.values(EndReason) as string[];

function endReasonWord(cur: Cursor, after: string): (typeof EndReason)[keyof typeof EndReason] {
  const t = cur.peek();
  if (t.kind !== 'word' || !END_REASONS.includes(t.lower)) cur.fail([`an end reason (${END_REASONS.join(', ')})`], after);
  cur.next();
  return t.lower as (typeof EndReason)[keyof typeof EndReason];
}

/** What may start a primitive (the operand position's expected set). */
export const PRIMITIVE_STARTS = ['any', 'ipv4', 'ipv6', 'proto', 'src', 'dst', 'host', 'ip', 'net', 'port', 'flags', 'bytes', 'packets', 'duration', 'bps', 'pps', 'bpp', 'vlan', 'endreason'];

/** Parses one primitive at the cursor, or returns null when the current token cannot start one. */
export function parsePrimitive(cur: Cursor): Ast | null {
  const d = direction(cur);
  const t = cur.peek();
  const word = t.kind === 'word' ? t.lower : '';
  if (d !== null) {
    if (word === 'host' || word === 'ip') return (cur.next(), hostPrimitive(cur, d.dir, word));
    if (word === 'net') return (cur.next(), netPrimitive(cur, d.dir));
    if (word === 'port') return (cur.next(), portPrimitive(cur, d.dir));
    const more = d.dir === 'src' || d.dir === 'dst' ? [`'or ${d.dir === 'src' ? 'dst' : 'src'}'`, `'and ${d.dir === 'src' ? 'dst' : 'src'}'`] : [];
    return cur.fail(["'host'", "'ip'", "'net'", "'port'", ...more], d.last);
  }
  if (t.kind !== 'word' || !(PRIMITIVE_STARTS.includes(word) || ['inet', 'inet6'].includes(word))) return null;
  cur.next();
  switch (word) {
    case 'any': return leaf({});
    case 'ipv4': case 'inet': return leaf({ ipVersion: 4 });
    case 'ipv6': case 'inet6': return leaf({ ipVersion: 6 });
    case 'proto': return protoPrimitive(cur);
    case 'host': case 'ip': return hostPrimitive(cur, null, word);
    case 'net': return netPrimitive(cur, null);
    case 'port': return portPrimitive(cur, null);
    case 'flags': return flagsPrimitive(cur);
    case 'bytes': case 'packets': return countPrimitive(cur, word);
    case 'duration': case 'bps': case 'pps': case 'bpp': return realPrimitive(cur, word);
    case 'vlan': {
      const m = intComparison(cur, 0, 65_535, 'a VLAN id', 'vlan');
      return leaf(m === null ? matchNone() : { vlanId: m });
    }
    default: { // endreason
      if (!cur.isWord('in')) return leaf({ endReason: endReasonWord(cur, 'endreason') });
      cur.next();
      return leaf({ endReason: list(cur, 'in', () => endReasonWord(cur, 'in')) });
    }
  }
}
