/**
 * Group (multicast) MAC addresses in the MAC columns — those with the I/G bit set. A group
 * MAC never goes through the unicast OUI/NIC maps of mac.ts: a well-known group MAC
 * (33:33:00:00:00:01, 01:00:5e:00:00:fb) would hand anyone the raw↔mapped pair of a NIC
 * half real cards share and of a unicast vendor (the OUI map ignores the I/G bit, so
 * 01:00:5e maps as 00:00:5e does), and a solicited-node MAC 33:33:ff:XX:XX:XX carries the NIC
 * half of an EUI-64 host's own MAC, so mapping it with the NIC map would pair the raw and
 * mapped NIC half of that host's unicast MAC.
 *
 * - 33:33:xx:xx:xx:xx (RFC 2464 §7) is the low 32 bits of an IPv6 group, 01:00:5e:0x:xx:xx
 *   (RFC 1112 §6.4) the low 23 bits of an IPv4 group. Both are rebuilt from the *anonymized*
 *   address of the same side of the flow (dst_mac from dst_addr), so MAC and address columns
 *   agree — when that address is the group (same family, its low bits equal the MAC's) and
 *   was anonymized to an address. Otherwise the group bits are zeroed (33:33:00:00:00:00,
 *   01:00:5e:00:00:00) and counted as `unmatched`: the group they came from is unknown.
 * - ff:ff:ff:ff:ff:ff stays (it identifies nobody).
 * - Any other group MAC goes through a MAC map of its own (subkey `flowseal/v1/mac/group`,
 *   the I/G bit kept): consistent across flows, and no pair of it relates to a unicast MAC.
 *
 * Owns: the group-MAC rule. Never logs a MAC, no IO.
 */
import type { MacMapper } from './mac.ts';

/** Subkey of the group-MAC map (32 bytes: OUI-half key ‖ NIC-half key, as mac.ts). */
export const GROUP_MAC_SUBKEY = { label: 'flowseal/v1/mac/group', bytes: 32 } as const;

/** What happened to one group MAC (counters, release notes). */
export const GroupMacOutcome = {
  /** Rebuilt from the anonymized group address. */
  Derived: 'derived',
  /** An IP-group MAC without its group on the same side: group bits zeroed. */
  Unmatched: 'unmatched',
  /** Another group MAC: the group-MAC map. */
  Mapped: 'mapped',
  Broadcast: 'broadcast',
} as const;
export type GroupMacOutcome = (typeof GroupMacOutcome)[keyof typeof GroupMacOutcome];

/** I/G bit of the OUI half (least significant bit of the first octet). */
export const IG_BIT = 0x010000;

/** The address on the MAC's side of the flow, for rebuilding an IP-group MAC. */
export interface SideAddress {
  readonly version: 4 | 6;
  /** Low 32 bits of the raw address. */
  readonly rawLow32: number;
  /** Low 64 bits of the anonymized address; null when it is not an address (token, dropped). */
  readonly anonLo: bigint | null;
}

/** The anonymized MAC (as two 24-bit halves) and what rule gave it. */
export interface GroupMacResult {
  hi: number;
  lo: number;
  outcome: GroupMacOutcome;
}

/**
 * Anonymizes a group MAC (`hi` must have the I/G bit set) into `out`.
 * @param side the same-side address of the flow, or null when the policy drops it.
 */
export function mapGroupMac(hi: number, lo: number, side: SideAddress | null, groupMap: MacMapper, out: GroupMacResult): void {
  if (hi === 0xffffff && lo === 0xffffff) {
    out.hi = hi; out.lo = lo; out.outcome = GroupMacOutcome.Broadcast;
    return;
  }
  if (hi >>> 8 === 0x3333) {
    // IPv6 group MAC: 33:33 ‖ low 32 bits of the group.
    const raw = (((hi & 0xff) << 24) | lo) >>> 0;
    const ok = side !== null && side.version === 6 && side.rawLow32 >>> 0 === raw && side.anonLo !== null;
    const v = ok ? Number((side.anonLo as bigint) & 0xffffffffn) : 0;
    out.hi = 0x333300 | (v >>> 24);
    out.lo = v & 0xffffff;
    out.outcome = ok ? GroupMacOutcome.Derived : GroupMacOutcome.Unmatched;
    return;
  }
  if (hi === 0x01005e && (lo & 0x800000) === 0) {
    // IPv4 group MAC: 01:00:5e ‖ 0 ‖ low 23 bits of the group.
    const ok = side !== null && side.version === 4 && (side.rawLow32 & 0x7fffff) === lo && side.anonLo !== null;
    out.hi = hi;
    out.lo = ok ? Number((side.anonLo as bigint) & 0x7fffffn) : 0;
    out.outcome = ok ? GroupMacOutcome.Derived : GroupMacOutcome.Unmatched;
    return;
  }
  out.hi = groupMap.mapOui(hi);
  out.lo = groupMap.mapNic(lo);
  out.outcome = GroupMacOutcome.Mapped;
}
