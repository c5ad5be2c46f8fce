import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COVERAGE_THRESHOLD, coverageSummary } from './coverage-summary.ts';

test('a capture fully turned into flows (or within the threshold) prints nothing', () => {
  assert.deepEqual(coverageSummary('r', { linktype_Ethernet: 1000, flowtable_packets: 1000 }).lines, []);
  const s = coverageSummary('r', { linktype_Ethernet: 1000, linktype_Ethernet_drop_NotIp: 10, flowtable_packets: 990 });
  assert.equal(s.incomplete, false, `${COVERAGE_THRESHOLD * 100} % exactly is still complete`);
  assert.equal(coverageSummary('r', { export_flows: 7 }).incomplete, false, 'runs without packets');
});

test('above 1 % the summary names every reason per link type, largest first', () => {
  const s = coverageSummary('run-1', {
    linktype_Ethernet: 56, linktype_Ethernet_drop_NotIp: 2, linktype_Ethernet_drop_UnsupportedEncapsulation: 44,
    linktype_Ppi: 4, linktype_Ppi_drop_UnsupportedEncapsulation: 1, flowtable_packets: 13, packets_decoded: 13,
  });
  assert.equal(s.incomplete, true);
  assert.equal(s.packets, 60);
  assert.equal(s.notInFlows, 47);
  assert.match(s.lines[0]!, /run run-1: 47 of 60 packets \(78\.3 %\) were not turned into flows/);
  assert.match(s.lines[1]!, /^ {2}Ethernet: 44 UnsupportedEncapsulation/);
  assert.match(s.lines[2]!, /^ {2}Ethernet: 2 NotIp — frames without IP/);
  assert.match(s.lines[3]!, /^ {2}Ppi: 1 UnsupportedEncapsulation/);
  assert.match(s.lines.at(-1)!, /--strict/);
});
