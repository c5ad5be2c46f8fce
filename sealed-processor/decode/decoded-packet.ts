/**
 * The reused per-packet record every decoder writes into, and the decoder status constants.
 *
 * Owns: the `DecodedPacket` shape (all fields initialised with stable number types so V8
 * keeps one hidden class), `DropReason` (negative statuses), pcap `LinkType` values and
 * `FragmentKind`. Never: allocates per packet — `resetDecodedPacket` only writes numbers, and
 * the addresses live in two `Uint32Array(4)` created once with the record.
 */

/** pcap LINKTYPE_* values we decode (https://www.tcpdump.org/linktypes.html). */
export const LinkType = {
  Null: 0,
  Ethernet: 1,
  Ppp: 9,
  PppHdlc: 50,
  Raw: 101,
  CiscoHdlc: 104,
  FrameRelay: 107,
  Loop: 108,
  LinuxSll: 113,
  Ppi: 192,
  Ipv4: 228,
  Ipv6: 229,
  Nflog: 239,
  Ipoib: 242,
  LinuxSll2: 276,
} as const;
export type LinkType = (typeof LinkType)[keyof typeof LinkType];

/**
 * Why `decodePacket` refused a packet (negative return values; 0 is success).
 * Counted by `DecodeCounters`; the packet is then not observed by the flow table.
 */
export const DropReason = {
  /** Link-layer header shorter than its fixed size (or a VLAN/SLL header cut short). */
  LinkTruncated: -1,
  /** A pcap link type this decoder does not handle. */
  UnsupportedLinkType: -2,
  /** A well-formed frame that carries no IP (ARP, LLDP, STP, IPX, ...). Not an error. */
  NotIp: -3,
  /** The IP version nibble disagrees with the link layer's protocol field. */
  BadIpVersion: -4,
  /** IPv4 header invalid: IHL < 5 or total length < header length. */
  BadIpv4Header: -5,
  /** Fewer captured bytes than the fixed IPv4/IPv6 header (or IPv4 options). */
  IpTruncated: -6,
  /** More IPv6 extension headers than the bound (`MAX_IPV6_EXT_HEADERS`). */
  TooManyExtHeaders: -7,
  /** An IPv6 extension header is cut short or runs past the payload length. */
  BadIpv6ExtHeader: -8,
  /** TCP/UDP/ICMP header cut short by the capture (snaplen) or by the IP length. */
  TransportTruncated: -9,
  /** TCP data offset < 5 or the TCP header runs past the IP packet. */
  BadTcpHeader: -10,
  /**
   * A header this decoder recognises but does not open: 802.11 inside PPI, an MPLS payload
   * whose first nibble is neither 4, 6 nor 0 (control word + Ethernet), a PPPoE code other
   * than session data.
   */
  UnsupportedEncapsulation: -11,
  /** A PPP/HDLC/Frame Relay/NFLOG/PPI/PPPoE/MPLS/GRE/ERSPAN/VXLAN/Geneve header cut short or malformed. */
  BadEncapsulation: -12,
  /** More nested encapsulations (labels, tags, tunnels) than `MAX_ENCAPSULATIONS`. */
  TooManyEncapsulations: -13,
} as const;
export type DropReason = (typeof DropReason)[keyof typeof DropReason];

/** Number of distinct drop reasons (`-DropReason.X` indexes 1..DROP_REASON_COUNT). */
export const DROP_REASON_COUNT = 13;

/**
 * The tunnel a packet came through (`DecodedPacket.tunnelType`; column `tunnel_type` names
 * them, see schemas/columns.ts TUNNEL_TYPES, index = value).
 */
export const TunnelType = { None: 0, Ipip: 1, SixInFour: 2, Gre: 3, Erspan: 4, Vxlan: 5, Geneve: 6 } as const;
export type TunnelType = (typeof TunnelType)[keyof typeof TunnelType];

/**
 * What a tunnelled packet counts as (policy `tunnels`): its inner flow, with the outermost
 * tunnel's endpoints kept in the `tunnel*` fields (default), or its outer flow (nothing opened).
 */
export const TunnelMode = { Inner: 0, Outer: 1 } as const;
export type TunnelMode = (typeof TunnelMode)[keyof typeof TunnelMode];

/** Position of an IP packet within a fragmented datagram. */
export const FragmentKind = {
  /** Not fragmented. */
  None: 0,
  /** Offset 0 with more fragments following: carries the transport header. */
  First: 1,
  /** Offset > 0: no transport header; ports must be attributed by the caller. */
  Later: 2,
} as const;
export type FragmentKind = (typeof FragmentKind)[keyof typeof FragmentKind];

/** TCP flag bits (RFC 9293 §3.1, plus ECE/CWR from RFC 3168). */
export const TcpFlag = { Fin: 1, Syn: 2, Rst: 4, Psh: 8, Ack: 16, Urg: 32, Ece: 64, Cwr: 128 } as const;

/** IP protocol numbers used by the decoders (IANA "Assigned Internet Protocol Numbers"). */
export const IpProto = {
  HopByHop: 0,
  Icmp: 1,
  Tcp: 6,
  Udp: 17,
  Dccp: 33,
  Routing: 43,
  Fragment: 44,
  Esp: 50,
  Ah: 51,
  Icmpv6: 58,
  NoNext: 59,
  DestOpts: 60,
  Sctp: 132,
  UdpLite: 136,
} as const;

const EMPTY = new Uint8Array(0);

/**
 * One decoded packet. Reused for every packet: read it before decoding the next one.
 * Absent numeric fields are -1 (MAC halves, VLAN, ICMP) or 0 (ports, flags).
 */
export interface DecodedPacket {
  /** The buffer the packet was decoded from (a reference, never a copy). */
  bytes: Uint8Array;
  linkType: number;
  /** Offset of the first link-layer byte in `bytes`. */
  linkOffset: number;
  /** Bytes captured (end - linkOffset). */
  capturedLength: number;
  /** Original frame length on the wire (pcap orig_len). */
  wireLength: number;
  /** EtherType / protocol selector found by the link layer (0x0800, 0x86dd, ...). */
  etherType: number;
  /** Outer 802.1Q/802.1ad VLAN id, -1 when untagged. */
  vlanId: number;
  /** MAC halves: OUI (high 24 bits) and NIC (low 24 bits); -1 when absent. */
  srcMacHi: number;
  srcMacLo: number;
  dstMacHi: number;
  dstMacLo: number;
  /** 4 or 6 after a successful decode. */
  ipVersion: number;
  /** IP protocol of the transport (after IPv6 extension headers). */
  protocol: number;
  /** IPv4 addresses as unsigned 32-bit numbers. */
  srcV4: number;
  dstV4: number;
  /** IPv6 addresses as four big-endian u32 words (reused arrays). */
  src6: Uint32Array;
  dst6: Uint32Array;
  /** Layer-3 bytes on the wire: IPv4 total length, IPv6 payload length + 40. */
  ipBytes: number;
  /** Offset just past the IP packet within the captured bytes (min of claimed and captured end). */
  ipEnd: number;
  fragment: FragmentKind;
  /** IPv4 identification (16 bit) or IPv6 fragment identification (32 bit). */
  fragmentId: number;
  l3Offset: number;
  l4Offset: number;
  srcPort: number;
  dstPort: number;
  tcpFlags: number;
  tcpSeq: number;
  tcpAck: number;
  icmpType: number;
  icmpCode: number;
  /** ICMP/ICMPv6 echo identifier, -1 for other messages. */
  icmpId: number;
  /** Transport payload start and captured length (0 when none was captured). */
  payloadOffset: number;
  payloadLength: number;
  /** The outermost tunnel opened (`TunnelType`, 0 = none) and its outer IP endpoints. */
  tunnelType: number;
  /** 4 or 6 when a tunnel was opened, else 0. */
  tunnelVersion: number;
  tunnelSrcV4: number;
  tunnelDstV4: number;
  /** IPv6 outer endpoints as four big-endian u32 words (reused arrays). */
  tunnelSrc6: Uint32Array;
  tunnelDst6: Uint32Array;
}

/** Creates a record with stable field types. Allocate one per decoding loop, not per packet. */
export function newDecodedPacket(): DecodedPacket {
  return {
    bytes: EMPTY,
    linkType: -1,
    linkOffset: 0,
    capturedLength: 0,
    wireLength: 0,
    etherType: 0,
    vlanId: -1,
    srcMacHi: -1,
    srcMacLo: -1,
    dstMacHi: -1,
    dstMacLo: -1,
    ipVersion: 0,
    protocol: 0,
    srcV4: 0,
    dstV4: 0,
    src6: new Uint32Array(4),
    dst6: new Uint32Array(4),
    ipBytes: 0,
    ipEnd: 0,
    fragment: FragmentKind.None,
    fragmentId: 0,
    l3Offset: 0,
    l4Offset: 0,
    srcPort: 0,
    dstPort: 0,
    tcpFlags: 0,
    tcpSeq: 0,
    tcpAck: 0,
    icmpType: -1,
    icmpCode: -1,
    icmpId: -1,
    payloadOffset: 0,
    payloadLength: 0,
    tunnelType: TunnelType.None,
    tunnelVersion: 0,
    tunnelSrcV4: 0,
    tunnelDstV4: 0,
    tunnelSrc6: new Uint32Array(4),
    tunnelDst6: new Uint32Array(4),
  };
}

/** Clears every per-packet field (addresses are overwritten by the IP decoders). */
export function resetDecodedPacket(out: DecodedPacket): void {
  out.etherType = 0;
  out.vlanId = -1;
  out.srcMacHi = -1;
  out.srcMacLo = -1;
  out.dstMacHi = -1;
  out.dstMacLo = -1;
  out.ipVersion = 0;
  out.protocol = 0;
  out.srcV4 = 0;
  out.dstV4 = 0;
  out.ipBytes = 0;
  out.ipEnd = 0;
  out.l3Offset = 0;
  out.l4Offset = 0;
  resetForInnerPacket(out);
  out.tunnelType = TunnelType.None;
  out.tunnelVersion = 0;
  out.tunnelSrcV4 = 0;
  out.tunnelDstV4 = 0;
}

/**
 * Clears what an outer IP header and its transport left behind before the inner packet of a
 * tunnel is decoded (addresses are overwritten by the inner IP decoder).
 */
export function resetForInnerPacket(out: DecodedPacket): void {
  out.fragment = FragmentKind.None;
  out.fragmentId = 0;
  out.srcPort = 0;
  out.dstPort = 0;
  out.tcpFlags = 0;
  out.tcpSeq = 0;
  out.tcpAck = 0;
  out.icmpType = -1;
  out.icmpCode = -1;
  out.icmpId = -1;
  out.payloadOffset = 0;
  out.payloadLength = 0;
}
