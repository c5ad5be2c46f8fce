/**
 * UDP header (RFC 768) and the port pair shared by UDP-Lite (RFC 3828), DCCP (RFC 4340 §5.1)
 * and SCTP (RFC 9260 §3.1), whose first four bytes are source and destination port.
 *
 * UDP offsets: 0..1 source port · 2..3 destination port · 4..5 length (header + data) ·
 * 6..7 checksum · 8.. data. A length field smaller than the IP payload trims the payload;
 * a length < 8 or larger than the IP payload is ignored (the IP length wins).
 * Never: allocates, throws, or reads at or beyond `end`.
 */
import { DropReason, type DecodedPacket } from './decoded-packet.ts';

/**
 * Decodes a UDP header; `end` is the end of the captured IP packet (`out.ipEnd`).
 * @returns offset of the payload, or a negative `DropReason`.
 */
export function decodeUdp(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  if (offset + 8 > end) return DropReason.TransportTruncated;
  out.srcPort = view.getUint16(offset);
  out.dstPort = view.getUint16(offset + 2);
  const udpLen = view.getUint16(offset + 4);
  let payloadEnd = end;
  if (udpLen >= 8 && offset + udpLen < payloadEnd) payloadEnd = offset + udpLen;
  const payload = offset + 8;
  out.payloadOffset = payload;
  out.payloadLength = payloadEnd - payload;
  return payload;
}

/**
 * Reads only the port pair of UDP-Lite, DCCP or SCTP. A header too short for ports leaves
 * them 0 (the packet still counts toward its address pair). Payload is not reported.
 * @returns offset just past the ports (or `offset` when they were not captured).
 */
export function decodePortPair(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  if (offset + 4 > end) return offset;
  out.srcPort = view.getUint16(offset);
  out.dstPort = view.getUint16(offset + 2);
  return offset + 4;
}
