import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  epochTextToUs,
  parseConversationTable,
  tsharkConversations,
  tsharkFields,
  tsharkIpBytes,
  tsharkMalformedCount,
} from './tshark.ts';
import { fixturePath } from './capture-facts.ts';
import { skipUnlessTools } from './required-tools.ts';

// Captured from `tshark -q -n -r test/fixtures/http-lo.pcap -z conv,tcp` (tshark 4.0.17) and
// `-z conv,udp` on dns-ns.pcapng, trimmed.
const SAMPLE = `================================================================================
TCP Conversations
Filter:<No Filter>
                                                           |       <-      | |       ->      | |     Total     |    Relative    |   Duration   |
                                                           | Frames  Bytes | | Frames  Bytes | | Frames  Bytes |      Start     |              |
127.0.0.1:45830            <-> 127.0.0.1:18080                 10 183 kB         12 895 bytes      22 184 kB        0.016924000         0.0015
127.0.0.1:45814            <-> 127.0.0.1:18080                  7 1651 bytes       9 991 bytes      16 2642 bytes     0.008732000         0.0017
::1:41168                  <-> ::1:18080                        4 767 bytes       6 621 bytes      10 1388 bytes     0.033785000         0.0003
================================================================================
================================================================================
UDP Conversations
Filter:<No Filter>
                                                           |       <-      | |       ->      | |     Total     |    Relative    |   Duration   |
                                                           | Frames  Bytes | | Frames  Bytes | | Frames  Bytes |      Start     |              |
fd00:77::2:51850           <-> fd00:77::1:53                    1 112 bytes       1 118 bytes       2 230 bytes     0.508439633         0.0001
================================================================================
`;

test('parseConversationTable reads rows, units and the <- (B→A) / -> (A→B) groups', () => {
  const rows = parseConversationTable(SAMPLE);
  assert.equal(rows.length, 4);
  const [big, keepAlive, v6, dns] = rows;
  assert.deepEqual(
    { a: big.addrA, pa: big.portA, b: big.addrB, pb: big.portB },
    { a: '127.0.0.1', pa: 45830, b: '127.0.0.1', pb: 18080 },
  );
  // The 183 kB response travels server (B) → client (A): first group is B→A.
  assert.equal(big.framesBtoA, 10);
  assert.equal(big.bytesBtoA, 183_000);
  assert.equal(big.framesAtoB, 12);
  assert.equal(big.bytesAtoB, 895);
  assert.equal(big.bytesTotal, 184_000);
  assert.equal(big.bytesExact, false);
  assert.equal(big.relStart, 0.016924);
  assert.equal(big.duration, 0.0015);
  assert.equal(keepAlive.bytesExact, true);
  assert.equal(keepAlive.bytesBtoA + keepAlive.bytesAtoB, keepAlive.bytesTotal);
  assert.equal(keepAlive.framesTotal, 16);
  assert.equal(v6.addrA, '::1');
  assert.equal(v6.portB, 18080);
  assert.equal(dns.addrA, 'fd00:77::2');
  assert.equal(dns.portA, 51850);
  assert.equal(dns.addrB, 'fd00:77::1');
  assert.equal(dns.portB, 53);
  // The query (A→B, 118 bytes) is larger than the REFUSED answer (112 bytes).
  assert.equal(dns.bytesAtoB, 118);
  assert.equal(dns.bytesBtoA, 112);
});

test('parseConversationTable rejects rows it cannot read', () => {
  assert.throws(() => parseConversationTable('1.2.3.4:1 <-> 5.6.7.8:2 1 2 bytes'), TypeError);
  assert.throws(
    () => parseConversationTable('1.2.3.4:1 <-> 5.6.7.8:2  1 2 PB  1 2 bytes  2 4 bytes  0.0 0.1'),
    /unknown size unit/,
  );
  assert.deepEqual(parseConversationTable('no rows here\n'), []);
});

test('epochTextToUs keeps microsecond precision without floats', () => {
  assert.equal(epochTextToUs('1795512010.765944123'), 1_795_512_010_765_944);
  assert.equal(epochTextToUs('1795512010.5'), 1_795_512_010_500_000);
  assert.equal(epochTextToUs('1795512010'), 1_795_512_010_000_000);
});

const skip = skipUnlessTools('tshark');

test('tsharkConversations on http-lo.pcap: exact bytes, directions checked independently', { skip }, async () => {
  const file = fixturePath('http-lo.pcap');
  const convs = await tsharkConversations(file, 'tcp');
  assert.equal(convs.length, 5);
  for (const c of convs) {
    assert.equal(c.portB, 18080, 'A is the side that sent the first packet: the client');
    assert.equal(c.firstSender, 'A', 'the client sent the SYN');
    assert.equal(c.framesAtoB + c.framesBtoA, c.framesTotal);
    // Independent count of client→server packets with a display filter.
    const ab = await tsharkIpBytes(file, `tcp.srcport == ${c.portA} && tcp.dstport == ${c.portB}`);
    assert.equal(ab.packets, c.framesAtoB);
    assert.equal(ab.frameBytes, c.bytesAtoB);
    assert.equal(ab.ipBytes, c.ipBytesAtoB);
    // lo is Ethernet-framed: IP bytes are frame bytes minus a 14-byte header per frame.
    assert.equal(c.ipBytesAtoB, c.bytesAtoB - 14 * c.framesAtoB);
    assert.equal(c.ipBytesBtoA, c.bytesBtoA - 14 * c.framesBtoA);
    assert.ok(c.lastUs >= c.firstUs);
  }
  const big = convs.find((c) => c.bytesBtoA > 100_000);
  assert.ok(big, 'the large response is there');
  assert.ok(big.bytesBtoA >= 183_000 && big.bytesBtoA < 184_000, 'consistent with "183 kB"');
  const v6 = convs.filter((c) => c.addrA.includes(':'));
  assert.equal(v6.length, 1);
});

test('tsharkConversations on vlan-tls.pcap counts 802.1Q frames (18-byte headers)', { skip }, async () => {
  const file = fixturePath('vlan-tls.pcap');
  const [udp] = await tsharkConversations(file, 'udp');
  assert.equal(udp.portB, 9999);
  assert.equal(udp.framesAtoB, 3);
  assert.equal(udp.framesBtoA, 3);
  assert.equal(udp.ipBytesAtoB, udp.bytesAtoB - 18 * 3);
  // Echo: the same datagrams come back.
  assert.equal(udp.ipBytesAtoB, udp.ipBytesBtoA);
});

test('tsharkConversations on sll2-any.pcap (cooked v2: 20-byte headers)', { skip }, async () => {
  for (const c of await tsharkConversations(fixturePath('sll2-any.pcap'), 'tcp')) {
    assert.equal(c.ipBytesAtoB, c.bytesAtoB - 20 * c.framesAtoB);
    assert.equal(c.ipBytesBtoA, c.bytesBtoA - 20 * c.framesBtoA);
  }
});

test('tsharkFields streams rows and honours filters and all occurrences', { skip }, async () => {
  const file = fixturePath('dns-ns.pcapng');
  const names: string[] = [];
  await tsharkFields(file, ['dns.qry.name'], (v) => names.push(v[0]), { filter: 'dns.flags.response == 0' });
  assert.ok(names.includes('www.example.test'));
  assert.ok(names.every((n) => n.length > 0));
  const answers: string[] = [];
  await tsharkFields(file, ['dns.a'], (v) => v[0] && answers.push(v[0]), { allOccurrences: true, filter: 'dns.a' });
  assert.ok(answers.includes('10.9.9.9'));
  await assert.rejects(tsharkIpBytes(file, 'this is not a filter ((('), /tshark exited/);
});

test('real fixtures have no malformed packets', { skip }, async () => {
  for (const f of ['http-lo.pcap', 'dns-ns.pcapng', 'vlan-tls.pcap', 'sll2-any.pcap', 'multi-if.pcapng']) {
    assert.equal(await tsharkMalformedCount(fixturePath(f)), 0, f);
  }
});
