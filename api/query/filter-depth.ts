/**
 * A cheap, iterative nesting check on an untrusted filter *before* it is validated by the zod
 * schema: zod (and the filter compiler) walk the tree recursively, so a small body nesting
 * `not` thousands of levels deep would otherwise overflow the stack and end as a 500.
 *
 * Owns: the depth rule (`and`/`or` elements and `not` are one level below their parent; the
 * root is level 0), and the size rules checked in the same walk, before any validation, so an
 * oversized filter costs microseconds to refuse: at most `maxNodes` filter objects, and at most
 * `maxTerms` terms (each element of a listed value — a CIDR, a port — or a scalar is one term;
 * DuckDB's planning time grows with them and is not interruptible).
 * Never: recurses, validates anything else (zod does), or echoes the input. Pure.
 */
import { MAX_FILTER_DEPTH } from '../../schemas/query.ts';
import { AppError, ErrorCode } from '../../schemas/errors.ts';

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The error for a filter nested deeper than `maxDepth` (also thrown by the text-filter parser). */
export function filterTooDeep(maxDepth: number = MAX_FILTER_DEPTH): AppError {
  return new AppError(ErrorCode.QueryFilterInvalid, `filter nested deeper than ${maxDepth} levels`, { details: { maxFilterDepth: maxDepth } });
}

/**
 * Walks the combinator keys of a parsed-JSON filter with an explicit stack.
 * @param maxDepth deepest level allowed; default `MAX_FILTER_DEPTH` (16).
 * @throws AppError ERR_QUERY_FILTER_INVALID when a sub-filter sits deeper than `maxDepth`.
 */
export function assertFilterDepth(filter: unknown, maxDepth: number = MAX_FILTER_DEPTH, size: { maxNodes: number; maxTerms: number } = { maxNodes: Infinity, maxTerms: Infinity }): void {
  const stack: { node: unknown; depth: number }[] = [{ node: filter, depth: 0 }];
  let nodes = 0;
  let terms = 0;
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { node, depth } = item;
    if (!isRecord(node)) continue; // not a filter object: left to the schema to reject
    if (depth > maxDepth) throw filterTooDeep(maxDepth);
    if (++nodes > size.maxNodes) {
      throw new AppError(ErrorCode.QueryFilterInvalid, `filter has more than ${size.maxNodes} nodes`, { details: { maxFilterNodes: size.maxNodes } });
    }
    for (const [key, value] of Object.entries(node)) {
      if (key === 'and' || key === 'or' || key === 'not') continue;
      terms += Array.isArray(value) ? value.length : 1;
    }
    if (terms > size.maxTerms) {
      throw new AppError(ErrorCode.QueryFilterInvalid, `filter has more than ${size.maxTerms} terms (listed values count one each)`, { details: { maxFilterTerms: size.maxTerms } });
    }
    for (const key of ['and', 'or'] as const) {
      const list = Object.hasOwn(node, key) ? node[key] : undefined;
      if (Array.isArray(list)) for (const child of list) stack.push({ node: child, depth: depth + 1 });
    }
    if (Object.hasOwn(node, 'not')) stack.push({ node: node.not, depth: depth + 1 });
  }
}
