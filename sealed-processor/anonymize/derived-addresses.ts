/**
 * Identifier bits that an address carries because it was derived from another identifier,
 * and what replaces them. A policy that keeps a special range (`keep`) keeps what the range
 * says — multicast scope and group id, "link-local", a ULA site, a documentation prefix — but
 * never bits copied from some host's unicast address or MAC (docs/POLICY.md, "Derived
 * identifiers"). The address anonymizer calls these helpers for kept addresses when the
 * address method is not `keep` (a `keep` method keeps everything, as declared):
 *
 * - Solicited-node groups ff0X::1:ffXX:XXXX (RFC 4291 §2.7.1) carry the low 24 bits of a
 *   unicast target; node-information groups ff0X::2:XXXX:XXXX the first bits of an MD5 of a
 *   host's first name label — 24 in the RFC 4620 §4 form ff02::2:ffXX:XXXX, 32 in the older
 *   draft form ff02::2:XXXX:XXXX that FreeBSD and KAME still join. Both groups exist only
 *   link-local, but any flag-free or transient (flags 0 or 1) group of another scope with the
 *   same layout is rewritten too: its low bits would be raw host bits just the same. The 24
 *   bits of an ffXX:XXXX suffix go through a keyed 24-bit permutation, and every other low
 *   word of ff0X::2:0:0/96 through a keyed 32-bit permutation that never yields an ff top
 *   byte (cycle-walking), so each form stays in its form and the map stays injective (subkey
 *   `flowseal/v1/multicast/suffix`): one target, one group pseudonym, and a known raw↔mapped
 *   pair says nothing about the unicast address map or the MAC NIC-half map (other keys).
 *   They cannot equal the low 24 bits of the anonymized target: a prefix-preserving map makes
 *   those depend on the target's upper 104 bits, which the group does not carry. The group
 *   MAC 33:33 ‖ low 32 bits follows the rewritten group (group-macs.ts).
 * - Unicast-prefix-based groups (RFC 3306 §4: P flag, plen ≤ 64) and embedded-RP groups
 *   (RFC 3956 §2: R flag) carry a network prefix: replaced by the top bits of the anonymized
 *   prefix, which with a prefix-preserving method is exactly what the unicast map gives that
 *   network (bits past plen stay zero when they were). Link-scoped groups (RFC 4489 §3:
 *   plen = 0xff) carry the interface identifier of a link-local address: replaced by the low
 *   64 bits of the anonymized fe80::IID. The RIID nibble and the 32-bit group id are kept.
 * - IPv4 unicast-prefix-based groups 234.0.0.0/8 (RFC 6034) carry a unicast prefix of up to
 *   24 bits: replaced by the top 24 bits of the anonymized a.b.c.0.
 * - Kept IPv6 unicast ranges (linkLocal, private, documentation): the /64 network part is kept,
 *   the interface identifier (EUI-64 from a MAC, a stable-privacy or temporary id) goes through
 *   a keyed 64-bit permutation (subkey `flowseal/v1/iid/address`); IID 0 stays 0. The same IID
 *   gets the same pseudonym in every kept prefix, as the same MAC does in the MAC columns.
 *
 * - Mapped IPv6 unicast under a prefix-preserving method (ipcrypt-pfx, Crypto-PAn): those keep
 *   prefix relations over all 128 bits, so two EUI-64 or ISATAP interface ids in one /64 would
 *   share as many output bits as their MACs share input bits. The address anonymizer keeps the
 *   method's top 64 bits and replaces the interface id by a keyed 64-bit permutation of the
 *   raw one, tweaked by the raw /64 (subkey `flowseal/v1/iid/mapped`), see address-anonymizer.ts.
 *
 * An embedded address that maps to no address (nd/ndx tokens) or is itself multicast leaves
 * its field zeroed. Without maps (an anonymizer built without a master key) every such field
 * is zeroed: never raw.
 *
 * Owns: recognising these fields, the two permutations and the rewrite. Never logs, no IO.
 */
import { maskV4 } from '../../schemas/ip-address.ts';
import { SmallPermutation } from './small-permutation.ts';
import { WidePermutation } from './wide-permutation.ts';

/** Which derived field a rewrite replaced (counters, release notes). */
export const DerivedField = {
  SolicitedNode: 'solicitedNodeGroup',
  NodeInformation: 'nodeInformationGroup',
  UnicastPrefixGroup: 'unicastPrefixGroup',
  LinkScopedGroup: 'linkScopedGroup',
  Ipv4UnicastPrefixGroup: 'ipv4UnicastPrefixGroup',
  KeptInterfaceId: 'keptInterfaceId',
  MappedInterfaceId: 'mappedInterfaceId',
  Nat64: 'nat64',
  Ipv4Compatible: 'ipv4Compatible',
} as const;
export type DerivedField = (typeof DerivedField)[keyof typeof DerivedField];
export const DERIVED_FIELDS: readonly DerivedField[] = Object.values(DerivedField);

/** The keyed maps of derived fields. */
export interface DerivedAddressMaps {
  /** Pseudonym of a 24-bit solicited-node / node-information group suffix. */
  groupSuffix(x: number): number;
  /** Pseudonym of the 32-bit low word of an old-form node-information group (never ff in the top byte). */
  groupWord(x: number): number;
  /** Pseudonym of a 64-bit interface identifier (hi, lo) into out[0], out[1]; 0 stays 0. */
  interfaceId(hi: number, lo: number, out: Uint32Array): void;
  /**
   * Pseudonym of the 64-bit interface id (hi, lo) of a mapped address whose raw /64 is
   * (n0, n1), into out[0], out[1]: one permutation of the IID space per /64, 0 stays 0.
   */
  mappedInterfaceId(hi: number, lo: number, n0: number, n1: number, out: Uint32Array): void;
}

/** Subkey labels and lengths (flow-anonymizer.ts derives them from the master key). */
export const DERIVED_SUBKEYS = {
  groupSuffix: { label: 'flowseal/v1/multicast/suffix', bytes: 16 },
  interfaceId: { label: 'flowseal/v1/iid/address', bytes: 16 },
  mappedInterfaceId: { label: 'flowseal/v1/iid/mapped', bytes: 16 },
} as const;

const isZero64 = (hi: number, lo: number): boolean => hi === 0 && lo === 0;
const topByteFf = (v: number): boolean => v >>> 24 === 0xff;

/**
 * Builds the maps from their three 16-byte subkeys (DERIVED_SUBKEYS).
 * @throws TypeError on keys of the wrong size.
 */
export function createDerivedAddressMaps(suffixKey: Uint8Array, iidKey: Uint8Array, mappedIidKey: Uint8Array): DerivedAddressMaps {
  if (suffixKey.length !== 16 || iidKey.length !== 16 || mappedIidKey.length !== 16) throw new TypeError('derived-address keys must be 16 bytes each');
  const mapped = new WidePermutation(mappedIidKey, 64);
  const suffix = new SmallPermutation(suffixKey, 24, 0x736e6d63);
  const word = new SmallPermutation(suffixKey, 32, 0x6e6f6465);
  const iid = new WidePermutation(iidKey, 64);
  return {
    groupSuffix: (x) => suffix.permute(x & 0xffffff),
    groupWord: (x) => word.permute(x >>> 0, topByteFf),
    interfaceId(hi, lo, out) {
      if (isZero64(hi, lo)) { out[0] = 0; out[1] = 0; return; }
      iid.permute(hi >>> 0, lo >>> 0, out, isZero64);
    },
    mappedInterfaceId(hi, lo, n0, n1, out) {
      if (isZero64(hi, lo)) { out[0] = 0; out[1] = 0; return; }
      mapped.permute(hi >>> 0, lo >>> 0, out, isZero64, n0 >>> 0, n1 >>> 0);
    },
  };
}

/** The fallback without keys: every derived field zeroed. */
export const ZERO_DERIVED_MAPS: DerivedAddressMaps = {
  groupSuffix: () => 0,
  groupWord: () => 0,
  interfaceId: (_hi, _lo, out) => { out[0] = 0; out[1] = 0; },
  mappedInterfaceId: (_hi, _lo, _n0, _n1, out) => { out[0] = 0; out[1] = 0; },
};

/**
 * Maps an embedded unicast address (four words) to its anonymized 128-bit value in `into`;
 * false when it yields no address. Supplied by the address anonymizer.
 */
export type EmbeddedMapper = (embedded: Uint32Array, into: Uint32Array) => boolean;

/**
 * Writes kept IPv6 multicast group `w` with its derived fields replaced into `out`.
 * @returns the field replaced, or null when the group carries none (out = w).
 */
export function rewriteKeptMulticastV6(w: ArrayLike<number>, out: Uint32Array, maps: DerivedAddressMaps, mapEmbedded: EmbeddedMapper): DerivedField | null {
  const w0 = w[0] >>> 0;
  const w1 = w[1] >>> 0;
  const w2 = w[2] >>> 0;
  const w3 = w[3] >>> 0;
  out[0] = w0; out[1] = w1; out[2] = w2; out[3] = w3;
  // ff0X / ff1X (no P, R flags), any scope: ::1:ffXX:XXXX and ::2:XXXX:XXXX (file comment).
  if (w0 >>> 21 === 0x7f8 && (w0 & 0xffff) === 0 && w1 === 0 && (w2 === 1 || w2 === 2)) {
    if (w3 >>> 24 === 0xff) {
      out[3] = (0xff000000 | maps.groupSuffix(w3 & 0xffffff)) >>> 0;
      return w2 === 1 ? DerivedField.SolicitedNode : DerivedField.NodeInformation;
    }
    if (w2 === 2) {
      out[3] = maps.groupWord(w3) >>> 0;
      return DerivedField.NodeInformation;
    }
  }
  const flags = (w0 >>> 20) & 0xf;
  if ((flags & 0x2) === 0) return null; // no P flag: nothing embedded (RFC 3306 §4)
  const plen = w0 & 0xff;
  const e = new Uint32Array(4);
  const m = new Uint32Array(4);
  if (plen === 0xff) {
    // RFC 4489: the 64-bit field is the interface id of a link-local address.
    if (w1 === 0 && w2 === 0) return null;
    e[0] = 0xfe800000; e[2] = w1; e[3] = w2;
    const ok = mapEmbedded(e, m);
    out[1] = ok ? m[2] : 0;
    out[2] = ok ? m[3] : 0;
    return DerivedField.LinkScopedGroup;
  }
  if (w1 === 0 && w2 === 0) return null; // SSM ff3x::/32 or an empty prefix
  e[0] = w1; e[1] = w2;
  const ok = mapEmbedded(e, m);
  let o1 = ok ? m[0] : 0;
  let o2 = ok ? m[1] : 0;
  if (plen <= 64 && (w1 & ~maskV4(plen)) === 0 && (w2 & ~maskV4(plen - 32)) === 0) {
    // A well-formed prefix (zeros past plen, RFC 3306 §4) stays well formed.
    o1 = (o1 & maskV4(plen)) >>> 0;
    o2 = (o2 & maskV4(plen - 32)) >>> 0;
  }
  out[1] = o1;
  out[2] = o2;
  return DerivedField.UnicastPrefixGroup;
}

/**
 * Kept IPv4 multicast `a` with the unicast prefix of a 234.0.0.0/8 group (RFC 6034) replaced.
 * `mapPrefix` maps a.b.c.0 to its anonymized IPv4 value, or null when it yields none (the
 * 24 bits are then zeroed).
 */
export function rewriteKeptMulticastV4(a: number, mapPrefix: (prefix: number) => number | null): number {
  if (a >>> 24 !== 234) return a >>> 0;
  const m = mapPrefix(((a & 0xffffff) << 8) >>> 0);
  return ((234 << 24) | (m === null ? 0 : m >>> 8)) >>> 0;
}

/** True for an IPv4 group whose low 24 bits embed a unicast prefix (RFC 6034). */
export function isIpv4UnicastPrefixGroup(a: number): boolean {
  return a >>> 24 === 234;
}

/** Writes kept unicast `w` with its interface identifier replaced into `out`; false when the IID is 0 (out = w). */
export function rewriteKeptInterfaceId(w: ArrayLike<number>, out: Uint32Array, maps: DerivedAddressMaps): boolean {
  out[0] = w[0] >>> 0;
  out[1] = w[1] >>> 0;
  const hi = w[2] >>> 0;
  const lo = w[3] >>> 0;
  if (hi === 0 && lo === 0) { out[2] = 0; out[3] = 0; return false; }
  const iid = new Uint32Array(2);
  maps.interfaceId(hi, lo, iid);
  out[2] = iid[0];
  out[3] = iid[1];
  return true;
}

/** True for an IPv4-compatible address ::a.b.c.d (RFC 4291 §2.5.5.1, deprecated), not :: or ::1. */
export function isIpv4Compatible(w: ArrayLike<number>): boolean {
  return w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] >>> 0 > 1;
}

/** True for the NAT64 well-known prefix 64:ff9b::/96 (RFC 6052 §2.1). */
export function isNat64(w: ArrayLike<number>): boolean {
  return w[0] >>> 0 === 0x0064ff9b && w[1] === 0 && w[2] === 0;
}
