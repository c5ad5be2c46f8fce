/**
 * Classifier of special-purpose address ranges (RFC 6890 registries, simplified to what
 * the policy distinguishes), for IPv4 (u32) and IPv6 (four big-endian words).
 *
 * Kinds: unspecified (0.0.0.0/8, ::), loopback (127/8, ::1), private (RFC 1918; IPv6 ULA
 * fc00::/7), cgnat (100.64/10, RFC 6598), linkLocal (169.254/16, fe80::/10), multicast
 * (224/4, ff00::/8), broadcast (255.255.255.255; subnet-directed broadcasts are recognized
 * by internal-network mapping, which keeps all-ones host parts), documentation (192.0.2/24,
 * 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20), ipv4Mapped (::ffff:0:0/96), and
 * public for everything else.
 *
 * `RANGE_PREFIXES` lists the same ranges as CIDR text (the classifiers below must agree with
 * it; a property test checks that), for the anonymizer's reserved-output logic and the policy
 * validator. `DEFAULT_RANGE_ACTIONS` is what a policy without `specialRanges` does.
 *
 * Owns: the classification and the range table. No IO.
 */

/** Special range kinds, as used in the policy's `specialRanges` keys. */
export const RangeKind = {
  Unspecified: 'unspecified',
  Loopback: 'loopback',
  Private: 'private',
  Cgnat: 'cgnat',
  LinkLocal: 'linkLocal',
  Multicast: 'multicast',
  Broadcast: 'broadcast',
  Documentation: 'documentation',
  Ipv4Mapped: 'ipv4Mapped',
  Public: 'public',
} as const;
export type RangeKind = (typeof RangeKind)[keyof typeof RangeKind];

/** Every non-public kind (policy keys). */
export const SPECIAL_RANGE_KINDS = [
  RangeKind.Unspecified,
  RangeKind.Loopback,
  RangeKind.Private,
  RangeKind.Cgnat,
  RangeKind.LinkLocal,
  RangeKind.Multicast,
  RangeKind.Broadcast,
  RangeKind.Documentation,
  RangeKind.Ipv4Mapped,
] as const;

/** Classifies an IPv4 address. */
export function classifyV4(a: number): RangeKind {
  const o1 = a >>> 24;
  if (o1 === 0) return RangeKind.Unspecified;
  if (o1 === 127) return RangeKind.Loopback;
  if (o1 === 10 || (a >>> 20) === 0xac1 || (a >>> 16) === 0xc0a8) return RangeKind.Private;
  if ((a >>> 22) === (0x64400000 >>> 22)) return RangeKind.Cgnat;
  if ((a >>> 16) === 0xa9fe) return RangeKind.LinkLocal;
  if (o1 >= 224 && o1 <= 239) return RangeKind.Multicast;
  if (a === 0xffffffff) return RangeKind.Broadcast;
  const p24 = a >>> 8;
  if (p24 === 0xc00002 || p24 === 0xc63364 || p24 === 0xcb0071) return RangeKind.Documentation;
  return RangeKind.Public;
}

/** Classifies an IPv6 address given as four big-endian words. */
export function classifyV6(w: ArrayLike<number>): RangeKind {
  const w0 = w[0] >>> 0;
  if (w0 === 0 && w[1] === 0) {
    if (w[2] === 0 && w[3] === 0) return RangeKind.Unspecified;
    if (w[2] === 0 && w[3] === 1) return RangeKind.Loopback;
    if (w[2] === 0xffff) return RangeKind.Ipv4Mapped;
  }
  const top8 = w0 >>> 24;
  if (top8 === 0xff) return RangeKind.Multicast;
  if ((w0 >>> 25) === (0xfc >>> 1)) return RangeKind.Private;
  if ((w0 >>> 22) === (0xfe80 >>> 6)) return RangeKind.LinkLocal;
  if (w0 === 0x20010db8 || (w0 >>> 12) === 0x3fff0) return RangeKind.Documentation;
  return RangeKind.Public;
}

/** What the policy does with a special range when it does not say: multicast and broadcast kept, the rest mapped. */
export const DEFAULT_RANGE_ACTIONS: Readonly<Record<string, 'keep' | 'map' | 'black-marker'>> = { multicast: 'keep', broadcast: 'keep' };

/** Each special kind as CIDR prefixes, per family (exactly what classifyV4/classifyV6 recognize). */
export const RANGE_PREFIXES: Readonly<Record<Exclude<RangeKind, 'public'>, { readonly v4: readonly string[]; readonly v6: readonly string[] }>> = {
  unspecified: { v4: ['0.0.0.0/8'], v6: ['::/128'] },
  loopback: { v4: ['127.0.0.0/8'], v6: ['::1/128'] },
  private: { v4: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'], v6: ['fc00::/7'] },
  cgnat: { v4: ['100.64.0.0/10'], v6: [] },
  linkLocal: { v4: ['169.254.0.0/16'], v6: ['fe80::/10'] },
  multicast: { v4: ['224.0.0.0/4'], v6: ['ff00::/8'] },
  broadcast: { v4: ['255.255.255.255/32'], v6: [] },
  documentation: { v4: ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24'], v6: ['2001:db8::/32', '3fff::/20'] },
  ipv4Mapped: { v4: [], v6: ['::ffff:0:0/96'] },
};
