/**
 * Tokens of the nfdump-style filter language (nfdump(1) FILTER): words (keywords, numbers,
 * addresses — nfdump's `[a-zA-Z0-9_:.-]+`), the punctuation `( ) [ ] , /`, the comparators
 * `= == > < >= <=` and the boolean operators `! && ||`. `#` starts a comment to the end of the
 * line; spaces, tabs and newlines separate tokens.
 *
 * Owns: tokenizing, the syntax-error shape (`ERR_QUERY_FILTER_SYNTAX` with `position`,
 * `expected`, `found`) and how a token is described in an error. Never: puts a word's raw text
 * into an error unless it is a keyword of the language (a word may be an address). Pure.
 */
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { parseAddress } from './cidr.ts';

export type TokenKind = 'word' | 'op' | '(' | ')' | '[' | ']' | ',' | '/' | 'end';

export interface Token {
  readonly kind: TokenKind;
  /** Raw text (for words: as written; compare keywords through `lower`). */
  readonly text: string;
  readonly lower: string;
  /** 0-based character offset of the token's first character. */
  readonly pos: number;
}

/** Every keyword of the language: the only words an error message may quote. */
export const KEYWORDS = new Set([
  'and', 'or', 'not', 'any', 'ipv4', 'inet', 'ipv6', 'inet6', 'proto', 'src', 'dst', 'host', 'ip', 'net', 'port', 'in',
  'flags', 'bytes', 'packets', 'duration', 'bps', 'pps', 'bpp', 'vlan', 'endreason', 'eq', 'gt', 'lt', 'ge', 'le',
  'as', 'tos', 'out', 'if', 'next', 'bgpnext', 'router', 'observation', 'domain', 'id', 'nfversion', 'recordsource',
]);

const WORD_CHAR = /[A-Za-z0-9_:.\-]/;
const OPERATORS = ['>=', '<=', '==', '&&', '||', '=', '>', '<', '!'] as const;
const PUNCTUATION = new Set(['(', ')', '[', ']', ',', '/']);

/** The `ERR_QUERY_FILTER_SYNTAX` error: `expected` lists what would have been accepted at `position`. */
export function syntaxError(position: number, expected: readonly string[], found: string, after?: string): AppError {
  const wanted = expected.length <= 1 ? (expected[0] ?? 'nothing') : `${expected.slice(0, -1).join(', ')} or ${expected.at(-1)}`;
  const context = after === undefined ? '' : ` after '${after}'`;
  return new AppError(ErrorCode.QueryFilterSyntax, `filter syntax error at position ${position}: expected ${wanted}${context}, found ${found}`, {
    details: { position, expected: [...expected], found },
  });
}

/** What a token is, for an error message: keywords and punctuation by name, other words by kind only. */
export function describeToken(t: Token): string {
  if (t.kind === 'end') return 'end of input';
  if (t.kind !== 'word') return `'${t.text}'`;
  if (KEYWORDS.has(t.lower)) return `'${t.lower}'`;
  if (/^(0x[0-9a-f]+|\d+(\.\d+)?([kmgt]|e-?\d+)?)$/i.test(t.text)) return 'a number';
  if (/[.:]/.test(t.text) && /^[0-9a-f:.]+$/i.test(t.text)) return parseAddress(t.text) === null ? 'a malformed address' : 'an address';
  return 'a word';
}

/**
 * Splits `text` into tokens, ending with one `end` token at `text.length`.
 * @throws AppError ERR_QUERY_FILTER_SYNTAX at the first character no token can start with.
 */
export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i += 1;
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i += 1;
    } else if (WORD_CHAR.test(c)) {
      const start = i;
      while (i < text.length && WORD_CHAR.test(text[i]!)) i += 1;
      const word = text.slice(start, i);
      out.push({ kind: 'word', text: word, lower: word.toLowerCase(), pos: start });
    } else if (PUNCTUATION.has(c)) {
      out.push({ kind: c as TokenKind, text: c, lower: c, pos: i });
      i += 1;
    } else {
      const op = OPERATORS.find((o) => text.startsWith(o, i));
      if (op === undefined) throw syntaxError(i, ['a filter expression'], 'a character that is not part of the language');
      out.push({ kind: 'op', text: op, lower: op, pos: i });
      i += op.length;
    }
  }
  out.push({ kind: 'end', text: '', lower: '', pos: text.length });
  return out;
}
