/**
 * Ethernet II and VLAN tag stacks (LINKTYPE_ETHERNET = 1).
 *
 * Owns: the 14-byte Ethernet header (IEEE 802.3 clause 3.2; Ethernet II framing, RFC 894),
 * 802.1Q (TPID 0x8100), 802.1ad S-tag (0x88a8) and the pre-standard QinQ TPID 0x9100.
 * Offsets from the frame start:
 *   0..5 destination MAC · 6..11 source MAC · 12..13 EtherType/TPID
 *   each tag: +0..1 TCI (PCP 3 bits, DEI 1 bit, VID 12 bits) · +2..3 next EtherType/TPID
 * Never: allocates, throws, or reads at or beyond `end`.
 */
import { DropReason, type DecodedPacket } from './decoded-packet.ts';

/** EtherType values we act on (IEEE Registration Authority list). */
export const EtherType = {
  Ipv4: 0x0800,
  Ipv6: 0x86dd,
  Vlan: 0x8100,
  QinQ: 0x88a8,
  QinQOld: 0x9100,
  /** PPPoE session stage (RFC 2516 §4). */
  PppoeSession: 0x8864,
  /** MPLS unicast / multicast (RFC 3032 §5). */
  Mpls: 0x8847,
  MplsMulticast: 0x8848,
  /** Transparent Ethernet bridging: an Ethernet frame follows (GRE, Geneve, bridged Frame Relay). */
  TransparentEthernet: 0x6558,
} as const;

/** Tags walked before giving up (QinQ uses 2; more is abuse). */
export const MAX_VLAN_TAGS = 4;

/**
 * Walks VLAN tags given the first EtherType/TPID `firstType` and the offset of what follows it.
 * Records the outer VLAN id (first tag) in `out.vlanId` and the final EtherType in
 * `out.etherType`. Returns the offset of the layer-3 header, or `DropReason.LinkTruncated`.
 */
export function decodeEtherTypeChain(view: DataView, firstType: number, offset: number, end: number, out: DecodedPacket): number {
  let type = firstType;
  let tags = 0;
  while (type === EtherType.Vlan || type === EtherType.QinQ || type === EtherType.QinQOld) {
    if (tags === MAX_VLAN_TAGS || offset + 4 > end) return DropReason.LinkTruncated;
    if (tags === 0) out.vlanId = view.getUint16(offset) & 0x0fff;
    type = view.getUint16(offset + 2);
    offset += 4;
    tags++;
  }
  out.etherType = type;
  return offset;
}

/**
 * Decodes an Ethernet II header with optional VLAN tags: MAC halves, outer VLAN, EtherType.
 * @returns offset of the layer-3 header, or a negative `DropReason`.
 */
export function decodeEthernet(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  if (offset + 14 > end) return DropReason.LinkTruncated;
  // MAC halves read as 16+8 bits: 24-bit OUI/NIC numbers without any allocation.
  out.dstMacHi = (view.getUint16(offset) << 8) | view.getUint8(offset + 2);
  out.dstMacLo = (view.getUint16(offset + 3) << 8) | view.getUint8(offset + 5);
  out.srcMacHi = (view.getUint16(offset + 6) << 8) | view.getUint8(offset + 8);
  out.srcMacLo = (view.getUint16(offset + 9) << 8) | view.getUint8(offset + 11);
  return decodeEtherTypeChain(view, view.getUint16(offset + 12), offset + 14, end, out);
}
