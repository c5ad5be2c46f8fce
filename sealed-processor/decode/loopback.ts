/**
 * BSD loopback encapsulation: LINKTYPE_NULL (0) and LINKTYPE_LOOP (108)
 * (https://www.tcpdump.org/linktypes/LINKTYPE_NULL.html).
 *
 * Header: 0..3 address family (u32). NULL stores it in the *capturing host's* byte order,
 * so both orders are tried; LOOP (OpenBSD) stores it in network byte order.
 * AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD, OpenBSD, BSD/OS), 28 (FreeBSD,
 * DragonFly) or 30 (Darwin); 10 (Linux) is accepted too. The family is mapped to the
 * EtherType 0x0800 / 0x86dd so the dispatcher treats every link type alike.
 * Never: allocates, throws, or reads at or beyond `end`.
 */
import { DropReason, type DecodedPacket } from './decoded-packet.ts';
import { EtherType } from './ethernet.ts';

function etherTypeOfFamily(af: number): number {
  if (af === 2) return EtherType.Ipv4;
  if (af === 24 || af === 28 || af === 30 || af === 10) return EtherType.Ipv6;
  return 0;
}

/**
 * Decodes the 4-byte loopback header. `networkOrder` is true for LINKTYPE_LOOP.
 * @returns offset of the layer-3 header, or a negative `DropReason`.
 */
export function decodeLoopback(view: DataView, offset: number, end: number, out: DecodedPacket, networkOrder: boolean): number {
  if (offset + 4 > end) return DropReason.LinkTruncated;
  let type = etherTypeOfFamily(view.getUint32(offset, false));
  if (type === 0 && !networkOrder) type = etherTypeOfFamily(view.getUint32(offset, true));
  if (type === 0) return DropReason.NotIp;
  out.etherType = type;
  return offset + 4;
}
