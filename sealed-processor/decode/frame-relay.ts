/**
 * Frame Relay: LINKTYPE_FRELAY (107).
 *
 * Q.922 address (ITU-T Q.922 §3.3): 2 to 4 bytes, each with the extension bit (0x01) clear
 * except the last. Then either
 * - RFC 2427 multiprotocol encapsulation: control 0x03 (UI), an optional pad byte 0x00, NLPID
 *   (§4; ISO/IEC TR 9577): 0xcc IPv4, 0x8e IPv6, 0x80 SNAP = OUI (3 bytes) + PID (2 bytes),
 *   where OUI 00-00-00 makes the PID an EtherType and OUI 00-80-C2 PID 0x0001/0x0007 is a
 *   bridged Ethernet frame (with/without FCS); other NLPIDs (Q.933 signalling 0x08, CLNP,
 *   ...) are not IP;
 * - or the Cisco-compatible encapsulation: a 2-byte EtherType right after the address.
 * Never: allocates, throws, or reads at or beyond `end`.
 */
import { DropReason, type DecodedPacket } from './decoded-packet.ts';
import { EtherType } from './ethernet.ts';

/** Longest Q.922 address (4 bytes, §3.3). */
const MAX_ADDRESS_BYTES = 4;

function decodeSnap(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  if (offset + 5 > end) return DropReason.LinkTruncated;
  const oui = (view.getUint16(offset) << 8) | view.getUint8(offset + 2);
  const pid = view.getUint16(offset + 3);
  if (oui === 0) out.etherType = pid;
  else if (oui === 0x0080c2 && (pid === 0x0001 || pid === 0x0007)) out.etherType = EtherType.TransparentEthernet;
  else return DropReason.NotIp;
  return offset + 5;
}

/**
 * Decodes a Frame Relay header, sets `out.etherType` (0x6558 for a bridged Ethernet frame).
 * @returns offset of the payload, or a negative `DropReason`.
 */
export function decodeFrameRelay(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  let n = 0;
  for (;;) {
    if (offset + n >= end) return DropReason.LinkTruncated;
    const b = view.getUint8(offset + n);
    n++;
    if ((b & 1) === 1) break;
    if (n === MAX_ADDRESS_BYTES) return DropReason.BadEncapsulation;
  }
  if (n < 2) return DropReason.BadEncapsulation;
  let p = offset + n;
  if (p + 2 > end) return DropReason.LinkTruncated;
  if (view.getUint8(p) !== 0x03) {
    out.etherType = view.getUint16(p);
    return p + 2;
  }
  p++;
  if (view.getUint8(p) === 0x00) p++;
  if (p >= end) return DropReason.LinkTruncated;
  const nlpid = view.getUint8(p);
  if (nlpid === 0xcc) out.etherType = EtherType.Ipv4;
  else if (nlpid === 0x8e) out.etherType = EtherType.Ipv6;
  else if (nlpid === 0x80) return decodeSnap(view, p + 1, end, out);
  else return DropReason.NotIp;
  return p + 1;
}
