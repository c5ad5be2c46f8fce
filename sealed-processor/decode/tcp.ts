/**
 * TCP header (RFC 9293 §3.1; ECE/CWR flags RFC 3168 §23.2).
 *
 * Offsets: 0..1 source port · 2..3 destination port · 4..7 sequence number ·
 * 8..11 acknowledgment number · 12 data offset (high 4 bits, 32-bit words) ·
 * 13 flags (CWR ECE URG ACK PSH RST SYN FIN) · 14..15 window · 16..17 checksum ·
 * 18..19 urgent pointer · 20.. options.
 * The first 20 bytes must be captured; options cut by the snaplen are tolerated (payload 0).
 * Never: allocates, throws, or reads at or beyond `end`.
 */
import { DropReason, type DecodedPacket } from './decoded-packet.ts';

/**
 * Decodes a TCP header at `offset`; `end` is the end of the captured IP packet (`out.ipEnd`).
 * Sets ports, flags, seq/ack and the payload offset/length (captured bytes only).
 * @returns offset of the payload, or a negative `DropReason`.
 */
export function decodeTcp(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  if (offset + 20 > end) return DropReason.TransportTruncated;
  const headerLen = (view.getUint8(offset + 12) >> 4) * 4;
  if (headerLen < 20) return DropReason.BadTcpHeader;
  if (offset + headerLen > out.l3Offset + out.ipBytes) return DropReason.BadTcpHeader;
  out.srcPort = view.getUint16(offset);
  out.dstPort = view.getUint16(offset + 2);
  out.tcpSeq = view.getUint32(offset + 4);
  out.tcpAck = view.getUint32(offset + 8);
  out.tcpFlags = view.getUint8(offset + 13);
  const payload = offset + headerLen;
  // Options cut by the snaplen: no payload captured; keep the offset inside the capture.
  out.payloadOffset = payload < end ? payload : end;
  out.payloadLength = end > payload ? end - payload : 0;
  return payload;
}
