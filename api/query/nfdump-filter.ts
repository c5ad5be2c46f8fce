/**
 * The nfdump-compatible text filter language (nfdump(1) FILTER, as nfdump 1.7 parses it):
 * `proto tcp and dst port 443 and not dst net 10.0.0.0/8`. It parses into the structured filter
 * (schemas/query.ts `QueryFilter`), never into SQL: the text form has exactly the meaning and
 * the limits (depth, nodes, terms) of the structure it becomes, and compiles through
 * api/query/compile-filter.ts like any structured filter. `formatFilterExpression` prints any
 * structured filter back as text (api/query/nfdump-format.ts).
 *
 * Grammar: primitives (api/query/nfdump-primitives.ts, and for the router-export columns
 * api/query/nfdump-export-primitives.ts) combined with `not`/`!`, `and`/`&&`,
 * `or`/`||` and parentheses; `not` binds tighter than `and`, `and` tighter than `or` (nfdump's
 * precedence); keywords are case-insensitive; `#` comments run to the end of the line; an empty
 * expression matches every flow (nfdump's empty filter).
 *
 * Owns: the expression grammar, the input length cap, and the parser's stack safety: the parser
 * is iterative (operator-precedence with explicit stacks), so 1 MB of `((((` costs a length
 * check, and 8 k of `((((` a linear scan; operators nested far deeper than the depth limit
 * admits are refused while the tree is being built. Never: recurses over the input, echoes input that is not
 * a keyword (an address) in an error, or builds SQL. Pure.
 */
import type { QueryFilter } from '../../schemas/query.ts';
import { MAX_FILTER_DEPTH } from '../../schemas/query.ts';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { assertFilterDepth, filterTooDeep } from './filter-depth.ts';
import { describeToken, syntaxError, tokenize, type Token } from './nfdump-lexer.ts';
import { parsePrimitive } from './nfdump-primitives.ts';
import { Cursor, type Ast } from './nfdump-syntax.ts';
import { normalize } from './nfdump-normalize.ts';

export { formatFilterExpression } from './nfdump-format.ts';

/** Longest filter expression accepted, in characters (UTF-16 code units). */
export const MAX_FILTER_EXPRESSION_LENGTH = 8192;

/**
 * Deepest parse tree kept while parsing (it bounds the recursion of the normalisation). Along a
 * path `and` and `or` alternate (chains are flattened), and every `not`, like every `or` above
 * another operator, adds a level to the structured filter, so such a tree yields a filter deeper
 * than MAX_FILTER_DEPTH — unless normalisation folds it away (`any and (port 1 or (any and
 * (port 2 or ...)))` becomes one port list): text nested that deep is refused as too deep even
 * then, which is the only case where the text's nesting, not its structure's, decides.
 */
const MAX_TREE_DEPTH = 2 * MAX_FILTER_DEPTH + 4;

/** Size limits checked on the parsed filter, as api/routes/execute-query.ts checks structured ones. */
export interface FilterSizeLimits {
  readonly maxNodes: number;
  readonly maxTerms: number;
}

type Op = { readonly kind: 'not' | 'and' | 'or' | '('; readonly text: string };

const isNot = (t: Token) => (t.kind === 'word' && t.lower === 'not') || (t.kind === 'op' && t.text === '!');
const isAnd = (t: Token) => (t.kind === 'word' && t.lower === 'and') || (t.kind === 'op' && t.text === '&&');
const isOr = (t: Token) => (t.kind === 'word' && t.lower === 'or') || (t.kind === 'op' && t.text === '||');
const depthOf = (a: Ast) => (a.kind === 'leaf' ? 0 : a.depth);

/** `a kind b`, flattening chains of the same operator (`and`, `or` are associative). */
function join(kind: 'and' | 'or', a: Ast, b: Ast): Ast {
  if (a.kind === kind) {
    if (b.kind === kind) {
      a.items.push(...b.items);
      a.depth = Math.max(a.depth, b.depth);
    } else {
      a.items.push(b);
      a.depth = Math.max(a.depth, depthOf(b) + 1);
    }
    return a;
  }
  if (b.kind === kind) {
    b.items.unshift(a);
    b.depth = Math.max(b.depth, depthOf(a) + 1);
    return b;
  }
  return { kind, items: [a, b], depth: Math.max(depthOf(a), depthOf(b)) + 1 };
}

const OPERAND = ['a filter primitive (any, proto, host, net, port, flags, bytes, ...)', "'not'", "'('"];

/** Operator-precedence parse of the whole token list into one tree. */
function parseTree(tokens: readonly Token[]): Ast {
  const cur: Cursor = new Cursor(tokens);
  const operands: Ast[] = [];
  const ops: Op[] = [];
  let open = 0;
  const reduce = (): void => {
    const op = ops.pop()!;
    let node: Ast;
    if (op.kind === 'not') {
      const item = operands.pop()!;
      node = { kind: 'not', item, depth: depthOf(item) + 1 };
    } else {
      const b = operands.pop()!;
      node = join(op.kind as 'and' | 'or', operands.pop()!, b);
    }
    if (depthOf(node) > MAX_TREE_DEPTH) throw filterTooDeep();
    operands.push(node);
  };
  const reduceWhile = (kinds: readonly Op['kind'][]): void => {
    while (ops.length > 0 && kinds.includes(ops.at(-1)!.kind)) reduce();
  };
  let after: string | undefined;
  for (;;) {
    const t = cur.peek();
    if (isNot(t) || t.kind === '(') {
      ops.push(t.kind === '(' ? { kind: '(', text: '(' } : { kind: 'not', text: t.lower });
      if (t.kind === '(') open += 1;
      after = t.lower;
      cur.next();
      continue;
    }
    const primitive = parsePrimitive(cur);
    if (primitive === null) cur.fail(OPERAND, after);
    operands.push(primitive);
    // After an operand: operators, ')' and the end, until the next operand is due.
    for (;;) {
      const o = cur.peek();
      if (isAnd(o) || isOr(o)) {
        reduceWhile(isAnd(o) ? ['not', 'and'] : ['not', 'and', 'or']);
        ops.push({ kind: isAnd(o) ? 'and' : 'or', text: o.lower });
        after = o.lower;
        cur.next();
        break;
      }
      if (o.kind === ')' && open > 0) {
        reduceWhile(['not', 'and', 'or']);
        ops.pop();
        open -= 1;
        cur.next();
        continue;
      }
      if (o.kind === 'end' && open === 0) {
        reduceWhile(['not', 'and', 'or']);
        return operands[0]!;
      }
      throw syntaxError(o.pos, ["'and'", "'or'", ...(open > 0 ? ["')'"] : []), ...(open === 0 ? ['end of input'] : [])], describeToken(o));
    }
  }
}

/**
 * Parses an nfdump-style filter expression into the structured filter. The result has passed
 * the depth check (and, given `limits`, the node and term limits) that structured filters pass
 * before validation, with the same errors.
 * @throws AppError ERR_QUERY_FILTER_SYNTAX with `details: { position, expected, found }` for
 *   text that does not parse; ERR_QUERY_FILTER_INVALID for an expression longer than 8192
 *   characters (`details.maxFilterLength`), nested deeper than 16 levels, or over `limits`.
 */
export function parseFilterExpression(text: string, limits?: FilterSizeLimits): QueryFilter {
  if (text.length > MAX_FILTER_EXPRESSION_LENGTH) {
    throw new AppError(ErrorCode.QueryFilterInvalid, `filter expression longer than ${MAX_FILTER_EXPRESSION_LENGTH} characters`, {
      details: { maxFilterLength: MAX_FILTER_EXPRESSION_LENGTH },
    });
  }
  const tokens = tokenize(text);
  if (tokens.length === 1) return {};
  const filter = normalize(parseTree(tokens));
  assertFilterDepth(filter, MAX_FILTER_DEPTH, limits ?? { maxNodes: Infinity, maxTerms: Infinity });
  return filter;
}

/**
 * What a request's `filter` becomes before schema validation: a string is an nfdump expression,
 * or — when it starts with `{` after leading whitespace — the JSON text of a structured filter
 * (for `?filter=` on GETs); anything else is returned as it is, for the schema to judge.
 * @throws AppError as `parseFilterExpression`, or ERR_QUERY_INVALID for malformed JSON text.
 */
export function resolveFilterInput(value: unknown, limits?: FilterSizeLimits): unknown {
  if (typeof value !== 'string') return value;
  if (!value.trimStart().startsWith('{')) return parseFilterExpression(value, limits);
  if (value.length > MAX_FILTER_EXPRESSION_LENGTH) {
    throw new AppError(ErrorCode.QueryFilterInvalid, `filter longer than ${MAX_FILTER_EXPRESSION_LENGTH} characters`, { details: { maxFilterLength: MAX_FILTER_EXPRESSION_LENGTH } });
  }
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw new AppError(ErrorCode.QueryInvalid, 'filter starting with { must be a JSON structured filter');
  }
}
