/**
 * PPP framings: LINKTYPE_PPP (9), LINKTYPE_PPP_HDLC (50), and the PPP header inside PPPoE
 * session frames (EtherType 0x8864) and PPTP's enhanced GRE (gre.ts).
 *
 * Owns: the PPP protocol field (RFC 1661 §2; 1 byte when protocol-field compression left the
 * low bit of the first byte set), the optional HDLC-like address/control bytes 0xff 0x03
 * (RFC 1662 §3.1), and the PPPoE session header (RFC 2516 §4: 0 ver/type 0x11 · 1 code
 * (0x00 = session data) · 2..3 session id · 4..5 length of the PPP payload).
 * PPP protocols mapped to EtherTypes: 0x0021 IPv4, 0x0057 IPv6, 0x0281/0x0283 MPLS
 * (RFC 3032 §4.3); Van Jacobson compressed TCP (0x002d, 0x002f) is counted as an unsupported
 * encapsulation; every other protocol (LCP, IPCP, CCP, ...) is control traffic (NotIp).
 * LINKTYPE_PPP_HDLC starting with 0x0f/0x8f is Cisco HDLC (RFC 1547 §4.3.1), see cisco-hdlc.ts.
 * Never: allocates, throws, or reads at or beyond `end`.
 */
import { DropReason, type DecodedPacket } from './decoded-packet.ts';
import { decodeCiscoHdlc } from './cisco-hdlc.ts';
import { EtherType } from './ethernet.ts';

/**
 * Maps a PPP protocol number to the EtherType the dispatcher continues with.
 * @returns an EtherType, or a negative `DropReason`.
 */
export function etherTypeOfPpp(protocol: number): number {
  switch (protocol) {
    case 0x0021:
      return EtherType.Ipv4;
    case 0x0057:
      return EtherType.Ipv6;
    case 0x0281:
      return EtherType.Mpls;
    case 0x0283:
      return EtherType.MplsMulticast;
    case 0x002d:
    case 0x002f:
      return DropReason.UnsupportedEncapsulation;
    default:
      return DropReason.NotIp;
  }
}

/**
 * Decodes a PPP header at `offset` (optionally after 0xff 0x03), sets `out.etherType`.
 * @returns offset of the payload, or a negative `DropReason`.
 */
export function decodePpp(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  if (offset + 2 <= end && view.getUint16(offset) === 0xff03) offset += 2;
  if (offset + 1 > end) return DropReason.LinkTruncated;
  let protocol = view.getUint8(offset);
  if ((protocol & 1) === 1) {
    offset += 1;
  } else {
    if (offset + 2 > end) return DropReason.LinkTruncated;
    protocol = view.getUint16(offset);
    offset += 2;
  }
  const type = etherTypeOfPpp(protocol);
  if (type < 0) return type;
  out.etherType = type;
  return offset;
}

/**
 * LINKTYPE_PPP_HDLC: 0xff 0x03 + PPP protocol, or Cisco HDLC (first byte 0x0f / 0x8f).
 * @returns offset of the payload, or a negative `DropReason`.
 */
export function decodePppHdlc(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  if (offset + 4 > end) return DropReason.LinkTruncated;
  const first = view.getUint8(offset);
  if (first === 0x0f || first === 0x8f) return decodeCiscoHdlc(view, offset, end, out);
  if (view.getUint16(offset) !== 0xff03) return DropReason.BadEncapsulation;
  return decodePpp(view, offset, end, out);
}

/**
 * PPPoE session header + PPP protocol (EtherType 0x8864 already consumed).
 * @returns offset of the PPP payload, or a negative `DropReason`.
 */
export function decodePppoeSession(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  if (offset + 8 > end) return DropReason.BadEncapsulation;
  if (view.getUint8(offset) !== 0x11) return DropReason.BadEncapsulation;
  if (view.getUint8(offset + 1) !== 0x00) return DropReason.UnsupportedEncapsulation;
  return decodePpp(view, offset + 6, end, out);
}
