/**
 * Top-level packet decoder: link layer → encapsulations (PPPoE, MPLS, tunnels) → IPv4/IPv6 →
 * TCP/UDP/ICMP/ICMPv6 (+ port pairs of UDP-Lite, DCCP, SCTP), writing into one reused
 * `DecodedPacket`.
 *
 * Owns: dispatch by pcap link type, by EtherType (PPPoE session, MPLS, Ethernet inside GRE /
 * VXLAN / Geneve / pseudowires) and by tunnel (IP-in-IP 4, 6in4 41, GRE 47 incl. ERSPAN,
 * VXLAN UDP 4789, Geneve UDP 6081), and the per-packet reset. With `TunnelMode.Inner` (the
 * default) a tunnel is opened and the packet is its inner packet, the outermost tunnel's
 * endpoints kept in `tunnel*`; with `TunnelMode.Outer` nothing is opened. A tunnel whose
 * payload is not one of the kinds above (GRE protocol, Geneve protocol type) is not opened
 * either: its outer header is the flow. Non-first fragments stop at layer 3 (protocol known,
 * ports 0) and are never opened: attributing them is the flow table's job; a fragmented
 * outer packet is not opened either (its later fragments could not follow it).
 * A packet whose tunnel (header or inner packet) does not decode counts as its outer flow.
 * Nesting is bounded: more than `MAX_ENCAPSULATIONS` PPPoE/MPLS/Ethernet/tunnel steps is
 * counted as TooManyEncapsulations.
 * Never: throws, allocates, reads outside [offset, end), or keeps state between packets.
 */
import {
  DropReason,
  FragmentKind,
  IpProto,
  LinkType,
  resetDecodedPacket,
  resetForInnerPacket,
  TunnelMode,
  TunnelType,
  type DecodedPacket,
} from './decoded-packet.ts';
import { decodeCiscoHdlc } from './cisco-hdlc.ts';
import { decodeEthernet, EtherType } from './ethernet.ts';
import { decodeFrameRelay } from './frame-relay.ts';
import { decodeGre, greIsErspan, NOT_OPENED } from './gre.ts';
import { decodeIcmp } from './icmp.ts';
import { decodeIpoib } from './ipoib.ts';
import { decodeIpv4 } from './ipv4.ts';
import { decodeIpv6 } from './ipv6.ts';
import { decodeLinuxSll, decodeLinuxSll2 } from './linux-sll.ts';
import { decodeLoopback } from './loopback.ts';
import { decodeMpls } from './mpls.ts';
import { decodeNflog } from './nflog.ts';
import { decodePpiHeader, ppiDlt } from './ppi.ts';
import { decodePpp, decodePppHdlc, decodePppoeSession } from './ppp.ts';
import { decodeTcp } from './tcp.ts';
import { decodePortPair, decodeUdp } from './udp.ts';
import { decodeGeneve, decodeVxlan, GENEVE_PORT, VXLAN_PORT } from './udp-tunnels.ts';

/** PPPoE, MPLS, Ethernet-in-something and tunnel steps walked before a packet is dropped. */
export const MAX_ENCAPSULATIONS = 8;

const IPPROTO_IPIP = 4;
const IPPROTO_IPV6 = 41;
const IPPROTO_GRE = 47;
const LINKTYPE_IEEE802_11 = 105;
const LINKTYPE_RADIOTAP = 127;

function rawIp(bytes: Uint8Array, offset: number, end: number, out: DecodedPacket): number {
  if (offset >= end) return DropReason.IpTruncated;
  const version = bytes[offset] >> 4;
  if (version === 4) out.etherType = EtherType.Ipv4;
  else if (version === 6) out.etherType = EtherType.Ipv6;
  else return DropReason.BadIpVersion;
  return offset;
}

/** What PPI wraps: Ethernet and raw IP are opened, 802.11 is not (yet). */
function decodePpi(view: DataView, bytes: Uint8Array, offset: number, end: number, out: DecodedPacket): number {
  const inner = decodePpiHeader(view, offset, end);
  if (inner < 0) return inner;
  const dlt = ppiDlt(view, offset);
  if (dlt === LinkType.Ethernet) return decodeEthernet(view, inner, end, out);
  if (dlt === LinkType.Raw || dlt === LinkType.Ipv4 || dlt === LinkType.Ipv6) return rawIp(bytes, inner, end, out);
  if (dlt === LINKTYPE_IEEE802_11 || dlt === LINKTYPE_RADIOTAP) return DropReason.UnsupportedEncapsulation;
  return DropReason.UnsupportedLinkType;
}

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
    case LinkType.Ppp:
      return decodePpp(view, offset, end, out);
    case LinkType.PppHdlc:
      return decodePppHdlc(view, offset, end, out);
    case LinkType.CiscoHdlc:
      return decodeCiscoHdlc(view, offset, end, out);
    case LinkType.FrameRelay:
      return decodeFrameRelay(view, offset, end, out);
    case LinkType.Nflog:
      return decodeNflog(view, offset, end, out);
    case LinkType.Ipoib:
      return decodeIpoib(view, offset, end, out);
    case LinkType.Ppi:
      return decodePpi(view, bytes, offset, end, out);
    case LinkType.Ipv4:
      out.etherType = EtherType.Ipv4;
      return offset;
    case LinkType.Ipv6:
      out.etherType = EtherType.Ipv6;
      return offset;
    case LinkType.Raw:
      return rawIp(bytes, offset, end, out);
    default:
      return DropReason.UnsupportedLinkType;
  }
}

/** One non-IP EtherType step (PPPoE, MPLS, Ethernet). @returns next offset, or a negative status. */
function decodeEncapsulation(view: DataView, offset: number, end: number, out: DecodedPacket): number {
  switch (out.etherType) {
    case EtherType.PppoeSession:
      return decodePppoeSession(view, offset, end, out);
    case EtherType.Mpls:
    case EtherType.MplsMulticast:
      return decodeMpls(view, offset, end, out);
    case EtherType.TransparentEthernet:
      return decodeEthernet(view, offset, end, out);
    default:
      return DropReason.NotIp;
  }
}

/**
 * Opens the tunnel the decoded IP packet carries, if any (transport already decoded for UDP).
 * Records the outer endpoints of the first tunnel. @returns the inner offset (etherType set),
 * `NOT_OPENED`, or a negative `DropReason`.
 */
function openTunnel(view: DataView, l4: number, out: DecodedPacket): number {
  const end = out.ipEnd;
  let type: number;
  let inner: number;
  const proto = out.protocol;
  if (proto === IPPROTO_IPIP || proto === IPPROTO_IPV6) {
    type = proto === IPPROTO_IPIP ? TunnelType.Ipip : TunnelType.SixInFour;
    out.etherType = proto === IPPROTO_IPIP ? EtherType.Ipv4 : EtherType.Ipv6;
    inner = l4;
  } else if (proto === IPPROTO_GRE) {
    inner = decodeGre(view, l4, end, out);
    type = inner >= 0 && greIsErspan(view, l4) ? TunnelType.Erspan : TunnelType.Gre;
  } else if (proto === IpProto.Udp && (out.dstPort === VXLAN_PORT || out.srcPort === VXLAN_PORT)) {
    type = TunnelType.Vxlan;
    inner = decodeVxlan(view, out.payloadOffset, end, out);
  } else if (proto === IpProto.Udp && (out.dstPort === GENEVE_PORT || out.srcPort === GENEVE_PORT)) {
    type = TunnelType.Geneve;
    inner = decodeGeneve(view, out.payloadOffset, end, out);
  } else {
    return NOT_OPENED;
  }
  if (inner === NOT_OPENED) return NOT_OPENED;
  // Recorded before the tunnel header is checked: a failure from here on falls back to the outer flow.
  if (out.tunnelType === TunnelType.None) {
    out.tunnelType = type;
    out.tunnelVersion = out.ipVersion;
    out.tunnelSrcV4 = out.srcV4;
    out.tunnelDstV4 = out.dstV4;
    if (out.ipVersion === 6) {
      out.tunnelSrc6.set(out.src6);
      out.tunnelDst6.set(out.dst6);
    }
  }
  if (inner < 0) return inner;
  resetForInnerPacket(out);
  return inner;
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
 * @param tunnels whether tunnels are opened (`TunnelMode.Inner`, default) or not.
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
  tunnels: TunnelMode = TunnelMode.Inner,
): number {
  const status = decodeLayers(view, bytes, offset, end, linkType, origLen, out, tunnels);
  if (status >= 0 || tunnels === TunnelMode.Outer || out.tunnelType === TunnelType.None) return status;
  // The packet looked like a tunnel (a port, a protocol) but what it carries does not decode:
  // it is counted as its outer flow rather than dropped (e.g. any UDP flow on port 4789).
  return decodeLayers(view, bytes, offset, end, linkType, origLen, out, TunnelMode.Outer);
}

function decodeLayers(
  view: DataView,
  bytes: Uint8Array,
  offset: number,
  end: number,
  linkType: number,
  origLen: number,
  out: DecodedPacket,
  tunnels: TunnelMode,
): number {
  resetDecodedPacket(out);
  out.bytes = bytes;
  out.linkType = linkType;
  out.linkOffset = offset;
  if (end > view.byteLength) end = view.byteLength;
  out.capturedLength = end > offset ? end - offset : 0;
  out.wireLength = origLen;
  if (offset < 0 || offset >= end) return DropReason.LinkTruncated;
  let next = decodeLink(view, bytes, offset, end, linkType, out);
  for (let steps = 0; ; steps++) {
    if (next < 0) return next;
    if (steps > MAX_ENCAPSULATIONS) return DropReason.TooManyEncapsulations;
    let l4: number;
    if (out.etherType === EtherType.Ipv4) l4 = decodeIpv4(view, next, end, out);
    else if (out.etherType === EtherType.Ipv6) l4 = decodeIpv6(view, next, end, out);
    else {
      next = decodeEncapsulation(view, next, end, out);
      continue;
    }
    if (l4 < 0) return l4;
    out.l4Offset = l4;
    if (out.fragment === FragmentKind.Later) return 0;
    const status = decodeTransport(view, l4, out);
    if (status < 0) return status;
    // A fragmented outer packet is not opened: its later fragments could not follow it.
    if (tunnels === TunnelMode.Outer || out.fragment !== FragmentKind.None) return 0;
    const inner = openTunnel(view, l4, out);
    if (inner === NOT_OPENED) return 0;
    // An inner packet ends where its outer IP packet ends (trailers and padding are not in it).
    end = out.ipEnd;
    next = inner;
  }
}
