/**
 * Top-level packet decoder: link layer → IPv4/IPv6 → TCP/UDP/ICMP/ICMPv6 (+ port pairs of
 * UDP-Lite, DCCP, SCTP), writing into one reused `DecodedPacket`.
 *
 * Owns: dispatch by pcap link type and EtherType, and the per-packet reset. Non-first
 * fragments stop at layer 3 (protocol known, ports 0): attributing them to their datagram's
 * ports is the flow table's job (it keeps the state; this module keeps none).
 * Tunnels (GRE, IP-in-IP, VXLAN, MPLS, PPPoE) are not opened: the outer header is the flow.
 * Never: throws, allocates, reads outside [offset, end), or keeps state between packets.
 */
import {
  DropReason,
  FragmentKind,
  IpProto,
  LinkType,
  resetDecodedPacket,
  type DecodedPacket,
} from './decoded-packet.ts';
import { decodeEthernet, EtherType } from './ethernet.ts';
import { decodeIcmp } from './icmp.ts';
import { decodeIpv4 } from './ipv4.ts';
import { decodeIpv6 } from './ipv6.ts';
import { decodeLinuxSll, decodeLinuxSll2 } from './linux-sll.ts';
import { decodeLoopback } from './loopback.ts';
import { decodeTcp } from './tcp.ts';
import { decodePortPair, decodeUdp } from './udp.ts';

function decodeLink(view: DataView, bytes: Uint8Array, offset: number, end: number, linkType: number, out: DecodedPacket): number {
  switch (linkType) {
    case LinkType.Ethernet:
      return decodeEthernet(view, offset, end, out);
    case LinkType.LinuxSll:
      return decodeLinuxSll(view, offset, end, out);
    case LinkType.LinuxSll2:
      return decodeLinuxSll2(view, offset, end, out);
    case LinkType.Null:
      return decodeLoopback(view, offset, end, out, false);
    case LinkType.Loop:
      return decodeLoopback(view, offset, end, out, true);
    case LinkType.Ipv4:
      out.etherType = EtherType.Ipv4;
      return offset;
    case LinkType.Ipv6:
      out.etherType = EtherType.Ipv6;
      return offset;
    case LinkType.Raw: {
      if (offset >= end) return DropReason.IpTruncated;
      const version = bytes[offset] >> 4;
      if (version === 4) out.etherType = EtherType.Ipv4;
      else if (version === 6) out.etherType = EtherType.Ipv6;
      else return DropReason.BadIpVersion;
      return offset;
    }
    default:
      return DropReason.UnsupportedLinkType;
  }
}

function decodeTransport(view: DataView, offset: number, out: DecodedPacket): number {
  const end = out.ipEnd;
  switch (out.protocol) {
    case IpProto.Tcp:
      return decodeTcp(view, offset, end, out);
    case IpProto.Udp:
      return decodeUdp(view, offset, end, out);
    case IpProto.Icmp:
      return out.ipVersion === 4 ? decodeIcmp(view, offset, end, out) : offset;
    case IpProto.Icmpv6:
      return out.ipVersion === 6 ? decodeIcmp(view, offset, end, out) : offset;
    case IpProto.UdpLite:
    case IpProto.Dccp:
    case IpProto.Sctp:
      return decodePortPair(view, offset, end, out);
    default:
      return offset;
  }
}

/**
 * Decodes one captured frame.
 * @param view a DataView over the whole buffer that holds `bytes` (same underlying bytes,
 *   `view.byteOffset === bytes.byteOffset`); create it once per buffer.
 * @param bytes the same buffer as a Uint8Array (kept by reference in `out.bytes` so name
 *   extractors can read the payload later).
 * @param offset first byte of the frame; `end` one past the last *captured* byte.
 * @param linkType pcap LINKTYPE_* value (see `LinkType`).
 * @param origLen the frame's original length on the wire (pcap orig_len), used for `ipBytes`
 *   when the capture was truncated.
 * @returns 0 on success, else a negative `DropReason` (the record is then partly filled).
 *   Never throws.
 */
export function decodePacket(
  view: DataView,
  bytes: Uint8Array,
  offset: number,
  end: number,
  linkType: number,
  origLen: number,
  out: DecodedPacket,
): number {
  resetDecodedPacket(out);
  out.bytes = bytes;
  out.linkType = linkType;
  out.linkOffset = offset;
  if (end > view.byteLength) end = view.byteLength;
  out.capturedLength = end > offset ? end - offset : 0;
  out.wireLength = origLen;
  if (offset < 0 || offset >= end) return DropReason.LinkTruncated;
  const l3 = decodeLink(view, bytes, offset, end, linkType, out);
  if (l3 < 0) return l3;
  let l4: number;
  if (out.etherType === EtherType.Ipv4) l4 = decodeIpv4(view, l3, end, out);
  else if (out.etherType === EtherType.Ipv6) l4 = decodeIpv6(view, l3, end, out);
  else return DropReason.NotIp;
  if (l4 < 0) return l4;
  out.l4Offset = l4;
  if (out.fragment === FragmentKind.Later) return 0;
  const status = decodeTransport(view, l4, out);
  return status < 0 ? status : 0;
}
