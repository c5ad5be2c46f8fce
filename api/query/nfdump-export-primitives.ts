/**
 * The router-export primitives of the nfdump-style filter language (schema version 2 columns),
 * in nfdump 1.7's syntax where nfdump has one, each parsed into a leaf of the structured filter:
 *
 * - `[src|dst|src or dst|src and dst] as [comp] <n>` and `... as in [ list ]` (AS numbers
 *   0-4294967295; bare `as` is either side);
 * - `in if <n>`, `out if <n>`, `if <n>` (either interface), with flowseal's comparators;
 * - `[src] tos [comp] <n>` (nfdump's `dst tos` is the post-ToS, which flowseal does not keep);
 * - `next ip|host <addr>` and `next ip in [ list ]`, `bgpnext ip <addr>`, `router ip <addr>`
 *   (the exporter), plus flowseal's `... ip in [ list ]` on all three and `... net <cidr>`;
 * - `observation domain id [comp] <n>` (flowseal reads the domain from the export header, see
 *   README), `nfversion [comp] <n>` (NetFlow version: 5, 9, 10 = IPFIX; packet rows count as
 *   above 10, as nfdump counts nfpcapd's records) and flowseal's `recordsource <name>` /
 *   `recordsource in [ names ]` over `packets`, `netflow5`, `netflow9`, `ipfix`.
 *
 * Owns: those primitives' grammar, meaning and expected-token sets. Never: echoes a
 * non-keyword word in an error. Pure.
 */
import type { QueryFilter } from '../../schemas/query.ts';
import { RecordSource } from '../../schemas/columns.ts';
import {
  A_COMPARATOR, Cursor, comparator, hostValue, intComparison, integer, leaf, list, matchNone, networkValue, sided,
  type Ast, type Comparator, type Direction,
} from './nfdump-syntax.ts';

const U32_MAX = 0xffff_ffff;
const AS_KEYS = ['srcAs', 'dstAs', 'as'] as const;

/** After `[dir] as`: `in [ list ]` or `[comp] n`. */
export function asPrimitive(cur: Cursor, dir: Direction | null): Ast {
  if (cur.isWord('in')) {
    cur.next();
    return sided(dir, AS_KEYS, list(cur, 'in', () => integer(cur, 0, U32_MAX, 'an AS number', 'in')));
  }
  const m = intComparison(cur, 0, U32_MAX, 'an AS number', 'as', ["'in'"]);
  return m === null ? leaf(matchNone()) : sided(dir, AS_KEYS, m);
}

/** After `[src] tos`: `[comp] n`, n 0-255. */
export function tosPrimitive(cur: Cursor): Ast {
  const m = intComparison(cur, 0, 255, 'a ToS value', 'tos');
  return leaf(m === null ? matchNone() : { tos: m });
}

/** After `if` (`in if`, `out if`, or either): `[comp] n`. */
function interfacePrimitive(cur: Cursor, key: 'inputInterface' | 'outputInterface' | 'interface'): Ast {
  const m = intComparison(cur, 0, U32_MAX, 'an interface index', 'if');
  return leaf(m === null ? matchNone() : { [key]: m });
}

/** After `next`/`bgpnext`/`router` (`keyword`): `ip|host <addr>`, `ip|host in [ list ]` or `net <cidr>`. */
function exportAddressPrimitive(cur: Cursor, key: 'nextHopNet' | 'bgpNextHopNet' | 'exporterNet', keyword: string): Ast {
  if (cur.isWord('ip') || cur.isWord('host')) return leaf({ [key]: hostValue(cur, cur.next().lower) });
  if (cur.isWord('net')) return (cur.next(), leaf({ [key]: networkValue(cur) }));
  return cur.fail(["'ip'", "'host'", "'net'"], keyword);
}

const RECORD_SOURCES = Object.values(RecordSource) as string[];
type Source = (typeof RecordSource)[keyof typeof RecordSource];

function recordSourceWord(cur: Cursor, after: string): Source {
  const t = cur.peek();
  if (t.kind !== 'word' || !RECORD_SOURCES.includes(t.lower)) cur.fail([`a record source (${RECORD_SOURCES.join(', ')})`], after);
  cur.next();
  return t.lower as Source;
}

/**
 * The NetFlow version nfdump gives each record source: the version of the export protocol, and
 * for packet rows one above the highest version nfdump's filter takes (10), as nfdump's own
 * packet collector nfpcapd writes its records with a version above 10.
 */
const NF_VERSION: Readonly<Record<Source, number>> = { packets: 11, netflow5: 5, netflow9: 9, ipfix: 10 };
const COMPARE: Readonly<Record<Comparator, (a: number, b: number) => boolean>> = {
  eq: (a, b) => a === b, gt: (a, b) => a > b, ge: (a, b) => a >= b, lt: (a, b) => a < b, le: (a, b) => a <= b,
};

/** After `nfversion`: `[comp] n`, n 0-10, as the record sources whose version compares so. */
function nfVersionPrimitive(cur: Cursor): Ast {
  const c = comparator(cur);
  const n = c ? integer(cur, 0, 10, 'a NetFlow version', c.text) : integer(cur, 0, 10, 'a NetFlow version', 'nfversion', [A_COMPARATOR]);
  const test = COMPARE[c?.cmp ?? 'eq'];
  const sources = (Object.keys(NF_VERSION) as Source[]).filter((s) => test(NF_VERSION[s], n));
  if (sources.length === 0) return leaf(matchNone());
  return leaf({ recordSource: sources.length === 1 ? sources[0]! : sources });
}

/** Words that start a router-export primitive without a direction. */
export const EXPORT_PRIMITIVE_STARTS = ['as', 'tos', 'in', 'out', 'if', 'next', 'bgpnext', 'router', 'observation', 'nfversion', 'recordsource'];

/** Parses the primitive started by `word` (already consumed; one of EXPORT_PRIMITIVE_STARTS). */
export function parseExportPrimitive(cur: Cursor, word: string): Ast {
  switch (word) {
    case 'as': return asPrimitive(cur, null);
    case 'tos': return tosPrimitive(cur);
    case 'in': case 'out':
      cur.expectWord('if', word);
      return interfacePrimitive(cur, word === 'in' ? 'inputInterface' : 'outputInterface');
    case 'if': return interfacePrimitive(cur, 'interface');
    case 'next': return exportAddressPrimitive(cur, 'nextHopNet', word);
    case 'bgpnext': return exportAddressPrimitive(cur, 'bgpNextHopNet', word);
    case 'router': return exportAddressPrimitive(cur, 'exporterNet', word);
    case 'observation': {
      cur.expectWord('domain', 'observation');
      cur.expectWord('id', 'domain');
      const m = intComparison(cur, 0, U32_MAX, 'an observation domain id', 'id');
      return leaf(m === null ? matchNone() : { observationDomain: m });
    }
    case 'nfversion': return nfVersionPrimitive(cur);
    default: { // recordsource
      if (!cur.isWord('in')) return leaf({ recordSource: recordSourceWord(cur, 'recordsource') });
      cur.next();
      return leaf({ recordSource: list(cur, 'in', () => recordSourceWord(cur, 'in')) } satisfies QueryFilter);
    }
  }
}
