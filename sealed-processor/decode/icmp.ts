/**
 * ICMP (RFC 792) and ICMPv6 (RFC 4443 §2.1, echo §4.1/§4.2).
 *
 * Offsets: 0 type · 1 code · 2..3 checksum · 4.. message body. Echo request/reply
 * (ICMP 8/0, ICMPv6 128/129) carry 4..5 identifier · 6..7 sequence number; the identifier is
 * recorded so the flow table can keep separate ping sessions apart. The payload reported is
 * the body after the first 8 bytes.
 * Never: allocates, throws, or reads at or beyond `end`.
 */
import { DropReason, IpProto, type DecodedPacket } from './decoded-packet.ts';

/** True for echo request/reply of the given protocol (ICMP 0/8, ICMPv6 128/129). */
export function isIcmpEcho(protocol: number, type: number): boolean {
  return protocol === IpProto.Icmp ? type === 0 || type === 8 : type === 128 || type === 129;
}

/**
 * Decodes an ICMP or ICMPv6 header (by `out.protocol`); `end` is `out.ipEnd`.
 * @returns offset of the payload, or a negative `DropReason`.
 */
export function decodeIcmp(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  if (offset + 4 > end) return DropReason.TransportTruncated;
  const type = view.getUint8(offset);
  out.icmpType = type;
  out.icmpCode = view.getUint8(offset + 1);
  if (isIcmpEcho(out.protocol, type)) {
    if (offset + 8 > end) return DropReason.TransportTruncated;
    out.icmpId = view.getUint16(offset + 4);
  }
  const payload = offset + 8;
  out.payloadOffset = payload < end ? payload : end;
  out.payloadLength = end > payload ? end - payload : 0;
  return out.payloadOffset;
}
