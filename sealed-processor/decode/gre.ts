/**
 * GRE (RFC 2784, keys and sequence numbers RFC 2890, the RFC 1701 flag layout, PPTP's
 * enhanced GRE version 1 RFC 2637 §4.1) and the ERSPAN headers mirror ports put inside it
 * (draft-foschiano-erspan-03: type I none, type II §4.1, type III §4.2).
 *
 * GRE: 0..1 flags C 0x8000 · R 0x4000 · K 0x2000 · S 0x1000 · (v1: A 0x0080) · version 0x0007
 * · 2..3 protocol type · then checksum+reserved (4, when C or R) · key (4, K) · sequence
 * (4, S) · ack (4, v1 with A). Source routing (R set, RFC 1701) and versions other than 0/1
 * are not opened.
 * Protocols opened: 0x0800 IPv4, 0x86dd IPv6, 0x6558 Ethernet (incl. NVGRE), 0x8847/0x8848
 * MPLS, 0x880b PPP (version 1 only), 0x88be ERSPAN type I (no S bit: Ethernet follows
 * directly) or II, 0x22eb ERSPAN type III. Any other protocol is not opened: the packet stays
 * the outer flow.
 * ERSPAN II (8 bytes): version 1 in the top nibble · VLAN · COS/En/T · session id · index.
 * ERSPAN III (12 bytes, + 8 when the O bit, 0x0001 of bytes 10..11, is set): version 2 ·
 * VLAN · COS/BSO/T · session id · timestamp (4) · SGT (2) · P/FT (5 bits at 0x7c00)/HW/D/Gra/O;
 * frame type 0 = Ethernet, 2 = IP (version from the first nibble).
 * Never: allocates, throws, or reads at or beyond `end`.
 */
import { DropReason, type DecodedPacket } from './decoded-packet.ts';
import { EtherType } from './ethernet.ts';
import { decodePpp } from './ppp.ts';

/** Returned when the tunnel carries something not opened: the outer header is the flow. */
export const NOT_OPENED = -1000;

const ERSPAN_II = 0x88be;
const ERSPAN_III = 0x22eb;
const PPP = 0x880b;

/** True when a GRE header (already decoded by `decodeGre`) at `offset` carries ERSPAN. */
export function greIsErspan(view: DataView, offset: number): boolean {
  const protocol = view.getUint16(offset + 2);
  return protocol === ERSPAN_II || protocol === ERSPAN_III;
}

function ipByNibble(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  if (offset >= end) return DropReason.BadEncapsulation;
  const v = view.getUint8(offset) >> 4;
  if (v === 4) out.etherType = EtherType.Ipv4;
  else if (v === 6) out.etherType = EtherType.Ipv6;
  else return DropReason.BadIpVersion;
  return offset;
}

function decodeErspan3(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  if (offset + 12 > end) return DropReason.BadEncapsulation;
  if (view.getUint8(offset) >> 4 !== 2) return DropReason.BadEncapsulation;
  const word = view.getUint16(offset + 10);
  const frameType = (word >> 10) & 0x1f;
  let p = offset + 12;
  if ((word & 1) === 1) p += 8;
  if (p > end) return DropReason.BadEncapsulation;
  if (frameType === 0) {
    out.etherType = EtherType.TransparentEthernet;
    return p;
  }
  if (frameType === 2) return ipByNibble(view, p, end, out);
  return DropReason.UnsupportedEncapsulation;
}

/**
 * Decodes a GRE header at `offset` (the IP payload), sets `out.etherType` to what follows.
 * @returns offset of the encapsulated packet, `NOT_OPENED`, or a negative `DropReason`.
 */
export function decodeGre(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  if (offset + 4 > end) return DropReason.BadEncapsulation;
  const flags = view.getUint16(offset);
  const protocol = view.getUint16(offset + 2);
  const version = flags & 7;
  if (version > 1 || (flags & 0x4000) !== 0) return NOT_OPENED;
  let p = offset + 4;
  if ((flags & 0x8000) !== 0) p += 4;
  if ((flags & 0x2000) !== 0) p += 4;
  if ((flags & 0x1000) !== 0) p += 4;
  if (version === 1 && (flags & 0x0080) !== 0) p += 4;
  if (p > end) return DropReason.BadEncapsulation;
  if (version === 1) return protocol === PPP ? decodePpp(view, p, end, out) : NOT_OPENED;
  switch (protocol) {
    case EtherType.Ipv4:
    case EtherType.Ipv6:
    case EtherType.TransparentEthernet:
    case EtherType.Mpls:
    case EtherType.MplsMulticast:
      out.etherType = protocol;
      return p;
    case ERSPAN_II:
      out.etherType = EtherType.TransparentEthernet;
      if ((flags & 0x1000) === 0) return p;
      if (p + 8 > end || view.getUint8(p) >> 4 !== 1) return DropReason.BadEncapsulation;
      return p + 8;
    case ERSPAN_III:
      return decodeErspan3(view, p, end, out);
    default:
      return NOT_OPENED;
  }
}
