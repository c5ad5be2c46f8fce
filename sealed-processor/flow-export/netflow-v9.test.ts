import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ie } from './elements.ts';
import { TemplateStore } from './template-store.ts';
import { dataSet, decodeAll, ipv4, record, v5Packet, v9OptionsTemplateSet, v9Packet, v9TemplateSet, type Field } from './export-builders.test-util.ts';

const SECS = 1_700_000_000;
const FIELDS: Field[] = [[Ie.sourceIPv4Address, 4], [Ie.destinationIPv4Address, 4], [Ie.protocolIdentifier, 1], [Ie.packetDeltaCount, 4], [Ie.octetDeltaCount, 4], [Ie.flowStartSysUpTime, 4], [Ie.flowEndSysUpTime, 4], [Ie.destinationTransportPort, 2]];
const rec = (src: number, up0: number, up1: number, proto = 17, port = 53) => record([4, src], [4, ipv4(10, 0, 0, 2)], [1, proto], [4, 2], [4, 200], [4, up0], [4, up1], [2, port]);

test('v9: sysUpTime-relative times use the header (also across the uptime wrap); source id scopes templates', () => {
  const store = new TemplateStore();
  const flows = decodeAll(store, [
    v9Packet({ sysUptime: 100_000, unixSecs: SECS, sourceId: 1 }, [v9TemplateSet([{ id: 256, fields: FIELDS }]), dataSet(256, [rec(1, 90_000, 99_000)], 2)]),
    v9Packet({ sysUptime: 1000, unixSecs: SECS, sourceId: 1, sequence: 1 }, [dataSet(256, [rec(2, 2 ** 32 - 1000, 500)])]),
    v9Packet({ sourceId: 2 }, [dataSet(256, [rec(3, 0, 0)])]),
  ]);
  assert.equal(flows.length, 2);
  assert.equal(flows[0].source, 'netflow9');
  assert.deepEqual([flows[0].timeStartUs, flows[0].timeEndUs], [(SECS - 10) * 1e6, (SECS - 1) * 1e6]);
  assert.deepEqual([flows[1].timeStartUs, flows[1].timeEndUs], [(SECS - 2) * 1e6, SECS * 1e6 - 500_000]);
  assert.equal(store.counters.pending_held, 1, 'source id 2 has no template 256');
  assert.equal(store.counters.sequence_gaps, 0);
});

test('v9: options data sampling multiplies packets and bytes and is recorded per flow; ICMP type/code from the port', () => {
  const store = new TemplateStore();
  const flows = decodeAll(store, [v9Packet({}, [
    v9OptionsTemplateSet(300, [[2, 4]], [[Ie.samplingInterval, 4], [Ie.samplingAlgorithm, 1]]),
    dataSet(300, [record([4, 0], [4, 100], [1, 2])], 3),
    v9TemplateSet([{ id: 256, fields: FIELDS }]),
    dataSet(256, [rec(1, 0, 0, 1, (3 << 8) | 1)]),
  ])]);
  assert.deepEqual([flows[0].packetsFwd, flows[0].bytesFwd, flows[0].samplingInterval], [200, 20000, 100]);
  assert.deepEqual([flows[0].icmpType, flows[0].icmpCode, flows[0].dstPort], [3, 1, 0]);
});

test('v9: sequence gaps, reserved sets and malformed templates are counted; later sets still decode', () => {
  const store = new TemplateStore();
  const badTemplate = v9TemplateSet([{ id: 12, fields: FIELDS }]);
  const flows = decodeAll(store, [
    v9Packet({ sequence: 5 }, [v9TemplateSet([{ id: 256, fields: FIELDS }])]),
    v9Packet({ sequence: 9 }, [badTemplate, dataSet(7, [new Uint8Array(8)]), dataSet(256, [rec(1, 0, 0), rec(2, 0, 0)])]),
  ]);
  assert.equal(flows.length, 2);
  assert.deepEqual([store.counters.sequence_gaps, store.counters.template_malformed, store.counters.set_reserved_id], [1, 1, 1]);
});

test('v5: header, records, sampling, truncated count', () => {
  const store = new TemplateStore();
  const r = { src: ipv4(10, 1, 1, 1), dst: ipv4(10, 1, 1, 2), nextHop: ipv4(10, 1, 1, 254), input: 2, output: 3, packets: 4, octets: 400, first: 95_000, last: 99_000, srcPort: 1234, dstPort: 80, tcpFlags: 0x13, protocol: 6, tos: 0x10, srcAs: 65001, dstAs: 65002 };
  const flows = decodeAll(store, [
    v5Packet({ sysUptime: 100_000, unixSecs: SECS, unixNsecs: 250_000_000, engineType: 1, engineId: 2, sampling: (1 << 14) | 10 }, [r]),
    v5Packet({ count: 3, sequence: 1 }, [r, r]),
  ]);
  const f = flows[0];
  assert.deepEqual([f.source, f.observationDomain, f.srcV4, f.dstV4, f.nextHopVersion, f.nextHopV4, f.inputInterface, f.outputInterface], ['netflow5', 0x102, r.src, r.dst, 4, r.nextHop, 2, 3]);
  assert.deepEqual([f.packetsFwd, f.bytesFwd, f.samplingInterval, f.srcPort, f.dstPort, f.tcpFlagsFwd, f.protocol, f.tos, f.srcAs, f.dstAs], [40, 4000, 10, 1234, 80, 0x13, 6, 0x10, 65001, 65002]);
  assert.deepEqual([f.timeStartUs, f.timeEndUs], [(SECS - 5) * 1e6 + 250_000, (SECS - 1) * 1e6 + 250_000]);
  assert.equal(flows.length, 3);
  assert.equal(store.counters.bad_header_length, 1);
});
