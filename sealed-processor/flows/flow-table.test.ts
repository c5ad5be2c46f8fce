import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodePacket } from '../decode/decode-packet.ts';
import { LinkType, newDecodedPacket, TcpFlag } from '../decode/decoded-packet.ts';
import {
  dnsMessage,
  dnsName,
  ethernet,
  icmp,
  ip4,
  ip6,
  ipv4,
  ipv6,
  linuxSll,
  tcp,
  text,
  tlsClientHello,
  udp,
} from '../decode/testing/packet-builders.ts';
import type { RawFlow } from './flow-record.ts';
import { FlowTable, type FlowTableOptions } from './flow-table.ts';

const { Fin, Syn, Rst, Psh, Ack } = TcpFlag;
const S = 1_000_000;
const T0 = 1_700_000_000 * S;

type Flow = Omit<RawFlow, 'src6' | 'dst6'> & { src6: number[]; dst6: number[] };

function harness(opts: FlowTableOptions = {}) {
  const flows: Flow[] = [];
  const table = new FlowTable(opts, (f) => flows.push({ ...f, src6: [...f.src6], dst6: [...f.dst6] }));
  const pkt = newDecodedPacket();
  const feed = (frame: Uint8Array, ts: number, link: number = LinkType.Raw) => {
    const status = decodePacket(new DataView(frame.buffer, frame.byteOffset, frame.byteLength), frame, 0, frame.length, link, frame.length, pkt);
    assert.equal(status, 0, 'test packet must decode');
    table.observe(pkt, ts);
  };
  return { table, flows, feed };
}

const C = '10.0.0.1';
const SV = '192.0.2.10';
const seg = (from: 'c' | 's', flags: number, seq: number, ack: number, payload: Uint8Array = new Uint8Array(0), cport = 40000, sport = 80) =>
  from === 'c'
    ? ipv4({ src: C, dst: SV, protocol: 6 }, tcp({ sport: cport, dport: sport, flags, seq, ack }, payload))
    : ipv4({ src: SV, dst: C, protocol: 6 }, tcp({ sport: sport, dport: cport, flags, seq, ack }, payload));
const eth = (from: 'c' | 's', ip: Uint8Array) =>
  ethernet(from === 'c' ? { src: '00:00:5e:00:53:01', dst: '00:00:5e:00:53:02', etherType: 0x0800 } : { src: '00:00:5e:00:53:02', dst: '00:00:5e:00:53:01', etherType: 0x0800 }, ip);

/** SYN … last ACK of one connection starting at `t` with client ISN `isn`. Returns the segments. */
function connection(isn: number, cport = 40000) {
  const req = text('GET /index.html HTTP/1.1\r\nHost: Files.Example.NET\r\n\r\n');
  const body = new Uint8Array(100);
  return [
    seg('c', Syn, isn, 0, undefined, cport),
    seg('s', Syn | Ack, 5000, isn + 1, undefined, cport),
    seg('c', Ack, isn + 1, 5001, undefined, cport),
    seg('c', Psh | Ack, isn + 1, 5001, req, cport),
    seg('s', Ack, 5001, isn + 1 + req.length, undefined, cport),
    seg('s', Psh | Ack, 5001, isn + 1 + req.length, body, cport),
    seg('c', Fin | Ack, isn + 1 + req.length, 5101, undefined, cport),
    seg('s', Fin | Ack, 5101, isn + 2 + req.length, undefined, cport),
    seg('c', Ack, isn + 2 + req.length, 5102, undefined, cport),
  ];
}

test('a scripted TCP connection is exactly one flow with per-direction counts, flags and reason fin', () => {
  const { table, flows, feed } = harness();
  const segs = connection(1000);
  segs.forEach((s, i) => feed(eth(i === 1 || i === 4 || i === 5 || i === 7 ? 's' : 'c', s), T0 + i * 1000, LinkType.Ethernet));
  assert.equal(flows.length, 0, 'kept during the FIN grace period');
  table.expire(T0 + 8000 + 4 * S);
  assert.equal(flows.length, 0);
  table.expire(T0 + 8000 + 5 * S);
  assert.equal(flows.length, 1);
  const f = flows[0];
  const fwd = [0, 2, 3, 6, 8];
  const rev = [1, 4, 5, 7];
  assert.equal(f.ipVersion, 4);
  assert.equal(f.protocol, 6);
  assert.equal(f.srcV4, ip4(C));
  assert.equal(f.dstV4, ip4(SV));
  assert.equal(f.srcPort, 40000);
  assert.equal(f.dstPort, 80);
  assert.equal(f.packetsFwd, 5);
  assert.equal(f.packetsRev, 4);
  assert.equal(f.bytesFwd, fwd.reduce((n, i) => n + segs[i].length, 0));
  assert.equal(f.bytesRev, rev.reduce((n, i) => n + segs[i].length, 0));
  assert.equal(f.tcpFlagsFwd, Syn | Ack | Psh | Fin);
  assert.equal(f.tcpFlagsRev, Syn | Ack | Psh | Fin);
  assert.equal(f.timeStartUs, T0);
  assert.equal(f.timeEndUs, T0 + 8000);
  assert.equal(f.endReason, 'fin');
  assert.equal(f.httpHost, 'files.example.net');
  assert.equal(f.tlsSni, null);
  assert.equal(f.dnsQname, null);
  assert.equal(f.icmpType, -1);
  assert.equal(f.vlanId, -1);
  assert.deepEqual([f.srcMacHi, f.srcMacLo, f.dstMacHi, f.dstMacLo], [0x00005e, 0x005301, 0x00005e, 0x005302]);
  assert.equal(table.size, 0);
  assert.equal(table.counters.emitted.fin, 1);
});

test('port reuse: a new SYN after close starts a second flow; a retransmitted SYN does not', () => {
  const { table, flows, feed } = harness();
  connection(1000).forEach((s, i) => feed(s, T0 + i * 10, LinkType.Raw));
  const second = connection(900000);
  feed(second[0], T0 + S); // SYN, new ISN, inside the grace period
  assert.equal(flows.length, 1);
  assert.equal(flows[0].packetsFwd + flows[0].packetsRev, 9);
  assert.equal(flows[0].endReason, 'fin');
  feed(second[0], T0 + 2 * S); // retransmitted SYN (same ISN)
  second.slice(1).forEach((s, i) => feed(s, T0 + 3 * S + i));
  table.flush('eof');
  assert.equal(flows.length, 2);
  assert.equal(flows[1].packetsFwd, 6);
  assert.equal(flows[1].packetsRev, 4);
  assert.equal(flows[1].endReason, 'fin', 'a closed flow keeps its reason at end of input');
  assert.equal(table.counters.portReuse, 1);
});

test('RST ends a flow with reason rst, absorbing trailing packets within the grace period', () => {
  const { table, flows, feed } = harness({ tcpFinGraceUs: 2 * S });
  feed(seg('c', Syn, 7, 0), T0);
  feed(seg('s', Rst | Ack, 0, 8), T0 + 100);
  feed(seg('c', Syn, 7, 0), T0 + S); // retransmission: same connection (Wireshark rule)
  feed(seg('s', Rst | Ack, 0, 8), T0 + S + 100);
  table.expire(T0 + 2 * S);
  assert.equal(flows.length, 0);
  table.expire(T0 + 3 * S + 100);
  assert.equal(flows.length, 1);
  assert.equal(flows[0].endReason, 'rst');
  assert.equal(flows[0].packetsFwd, 2);
  assert.equal(flows[0].packetsRev, 2);
  assert.equal(flows[0].tcpFlagsRev, Rst | Ack);
});

test('a first SYN-ACK makes its receiver the initiator', () => {
  const { table, flows, feed } = harness();
  feed(seg('s', Syn | Ack, 5000, 1001), T0);
  feed(seg('c', Ack, 1001, 5001), T0 + 1);
  table.flush('eof');
  assert.equal(flows.length, 1);
  assert.equal(flows[0].srcV4, ip4(C));
  assert.equal(flows[0].srcPort, 40000);
  assert.equal(flows[0].packetsFwd, 1);
  assert.equal(flows[0].packetsRev, 1);
  assert.equal(flows[0].tcpFlagsRev, Syn | Ack);
  assert.equal(flows[0].endReason, 'eof');
});

test('idle timeouts: 60 s for UDP/ICMP, 300 s for open TCP', () => {
  const { table, flows, feed } = harness();
  feed(ipv4({ src: C, dst: SV, protocol: 17 }, udp({ sport: 1, dport: 2 })), T0);
  feed(seg('c', Ack, 1, 1), T0);
  table.expire(T0 + 60 * S - 1);
  assert.equal(flows.length, 0);
  table.expire(T0 + 60 * S);
  assert.deepEqual(flows.map((f) => [f.protocol, f.endReason]), [[17, 'idle']]);
  table.expire(T0 + 299 * S);
  assert.equal(flows.length, 1);
  table.expire(T0 + 300 * S);
  assert.deepEqual(flows.map((f) => [f.protocol, f.endReason]), [[17, 'idle'], [6, 'idle']]);
  assert.equal(table.size, 0);
});

test('observe expires idle flows by itself as packet time advances', () => {
  const { table, flows, feed } = harness({ idleTimeoutUs: 10 * S });
  feed(ipv4({ src: C, dst: SV, protocol: 17 }, udp({ sport: 1, dport: 2 })), T0);
  feed(ipv4({ src: C, dst: SV, protocol: 17 }, udp({ sport: 1, dport: 3 })), T0 + 11 * S);
  assert.equal(flows.length, 1);
  assert.equal(table.size, 1);
});

test('active timeout emits the record and continues under the same key, keeping the name', () => {
  const { table, flows, feed } = harness({ activeTimeoutUs: 1800 * S });
  const hello = tlsClientHello('Long.Lived.example');
  feed(seg('c', Psh | Ack, 1, 1, hello, 40000, 443), T0);
  for (let t = 200; t <= 2000; t += 200) feed(seg(t % 400 === 0 ? 'c' : 's', Ack, 1, 1, undefined, 40000, 443), T0 + t * S);
  assert.equal(flows.length, 1);
  assert.equal(flows[0].endReason, 'active');
  assert.equal(flows[0].packetsFwd + flows[0].packetsRev, 9); // 0..1600 s
  assert.equal(flows[0].timeEndUs, T0 + 1600 * S);
  table.flush('eof');
  assert.equal(flows.length, 2);
  assert.equal(flows[1].packetsFwd + flows[1].packetsRev, 2); // 1800, 2000
  assert.equal(flows[1].timeStartUs, T0 + 1800 * S);
  assert.equal(flows[1].srcV4, ip4(C), 'orientation kept');
  assert.equal(flows[1].tlsSni, 'long.lived.example');
  assert.equal(table.counters.namesExtracted, 1);
});

test('UDP DNS exchange: one flow, query name, client as source', () => {
  const { table, flows, feed } = harness();
  const q = dnsMessage(dnsName('Mail.Example.com'));
  const r = dnsMessage(dnsName('Mail.Example.com'), { response: true, extra: [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1] });
  feed(ipv6({ src: '2001:db8::53', dst: '2001:db8::1', nextHeader: 17 }, udp({ sport: 33333, dport: 53 }, q)), T0);
  feed(ipv6({ src: '2001:db8::1', dst: '2001:db8::53', nextHeader: 17 }, udp({ sport: 53, dport: 33333 }, r)), T0 + 500);
  table.flush('eof');
  assert.equal(flows.length, 1);
  const f = flows[0];
  assert.equal(f.ipVersion, 6);
  assert.deepEqual(f.src6, [...ip6('2001:db8::53')]);
  assert.deepEqual(f.dst6, [...ip6('2001:db8::1')]);
  assert.equal(f.srcV4, 0);
  assert.equal(f.srcPort, 33333);
  assert.equal(f.dstPort, 53);
  assert.equal(f.packetsFwd, 1);
  assert.equal(f.packetsRev, 1);
  assert.equal(f.bytesFwd, 40 + 8 + q.length);
  assert.equal(f.dnsQname, 'mail.example.com');
  assert.equal(f.tcpFlagsFwd, 0);
});

test('ICMP: echo request/reply pair by identifier, errors by type/code, ports 0', () => {
  const { table, flows, feed } = harness();
  const ping = (from: string, to: string, type: number, id: number) => ipv4({ src: from, dst: to, protocol: 1 }, icmp({ type, code: 0, id, seq: 1 }));
  feed(ping(C, SV, 8, 11), T0);
  feed(ping(SV, C, 0, 11), T0 + 1);
  feed(ping(C, SV, 8, 12), T0 + 2);
  feed(ipv4({ src: SV, dst: C, protocol: 1 }, icmp({ type: 3, code: 1 })), T0 + 3);
  table.flush('eof');
  assert.equal(flows.length, 3);
  const byId = flows.map((f) => [f.icmpType, f.icmpCode, f.packetsFwd, f.packetsRev, f.srcPort, f.dstPort]);
  assert.deepEqual(byId, [[8, 0, 1, 1, 0, 0], [8, 0, 1, 0, 0, 0], [3, 1, 1, 0, 0, 0]]);
  assert.equal(flows[2].srcV4, ip4(SV));
});

test('fragments: a later fragment joins its datagram flow; an orphan goes to the ports-0 flow', () => {
  const { table, flows, feed } = harness();
  feed(ipv4({ src: C, dst: SV, protocol: 17, id: 42, moreFragments: true }, udp({ sport: 4000, dport: 4500, length: 2008 }, new Uint8Array(1472))), T0);
  feed(ipv4({ src: C, dst: SV, protocol: 17, id: 42, fragmentOffset: 1480 }, new Uint8Array(528)), T0 + 1);
  feed(ipv4({ src: C, dst: SV, protocol: 17, id: 43, fragmentOffset: 1480 }, new Uint8Array(528)), T0 + 2);
  const v6frag = (off: number, more: boolean, body: Uint8Array) =>
    ipv6({ src: '2001:db8::1', dst: '2001:db8::2', nextHeader: 17, ext: [{ type: 44, fragment: { offset: off, more, id: 7 } }] }, body);
  feed(v6frag(0, true, udp({ sport: 5, dport: 6, length: 1300 }, new Uint8Array(1224))), T0 + 3);
  feed(v6frag(1232, false, new Uint8Array(60)), T0 + 4);
  table.flush('eof');
  const summary = flows.map((f) => [f.ipVersion, f.srcPort, f.dstPort, f.packetsFwd]).sort();
  assert.deepEqual(summary, [[4, 0, 0, 1], [4, 4000, 4500, 2], [6, 5, 6, 2]].sort());
  assert.equal(table.counters.fragmentsAttributed, 2);
  assert.equal(table.counters.fragmentsUnattributed, 1);
});

test('VLAN is part of the key; SLL reverse packets fill in the responder MAC', () => {
  const { table, flows, feed } = harness();
  const tagged = (vid: number) => ethernet({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02', etherType: 0x0800, vlans: [{ tpid: 0x8100, vid }] }, ipv4({ src: C, dst: SV, protocol: 17 }, udp({ sport: 1, dport: 2 })));
  feed(tagged(10), T0, LinkType.Ethernet);
  feed(tagged(20), T0, LinkType.Ethernet);
  feed(tagged(10), T0, LinkType.Ethernet);
  feed(linuxSll({ protocol: 0x0800, addr: [0xaa, 0, 0, 0, 0, 1] }, ipv4({ src: C, dst: SV, protocol: 17 }, udp({ sport: 9, dport: 9 }))), T0, LinkType.LinuxSll);
  feed(linuxSll({ protocol: 0x0800, addr: [0xbb, 0, 0, 0, 0, 2] }, ipv4({ src: SV, dst: C, protocol: 17 }, udp({ sport: 9, dport: 9 }))), T0, LinkType.LinuxSll);
  table.flush('eof');
  // flush emits least recently seen first
  assert.deepEqual(flows.map((f) => [f.vlanId, f.packetsFwd]), [[20, 1], [10, 2], [-1, 1]]);
  assert.deepEqual([flows[2].srcMacHi, flows[2].srcMacLo, flows[2].dstMacHi, flows[2].dstMacLo], [0xaa0000, 1, 0xbb0000, 2]);
});

test('maxFlows: the least recently seen flow is evicted as idle and counted', () => {
  const { table, flows, feed } = harness({ maxFlows: 3 });
  const u = (port: number) => ipv4({ src: C, dst: SV, protocol: 17 }, udp({ sport: port, dport: 53 }));
  feed(u(1), T0);
  feed(u(2), T0 + 1);
  feed(u(3), T0 + 2);
  feed(u(1), T0 + 3); // 1 is now the most recent
  feed(u(4), T0 + 4); // evicts 2
  feed(u(5), T0 + 5); // evicts 3
  assert.deepEqual(flows.map((f) => [f.srcPort, f.endReason]), [[2, 'idle'], [3, 'idle']]);
  assert.equal(table.counters.evicted, 2);
  assert.equal(table.size, 3);
});

test('growth beyond the initial capacity keeps every flow findable', () => {
  const { table, flows, feed } = harness({ maxFlows: 50_000 });
  const n = 40_000;
  const frames = Array.from({ length: n }, (_, i) => ipv4({ src: `10.${(i >> 8) & 255}.${i & 255}.1`, dst: SV, protocol: 17 }, udp({ sport: 1000 + (i % 50), dport: 53 })));
  for (let round = 0; round < 2; round++) frames.forEach((f, i) => feed(f, T0 + round * 1000 + i));
  assert.equal(table.size, n);
  table.flush('eof');
  assert.equal(flows.length, n);
  assert.ok(flows.every((f) => f.packetsFwd === 2 && f.packetsRev === 0));
});

test('property: both directions meet in one flow and packets are conserved', () => {
  const hosts = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
  const packet = fc.record({
    a: fc.integer({ min: 0, max: 2 }),
    b: fc.integer({ min: 0, max: 2 }),
    pa: fc.constantFrom(53, 1000, 1001),
    pb: fc.constantFrom(53, 1000, 1001),
    proto: fc.constantFrom(6, 17),
    vlan: fc.constantFrom(-1, 5),
  });
  fc.assert(
    fc.property(fc.array(packet, { minLength: 1, maxLength: 60 }), (pkts) => {
      const { table, flows, feed } = harness({ maxFlows: 1000 });
      const model = new Map<string, { first: string; fwd: number; rev: number }>();
      pkts.forEach((p, i) => {
        const l4 = p.proto === 6 ? tcp({ sport: p.pa, dport: p.pb, flags: Ack, seq: 1, ack: 1 }) : udp({ sport: p.pa, dport: p.pb });
        const ip = ipv4({ src: hosts[p.a], dst: hosts[p.b], protocol: p.proto }, l4);
        const frame = p.vlan < 0 ? ip : ethernet({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02', etherType: 0x0800, vlans: [{ tpid: 0x8100, vid: p.vlan }] }, ip);
        feed(frame, T0 + i, p.vlan < 0 ? LinkType.Raw : LinkType.Ethernet);
        const x = `${p.a}:${p.pa}`;
        const y = `${p.b}:${p.pb}`;
        const key = `${p.proto}|${p.vlan}|${[x, y].sort().join('|')}`;
        const m = model.get(key) ?? { first: x, fwd: 0, rev: 0 };
        if (x === m.first) m.fwd++;
        else m.rev++;
        model.set(key, m);
      });
      table.flush('eof');
      assert.equal(flows.length, model.size);
      const got = flows.map((f) => [f.packetsFwd, f.packetsRev].join('/')).sort();
      const want = [...model.values()].map((m) => [m.fwd, m.rev].join('/')).sort();
      assert.deepEqual(got, want);
    }),
    { numRuns: 300 },
  );
});

test('constructor rejects nonsensical options', () => {
  assert.throws(() => new FlowTable({ maxFlows: 0 }, () => {}), TypeError);
  assert.throws(() => new FlowTable({ idleTimeoutUs: Number.NaN }, () => {}), TypeError);
  assert.throws(() => new FlowTable({ expireIntervalUs: -1 }, () => {}), TypeError);
});

test('property: under timeouts, port reuse, eviction and fragments every packet lands in exactly one record', () => {
  const packet = fc.record({
    dir: fc.boolean(),
    host: fc.integer({ min: 0, max: 3 }),
    port: fc.constantFrom(80, 81),
    kind: fc.constantFrom('tcp', 'udp', 'icmp', 'frag'),
    flags: fc.integer({ min: 0, max: 255 }),
    seq: fc.constantFrom(1, 2, 3),
    dt: fc.integer({ min: -2 * S, max: 400 * S }),
  });
  fc.assert(
    fc.property(fc.array(packet, { minLength: 1, maxLength: 80 }), fc.integer({ min: 1, max: 6 }), (pkts, maxFlows) => {
      const { table, flows, feed } = harness({ maxFlows, activeTimeoutUs: 500 * S, tcpFinGraceUs: 2 * S });
      let t = T0;
      for (const p of pkts) {
        t += p.dt;
        const [src, dst] = p.dir ? [`10.0.0.${p.host}`, SV] : [SV, `10.0.0.${p.host}`];
        const [sp, dp] = p.dir ? [5000, p.port] : [p.port, 5000];
        const ip =
          p.kind === 'tcp' ? ipv4({ src, dst, protocol: 6 }, tcp({ sport: sp, dport: dp, flags: p.flags, seq: p.seq, ack: p.seq }))
          : p.kind === 'udp' ? ipv4({ src, dst, protocol: 17 }, udp({ sport: sp, dport: dp }))
          : p.kind === 'icmp' ? ipv4({ src, dst, protocol: 1 }, icmp({ type: p.dir ? 8 : 0, code: 0, id: p.port }))
          : ipv4({ src, dst, protocol: 17, id: p.seq, fragmentOffset: p.flags & 1 ? 8 : 0, moreFragments: (p.flags & 1) === 0 }, udp({ sport: sp, dport: dp }));
        feed(ip, t);
      }
      table.flush('eof');
      assert.equal(table.size, 0);
      assert.equal(flows.reduce((n, f) => n + f.packetsFwd + f.packetsRev, 0), pkts.length);
      assert.equal(table.counters.flowsEmitted, flows.length);
      for (const f of flows) {
        assert.ok(f.timeStartUs <= f.timeEndUs);
        assert.ok(f.packetsFwd + f.packetsRev > 0);
      }
    }),
    { numRuns: 300 },
  );
});
