/**
 * Ground truth end to end: the real `flowseal pipeline --netflow-pcap` (ingest → encrypted spool
 * → sealed processor → Parquet archive) on each softflowd export fixture of test/fixtures/netflow/
 * (make-export-fixtures.sh), against the same datagrams replayed into a real nfcapd. The
 * archive's per-protocol flow count and packet and byte totals (each direction, read from the
 * published Parquet with DuckDB) must equal nfdump's — times the sampling rate for the sampled
 * fixtures, which nfcapd 1.7.1 does not apply (test/support/nfcapd-oracle.ts). Each row must say
 * where it came from (record_source), carry its sampling rate, and name its exporter only by
 * pseudonym; the manifest must count every datagram and no drop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { readExportPcap } from '../sealed-processor/flow-export/export-builders.test-util.ts';
import { EXPORT_FIXTURE_CASES, addTotals, nfcapdTotals, scaledTotals, sortedTotals, type Totals } from './support/nfcapd-oracle.ts';
import { skipUnlessTools } from './support/required-tools.ts';
import { runFlowseal } from './support/run-flowseal.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'netflow');
const SOURCE_OF: Record<number, string> = { 5: 'netflow5', 9: 'netflow9', 10: 'ipfix' };

interface ArchiveFacts {
  totals: Totals;
  sources: string[];
  rates: string[];
  exporters: string[];
  rows: number;
}

async function archiveFacts(dir: string): Promise<ArchiveFacts> {
  const instance = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  const conn = await instance.connect();
  try {
    const from = `read_parquet('${join(dir, '**', '*.parquet').replaceAll("'", "''")}', hive_partitioning = true)`;
    const q = async (sql: string) => (await conn.runAndReadAll(sql)).getRows();
    const totals: Totals = new Map();
    for (const [proto, flows, ipkt, ibyt, opkt, obyt] of await q(
      `SELECT protocol, count(*), sum(packets_fwd), sum(bytes_fwd), sum(packets_rev), sum(bytes_rev) FROM ${from} GROUP BY protocol`,
    )) {
      addTotals(totals, Number(proto), Number(ipkt), Number(ibyt), Number(opkt), Number(obyt));
      totals.get(Number(proto))!.flows = Number(flows);
    }
    const col = async (c: string) => (await q(`SELECT DISTINCT ${c} FROM ${from} ORDER BY 1`)).map((r) => String(r[0]));
    const [[rows]] = await q(`SELECT count(*) FROM ${from}`);
    return { totals, sources: await col('record_source'), rates: await col('sampling_interval'), exporters: await col('exporter_addr'), rows: Number(rows) };
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

for (const [name, rate] of EXPORT_FIXTURE_CASES) {
  test(`pipeline --netflow-pcap ${name}: the archive's per-protocol flows, packets and bytes equal nfcapd + nfdump's`, { skip: skipUnlessTools('nfdump') }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flowseal-nf-oracle-'));
    try {
      const fixture = join(FIXTURES, name);
      const datagrams = readExportPcap(readFileSync(fixture));
      const archive = join(dir, 'archive');
      // flowseal and nfcapd side by side (they share nothing but the input file).
      const [run, theirs] = await Promise.all([
        runFlowseal(['pipeline', '--netflow-pcap', fixture, '--archive', archive, '--dataset', 'nf', '--spool', join(dir, 'spool')]),
        nfcapdTotals(datagrams),
      ]);
      assert.equal(run.code, 0, run.stderr.slice(-3000));
      const facts = await archiveFacts(join(archive, 'nf'));
      assert.ok(facts.rows > 0, 'the archive has rows');
      assert.deepEqual(sortedTotals(facts.totals), sortedTotals(scaledTotals(theirs, rate)));
      const version = new DataView(datagrams[0]!.payload.buffer, datagrams[0]!.payload.byteOffset).getUint16(0);
      assert.deepEqual(facts.sources, [SOURCE_OF[version]]);
      assert.deepEqual(facts.rates, [String(rate)]);
      // One exporter (127.0.0.1), pseudonymized.
      assert.equal(facts.exporters.length, 1);
      assert.notEqual(facts.exporters[0], '127.0.0.1');
      assert.match(facts.exporters[0]!, /^\d+\.\d+\.\d+\.\d+$/);
      const [manifestName] = await readdir(join(archive, 'nf', 'manifests'));
      const m = JSON.parse(await readFile(join(archive, 'nf', 'manifests', manifestName!), 'utf8')).manifest;
      assert.equal(m.flows, facts.rows);
      assert.equal(m.counts.export_datagrams, datagrams.length);
      assert.equal(m.counts.export_flows, facts.rows);
      assert.equal(m.counts.export_drops, 0, JSON.stringify(m.counts));
      assert.equal(m.counts[`flows_source_${SOURCE_OF[version]}`], facts.rows);
      const notes = m.releaseNotes.flowExport;
      assert.equal(notes.exporters.length >= 1, true);
      for (const e of notes.exporters) assert.equal(e.exporter, facts.exporters[0], 'release notes name the exporter by its pseudonym');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
