/**
 * Linux netfilter log: LINKTYPE_NFLOG (239)
 * (https://www.tcpdump.org/linktypes/LINKTYPE_NFLOG.html).
 *
 * Header: 0 address family (2 AF_INET, 10 AF_INET6) · 1 version (0) · 2..3 resource id
 * (network order). Then TLVs, each 4-byte aligned: 0..1 length (header included) · 2..3 type,
 * both in the *capturing host's* byte order. The byte order is taken from the first TLV: a
 * type is below 256 (NFULA_* values), so the order that reads it small is the host's.
 * The packet is the value of NFULA_PAYLOAD (type 9), an IP packet of the header's family.
 * A log record without a payload TLV (e.g. snaplen 0 logging) carries nothing to count: NotIp.
 * Never: allocates, throws, or reads at or beyond `end`.
 */
import { DropReason, type DecodedPacket } from './decoded-packet.ts';
import { EtherType } from './ethernet.ts';

const NFULA_PAYLOAD = 9;

/**
 * Finds the payload TLV, sets `out.etherType` from the address family.
 * @returns offset of the IP packet, or a negative `DropReason`.
 */
export function decodeNflog(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  if (offset + 4 > end) return DropReason.LinkTruncated;
  const family = view.getUint8(offset);
  if (view.getUint8(offset + 1) !== 0) return DropReason.BadEncapsulation;
  let type: number;
  if (family === 2) type = EtherType.Ipv4;
  else if (family === 10) type = EtherType.Ipv6;
  else return DropReason.NotIp;
  let p = offset + 4;
  if (p + 4 > end) return DropReason.LinkTruncated;
  const little = view.getUint16(p + 2, true) < 0x100;
  // Each TLV is at least 4 bytes, so the walk ends within (end - offset) / 4 steps.
  while (p + 4 <= end) {
    const len = view.getUint16(p, little);
    const tlvType = view.getUint16(p + 2, little) & 0x7fff;
    if (len < 4) return DropReason.BadEncapsulation;
    if (tlvType === NFULA_PAYLOAD) {
      out.etherType = type;
      return p + 4;
    }
    p += (len + 3) & ~3;
  }
  return DropReason.NotIp;
}
