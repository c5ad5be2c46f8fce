/**
 * Ground truth for the flow-export decoders: the softflowd export captured in
 * test/fixtures/netflow/ (make-export-fixtures.sh) is replayed over loopback UDP into a real
 * nfcapd, and nfdump's per-protocol flow counts and packet/byte totals (forward and reverse
 * separately, after sampling) must equal what `decodeExportDatagram` emits for the same
 * datagrams.
 *
 * Sampled export (softflowd -s 2) is the one place the two differ by design: softflowd announces
 * its rate as NetFlow v9 options data (interface-scoped SAMPLING_INTERVAL 34) and as IPFIX PSAMP
 * (samplingPacketInterval 305 = 1, samplingPacketSpace 306 = 1), and nfcapd 1.7.1 applies
 * neither (it reads 305 as the rate and ignores 306). The decoder applies both, so for those
 * fixtures every flow must carry rate 2 and every total must be exactly twice nfdump's.
 *
 * The nfcapd side is test/support/nfcapd-oracle.ts (shared with test/netflow-archive-oracle.test.ts,
 * which checks the whole pipeline's archive against the same oracle).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeExportDatagram } from '../sealed-processor/flow-export/export-datagram.ts';
import { readExportPcap, type CapturedDatagram } from '../sealed-processor/flow-export/export-builders.test-util.ts';
import { TemplateStore } from '../sealed-processor/flow-export/template-store.ts';
import { skipUnlessTools } from './support/required-tools.ts';
import { EXPORT_FIXTURE_CASES as CASES, addTotals as add, nfcapdTotals as nfcapd, scaledTotals as scaled, sortedTotals as sorted, type Totals } from './support/nfcapd-oracle.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'netflow');
function ours(datagrams: CapturedDatagram[]): { totals: Totals; store: TemplateStore; rates: Set<number> } {
  const store = new TemplateStore();
  const totals: Totals = new Map();
  const rates = new Set<number>();
  for (const d of datagrams) {
    decodeExportDatagram(d.payload, d.exporter, d.timeUs, store, (f) => {
      rates.add(f.samplingInterval);
      add(totals, f.protocol, f.packetsFwd, f.bytesFwd, f.packetsRev, f.bytesRev);
    });
  }
  return { totals, store, rates };
}

for (const [name, rate] of CASES) {
  test(`${name}: per-protocol flows, packets and bytes equal nfcapd + nfdump's`, { skip: skipUnlessTools('nfdump') }, async () => {
    const datagrams = readExportPcap(readFileSync(join(FIXTURES, name)));
    assert.ok(datagrams.length > 0);
    const { totals, store, rates } = ours(datagrams);
    assert.ok(totals.size > 0, 'the decoder found flows');
    assert.deepEqual([...rates], [rate]);
    const theirs = await nfcapd(datagrams);
    assert.deepEqual(sorted(totals), sorted(scaled(theirs, rate)));
    const { sequence_gaps: _gaps, ...rest } = store.counters;
    assert.equal(rest.pending_expired + rest.record_truncated + rest.set_truncated + rest.template_malformed, 0, JSON.stringify(store.counters));
  });
}
