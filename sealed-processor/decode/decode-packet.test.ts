import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePacket } from './decode-packet.ts';
import { DropReason, FragmentKind, LinkType, newDecodedPacket, TcpFlag } from './decoded-packet.ts';
import { countDecode, decodeCountersSnapshot, newDecodeCounters } from './decode-counters.ts';
import { concat, ethernet, icmp, ip4, ip6, ipv4, ipv6, linuxSll, linuxSll2, loopback, tcp, text, udp } from './testing/packet-builders.ts';

const MAC_A = '00:1b:21:aa:bb:cc';
const MAC_B = 'f4:5c:89:01:02:03';

function run(bytes: Uint8Array, linkType: number, origLen = bytes.length) {
  const out = newDecodedPacket();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const status = decodePacket(view, bytes, 0, bytes.length, linkType, origLen, out);
  return { status, out };
}

const tcpV4 = (payload = text('hello'), flags = TcpFlag.Psh | TcpFlag.Ack) =>
  ipv4({ src: '10.1.2.3', dst: '192.0.2.80', protocol: 6, id: 77 }, tcp({ sport: 40000, dport: 443, seq: 0xfffffff0, ack: 123456, flags, options: [2, 4, 5, 0xb4] }, payload));

test('Ethernet / IPv4 / TCP: every field', () => {
  const frame = ethernet({ dst: MAC_B, src: MAC_A, etherType: 0x0800 }, tcpV4());
  const { status, out } = run(frame, LinkType.Ethernet);
  assert.equal(status, 0);
  assert.equal(out.srcMacHi, 0x001b21);
  assert.equal(out.srcMacLo, 0xaabbcc);
  assert.equal(out.dstMacHi, 0xf45c89);
  assert.equal(out.dstMacLo, 0x010203);
  assert.equal(out.vlanId, -1);
  assert.equal(out.etherType, 0x0800);
  assert.equal(out.ipVersion, 4);
  assert.equal(out.protocol, 6);
  assert.equal(out.srcV4, ip4('10.1.2.3'));
  assert.equal(out.dstV4, ip4('192.0.2.80'));
  assert.equal(out.ipBytes, 20 + 24 + 5);
  assert.equal(out.l3Offset, 14);
  assert.equal(out.l4Offset, 34);
  assert.equal(out.srcPort, 40000);
  assert.equal(out.dstPort, 443);
  assert.equal(out.tcpSeq, 0xfffffff0);
  assert.equal(out.tcpAck, 123456);
  assert.equal(out.tcpFlags, TcpFlag.Psh | TcpFlag.Ack);
  assert.equal(out.payloadOffset, 14 + 20 + 24);
  assert.equal(out.payloadLength, 5);
  assert.equal(out.fragment, FragmentKind.None);
  assert.equal(out.fragmentId, 77);
  assert.equal(out.bytes, frame);
});

test('802.1Q, 802.1ad QinQ and 0x9100 tags: outer VLAN id recorded', () => {
  const one = run(ethernet({ dst: MAC_B, src: MAC_A, etherType: 0x0800, vlans: [{ tpid: 0x8100, vid: 42, pcp: 5 }] }, tcpV4()), 1);
  assert.equal(one.status, 0);
  assert.equal(one.out.vlanId, 42);
  assert.equal(one.out.l3Offset, 18);
  const qinq = run(ethernet({ dst: MAC_B, src: MAC_A, etherType: 0x86dd, vlans: [{ tpid: 0x88a8, vid: 100 }, { tpid: 0x8100, vid: 200 }] }, ipv6({ src: '2001:db8::1', dst: '2001:db8::2', nextHeader: 17 }, udp({ sport: 1, dport: 2 }))), 1);
  assert.equal(qinq.status, 0);
  assert.equal(qinq.out.vlanId, 100);
  assert.equal(qinq.out.l3Offset, 22);
  assert.equal(qinq.out.ipVersion, 6);
  const old = run(ethernet({ dst: MAC_B, src: MAC_A, etherType: 0x0800, vlans: [{ tpid: 0x9100, vid: 4095 }, { tpid: 0x8100, vid: 1 }] }, tcpV4()), 1);
  assert.equal(old.out.vlanId, 4095);
});

test('link-layer truncation, too many tags, non-IP and unknown link types', () => {
  assert.equal(run(new Uint8Array(13), 1).status, DropReason.LinkTruncated);
  const tagged = ethernet({ dst: MAC_B, src: MAC_A, etherType: 0x0800, vlans: [{ tpid: 0x8100, vid: 1 }] }, new Uint8Array(0));
  assert.equal(run(tagged.subarray(0, 16), 1).status, DropReason.LinkTruncated);
  const fiveTags = ethernet({ dst: MAC_B, src: MAC_A, etherType: 0x0800, vlans: [1, 2, 3, 4, 5].map((vid) => ({ tpid: 0x8100, vid })) }, tcpV4());
  assert.equal(run(fiveTags, 1).status, DropReason.LinkTruncated);
  assert.equal(run(ethernet({ dst: MAC_B, src: MAC_A, etherType: 0x0806 }, new Uint8Array(28)), 1).status, DropReason.NotIp);
  assert.equal(run(tcpV4(), 999).status, DropReason.UnsupportedLinkType);
  assert.equal(run(new Uint8Array(0), 1).status, DropReason.LinkTruncated);
});

test('Linux cooked v1 and v2: source MAC when the address is 6 bytes, netlink is not IP', () => {
  const v1 = run(linuxSll({ protocol: 0x0800, addr: [0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc] }, tcpV4()), LinkType.LinuxSll);
  assert.equal(v1.status, 0);
  assert.equal(v1.out.srcMacHi, 0x001b21);
  assert.equal(v1.out.srcMacLo, 0xaabbcc);
  assert.equal(v1.out.dstMacHi, -1);
  assert.equal(v1.out.l3Offset, 16);
  assert.equal(v1.out.dstPort, 443);
  const noAddr = run(linuxSll({ protocol: 0x0800, addr: [], arphrd: 772 }, tcpV4()), LinkType.LinuxSll);
  assert.equal(noAddr.status, 0);
  assert.equal(noAddr.out.srcMacHi, -1);
  const v6 = ipv6({ src: '2001:db8::a', dst: 'fe80::1', nextHeader: 17 }, udp({ sport: 5353, dport: 5353 }, text('x')));
  const v2 = run(linuxSll2({ protocol: 0x86dd, addr: [1, 2, 3, 4, 5, 6] }, v6), LinkType.LinuxSll2);
  assert.equal(v2.status, 0);
  assert.equal(v2.out.srcMacHi, 0x010203);
  assert.equal(v2.out.srcMacLo, 0x040506);
  assert.equal(v2.out.l3Offset, 20);
  assert.deepEqual([...v2.out.src6], [...ip6('2001:db8::a')]);
  assert.equal(v2.out.payloadLength, 1);
  const vlanInSll2 = run(linuxSll2({ protocol: 0x8100, addr: [] }, concat(Uint8Array.from([0x00, 0x07, 0x08, 0x00]), tcpV4())), LinkType.LinuxSll2);
  assert.equal(vlanInSll2.status, 0);
  assert.equal(vlanInSll2.out.vlanId, 7);
  assert.equal(run(linuxSll({ protocol: 0x0800, arphrd: 824 }, tcpV4()), LinkType.LinuxSll).status, DropReason.NotIp);
  assert.equal(run(linuxSll2({ protocol: 0x0800 }, tcpV4()).subarray(0, 19), LinkType.LinuxSll2).status, DropReason.LinkTruncated);
});

test('BSD loopback: NULL in either byte order, LOOP in network order, AF_INET6 24/28/30', () => {
  const v6 = ipv6({ src: '::1', dst: '::1', nextHeader: 6 }, tcp({ sport: 1, dport: 2, flags: TcpFlag.Syn }));
  assert.equal(run(loopback(2, true, tcpV4()), LinkType.Null).out.ipVersion, 4);
  assert.equal(run(loopback(2, false, tcpV4()), LinkType.Null).out.ipVersion, 4);
  for (const af of [24, 28, 30]) {
    for (const le of [true, false]) {
      const r = run(loopback(af, le, v6), LinkType.Null);
      assert.equal(r.status, 0);
      assert.equal(r.out.ipVersion, 6);
      assert.equal(r.out.l3Offset, 4);
    }
  }
  assert.equal(run(loopback(24, false, v6), LinkType.Loop).status, 0);
  assert.equal(run(loopback(2, true, tcpV4()), LinkType.Loop).status, DropReason.NotIp);
  assert.equal(run(loopback(7, true, tcpV4()), LinkType.Null).status, DropReason.NotIp);
});

test('raw IP link types', () => {
  assert.equal(run(tcpV4(), LinkType.Raw).out.dstPort, 443);
  assert.equal(run(tcpV4(), LinkType.Ipv4).status, 0);
  const v6 = ipv6({ src: '::1', dst: '::2', nextHeader: 17 }, udp({ sport: 9, dport: 10 }));
  assert.equal(run(v6, LinkType.Raw).out.ipVersion, 6);
  assert.equal(run(v6, LinkType.Ipv6).status, 0);
  assert.equal(run(v6, LinkType.Ipv4).status, DropReason.BadIpVersion);
  assert.equal(run(tcpV4(), LinkType.Ipv6).status, DropReason.BadIpVersion);
  const bad = tcpV4();
  bad[0] = 0x55;
  assert.equal(run(bad, LinkType.Raw).status, DropReason.BadIpVersion);
});

test('IPv4 header checks, options, TSO length 0, snaplen truncation, padding', () => {
  const withOpts = run(ipv4({ src: '1.2.3.4', dst: '5.6.7.8', protocol: 17, options: [1, 1, 1, 0] }, udp({ sport: 53, dport: 3333 }, text('abc'))), LinkType.Raw);
  assert.equal(withOpts.status, 0);
  assert.equal(withOpts.out.l4Offset, 24);
  assert.equal(withOpts.out.payloadOffset, 32);
  assert.equal(withOpts.out.payloadLength, 3);
  assert.equal(run(ipv4({ src: '1.2.3.4', dst: '5.6.7.8', protocol: 17, ihl: 4 }, udp({ sport: 1, dport: 2 })), LinkType.Raw).status, DropReason.BadIpv4Header);
  assert.equal(run(ipv4({ src: '1.2.3.4', dst: '5.6.7.8', protocol: 17, totalLength: 19 }, udp({ sport: 1, dport: 2 })), LinkType.Raw).status, DropReason.BadIpv4Header);
  assert.equal(run(tcpV4().subarray(0, 19), LinkType.Raw).status, DropReason.IpTruncated);
  assert.equal(run(ipv4({ src: '1.2.3.4', dst: '5.6.7.8', protocol: 17, options: [1, 1, 1, 0] }, new Uint8Array(0)).subarray(0, 22), LinkType.Raw).status, DropReason.IpTruncated);
  // Total length 0 (segmentation offload): the frame length counts.
  const tso = run(ipv4({ src: '1.2.3.4', dst: '5.6.7.8', protocol: 6, totalLength: 0 }, tcp({ sport: 1, dport: 2, flags: 16 }, new Uint8Array(3000))), LinkType.Raw);
  assert.equal(tso.status, 0);
  assert.equal(tso.out.ipBytes, 20 + 20 + 3000);
  assert.equal(tso.out.payloadLength, 3000);
  // Snaplen 54 of a 1514-byte frame: wire bytes from the header, payload only what was captured.
  const full = ethernet({ dst: MAC_B, src: MAC_A, etherType: 0x0800 }, ipv4({ src: '1.2.3.4', dst: '5.6.7.8', protocol: 6 }, tcp({ sport: 1, dport: 2, flags: 16 }, new Uint8Array(1460))));
  const cut = run(full.subarray(0, 54), 1, 1514);
  assert.equal(cut.status, 0);
  assert.equal(cut.out.ipBytes, 1500);
  assert.equal(cut.out.payloadLength, 0);
  assert.equal(cut.out.wireLength, 1514);
  // A header claiming more than the frame held counts what the frame held.
  const liar = run(ipv4({ src: '1.2.3.4', dst: '5.6.7.8', protocol: 17, totalLength: 60000 }, udp({ sport: 1, dport: 2 })), LinkType.Raw);
  assert.equal(liar.out.ipBytes, 28);
  // Ethernet padding after a 40-byte packet is not payload.
  const padded = concat(ethernet({ dst: MAC_B, src: MAC_A, etherType: 0x0800 }, ipv4({ src: '1.2.3.4', dst: '5.6.7.8', protocol: 6 }, tcp({ sport: 1, dport: 2, flags: 16 }))), new Uint8Array(6).fill(0xee));
  const p = run(padded, 1);
  assert.equal(p.out.ipBytes, 40);
  assert.equal(p.out.payloadLength, 0);
});

test('IPv4 fragments: first carries ports, later ones stop at layer 3', () => {
  const first = run(ipv4({ src: '1.2.3.4', dst: '5.6.7.8', protocol: 17, id: 999, moreFragments: true }, udp({ sport: 500, dport: 4500, length: 3008 }, new Uint8Array(1472))), LinkType.Raw);
  assert.equal(first.status, 0);
  assert.equal(first.out.fragment, FragmentKind.First);
  assert.equal(first.out.fragmentId, 999);
  assert.equal(first.out.dstPort, 4500);
  assert.equal(first.out.payloadLength, 1472);
  const later = run(ipv4({ src: '1.2.3.4', dst: '5.6.7.8', protocol: 17, id: 999, fragmentOffset: 1480 }, new Uint8Array(1528)), LinkType.Raw);
  assert.equal(later.status, 0);
  assert.equal(later.out.fragment, FragmentKind.Later);
  assert.equal(later.out.protocol, 17);
  assert.equal(later.out.srcPort, 0);
  assert.equal(later.out.payloadLength, 0);
  assert.equal(later.out.ipBytes, 1548);
});

test('IPv6 extension header chain, fragment header, ESP, no-next-header and bounds', () => {
  const src = '2001:db8:1:2::10';
  const dst = '2001:db8:ffff::1';
  const chain = ipv6(
    { src, dst, nextHeader: 6, ext: [{ type: 0 }, { type: 43, body: [0, 0, 0, 0, 0, 0, ...Array(16).fill(0)] }, { type: 60 }, { type: 51 }] },
    tcp({ sport: 12345, dport: 80, flags: TcpFlag.Syn, seq: 1 }),
  );
  const r = run(chain, LinkType.Ipv6);
  assert.equal(r.status, 0);
  assert.deepEqual([...r.out.src6], [...ip6(src)]);
  assert.deepEqual([...r.out.dst6], [...ip6(dst)]);
  assert.equal(r.out.protocol, 6);
  assert.equal(r.out.l4Offset, 40 + 8 + 24 + 8 + 12);
  assert.equal(r.out.dstPort, 80);
  assert.equal(r.out.ipBytes, chain.length);
  const f1 = run(ipv6({ src, dst, nextHeader: 17, ext: [{ type: 44, fragment: { offset: 0, more: true, id: 0xdeadbeef } }] }, udp({ sport: 7, dport: 8 }, new Uint8Array(100))), LinkType.Ipv6);
  assert.equal(f1.out.fragment, FragmentKind.First);
  assert.equal(f1.out.fragmentId, 0xdeadbeef);
  assert.equal(f1.out.dstPort, 8);
  const f2 = run(ipv6({ src, dst, nextHeader: 17, ext: [{ type: 44, fragment: { offset: 1232, more: false, id: 0xdeadbeef } }] }, new Uint8Array(100)), LinkType.Ipv6);
  assert.equal(f2.status, 0);
  assert.equal(f2.out.fragment, FragmentKind.Later);
  assert.equal(f2.out.protocol, 17);
  assert.equal(f2.out.dstPort, 0);
  const atomic = run(ipv6({ src, dst, nextHeader: 17, ext: [{ type: 44, fragment: { offset: 0, more: false, id: 5 } }] }, udp({ sport: 7, dport: 8 })), LinkType.Ipv6);
  assert.equal(atomic.out.fragment, FragmentKind.None);
  assert.equal(atomic.out.dstPort, 8);
  const esp = run(ipv6({ src, dst, nextHeader: 50, ext: [{ type: 0 }] }, new Uint8Array(40)), LinkType.Ipv6);
  assert.equal(esp.status, 0);
  assert.equal(esp.out.protocol, 50);
  assert.equal(esp.out.srcPort, 0);
  assert.equal(run(ipv6({ src, dst, nextHeader: 59 }, new Uint8Array(0)), LinkType.Ipv6).out.protocol, 59);
  const nine = ipv6({ src, dst, nextHeader: 6, ext: Array.from({ length: 9 }, () => ({ type: 60 })) }, tcp({ sport: 1, dport: 2, flags: 2 }));
  assert.equal(run(nine, LinkType.Ipv6).status, DropReason.TooManyExtHeaders);
  const eight = ipv6({ src, dst, nextHeader: 6, ext: Array.from({ length: 8 }, () => ({ type: 60 })) }, tcp({ sport: 1, dport: 2, flags: 2 }));
  assert.equal(run(eight, LinkType.Ipv6).status, 0);
  const overlong = ipv6({ src, dst, nextHeader: 6, ext: [{ type: 0 }] }, new Uint8Array(0));
  overlong[41] = 10; // claims 88 bytes
  assert.equal(run(overlong, LinkType.Ipv6).status, DropReason.BadIpv6ExtHeader);
  assert.equal(run(chain.subarray(0, 39), LinkType.Ipv6).status, DropReason.IpTruncated);
  // Payload length 0 with hop-by-hop: jumbogram, the frame length counts.
  const jumbo = ipv6({ src, dst, nextHeader: 17, ext: [{ type: 0 }], payloadLength: 0 }, udp({ sport: 1, dport: 2 }, new Uint8Array(50)));
  assert.equal(run(jumbo, LinkType.Ipv6).out.ipBytes, jumbo.length);
});

test('UDP, ICMP and ICMPv6 fields; transport truncation and bad TCP offsets', () => {
  const u = run(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 17 }, udp({ sport: 5353, dport: 53, length: 10 }, text('abcd'))), LinkType.Raw);
  assert.equal(u.out.srcPort, 5353);
  assert.equal(u.out.payloadLength, 2, 'UDP length trims the payload');
  const echo = run(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 1 }, icmp({ type: 8, code: 0, id: 0xbeef, seq: 3 }, text('ping'))), LinkType.Raw);
  assert.equal(echo.status, 0);
  assert.equal(echo.out.icmpType, 8);
  assert.equal(echo.out.icmpCode, 0);
  assert.equal(echo.out.icmpId, 0xbeef);
  assert.equal(echo.out.srcPort, 0);
  assert.equal(echo.out.payloadLength, 4);
  const unreach = run(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 1 }, icmp({ type: 3, code: 3 })), LinkType.Raw);
  assert.equal(unreach.out.icmpType, 3);
  assert.equal(unreach.out.icmpCode, 3);
  assert.equal(unreach.out.icmpId, -1);
  const v6echo = run(ipv6({ src: '::1', dst: '::2', nextHeader: 58 }, icmp({ type: 129, code: 0, id: 77 })), LinkType.Raw);
  assert.equal(v6echo.out.icmpType, 129);
  assert.equal(v6echo.out.icmpId, 77);
  const nd = run(ipv6({ src: '::1', dst: '::2', nextHeader: 58 }, icmp({ type: 135, code: 0 })), LinkType.Raw);
  assert.equal(nd.out.icmpId, -1);
  assert.equal(run(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 1 }, Uint8Array.from([8, 0, 0, 0, 1])), LinkType.Raw).status, DropReason.TransportTruncated);
  assert.equal(run(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 17 }, new Uint8Array(7)), LinkType.Raw).status, DropReason.TransportTruncated);
  assert.equal(run(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 6 }, new Uint8Array(19)), LinkType.Raw).status, DropReason.TransportTruncated);
  assert.equal(run(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 6 }, tcp({ sport: 1, dport: 2, flags: 2, dataOffset: 4 })), LinkType.Raw).status, DropReason.BadTcpHeader);
  assert.equal(run(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 6 }, tcp({ sport: 1, dport: 2, flags: 2, dataOffset: 15 })), LinkType.Raw).status, DropReason.BadTcpHeader);
  const sctp = run(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 132 }, Uint8Array.from([0x0b, 0x59, 0x0b, 0x5a, 0, 0, 0, 0])), LinkType.Raw);
  assert.equal(sctp.out.srcPort, 2905);
  assert.equal(sctp.out.dstPort, 2906);
  const gre = run(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 47 }, new Uint8Array(8)), LinkType.Raw);
  assert.equal(gre.status, 0);
  assert.equal(gre.out.protocol, 47);
});

test('decodes a packet in the middle of a larger buffer, honouring end', () => {
  const a = ethernet({ dst: MAC_B, src: MAC_A, etherType: 0x0800 }, tcpV4(text('AAAA')));
  const b = ethernet({ dst: MAC_A, src: MAC_B, etherType: 0x0800 }, ipv4({ src: '9.9.9.9', dst: '8.8.8.8', protocol: 17 }, udp({ sport: 1000, dport: 53 }, text('q'))));
  const buf = concat(a, b);
  const view = new DataView(buf.buffer);
  const out = newDecodedPacket();
  assert.equal(decodePacket(view, buf, a.length, buf.length, 1, b.length, out), 0);
  assert.equal(out.srcV4, ip4('9.9.9.9'));
  assert.equal(out.l3Offset, a.length + 14);
  assert.equal(out.payloadOffset, buf.length - 1);
  assert.equal(decodePacket(view, buf, 0, a.length, 1, a.length, out), 0);
  assert.equal(out.payloadLength, 4, 'the next packet is not payload');
  assert.equal(out.vlanId, -1);
  // Record reuse: a later failed decode leaves no stale ports.
  assert.equal(decodePacket(view, buf, 0, 20, 1, 20, out), DropReason.IpTruncated);
  assert.equal(out.srcPort, 0);
});

test('decode counters by reason and link type', () => {
  const c = newDecodeCounters();
  countDecode(c, 1, 0);
  countDecode(c, 1, DropReason.NotIp);
  countDecode(c, 113, DropReason.LinkTruncated);
  countDecode(c, 113, 0);
  countDecode(c, 192, DropReason.UnsupportedEncapsulation);
  countDecode(c, 77, DropReason.UnsupportedLinkType);
  const snap = decodeCountersSnapshot(c);
  assert.deepEqual(snap, {
    packets: 6,
    decoded: 2,
    dropped: { NotIp: 1, LinkTruncated: 1, UnsupportedLinkType: 1, UnsupportedEncapsulation: 1 },
    byLinkType: {
      Ethernet: { packets: 2, dropped: 1, byReason: { NotIp: 1 } },
      LinuxSll: { packets: 2, dropped: 1, byReason: { LinkTruncated: 1 } },
      Ppi: { packets: 1, dropped: 1, byReason: { UnsupportedEncapsulation: 1 } },
      linktype77: { packets: 1, dropped: 1, byReason: { UnsupportedLinkType: 1 } },
    },
  });
});
