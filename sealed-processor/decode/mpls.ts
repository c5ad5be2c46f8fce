/**
 * MPLS label stacks (EtherType 0x8847 / 0x8848, PPP 0x0281 / 0x0283) of any depth.
 *
 * Each label stack entry (RFC 3032 §2.1) is 4 bytes: label (20 bits) · traffic class (3) ·
 * bottom of stack S (1, bit 0x100 of the word) · TTL (8). The stack is walked to the entry
 * with S set; its length is bounded only by the captured bytes (4 bytes per step).
 * MPLS does not say what it carries; like tshark and Zeek the payload is guessed from its
 * first nibble: 4 IPv4, 6 IPv6, 0 an Ethernet pseudowire (RFC 4448) — without control word
 * when bytes 12..13 hold an EtherType this decoder continues with, else with the 4-byte
 * control word (RFC 4385 §3) when bytes 16..17 do (tshark decides by known vendor OUIs
 * instead, and agrees on frames with real vendor MACs). Anything else (1 = associated channel,
 * an Ethernet pseudowire whose frame starts with another nibble, ...) is counted as an
 * unsupported encapsulation.
 * Never: allocates, throws, or reads at or beyond `end`.
 */
import { DropReason, type DecodedPacket } from './decoded-packet.ts';
import { EtherType } from './ethernet.ts';

const ETHERTYPE_ARP = 0x0806;

/**
 * Walks the label stack at `offset`, sets `out.etherType` to what follows it (0x6558 for an
 * Ethernet pseudowire).
 * @returns offset of the payload, or a negative `DropReason`.
 */
export function decodeMpls(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  for (;;) {
    if (offset + 4 > end) return DropReason.BadEncapsulation;
    const bottom = (view.getUint8(offset + 2) & 1) === 1;
    offset += 4;
    if (bottom) break;
  }
  if (offset >= end) return DropReason.BadEncapsulation;
  const nibble = view.getUint8(offset) >> 4;
  if (nibble === 4) out.etherType = EtherType.Ipv4;
  else if (nibble === 6) out.etherType = EtherType.Ipv6;
  else if (nibble === 0) {
    out.etherType = EtherType.TransparentEthernet;
    if (offset + 14 <= end && carriedByEthernet(view.getUint16(offset + 12))) return offset;
    if (offset + 18 <= end && carriedByEthernet(view.getUint16(offset + 16))) return offset + 4;
    return DropReason.UnsupportedEncapsulation;
  } else return DropReason.UnsupportedEncapsulation;
  return offset;
}

/** EtherTypes that make a pseudowire's bytes look like an Ethernet frame. */
function carriedByEthernet(type: number): boolean {
  return (
    type === EtherType.Ipv4 || type === EtherType.Ipv6 || type === EtherType.Vlan || type === EtherType.QinQ ||
    type === EtherType.Mpls || type === EtherType.PppoeSession || type === ETHERTYPE_ARP
  );
}
