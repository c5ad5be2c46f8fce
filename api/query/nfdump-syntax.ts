/**
 * The building blocks every primitive of the nfdump-style filter language is parsed with
 * (api/query/nfdump-primitives.ts, api/query/nfdump-export-primitives.ts): the token cursor,
 * the parse-tree shape, numbers (decimal, `0x` hex, nfdump's scale suffixes k/m/g/t =
 * 1000^1..4), comparators turned into inclusive integer ranges, bracketed lists, the direction
 * qualifiers (`src`, `dst`, `src or dst`, `src and dst`) and address/network words.
 *
 * Owns: those pieces and the expected-token sets of their syntax errors. Never: echoes a
 * non-keyword word in an error (an address may be one). Pure.
 */
import type { QueryFilter } from '../../schemas/query.ts';
import { AppError } from '../../schemas/errors.ts';
import { parseAddress } from './cidr.ts';
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
  /** Consumes the keyword `word`, or throws the syntax error expecting it after `after`. */
  expectWord(word: string, after: string): void {
    if (!this.isWord(word)) this.fail([`'${word}'`], after);
    this.next();
  }
  /** Throws the syntax error for the current token. */
  fail(expected: readonly string[], after?: string): never {
    const t = this.peek();
    throw syntaxError(t.pos, expected, describeToken(t), after);
  }
}

/** Matches nothing: what an impossible comparison (`port > 65535`, `bytes < 0`) becomes (a fresh object each time). */
export const matchNone = (): QueryFilter => ({ not: {} });
export const leaf = (filter: QueryFilter, flags?: number): Ast => (flags === undefined ? { kind: 'leaf', filter } : { kind: 'leaf', filter, flags });
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

export type Comparator = 'eq' | 'gt' | 'ge' | 'lt' | 'le';
/** Comparator spellings (a Map: a word like `constructor` must not find a prototype member). */
export const OP_COMPARATORS = new Map<string, Comparator>(Object.entries({ '=': 'eq', '==': 'eq', '>': 'gt', '>=': 'ge', '<': 'lt', '<=': 'le', eq: 'eq', gt: 'gt', ge: 'ge', lt: 'lt', le: 'le' }) as [string, Comparator][]);
/** The expected-set entry for an optional comparator. */
export const A_COMPARATOR = 'a comparator (= == > < >= <= eq gt lt ge le)';

/** An optional comparator at the cursor (consumed), with the text it was written as. */
export function comparator(cur: Cursor): { cmp: Comparator; text: string } | null {
  const t = cur.peek();
  const cmp = t.kind === 'op' || t.kind === 'word' ? OP_COMPARATORS.get(t.lower) : undefined;
  if (cmp === undefined) return null;
  cur.next();
  return { cmp, text: t.lower };
}

/** An integer in [lo, hi] (after scaling); `what` names it in the error, `also` lists other acceptable tokens. */
export function integer(cur: Cursor, lo: number, hi: number, what: string, after: string, also: readonly string[] = []): number {
  const v = cur.peek().kind === 'word' ? numberValue(cur.peek().text) : null;
  if (v === null || !Number.isInteger(v) || v < lo || v > hi) cur.fail([`${what} ${lo}-${hi}`, ...also], after);
  cur.next();
  return v;
}

/** `[comp] n` over integers in [lo, hi]: a value, an inclusive range, or null when nothing matches. */
export function intComparison(cur: Cursor, lo: number, hi: number, what: string, keyword: string, also: readonly string[] = []): number | { min: number; max: number } | null {
  const c = comparator(cur);
  const n = c ? integer(cur, lo, hi, what, c.text) : integer(cur, lo, hi, what, keyword, [A_COMPARATOR, ...also]);
  const cmp = c?.cmp ?? 'eq';
  const min = cmp === 'gt' ? n + 1 : cmp === 'eq' || cmp === 'ge' ? n : lo;
  const max = cmp === 'lt' ? n - 1 : cmp === 'eq' || cmp === 'le' ? n : hi;
  if (min > max) return null;
  return min === max ? min : { min, max };
}

/** `[ a b, c ]`: values read by `item`, separated by spaces and/or commas, 1 to 256 of them. */
export function list<T>(cur: Cursor, after: string, item: () => T): T[] {
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

export type Direction = 'src' | 'dst' | 'either' | 'both';

/** `src`, `dst`, `src or dst`, `dst or src`, `src and dst`, `dst and src`; null when absent. */
export function direction(cur: Cursor): { dir: Direction; last: string } | null {
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

/** A value on the side(s) `dir` says (null = either), as the keys [source, destination, either]. */
export function sided(dir: Direction | null, keys: readonly [keyof QueryFilter, keyof QueryFilter, keyof QueryFilter], value: unknown): Ast {
  const [srcKey, dstKey, eitherKey] = keys;
  if (dir === 'src') return leaf({ [srcKey]: value });
  if (dir === 'dst') return leaf({ [dstKey]: value });
  if (dir === 'both') return both({ [srcKey]: value }, { [dstKey]: structuredClone(value) });
  return leaf({ [eitherKey]: value });
}

/** An address word (no prefix), returned as written. */
export function address(cur: Cursor, after: string): string {
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

/** After `net`: `<cidr>` or `<IPv4 address> <dotted mask>`, as CIDR text. */
export function networkValue(cur: Cursor): string {
  const addr = address(cur, 'net');
  if (cur.peek().kind === '/') return prefixAfter(cur, addr);
  const t = cur.peek();
  if (!addr.includes(':') && t.kind === 'word' && /^\d+\.\d+\.\d+\.\d+$/.test(t.text)) {
    const len = maskLength(t.text);
    if (len === null) cur.fail(['a contiguous netmask (ones, then zeros)'], 'net');
    cur.next();
    return `${addr}/${len}`;
  }
  return cur.fail(addr.includes(':') ? ["'/' and a prefix length"] : ["'/' and a prefix length", 'a dotted netmask'], 'net');
}

/** After `host`/`ip` (`keyword`): one address, or `in [ ... ]` of addresses and CIDRs. */
export function hostValue(cur: Cursor, keyword: string): string | string[] {
  if (!cur.isWord('in')) return address(cur, keyword);
  cur.next();
  return list(cur, 'in', () => {
    const addr = address(cur, 'in');
    return cur.peek().kind === '/' ? prefixAfter(cur, addr) : addr;
  });
}
