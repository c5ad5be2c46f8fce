/**
 * Cisco HDLC: LINKTYPE_C_HDLC (104), also inside LINKTYPE_PPP_HDLC (50) and as the
 * Cisco-compatible Frame Relay encapsulation's EtherType form.
 *
 * Header (RFC 1547 §4.3.1; https://www.tcpdump.org/linktypes/LINKTYPE_C_HDLC.html):
 *   0 address (0x0f unicast, 0x8f broadcast) · 1 control (0x00) · 2..3 protocol (EtherType).
 * SLARP keepalives (0x8035) and CDP (0x2000) are control traffic (NotIp, by the dispatcher).
 * Never: allocates, throws, or reads at or beyond `end`.
 */
import { DropReason, type DecodedPacket } from './decoded-packet.ts';

/**
 * Decodes the 4-byte Cisco HDLC header, sets `out.etherType`.
 * @returns offset of the payload, or a negative `DropReason`.
 */
export function decodeCiscoHdlc(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  if (offset + 4 > end) return DropReason.LinkTruncated;
  out.etherType = view.getUint16(offset + 2);
  return offset + 4;
}
