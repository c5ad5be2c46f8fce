/**
 * Decides whether a group-by's key set identifies single connections: both endpoint addresses
 * exact (the plain `src_addr`/`dst_addr` column, or a prefix group with a /32 IPv4 or /128 IPv6
 * mask) together with at least one port. Such an "aggregate" returns (nearly) one row per flow,
 * i.e. a record listing, so the API treats it like one: scope `records` and the per-subject
 * record budget.
 *
 * Owns: that rule. Never: looks at data or the principal. Pure.
 */
import type { GroupBy } from '../../schemas/query.ts';

type Side = 'src' | 'dst';

function exactSide(g: GroupBy): Side | null {
  if (g === 'src_addr') return 'src';
  if (g === 'dst_addr') return 'dst';
  if (typeof g === 'object' && 'column' in g && (g.prefixV4 === 32 || g.prefixV6 === 128)) {
    // Exact for at least one address family is enough to list that family's flows.
    return g.column === 'src_addr' ? 'src' : 'dst';
  }
  return null;
}

/** True when `groupBy` has both exact addresses and `src_port` or `dst_port`. */
export function identifiesConnections(groupBy: readonly GroupBy[]): boolean {
  const sides = new Set(groupBy.map(exactSide));
  const hasPort = groupBy.some((g) => g === 'src_port' || g === 'dst_port');
  return sides.has('src') && sides.has('dst') && hasPort;
}
