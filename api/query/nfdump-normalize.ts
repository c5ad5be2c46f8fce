/**
 * Turns the parse tree of an nfdump-style expression into the structured filter, in one
 * normal form so that `parse(format(parse(text)))` equals `parse(text)`:
 *
 * - `and` chains are flattened and their conjuncts folded, first fit, into as few objects as
 *   possible (keys of one object are ANDed): a conjunct joins the first object that lacks its
 *   key, or whose value for that key it merges with exactly — intersecting integer ranges,
 *   uniting disjoint bounds of a comparison, OR-ing all-of flag masks. `any` disappears.
 * - `or` chains are flattened and same-key single values become one list
 *   (`port 80 or port 443` → `{ port: [80, 443] }`), at most 256 values a list.
 * - More than 32 items (the schema's limit) nest in groups of 32.
 * - `flags X` under an odd number of `not`s is nfdump's "any of X" (nfdump evaluates a negated
 *   flags test as "none of X"), so it becomes `{ tcpFlags: { any: X } }` inside the `not`.
 *
 * Owns: those rules. Never: changes which flows match. Recursion is bounded by the caller
 * (the tree is at most `2 * MAX_FILTER_DEPTH + 4` levels deep). Pure.
 */
import type { QueryFilter } from '../../schemas/query.ts';
import type { Ast } from './nfdump-syntax.ts';

type Mutable = Record<string, unknown>;

function popcount(m: number): number {
  let n = 0;
  for (let v = m; v !== 0; v &= v - 1) n += 1;
  return n;
}

function isRange(v: unknown): v is { min: number; max: number } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One-column integer keys: two ranges on one intersect (not `port`, `as`, `interface`: either of two columns). */
const INT_RANGE_KEYS = new Set(['protocol', 'srcPort', 'dstPort', 'vlanId', 'srcAs', 'dstAs', 'inputInterface', 'outputInterface', 'tos', 'observationDomain']);
const BOUND_KEYS = new Set(['bytes', 'packets', 'duration', 'bps', 'pps', 'bpp']);
/** Keys whose value may be a list meaning "any of". */
export const LIST_KEYS = new Set([
  'protocol', 'srcPort', 'dstPort', 'port', 'vlanId', 'srcNet', 'dstNet', 'net', 'endReason',
  'recordSource', 'exporterNet', 'nextHopNet', 'bgpNextHopNet', 'srcAs', 'dstAs', 'as', 'inputInterface', 'outputInterface', 'interface', 'tos', 'observationDomain',
]);

/** `a AND b` on one key as one value, or undefined when no single value says it exactly. */
function mergeValue(key: string, a: unknown, b: unknown): unknown {
  if (INT_RANGE_KEYS.has(key) && isRange(a) && isRange(b)) {
    const min = Math.max(a.min, b.min);
    const max = Math.min(a.max, b.max);
    if (min > max) return undefined;
    return min === max ? min : { min, max };
  }
  if (BOUND_KEYS.has(key) && isRange(a) && isRange(b)) {
    if (Object.keys(a).some((k) => Object.hasOwn(b, k))) return undefined;
    const merged = { ...a, ...b } as { min?: number; max?: number };
    if (merged.min !== undefined && merged.max !== undefined && merged.min > merged.max) return undefined;
    return merged;
  }
  if (key === 'tcpFlags' && typeof a === 'number' && typeof b === 'number') return a | b;
  return undefined;
}

/** Nests `items` in groups of 32 under `kind` until one list of at most 32 remains. */
function grouped(kind: 'and' | 'or', items: QueryFilter[]): QueryFilter {
  let list = items;
  while (list.length > 32) {
    const next: QueryFilter[] = [];
    for (let i = 0; i < list.length; i += 32) {
      const group = list.slice(i, i + 32);
      next.push(group.length === 1 ? group[0]! : { [kind]: group });
    }
    list = next;
  }
  return list.length === 1 ? list[0]! : { [kind]: list };
}

function andOf(conjuncts: readonly QueryFilter[]): QueryFilter {
  const accs: Mutable[] = [];
  const insert = (key: string, value: unknown): void => {
    for (const acc of accs) {
      if (!Object.hasOwn(acc, key)) {
        acc[key] = value;
        return;
      }
      const merged = mergeValue(key, acc[key], value);
      if (merged !== undefined) {
        acc[key] = merged;
        return;
      }
    }
    accs.push({ [key]: value });
  };
  const pending = [...conjuncts];
  for (let c = pending.shift(); c !== undefined; c = pending.shift()) {
    const keys = Object.keys(c);
    if (keys.length === 1 && keys[0] === 'and') pending.unshift(...(c.and as QueryFilter[]));
    else for (const k of keys) insert(k, (c as Mutable)[k]);
  }
  if (accs.length === 0) return {};
  return grouped('and', accs as QueryFilter[]);
}

function orOf(disjuncts: readonly QueryFilter[]): QueryFilter {
  const out: Mutable[] = [];
  const lists = new Map<string, Mutable>();
  const pending = [...disjuncts];
  for (let d = pending.shift(); d !== undefined; d = pending.shift()) {
    const keys = Object.keys(d);
    const key = keys[0]!;
    const value = (d as Mutable)[key];
    if (keys.length === 1 && key === 'or') {
      pending.unshift(...(value as QueryFilter[]));
    } else if (keys.length === 1 && LIST_KEYS.has(key) && (typeof value !== 'object' || Array.isArray(value))) {
      const values = Array.isArray(value) ? value : [value];
      const open = lists.get(key);
      if (open !== undefined) {
        const have = Array.isArray(open[key]) ? (open[key] as unknown[]) : [open[key]];
        const room = 256 - have.length;
        open[key] = [...have, ...values.slice(0, room)];
        if (values.length > room) pending.unshift({ [key]: values.slice(room) } as QueryFilter);
        if ((open[key] as unknown[]).length >= 256) lists.delete(key);
      } else {
        const fresh: Mutable = { [key]: Array.isArray(value) ? [...value] : value };
        out.push(fresh);
        if (values.length < 256) lists.set(key, fresh);
      }
    } else {
      out.push(d as Mutable);
    }
  }
  return grouped('or', out as QueryFilter[]);
}

/** The structured filter for `ast`; `odd` is whether an odd number of `not`s encloses it. */
export function normalize(ast: Ast, odd = false): QueryFilter {
  switch (ast.kind) {
    case 'leaf':
      if (ast.flags !== undefined && odd && popcount(ast.flags) > 1) return { tcpFlags: { any: ast.flags } };
      return { ...ast.filter };
    case 'not':
      return { not: normalize(ast.item, !odd) };
    case 'and':
      return andOf(ast.items.map((x) => normalize(x, odd)));
    case 'or':
      return orOf(ast.items.map((x) => normalize(x, odd)));
  }
}
