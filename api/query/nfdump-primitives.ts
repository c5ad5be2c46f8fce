/**
 * The primitives of the nfdump-style filter language, each parsed into a leaf of the structured
 * filter (schemas/query.ts `QueryFilter`): `any`, `ipv4`/`inet`, `ipv6`/`inet6`, `proto`,
 * `[src|dst|src or dst|src and dst] host|ip <addr>` and `... ip in [ list ]`, `... net <cidr>` or
 * `net <addr> <dotted mask>`, `... port [comp] <n>` and `... port in [ list ]`, `flags`, `bytes`,
 * `packets`, `duration`, `bps`, `pps`, `bpp`, `vlan` and flowseal's `endreason`; the
 * router-export ones (`as`, `if`, `tos`, `next`, `bgpnext`, `router`, ...) are
 * api/query/nfdump-export-primitives.ts's, dispatched from here.
 *
 * Owns: each primitive's grammar and meaning, turning comparisons on integers into inclusive
 * ranges, and the expected-token sets of syntax errors (the shared pieces — numbers,
 * comparators, lists, directions, addresses — are api/query/nfdump-syntax.ts's). Never: echoes
 * a non-keyword word in an error. Pure.
 */
import { MAX_REAL_BOUND, PROTOCOL_NUMBERS, TCP_FLAG_BITS } from '../../schemas/query.ts';
import { EndReason } from '../../schemas/columns.ts';
import {
  A_COMPARATOR, Cursor, OP_COMPARATORS, comparator, direction, hostValue, intComparison, integer, leaf, list, matchNone, networkValue, numberValue, sided,
  type Ast, type Direction,
} from './nfdump-syntax.ts';
import { EXPORT_PRIMITIVE_STARTS, asPrimitive, parseExportPrimitive, tosPrimitive } from './nfdump-export-primitives.ts';

export { A_COMPARATOR } from './nfdump-syntax.ts';

const NET_KEYS = ['srcNet', 'dstNet', 'net'] as const;
const PORT_KEYS = ['srcPort', 'dstPort', 'port'] as const;

function netPrimitive(cur: Cursor, dir: Direction | null): Ast {
  return sided(dir, NET_KEYS, networkValue(cur));
}

function hostPrimitive(cur: Cursor, dir: Direction | null, keyword: string): Ast {
  return sided(dir, NET_KEYS, hostValue(cur, keyword));
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
export const PRIMITIVE_STARTS = ['any', 'ipv4', 'ipv6', 'proto', 'src', 'dst', 'host', 'ip', 'net', 'port', 'flags', 'bytes', 'packets', 'duration', 'bps', 'pps', 'bpp', 'vlan', 'endreason', ...EXPORT_PRIMITIVE_STARTS];

/** After a direction: what may follow it (`tos` only after plain `src`: flowseal keeps the ToS as exported, no post-ToS). */
function afterDirection(cur: Cursor, d: { dir: Direction; last: string }, word: string): Ast {
  if (word === 'host' || word === 'ip') return (cur.next(), hostPrimitive(cur, d.dir, word));
  if (word === 'net') return (cur.next(), netPrimitive(cur, d.dir));
  if (word === 'port') return (cur.next(), portPrimitive(cur, d.dir));
  if (word === 'as') return (cur.next(), asPrimitive(cur, d.dir));
  if (word === 'tos' && d.dir === 'src') return (cur.next(), tosPrimitive(cur));
  const one = d.dir === 'src' || d.dir === 'dst';
  const more = one ? [`'or ${d.dir === 'src' ? 'dst' : 'src'}'`, `'and ${d.dir === 'src' ? 'dst' : 'src'}'`] : [];
  return cur.fail(["'host'", "'ip'", "'net'", "'port'", "'as'", ...(d.dir === 'src' ? ["'tos'"] : []), ...more], d.last);
}

/** Parses one primitive at the cursor, or returns null when the current token cannot start one. */
export function parsePrimitive(cur: Cursor): Ast | null {
  const d = direction(cur);
  const t = cur.peek();
  const word = t.kind === 'word' ? t.lower : '';
  if (d !== null) return afterDirection(cur, d, word);
  if (t.kind !== 'word' || !(PRIMITIVE_STARTS.includes(word) || ['inet', 'inet6'].includes(word))) return null;
  cur.next();
  if (EXPORT_PRIMITIVE_STARTS.includes(word)) return parseExportPrimitive(cur, word);
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
