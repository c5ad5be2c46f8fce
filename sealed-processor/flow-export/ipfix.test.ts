import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ie } from './elements.ts';
import { TemplateStore } from './template-store.ts';
import { REVERSE_PEN } from './template.ts';
import {
  dataSet, decodeAll, exporterV4, ipfixMessage, ipfixOptionsTemplateSet, ipfixTemplateSet, ipfixWithdrawal, ipv4, record, set, type Field,
} from './export-builders.test-util.ts';

const T0 = 1_700_000_000; // export time, s
const BASIC: Field[] = [
  [Ie.sourceIPv4Address, 4], [Ie.destinationIPv4Address, 4], [Ie.sourceTransportPort, 2], [Ie.destinationTransportPort, 2],
  [Ie.protocolIdentifier, 1], [Ie.tcpControlBits, 1], [Ie.packetDeltaCount, 8], [Ie.octetDeltaCount, 4],
  [Ie.flowStartMilliseconds, 8], [Ie.flowEndMilliseconds, 8],
];
function basicRecord(src: number, packets: number, bytes: number): Uint8Array {
  return record([4, src], [4, ipv4(10, 0, 0, 2)], [2, 40000], [2, 443], [1, 6], [1, 0x1b], [8, packets], [4, bytes], [8, T0 * 1000 - 5000], [8, T0 * 1000 - 1000]);
}

test('a template and its data set in one message give one flow per record', () => {
  const store = new TemplateStore();
  const flows = decodeAll(store, [ipfixMessage({ domain: 7 }, [ipfixTemplateSet([{ id: 256, fields: BASIC }]), dataSet(256, [basicRecord(ipv4(10, 0, 0, 1), 3, 180), basicRecord(ipv4(10, 0, 0, 9), 1, 60)], 3)])]);
  assert.equal(flows.length, 2);
  const f = flows[0];
  assert.equal(f.source, 'ipfix');
  assert.equal(f.observationDomain, 7);
  assert.deepEqual([f.srcV4, f.dstV4, f.srcPort, f.dstPort, f.protocol, f.tcpFlagsFwd], [ipv4(10, 0, 0, 1), ipv4(10, 0, 0, 2), 40000, 443, 6, 0x1b]);
  assert.deepEqual([f.packetsFwd, f.bytesFwd, f.packetsRev, f.bytesRev, f.samplingInterval], [3, 180, 0, 0, 1]);
  assert.deepEqual([f.timeStartUs, f.timeEndUs], [(T0 * 1000 - 5000) * 1000, (T0 * 1000 - 1000) * 1000]);
  assert.equal(f.ipVersion, 4);
  assert.equal(flows[1].srcV4, ipv4(10, 0, 0, 9));
  assert.equal(store.counters.flows, 2);
  assert.equal(store.counters.templates_added, 1);
});

test('IPv6, MACs, VLAN, interfaces, next hops, AS, ToS and ICMP type/code fill their fields', () => {
  const fields: Field[] = [
    [Ie.sourceIPv6Address, 16], [Ie.destinationIPv6Address, 16], [Ie.protocolIdentifier, 1], [Ie.icmpTypeCodeIPv6, 2],
    [Ie.sourceMacAddress, 6], [Ie.destinationMacAddress, 6], [Ie.vlanId, 2], [Ie.ingressInterface, 4], [Ie.egressInterface, 2],
    [Ie.ipNextHopIPv6Address, 16], [Ie.bgpNextHopIPv4Address, 4], [Ie.bgpSourceAsNumber, 4], [Ie.bgpDestinationAsNumber, 2],
    [Ie.ipClassOfService, 1], [Ie.packetDeltaCount, 4], [Ie.flowEndReason, 1],
  ];
  const a6 = Uint8Array.from({ length: 16 }, (_, i) => (i === 0 ? 0x20 : i === 1 ? 0x01 : i === 15 ? 1 : 0));
  const b6 = Uint8Array.from({ length: 16 }, (_, i) => (i === 0 ? 0xfd : i === 15 ? 2 : 0));
  const rec = record([16, a6], [16, b6], [1, 58], [2, (128 << 8) | 0], [6, 0x025a0000aa01n], [6, 0x025a0000bb02n], [2, 42], [4, 3], [2, 4],
    [16, b6], [4, ipv4(192, 0, 2, 254)], [4, 64500], [2, 64501], [1, 0xb8], [4, 5], [1, 3]);
  const [f] = decodeAll(new TemplateStore(), [ipfixMessage({}, [ipfixTemplateSet([{ id: 300, fields }]), dataSet(300, [rec])])]);
  assert.equal(f.ipVersion, 6);
  assert.deepEqual(f.src6, [0x20010000, 0, 0, 1]);
  assert.deepEqual(f.dst6, [0xfd000000, 0, 0, 2]);
  assert.deepEqual([f.icmpType, f.icmpCode, f.srcPort, f.dstPort], [128, 0, 0, 0]);
  assert.deepEqual([f.srcMacHi, f.srcMacLo, f.dstMacHi, f.dstMacLo], [0x025a00, 0x00aa01, 0x025a00, 0x00bb02]);
  assert.deepEqual([f.vlanId, f.inputInterface, f.outputInterface], [42, 3, 4]);
  assert.deepEqual([f.nextHopVersion, f.nextHop6, f.bgpNextHopVersion, f.bgpNextHopV4], [6, [0xfd000000, 0, 0, 2], 4, ipv4(192, 0, 2, 254)]);
  assert.deepEqual([f.srcAs, f.dstAs, f.tos, f.endReason], [64500, 64501, 0xb8, 'fin']);
  // No time element: the export time.
  assert.deepEqual([f.timeStartUs, f.timeEndUs], [T0 * 1e6, T0 * 1e6]);
});

test('variable-length and enterprise elements are skipped by their length; reverse elements fill *_rev', () => {
  const fields: Field[] = [
    [Ie.sourceIPv4Address, 4], [Ie.destinationIPv4Address, 4], [Ie.protocolIdentifier, 1],
    [82, 65535], // interfaceName, variable length
    [1000, 4, 6871], // someone's enterprise element
    [12345, 65535, 9], // variable-length enterprise element
    [Ie.packetDeltaCount, 4], [Ie.octetDeltaCount, 4], [Ie.packetDeltaCount, 4, REVERSE_PEN], [Ie.octetDeltaCount, 4, REVERSE_PEN],
    [Ie.tcpControlBits, 1, REVERSE_PEN], [Ie.tcpControlBits, 1],
  ];
  const long = new Uint8Array(300).fill(0x41);
  const rec = record([4, 1], [4, 2], [1, 6], [-1, new TextEncoder().encode('eth0')], [4, 0xdeadbeef], [-1, long], [4, 10], [4, 1000], [4, 8], [4, 9000], [1, 0x12], [1, 0x02]);
  const [f] = decodeAll(new TemplateStore(), [ipfixMessage({}, [ipfixTemplateSet([{ id: 256, fields }]), dataSet(256, [rec])])]);
  assert.deepEqual([f.srcV4, f.dstV4, f.packetsFwd, f.bytesFwd, f.packetsRev, f.bytesRev, f.tcpFlagsFwd, f.tcpFlagsRev], [1, 2, 10, 1000, 8, 9000, 0x02, 0x12]);
});

test('data before its template is held, then decoded when the template arrives', () => {
  const store = new TemplateStore();
  const early = ipfixMessage({ domain: 1, sequence: 0 }, [dataSet(256, [basicRecord(1, 1, 1), basicRecord(2, 2, 2)])]);
  assert.equal(decodeAll(store, [early]).length, 0);
  assert.equal(store.counters.pending_held, 1);
  assert.equal(store.pendingSize().sets, 1);
  const flows = decodeAll(store, [ipfixMessage({ domain: 1, sequence: 2 }, [ipfixTemplateSet([{ id: 256, fields: BASIC }]), dataSet(256, [basicRecord(3, 3, 3)])])]);
  assert.deepEqual(flows.map((f) => f.srcV4), [1, 2, 3]);
  assert.equal(store.counters.pending_decoded, 1);
  assert.equal(store.pendingSize().sets, 0);
  // A held set of another domain is not decoded with this domain's template.
  decodeAll(store, [ipfixMessage({ domain: 2 }, [dataSet(256, [basicRecord(4, 4, 4)])])]);
  assert.equal(store.pendingSize().sets, 1);
});

test('held data whose template never comes expires after pendingMaxAgeUs of receive time', () => {
  const store = new TemplateStore({ pendingMaxAgeUs: 1_000_000 });
  const ex = exporterV4(192, 0, 2, 1);
  decodeAll(store, [ipfixMessage({}, [dataSet(256, [basicRecord(1, 1, 1)])])], ex, 10_000_000);
  decodeAll(store, [ipfixMessage({}, [])], ex, 10_500_000);
  assert.equal(store.counters.pending_expired, 0);
  const late = decodeAll(store, [ipfixMessage({}, [ipfixTemplateSet([{ id: 256, fields: BASIC }])])], ex, 11_000_001);
  assert.equal(late.length, 0);
  assert.equal(store.counters.pending_expired, 1);
});

test('withdrawal removes one template, or all of a kind; unknown ids are counted', () => {
  const store = new TemplateStore();
  decodeAll(store, [ipfixMessage({}, [ipfixTemplateSet([{ id: 256, fields: BASIC }, { id: 257, fields: BASIC }])])]);
  decodeAll(store, [ipfixMessage({}, [ipfixWithdrawal([256, 999])])]);
  assert.equal(store.counters.templates_withdrawn, 1);
  assert.equal(store.counters.withdraw_unknown, 1);
  assert.equal(decodeAll(store, [ipfixMessage({}, [dataSet(256, [basicRecord(1, 1, 1)])])]).length, 0);
  assert.equal(decodeAll(store, [ipfixMessage({}, [dataSet(257, [basicRecord(1, 1, 1)])])]).length, 1);
  decodeAll(store, [ipfixMessage({}, [ipfixWithdrawal([2])])]);
  assert.equal(decodeAll(store, [ipfixMessage({}, [dataSet(257, [basicRecord(1, 1, 1)])])]).length, 0);
});

test('sampling from options data: exporter-wide (34/35) and per selector id (302/305), applied like nfcapd', () => {
  const store = new TemplateStore();
  const opts = ipfixOptionsTemplateSet([
    { id: 400, scopeCount: 1, fields: [[149, 4], [Ie.samplingInterval, 4], [Ie.samplingAlgorithm, 1]] },
    { id: 401, scopeCount: 1, fields: [[Ie.selectorId, 8], [Ie.selectorAlgorithm, 2], [Ie.samplingPacketInterval, 4]] },
  ]);
  const optData = [dataSet(400, [record([4, 0], [4, 10], [1, 1])]), dataSet(401, [record([8, 5], [2, 1], [4, 100])])];
  const withSel: Field[] = [...BASIC, [Ie.selectorId, 2]];
  const flows = decodeAll(store, [ipfixMessage({}, [opts, ...optData, ipfixTemplateSet([{ id: 256, fields: BASIC }, { id: 257, fields: withSel }]),
    dataSet(256, [basicRecord(1, 2, 300)]), dataSet(257, [concat2(basicRecord(2, 2, 300), record([2, 5])), concat2(basicRecord(3, 2, 300), record([2, 6]))])])]);
  assert.deepEqual(flows.map((f) => [f.packetsFwd, f.bytesFwd, f.samplingInterval]), [[20, 3000, 10], [200, 30000, 100], [2, 300, 1]]);
  assert.equal(store.counters.option_records, 2);
});

function concat2(a: Uint8Array, b: Uint8Array): Uint8Array {
  const o = new Uint8Array(a.length + b.length);
  o.set(a);
  o.set(b, a.length);
  return o;
}

test('time elements: seconds, NTP microseconds, deltas, and sysUpTime relative to systemInitTime', () => {
  const store = new TemplateStore();
  const fields: Field[] = [[Ie.sourceIPv4Address, 4], [Ie.flowStartSeconds, 4], [Ie.flowEndMicroseconds, 8]];
  const ntp = (T0 + 2208988800) * 2 ** 32 + 2 ** 31; // T0 + 0.5 s
  const deltas: Field[] = [[Ie.sourceIPv4Address, 4], [Ie.flowStartDeltaMicroseconds, 4], [Ie.flowEndDeltaMicroseconds, 4]];
  const upRel: Field[] = [[Ie.sourceIPv4Address, 4], [Ie.flowStartSysUpTime, 4], [Ie.flowEndSysUpTime, 4]];
  const flows = decodeAll(store, [ipfixMessage({}, [ipfixTemplateSet([{ id: 256, fields }, { id: 257, fields: deltas }, { id: 258, fields: upRel }]),
    dataSet(256, [record([4, 1], [4, T0 - 10], [8, BigInt(ntp)])]), dataSet(257, [record([4, 2], [4, 3_000_000], [4, 1_000_000])]),
    dataSet(258, [record([4, 3], [4, 1000], [4, 2000])])])]);
  assert.deepEqual(flows.map((f) => [f.timeStartUs, f.timeEndUs]).slice(0, 2), [[(T0 - 10) * 1e6, T0 * 1e6 + 500_000], [T0 * 1e6 - 3_000_000, T0 * 1e6 - 1_000_000]]);
  // No systemInitTime known yet: export time, counted.
  assert.deepEqual([flows[2].timeStartUs, flows[2].timeEndUs], [T0 * 1e6, T0 * 1e6]);
  assert.equal(store.counters.time_unresolved, 1);
  const init = (T0 - 3600) * 1000;
  const later = decodeAll(store, [ipfixMessage({}, [ipfixOptionsTemplateSet([{ id: 402, scopeCount: 1, fields: [[149, 4], [Ie.systemInitTimeMilliseconds, 8]] }]),
    dataSet(402, [record([4, 0], [8, init])]), dataSet(258, [record([4, 3], [4, 1000], [4, 2000])])])]);
  assert.deepEqual([later[0].timeStartUs, later[0].timeEndUs], [(init + 1000) * 1000, (init + 2000) * 1000]);
});

test('sequence gaps are counted per domain and never stop decoding (softflowd numbers are wrong)', () => {
  const store = new TemplateStore();
  const t = ipfixTemplateSet([{ id: 256, fields: BASIC }]);
  const flows = decodeAll(store, [
    ipfixMessage({ sequence: 0 }, [t, dataSet(256, [basicRecord(1, 1, 1)])]),
    ipfixMessage({ sequence: 1 }, [dataSet(256, [basicRecord(2, 1, 1)])]),
    ipfixMessage({ sequence: 77 }, [dataSet(256, [basicRecord(3, 1, 1)])]),
  ]);
  assert.equal(flows.length, 3);
  assert.equal(store.counters.sequence_gaps, 1);
  const [d] = store.domains();
  assert.equal(d.counters.sequence_gaps, 1);
  assert.equal(d.counters.datagrams, 3);
});

test('a bad set is counted and the good sets around it still decode', () => {
  const store = new TemplateStore();
  const t = ipfixTemplateSet([{ id: 256, fields: BASIC }]);
  const reserved = set(5, [1, 2, 3, 4]);
  const truncatedRecord = dataSet(256, [basicRecord(2, 1, 1).subarray(0, 30)]);
  const brokenTemplate = set(2, [1, 0, 0, 3, 0, 8]); // id 256, 3 fields, only 1 half-present
  const flows = decodeAll(store, [ipfixMessage({}, [t, reserved, dataSet(256, [basicRecord(1, 1, 1)]), brokenTemplate, truncatedRecord, dataSet(256, [basicRecord(3, 1, 1)])])]);
  assert.deepEqual(flows.map((f) => f.srcV4), [1, 3]);
  assert.equal(store.counters.set_reserved_id, 1);
  assert.equal(store.counters.template_malformed, 1);
  // 30 bytes < minimum record length (42): padding, not an error.
  assert.equal(store.counters.record_truncated, 0);
  // A set length past the message ends the message.
  const cut = ipfixMessage({}, [t, dataSet(256, [basicRecord(1, 1, 1)])]);
  const bad = cut.slice(0, cut.length - 10);
  assert.equal(decodeAll(store, [bad]).length, 0);
  assert.equal(store.counters.bad_header_length, 1);
  assert.equal(store.counters.set_truncated, 1);
});
