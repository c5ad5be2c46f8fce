/**
 * Link types and encapsulations checked against tshark: for every script-made capture of
 * test/fixtures/links/ (PPP, PPP in HDLC framing, Cisco HDLC, Frame Relay, NFLOG, IPoIB,
 * PPI, raw IPv4/IPv6, PPPoE, MPLS, GRE, ERSPAN II/III, IP-in-IP/6in4, VXLAN, Geneve), the
 * TCP and UDP flows flowseal's decoder and flow table make must have exactly the packet and
 * IP-byte totals per direction that tshark gives the same conversations, on the innermost IP
 * layer (tunnels opened, the default) and, for the tunnels, on the outermost (tunnels not
 * opened). What flowseal does not turn into flows is counted by reason and link type.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TunnelMode, TunnelType } from '../sealed-processor/decode/decoded-packet.ts';
import { skipUnlessTools } from './support/required-tools.ts';
import { LINK_CAPTURES, flowsealFlows, textAddrKey, tsharkConvs, type FlowCopy, type TsharkConv } from './support/link-captures.ts';

const TUNNEL_NAMES: Record<string, number> = { ipip: TunnelType.Ipip, gre: TunnelType.Gre, erspan: TunnelType.Erspan, vxlan: TunnelType.Vxlan, geneve: TunnelType.Geneve };

function compare(flows: FlowCopy[], convs: Map<string, TsharkConv>, what: string): void {
  const byKey = new Map(flows.map((f) => [f.key, f]));
  assert.ok(convs.size > 0, `${what}: tshark saw conversations`);
  for (const [key, c] of convs) {
    const f = byKey.get(key);
    assert.ok(f, `${what}: flowseal has tshark's conversation ${key}`);
    // Orient tshark's A→B like flowseal's initiator→responder.
    const aIsSrc = f.srcKey === c.a && f.srcPort === c.ap;
    const fwd = aIsSrc ? [c.packetsAtoB, c.bytesAtoB] : [c.packetsBtoA, c.bytesBtoA];
    const rev = aIsSrc ? [c.packetsBtoA, c.bytesBtoA] : [c.packetsAtoB, c.bytesAtoB];
    assert.deepEqual([f.packetsFwd, f.bytesFwd, f.packetsRev, f.bytesRev], [...fwd, ...rev], `${what}: totals of ${key}`);
  }
}

describe('link types and encapsulations, flow totals equal tshark', { skip: skipUnlessTools('tshark') }, () => {
  for (const cap of LINK_CAPTURES) {
    test(`${cap.file}: TCP/UDP flows equal tshark's conversations (inner layer); the rest is counted`, async () => {
      const { flows, counters } = flowsealFlows(cap.file);
      const convs = await tsharkConvs(cap.file, 'inner');
      compare(flows, convs, cap.file);
      const tcpUdp = flows.filter((f) => f.protocol === 6 || f.protocol === 17);
      assert.equal(tcpUdp.length, convs.size, `${cap.file}: no flow tshark does not have`);
      assert.equal(flows.length, convs.size + (cap.extraFlows ?? 0), `${cap.file}: flows besides TCP/UDP`);
      assert.deepEqual(counters.dropped, cap.dropped, `${cap.file}: drops by reason`);
      const perLink = Object.values(counters.byLinkType);
      assert.equal(perLink.length, 1);
      assert.equal(perLink[0].dropped, Object.values(cap.dropped).reduce((a, b) => a + b, 0), `${cap.file}: drops by link type`);
      if (cap.tunnel !== undefined) {
        for (const f of tcpUdp) {
          assert.ok(f.raw.tunnelType === TUNNEL_NAMES[cap.tunnel] || (cap.tunnel === 'ipip' && f.raw.tunnelType === TunnelType.SixInFour), `${cap.file}: tunnel type of ${f.key}`);
          assert.ok(f.raw.tunnelVersion === 4 || f.raw.tunnelVersion === 6);
        }
      } else {
        for (const f of flows) assert.equal(f.raw.tunnelType, TunnelType.None, `${cap.file}: no tunnel`);
      }
    });
  }

  for (const cap of LINK_CAPTURES.filter((c) => c.tunnel !== undefined)) {
    test(`${cap.file}: with tunnels not opened, flows equal tshark's outermost conversations`, async () => {
      const { flows } = flowsealFlows(cap.file, TunnelMode.Outer);
      const convs = await tsharkConvs(cap.file, 'outer');
      compare(flows, convs, `${cap.file} (outer)`);
      assert.equal(flows.length, convs.size);
      for (const f of flows) assert.equal(f.raw.tunnelType, TunnelType.None);
    });
  }

  test('gre.pcap: tunnel endpoints are the outer addresses, on the initiator side first', () => {
    const { flows } = flowsealFlows('gre.pcap');
    const tcp4 = flows.find((f) => f.protocol === 6 && f.srcKey.startsWith('4:'));
    assert.ok(tcp4);
    // The TCP/IPv4 connection's first packet went 192.0.2.1 → 192.0.2.2 in plain GRE.
    assert.equal(tcp4.raw.tunnelVersion, 4);
    assert.equal(`4:${tcp4.raw.tunnelSrcV4}`, textAddrKey('192.0.2.1'));
    assert.equal(`4:${tcp4.raw.tunnelDstV4}`, textAddrKey('192.0.2.2'));
  });
});
