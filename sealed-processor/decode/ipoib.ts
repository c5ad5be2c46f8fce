/**
 * IP over InfiniBand: LINKTYPE_IPOIB (242), as Linux captures it and Wireshark reads it.
 *
 * 0..39 the 40-byte Global Route Header form the capture prepends (IP version/traffic
 * class/flow label, source QPN, source and destination GIDs; skipped unread) · 40..41 the
 * RFC 4391 §6 encapsulation type (an EtherType) · 42..43 reserved. InfiniBand has no MAC
 * addresses of the Ethernet kind: the MAC halves stay absent.
 * Never: allocates, throws, or reads at or beyond `end`.
 */
import { DropReason, type DecodedPacket } from './decoded-packet.ts';

/** The GRH form (40) plus the encapsulation header (4). */
export const IPOIB_HEADER_BYTES = 44;

/**
 * Decodes the 44-byte IPoIB header, sets `out.etherType`.
 * @returns offset of the payload, or a negative `DropReason`.
 */
export function decodeIpoib(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  if (offset + IPOIB_HEADER_BYTES > end) return DropReason.LinkTruncated;
  out.etherType = view.getUint16(offset + 40);
  return offset + IPOIB_HEADER_BYTES;
}
