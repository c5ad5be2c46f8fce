/**
 * Linux "cooked" capture headers: LINKTYPE_LINUX_SLL (113) and LINKTYPE_LINUX_SLL2 (276),
 * as produced by `tcpdump -i any` (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html,
 * .../LINKTYPE_LINUX_SLL2.html).
 *
 * SLL (16 bytes):  0..1 packet type · 2..3 ARPHRD type · 4..5 address length ·
 *                  6..13 link-layer address (padded to 8) · 14..15 protocol (EtherType)
 * SLL2 (20 bytes): 0..1 protocol (EtherType) · 2..3 reserved · 4..7 interface index ·
 *                  8..9 ARPHRD type · 10 packet type · 11 address length · 12..19 address
 * The address is the *sender's*: when it is 6 bytes long it is recorded as the source MAC;
 * the destination MAC is absent (-1). ARPHRD_NETLINK carries netlink, never IP.
 * Never: allocates, throws, or reads at or beyond `end`.
 */
import { DropReason, type DecodedPacket } from './decoded-packet.ts';
import { decodeEtherTypeChain } from './ethernet.ts';

const ARPHRD_NETLINK = 824;

function readSourceMac(view: DataView, addrOffset: number, addrLen: number, out: DecodedPacket): void {
  if (addrLen !== 6) return;
  out.srcMacHi = (view.getUint16(addrOffset) << 8) | view.getUint8(addrOffset + 2);
  out.srcMacLo = (view.getUint16(addrOffset + 3) << 8) | view.getUint8(addrOffset + 5);
}

/**
 * Decodes a Linux cooked v1 header (+ VLAN tags when the protocol is a TPID).
 * @returns offset of the layer-3 header, or a negative `DropReason`.
 */
export function decodeLinuxSll(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  if (offset + 16 > end) return DropReason.LinkTruncated;
  if (view.getUint16(offset + 2) === ARPHRD_NETLINK) return DropReason.NotIp;
  readSourceMac(view, offset + 6, view.getUint16(offset + 4), out);
  return decodeEtherTypeChain(view, view.getUint16(offset + 14), offset + 16, end, out);
}

/**
 * Decodes a Linux cooked v2 header (+ VLAN tags when the protocol is a TPID).
 * @returns offset of the layer-3 header, or a negative `DropReason`.
 */
export function decodeLinuxSll2(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  if (offset + 20 > end) return DropReason.LinkTruncated;
  if (view.getUint16(offset + 8) === ARPHRD_NETLINK) return DropReason.NotIp;
  readSourceMac(view, offset + 12, view.getUint8(offset + 11), out);
  return decodeEtherTypeChain(view, view.getUint16(offset), offset + 20, end, out);
}
