/**
 * Tunnels carried in UDP on their IANA ports: VXLAN (RFC 7348 §5, port 4789) and Geneve
 * (RFC 8926 §3, port 6081). Matched on either port, as tshark does.
 *
 * VXLAN (8 bytes): 0 flags (I = 0x08) · 1..3 reserved · 4..6 VNI · 7 reserved; an Ethernet
 * frame follows.
 * Geneve (8 bytes + options): 0 version (2 bits, must be 0) / option length (6 bits, 4-byte
 * units) · 1 O/C flags · 2..3 protocol type (0x6558 Ethernet, 0x0800, 0x86dd) · 4..6 VNI ·
 * 7 reserved · options. Other protocol types are not opened (the UDP flow stays the flow).
 * Never: allocates, throws, or reads at or beyond `end`.
 */
import { DropReason, type DecodedPacket } from './decoded-packet.ts';
import { EtherType } from './ethernet.ts';
import { NOT_OPENED } from './gre.ts';

export const VXLAN_PORT = 4789;
export const GENEVE_PORT = 6081;

/**
 * Decodes the VXLAN header at `offset` (the UDP payload).
 * @returns offset of the inner Ethernet frame, or a negative `DropReason`.
 */
export function decodeVxlan(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  if (offset + 8 > end) return DropReason.BadEncapsulation;
  out.etherType = EtherType.TransparentEthernet;
  return offset + 8;
}

/**
 * Decodes the Geneve header at `offset` (the UDP payload).
 * @returns offset of the inner packet, `NOT_OPENED`, or a negative `DropReason`.
 */
export function decodeGeneve(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  if (offset + 8 > end) return DropReason.BadEncapsulation;
  const b0 = view.getUint8(offset);
  if (b0 >> 6 !== 0) return DropReason.BadEncapsulation;
  const p = offset + 8 + (b0 & 0x3f) * 4;
  if (p > end) return DropReason.BadEncapsulation;
  const protocol = view.getUint16(offset + 2);
  if (protocol !== EtherType.TransparentEthernet && protocol !== EtherType.Ipv4 && protocol !== EtherType.Ipv6) return NOT_OPENED;
  out.etherType = protocol;
  return p;
}
