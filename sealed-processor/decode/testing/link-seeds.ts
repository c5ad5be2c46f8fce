/**
 * Valid frames of every link type and encapsulation added for issue 9 (PPP framings, Cisco
 * HDLC, Frame Relay, NFLOG, IPoIB, PPI, PPPoE, MPLS, GRE/ERSPAN, IP-in-IP, 6in4, VXLAN,
 * Geneve), built byte by byte from the RFC layouts, for the decoder's fuzz tests
 * (decode-fuzz.test.ts) and unit tests: each seed says what a full decode must find.
 *
 * Never: imported by production code.
 */
import { LinkType, TunnelType } from '../decoded-packet.ts';
import { concat, ethernet, ipv4, ipv6, tcp, text, udp } from './packet-builders.ts';

export interface LinkSeed {
  what: string;
  link: number;
  frame: Uint8Array;
  expect: { protocol: number; ipVersion: 4 | 6; dstPort?: number; vlanId?: number; tunnelType?: number };
}

const b = (...xs: number[]) => Uint8Array.from(xs);
const A4 = { src: '10.0.0.1', dst: '10.0.0.2' };
const O4 = { src: '192.0.2.1', dst: '192.0.2.2' };
const A6 = { src: '2001:db8::1', dst: '2001:db8::2' };
const MAC1 = '02:00:00:00:00:01';
const MAC2 = '02:00:00:00:00:02';
const eth = (etherType: number, p: Uint8Array) => ethernet({ dst: MAC1, src: MAC2, etherType }, p);
const udp4 = ipv4({ ...A4, protocol: 17 }, udp({ sport: 1000, dport: 2000 }, text('inner datagram')));
const tcp6 = ipv6({ ...A6, nextHeader: 6 }, tcp({ sport: 3000, dport: 443, flags: 0x18 }, text('inner segment')));
const label = (l: number, bottom: boolean) => b((l >> 12) & 0xff, (l >> 4) & 0xff, ((l & 0xf) << 4) | (bottom ? 1 : 0), 64);
const gre4 = (payload: Uint8Array) => eth(0x0800, ipv4({ ...O4, protocol: 47 }, payload));
const ipoibGrh = new Uint8Array(40);
ipoibGrh[0] = 0x60;

export const LINK_SEEDS: LinkSeed[] = [
  { what: 'PPP, protocol-field compression/IPv4/UDP', link: LinkType.Ppp, frame: concat(b(0x21), udp4),
    expect: { protocol: 17, ipVersion: 4, dstPort: 2000 } },
  { what: 'PPP with 0xff 0x03/IPv6/TCP', link: LinkType.Ppp, frame: concat(b(0xff, 0x03, 0x00, 0x57), tcp6),
    expect: { protocol: 6, ipVersion: 6, dstPort: 443 } },
  { what: 'PPP in HDLC framing/IPv4', link: LinkType.PppHdlc, frame: concat(b(0xff, 0x03, 0x00, 0x21), udp4),
    expect: { protocol: 17, ipVersion: 4, dstPort: 2000 } },
  { what: 'PPP in HDLC framing, Cisco form/IPv6', link: LinkType.PppHdlc, frame: concat(b(0x0f, 0x00, 0x86, 0xdd), tcp6),
    expect: { protocol: 6, ipVersion: 6, dstPort: 443 } },
  { what: 'PPP/MPLS/IPv4', link: LinkType.Ppp, frame: concat(b(0x02, 0x81), label(100, true), udp4),
    expect: { protocol: 17, ipVersion: 4, dstPort: 2000 } },
  { what: 'Cisco HDLC/IPv4', link: LinkType.CiscoHdlc, frame: concat(b(0x8f, 0x00, 0x08, 0x00), udp4),
    expect: { protocol: 17, ipVersion: 4, dstPort: 2000 } },
  { what: 'Frame Relay, RFC 2427 NLPID 0xcc/IPv4', link: LinkType.FrameRelay, frame: concat(b(0x18, 0x41, 0x03, 0xcc), udp4),
    expect: { protocol: 17, ipVersion: 4, dstPort: 2000 } },
  { what: 'Frame Relay, 3-byte address, pad, SNAP/IPv6', link: LinkType.FrameRelay, frame: concat(b(0x18, 0x40, 0x41, 0x03, 0x00, 0x80, 0, 0, 0, 0x86, 0xdd), tcp6),
    expect: { protocol: 6, ipVersion: 6, dstPort: 443 } },
  { what: 'Frame Relay, bridged Ethernet (SNAP 00-80-C2)/IPv4', link: LinkType.FrameRelay, frame: concat(b(0x18, 0x41, 0x03, 0x80, 0x00, 0x80, 0xc2, 0x00, 0x07), eth(0x0800, udp4)),
    expect: { protocol: 17, ipVersion: 4, dstPort: 2000 } },
  { what: 'Frame Relay, Cisco encapsulation/IPv4', link: LinkType.FrameRelay, frame: concat(b(0x18, 0x41, 0x08, 0x00), udp4),
    expect: { protocol: 17, ipVersion: 4, dstPort: 2000 } },
  { what: 'NFLOG, little-endian TLVs, prefix then payload/IPv4', link: LinkType.Nflog,
    frame: concat(b(2, 0, 0, 1), b(8, 0, 1, 0, 0x08, 0x00, 3, 0), b(8, 0, 10, 0, 0x61, 0x62, 0x63, 0), b((udp4.length + 4) & 0xff, (udp4.length + 4) >> 8, 9, 0), udp4),
    expect: { protocol: 17, ipVersion: 4, dstPort: 2000 } },
  { what: 'NFLOG, big-endian TLVs/IPv6', link: LinkType.Nflog,
    frame: concat(b(10, 0, 0, 1), b((tcp6.length + 4) >> 8, (tcp6.length + 4) & 0xff, 0, 9), tcp6),
    expect: { protocol: 6, ipVersion: 6, dstPort: 443 } },
  { what: 'IPoIB (GRH form)/IPv6', link: LinkType.Ipoib, frame: concat(ipoibGrh, b(0x86, 0xdd, 0, 0), tcp6),
    expect: { protocol: 6, ipVersion: 6, dstPort: 443 } },
  { what: 'PPI/Ethernet/IPv4', link: LinkType.Ppi, frame: concat(b(0, 0, 8, 0, 1, 0, 0, 0), eth(0x0800, udp4)),
    expect: { protocol: 17, ipVersion: 4, dstPort: 2000 } },
  { what: 'PPI with a field/raw IPv6', link: LinkType.Ppi, frame: concat(b(0, 0, 12, 0, 229, 0, 0, 0, 1, 2, 3, 4), tcp6),
    expect: { protocol: 6, ipVersion: 6, dstPort: 443 } },
  { what: 'Ethernet/PPPoE session/IPv4', link: LinkType.Ethernet, frame: eth(0x8864, concat(b(0x11, 0, 0, 0x2a, 0, udp4.length + 2, 0x00, 0x21), udp4)),
    expect: { protocol: 17, ipVersion: 4, dstPort: 2000 } },
  { what: 'Ethernet/MPLS, 3 labels/IPv6', link: LinkType.Ethernet, frame: eth(0x8847, concat(label(16, false), label(17, false), label(18, true), tcp6)),
    expect: { protocol: 6, ipVersion: 6, dstPort: 443 } },
  { what: 'Ethernet/MPLS/pseudowire control word/Ethernet/IPv4', link: LinkType.Ethernet, frame: eth(0x8847, concat(label(16, true), b(0, 0, 0, 1), eth(0x0800, udp4))),
    expect: { protocol: 17, ipVersion: 4, dstPort: 2000 } },
  { what: 'GRE with checksum, key, sequence/IPv4', link: LinkType.Ethernet, frame: gre4(concat(b(0xb0, 0, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1), udp4)),
    expect: { protocol: 17, ipVersion: 4, dstPort: 2000, tunnelType: TunnelType.Gre } },
  { what: 'GRE/Ethernet (TEB)/IPv6', link: LinkType.Ethernet, frame: gre4(concat(b(0, 0, 0x65, 0x58), eth(0x86dd, tcp6))),
    expect: { protocol: 6, ipVersion: 6, dstPort: 443, tunnelType: TunnelType.Gre } },
  { what: 'enhanced GRE v1 (PPTP)/PPP/IPv4', link: LinkType.Ethernet, frame: gre4(concat(b(0x30, 0x81, 0x88, 0x0b, 0, 30, 0, 1, 0, 0, 0, 5, 0, 0, 0, 4, 0xff, 0x03, 0x00, 0x21), udp4)),
    expect: { protocol: 17, ipVersion: 4, dstPort: 2000, tunnelType: TunnelType.Gre } },
  { what: 'GRE/ERSPAN II/Ethernet/IPv4', link: LinkType.Ethernet, frame: gre4(concat(b(0x10, 0, 0x88, 0xbe, 0, 0, 0, 9, 0x10, 0x00, 0x00, 0x05, 0, 0, 0, 0), eth(0x0800, udp4))),
    expect: { protocol: 17, ipVersion: 4, dstPort: 2000, tunnelType: TunnelType.Erspan } },
  { what: 'GRE/ERSPAN III with platform subheader/Ethernet/IPv6', link: LinkType.Ethernet,
    frame: gre4(concat(b(0x10, 0, 0x22, 0xeb, 0, 0, 0, 9, 0x20, 0, 0, 6, 0, 0, 0, 1, 0, 0, 0, 1), new Uint8Array(8), eth(0x86dd, tcp6))),
    expect: { protocol: 6, ipVersion: 6, dstPort: 443, tunnelType: TunnelType.Erspan } },
  { what: 'IPv4/IP-in-IP/IPv4', link: LinkType.Ethernet, frame: eth(0x0800, ipv4({ ...O4, protocol: 4 }, udp4)),
    expect: { protocol: 17, ipVersion: 4, dstPort: 2000, tunnelType: TunnelType.Ipip } },
  { what: 'IPv4/6in4/IPv6', link: LinkType.Raw, frame: ipv4({ ...O4, protocol: 41 }, tcp6),
    expect: { protocol: 6, ipVersion: 6, dstPort: 443, tunnelType: TunnelType.SixInFour } },
  { what: 'IPv6/UDP/VXLAN/Ethernet/IPv4', link: LinkType.Ethernet,
    frame: eth(0x86dd, ipv6({ src: '2001:db8:f::1', dst: '2001:db8:f::2', nextHeader: 17 }, udp({ sport: 50000, dport: 4789 }, concat(b(8, 0, 0, 0, 0, 0, 42, 0), eth(0x0800, udp4))))),
    expect: { protocol: 17, ipVersion: 4, dstPort: 2000, tunnelType: TunnelType.Vxlan } },
  { what: 'IPv4/UDP/Geneve with an option/IPv6', link: LinkType.Ethernet,
    frame: eth(0x0800, ipv4({ ...O4, protocol: 17 }, udp({ sport: 50001, dport: 6081 }, concat(b(1, 0, 0x86, 0xdd, 0, 0, 7, 0, 1, 3, 1, 0), tcp6)))),
    expect: { protocol: 6, ipVersion: 6, dstPort: 443, tunnelType: TunnelType.Geneve } },
  { what: 'UDP to port 4789 that is not VXLAN: counted as the UDP flow', link: LinkType.Raw, frame: ipv4({ ...A4, protocol: 17 }, udp({ sport: 4789, dport: 53 }, b(1, 2, 3))),
    expect: { protocol: 17, ipVersion: 4, dstPort: 53 } },
  { what: 'GRE/IPv4 whose inner packet is not IP: counted as the GRE flow', link: LinkType.Raw, frame: ipv4({ ...O4, protocol: 47 }, b(0, 0, 0x08, 0x00, 0x99, 0, 0)),
    expect: { protocol: 47, ipVersion: 4 } },
];
