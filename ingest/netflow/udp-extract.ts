/**
 * Finds the UDP datagram in a captured frame, for replaying captured flow export
 * (`flowseal ingest netflow --pcap`): link layer → IPv4/IPv6 → UDP, nothing above.
 *
 * Owns: the minimal framing walk and its statuses (what a frame that is not a whole UDP
 * datagram is counted as). Deliberately not the sealed processor's decoder (ingest never
 * imports sealed-processor/, and needs no more than source address, ports and payload
 * bounds). Pure: no IO, no allocation per frame; every length is checked against the
 * captured bytes before it is used. Never: looks at the UDP payload.
 *
 * Link types (pcap LINKTYPE_*): NULL 0 (4-byte address family, host order: either byte
 * order accepted), ETHERNET 1 (802.1Q/802.1ad tags skipped), RAW 101 (also DLT 12 and 14
 * as some writers store them), LOOP 108 (address family, network order), LINUX_SLL 113
 * (protocol at 14, 16-byte header), IPV4 228, IPV6 229, LINUX_SLL2 276 (protocol at 0,
 * 20-byte header).
 * IPv4 (RFC 791 §3.1): version/IHL 0, total length 2, flags/fragment offset 6, protocol 9,
 * source 12. IPv6 (RFC 8200 §3): payload length 4, next header 6, source 8; extension
 * headers hop-by-hop 0, routing 43, destination options 60 (length in 8-octet units, §4.3),
 * fragment 44 (8 bytes, §4.5), AH 51 (length in 4-octet units − 2, RFC 4302 §2.2).
 * UDP (RFC 768): source port 0, destination port 2, length 4.
 */

/** What `extractUdp` found; negative statuses are counted by the caller under `UdpSkipReason`. */
export const UdpStatus = {
  Ok: 0,
  UnsupportedLink: -1,
  NotIp: -2,
  NotUdp: -3,
  Fragment: -4,
  Truncated: -5,
  Malformed: -6,
} as const;
export type UdpStatus = (typeof UdpStatus)[keyof typeof UdpStatus];

/** Counter names of the negative statuses (index = −status). */
export const UdpSkipReason = ['', 'unsupported_link', 'not_ip', 'not_udp', 'ip_fragment', 'truncated', 'malformed'] as const;

/** Filled by `extractUdp` on `Ok`; reuse one object. */
export interface UdpDatagram {
  family: 4 | 6;
  /** IPv4 source as a u32 (family 4). */
  srcV4: number;
  /** Offset of the 16-byte IPv6 source in the frame buffer (family 6). */
  srcV6Offset: number;
  srcPort: number;
  dstPort: number;
  /** Payload start in the frame buffer and captured payload bytes. */
  payloadOffset: number;
  payloadCaptured: number;
  /** Payload bytes the UDP header announces (more than captured if the capture cut it). */
  payloadLength: number;
}

export function newUdpDatagram(): UdpDatagram {
  return { family: 4, srcV4: 0, srcV6Offset: 0, srcPort: 0, dstPort: 0, payloadOffset: 0, payloadCaptured: 0, payloadLength: 0 };
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const MAX_VLAN_TAGS = 3;
const MAX_IPV6_EXTENSIONS = 8;
const IPPROTO_UDP = 17;

/**
 * Walks frame bytes `[off, end)` of link type `linkType`. Returns `UdpStatus.Ok` with `out`
 * filled, or a negative status.
 */
export function extractUdp(view: DataView, off: number, end: number, linkType: number, out: UdpDatagram): UdpStatus {
  switch (linkType) {
    case 0:
    case 108: {
      if (end - off < 4) return UdpStatus.Truncated;
      const le = view.getUint32(off, true);
      const be = view.getUint32(off, false);
      const af = linkType === 108 ? be : Math.min(le, be);
      if (af === 2) return ipv4(view, off + 4, end, out);
      if (af === 10 || af === 24 || af === 28 || af === 30) return ipv6(view, off + 4, end, out);
      return UdpStatus.NotIp;
    }
    case 1:
      return ethernet(view, off, end, out);
    case 12:
    case 14:
    case 101:
      return rawIp(view, off, end, out);
    case 113:
      if (end - off < 16) return UdpStatus.Truncated;
      return byEtherType(view.getUint16(off + 14), view, off + 16, end, out);
    case 276:
      if (end - off < 20) return UdpStatus.Truncated;
      return byEtherType(view.getUint16(off), view, off + 20, end, out);
    case 228:
      return ipv4(view, off, end, out);
    case 229:
      return ipv6(view, off, end, out);
    default:
      return UdpStatus.UnsupportedLink;
  }
}

function ethernet(view: DataView, off: number, end: number, out: UdpDatagram): UdpStatus {
  if (end - off < 14) return UdpStatus.Truncated;
  let type = view.getUint16(off + 12);
  let at = off + 14;
  for (let tags = 0; (type === 0x8100 || type === 0x88a8 || type === 0x9100) && tags < MAX_VLAN_TAGS; tags++) {
    if (end - at < 4) return UdpStatus.Truncated;
    type = view.getUint16(at + 2);
    at += 4;
  }
  return byEtherType(type, view, at, end, out);
}

function byEtherType(type: number, view: DataView, off: number, end: number, out: UdpDatagram): UdpStatus {
  if (type === ETHERTYPE_IPV4) return ipv4(view, off, end, out);
  if (type === ETHERTYPE_IPV6) return ipv6(view, off, end, out);
  return UdpStatus.NotIp;
}

function rawIp(view: DataView, off: number, end: number, out: UdpDatagram): UdpStatus {
  if (end - off < 1) return UdpStatus.Truncated;
  const version = view.getUint8(off) >> 4;
  if (version === 4) return ipv4(view, off, end, out);
  if (version === 6) return ipv6(view, off, end, out);
  return UdpStatus.NotIp;
}

function ipv4(view: DataView, off: number, end: number, out: UdpDatagram): UdpStatus {
  if (end - off < 20) return UdpStatus.Truncated;
  const vihl = view.getUint8(off);
  if (vihl >> 4 !== 4) return UdpStatus.Malformed;
  const ihl = (vihl & 0x0f) * 4;
  if (ihl < 20) return UdpStatus.Malformed;
  if (end - off < ihl) return UdpStatus.Truncated;
  const total = view.getUint16(off + 2);
  // Total length 0: segmentation offload captured before the NIC filled it in.
  if (total !== 0 && total < ihl) return UdpStatus.Malformed;
  const ipEnd = total === 0 ? end : off + total;
  if (view.getUint8(off + 9) !== IPPROTO_UDP) return UdpStatus.NotUdp;
  if ((view.getUint16(off + 6) & 0x3fff) !== 0) return UdpStatus.Fragment;
  out.family = 4;
  out.srcV4 = view.getUint32(off + 12);
  return udp(view, off + ihl, ipEnd, end, out);
}

function ipv6(view: DataView, off: number, end: number, out: UdpDatagram): UdpStatus {
  if (end - off < 40) return UdpStatus.Truncated;
  if (view.getUint8(off) >> 4 !== 6) return UdpStatus.Malformed;
  const ipEnd = off + 40 + view.getUint16(off + 4);
  let next = view.getUint8(off + 6);
  let at = off + 40;
  for (let n = 0; next !== IPPROTO_UDP; n++) {
    if (n >= MAX_IPV6_EXTENSIONS) return UdpStatus.Malformed;
    if (next === 0 || next === 43 || next === 60 || next === 51) {
      if (end - at < 2) return UdpStatus.Truncated;
      const len = next === 51 ? (view.getUint8(at + 1) + 2) * 4 : (view.getUint8(at + 1) + 1) * 8;
      next = view.getUint8(at);
      at += len;
    } else if (next === 44) {
      if (end - at < 8) return UdpStatus.Truncated;
      // Offset or M flag set: part of a fragmented datagram (an atomic fragment, RFC 6946, is whole).
      if ((view.getUint16(at + 2) & 0xfff9) !== 0) return UdpStatus.Fragment;
      next = view.getUint8(at);
      at += 8;
    } else {
      return UdpStatus.NotUdp;
    }
    if (at > ipEnd) return UdpStatus.Malformed;
  }
  out.family = 6;
  out.srcV6Offset = off + 8;
  return udp(view, at, ipEnd, end, out);
}

/** UDP header at `off`; `ipEnd` is where the IP packet says it ends, `end` where the capture does. */
function udp(view: DataView, off: number, ipEnd: number, end: number, out: UdpDatagram): UdpStatus {
  if (end - off < 8) return UdpStatus.Truncated;
  const len = view.getUint16(off + 4);
  if (len < 8 || off + len > ipEnd) return UdpStatus.Malformed;
  out.srcPort = view.getUint16(off);
  out.dstPort = view.getUint16(off + 2);
  out.payloadOffset = off + 8;
  out.payloadLength = len - 8;
  out.payloadCaptured = Math.min(len - 8, end - (off + 8));
  return UdpStatus.Ok;
}
