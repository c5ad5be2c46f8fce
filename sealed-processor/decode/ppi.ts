/**
 * Per-Packet Information header: LINKTYPE_PPI (192)
 * (https://www.tcpdump.org/linktypes/LINKTYPE_PPI.html, PPI specification 1.0.10 §3).
 *
 * Header, little-endian: 0 version (0) · 1 flags · 2..3 header length (≥ 8, fields included)
 * · 4..7 DLT of the frame that follows. PPI wraps Ethernet (1) and raw IP (101, 228, 229),
 * opened here; 802.11 (105) and radiotap (127) inside PPI are counted as an unsupported
 * encapsulation until the 802.11 decoder exists. The per-packet fields are skipped unread.
 * Never: allocates, throws, or reads at or beyond `end`.
 */
import { DropReason } from './decoded-packet.ts';

/**
 * Checks the PPI header at `offset` (the caller reads the inner DLT with `ppiDlt`).
 * @returns offset of the wrapped frame, or a negative `DropReason`.
 */
export function decodePpiHeader(view: DataView, offset: number, end: number): number {
  if (offset + 8 > end) return DropReason.LinkTruncated;
  if (view.getUint8(offset) !== 0) return DropReason.BadEncapsulation;
  const len = view.getUint16(offset + 2, true);
  if (len < 8 || offset + len > end) return DropReason.BadEncapsulation;
  return offset + len;
}

/** The DLT a PPI header at `offset` announces (call after `decodePpiHeader` succeeded). */
export function ppiDlt(view: DataView, offset: number): number {
  return view.getUint32(offset + 4, true);
}
