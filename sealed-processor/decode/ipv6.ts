/**
 * IPv6 fixed header and extension-header chain (RFC 8200 §3, §4; AH: RFC 4302 §2;
 * ESP: RFC 4303; extension header list: RFC 7045).
 *
 * Fixed header: 0 version(4)/traffic class/flow label · 4..5 payload length · 6 next header ·
 * 7 hop limit · 8..23 source · 24..39 destination.
 * Walked extension headers (bounded by `MAX_IPV6_EXT_HEADERS`):
 *   0 Hop-by-Hop, 43 Routing, 60 Destination Options: 0 next · 1 length in 8-byte units - 1
 *   44 Fragment (8 bytes): 0 next · 2..3 offset(13 bits)<<3 | M · 4..7 identification
 *   51 AH: 0 next · 1 length in 4-byte units - 2
 * The walk stops at ESP (50, encrypted), No Next Header (59), a non-first fragment, or any
 * other protocol, which becomes `protocol`.
 * Payload length 0 followed by Hop-by-Hop (jumbogram, RFC 2675) is read as "rest of frame".
 * Never: allocates, throws, or reads at or beyond `end`.
 */
import { DropReason, FragmentKind, IpProto, type DecodedPacket } from './decoded-packet.ts';
import { wireBytesFrom } from './ipv4.ts';

/** Extension headers walked before the packet is dropped as abusive. */
export const MAX_IPV6_EXT_HEADERS = 8;

/**
 * Decodes an IPv6 header and its extension headers at `offset`.
 * @returns offset of the transport header, or a negative `DropReason`.
 */
export function decodeIpv6(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  if (offset + 40 > end) return DropReason.IpTruncated;
  if (view.getUint8(offset) >> 4 !== 6) return DropReason.BadIpVersion;
  const wire = wireBytesFrom(out, offset);
  let total = view.getUint16(offset + 4) + 40;
  // Payload length 0 with a Hop-by-Hop header is a jumbogram (RFC 2675): use the frame.
  if (total === 40 && view.getUint8(offset + 6) === IpProto.HopByHop) total = wire;
  out.ipBytes = total > wire ? wire : total;
  out.ipVersion = 6;
  out.l3Offset = offset;
  const src = out.src6;
  const dst = out.dst6;
  src[0] = view.getUint32(offset + 8);
  src[1] = view.getUint32(offset + 12);
  src[2] = view.getUint32(offset + 16);
  src[3] = view.getUint32(offset + 20);
  dst[0] = view.getUint32(offset + 24);
  dst[1] = view.getUint32(offset + 28);
  dst[2] = view.getUint32(offset + 32);
  dst[3] = view.getUint32(offset + 36);
  const claimedEnd = offset + out.ipBytes;
  const ipEnd = claimedEnd < end ? claimedEnd : end;
  out.ipEnd = ipEnd;
  return walkExtensionHeaders(view, view.getUint8(offset + 6), offset + 40, ipEnd, out);
}

function walkExtensionHeaders(view: DataView, firstNext: number, start: number, ipEnd: number, out: DecodedPacket): number {
  let next = firstNext;
  let offset = start;
  for (let count = 0; ; count++) {
    let len: number;
    if (next === IpProto.HopByHop || next === IpProto.Routing || next === IpProto.DestOpts) {
      if (offset + 2 > ipEnd) return DropReason.BadIpv6ExtHeader;
      len = (view.getUint8(offset + 1) + 1) * 8;
    } else if (next === IpProto.Ah) {
      if (offset + 2 > ipEnd) return DropReason.BadIpv6ExtHeader;
      len = (view.getUint8(offset + 1) + 2) * 4;
    } else if (next === IpProto.Fragment) {
      len = 8;
    } else {
      out.protocol = next;
      return offset;
    }
    if (count === MAX_IPV6_EXT_HEADERS) return DropReason.TooManyExtHeaders;
    if (offset + len > ipEnd) return DropReason.BadIpv6ExtHeader;
    const following = view.getUint8(offset);
    if (next === IpProto.Fragment) {
      const frag = view.getUint16(offset + 2);
      out.fragmentId = view.getUint32(offset + 4);
      if ((frag & 0xfff8) !== 0) {
        out.fragment = FragmentKind.Later;
        out.protocol = following;
        return offset + len;
      }
      // An atomic fragment (offset 0, M = 0; RFC 6946) is a whole datagram.
      if ((frag & 1) !== 0) out.fragment = FragmentKind.First;
    }
    next = following;
    offset += len;
  }
}
