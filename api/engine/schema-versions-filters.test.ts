/**
 * Filters on the router-export columns (schema version 2) over files written before them
 * (version 1, without those columns): the engine reads a column a file lacks as NULL, so every
 * such filter runs without error and matches none of the older rows, and its `not` matches all
 * of them — alone, and in a dataset mixing both versions, where the newer rows answer as usual.
 * `record_source` is one of those columns: an older row is not counted as `packets` either.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDuckDbEngine } from './duckdb-engine.ts';
import type { DuckDbEngine } from './duckdb-engine.ts';
import { makeArchive, type FlowRowInput } from '../../test/support/make-archive.ts';
import { planQuery } from '../query/plan.ts';
import { parseFilterExpression } from '../query/nfdump-filter.ts';
import { QueryFilter, QueryRequest } from '../../schemas/query.ts';
import type { QueryFilterInput } from '../../schemas/query.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import { batchCells } from '../ports.ts';

/** The columns schema version 2 added. */
const V2_COLUMNS = [
  'record_source', 'exporter_addr', 'exporter_addr_hi', 'exporter_addr_lo', 'observation_domain', 'input_interface', 'output_interface',
  'next_hop_addr', 'next_hop_addr_hi', 'next_hop_addr_lo', 'bgp_next_hop_addr', 'bgp_next_hop_addr_hi', 'bgp_next_hop_addr_lo',
  'src_as', 'dst_as', 'tos', 'sampling_interval',
];

const at = (h: number, s: number) => new Date(Date.UTC(2026, 2, 10, h, 0, s)).toISOString();
const OLD_ROWS: FlowRowInput[] = [0, 1, 2].map((s) => ({ time_start: at(8, s), src_addr: '10.0.0.1', dst_addr: '10.0.0.2', dst_port: 80 }));
const EXPORTED: FlowRowInput = {
  time_start: at(9, 0), src_addr: '10.0.0.3', dst_addr: '10.0.0.4', record_source: 'ipfix', exporter_addr: '192.0.2.1', observation_domain: 7,
  input_interface: 3, output_interface: 4, next_hop_addr: '192.0.2.254', bgp_next_hop_addr: '2001:db8::1', src_as: 64_512, dst_as: 13_335, tos: 184, sampling_interval: 1,
};
const PACKET_ROW: FlowRowInput = { time_start: at(9, 1), src_addr: '10.0.0.5', dst_addr: '10.0.0.6' };

/** One filter per router-export key, each matching the exported row. */
const FILTERS: QueryFilterInput[] = [
  { recordSource: 'ipfix' }, { exporterNet: '192.0.2.0/24' }, { nextHopNet: '192.0.2.254' }, { bgpNextHopNet: '2001:db8::/32' },
  { srcAs: 64_512 }, { dstAs: [13_335] }, { as: { min: 1, max: 0xffff_ffff } }, { inputInterface: 3 }, { outputInterface: 4 },
  { interface: [3, 4] }, { tos: 184 }, { observationDomain: 7 },
];

let root: string;
let engine: DuckDbEngine;
before(async () => {
  root = mkdtempSync(join(tmpdir(), 'flowseal-v1-filters-'));
  const archive = join(root, 'archive');
  const old = { schemaVersion: SCHEMA_VERSION - 1, omitColumns: V2_COLUMNS };
  await makeArchive(archive, { dataset: 'old', runId: 'r1', rows: OLD_ROWS, ...old });
  await makeArchive(archive, { dataset: 'mixed', runId: 'r2', rows: [EXPORTED, PACKET_ROW] });
  await makeArchive(archive, { dataset: 'mixed', runId: 'r1', rows: OLD_ROWS, ...old });
  engine = await createDuckDbEngine({ archiveDir: archive, threads: 1 });
  await engine.listDatasets();
});
after(async () => {
  await engine.close();
  rmSync(root, { recursive: true, force: true });
});

/** Flows matching `filter` in `dataset` (a no-group total, no minimum group size). */
async function flows(dataset: string, filter: QueryFilterInput): Promise<number> {
  const req = QueryRequest.parse({ dataset, timeRange: { from: at(8, 0), to: at(10, 0) }, groupBy: [], metrics: ['flows'] });
  const { plan } = planQuery(req, { now: Date.parse('2026-04-01T00:00:00Z'), limits: { maxRecordRows: 100, maxGroupRows: 100, minGroupSize: 1, maxTimeRangeDays: 31 }, filter: QueryFilter.parse(filter) });
  const s = await engine.execute(plan, { timeoutMs: 10_000 });
  const rows: unknown[][] = [];
  for await (const b of s.batches) rows.push(...batchCells(b).map((r) => [...r]));
  return Number(rows[0]?.[0] ?? 0);
}

test('only older files: each router-export filter runs, matches nothing, and its not matches every row', async () => {
  assert.equal(await flows('old', {}), 3);
  for (const f of FILTERS) {
    assert.equal(await flows('old', f), 0, JSON.stringify(f));
    assert.equal(await flows('old', { not: f }), 3, `not ${JSON.stringify(f)}`);
  }
  assert.equal(await flows('old', { recordSource: 'packets' }), 0, 'an older row is not known to be a packet row');
  assert.equal(await flows('old', parseFilterExpression('nfversion > 10 or router ip 192.0.2.1 or if 3')), 0);
});

test('both versions in one dataset: the newer rows answer, the older ones never match a router-export key', async () => {
  assert.equal(await flows('mixed', {}), 5);
  for (const f of FILTERS) {
    assert.equal(await flows('mixed', f), 1, JSON.stringify(f));
    assert.equal(await flows('mixed', { not: f }), 4, `not ${JSON.stringify(f)}`);
  }
  assert.equal(await flows('mixed', { recordSource: 'packets' }), 1);
  assert.equal(await flows('mixed', parseFilterExpression('not recordsource in [ netflow5 netflow9 ipfix ]')), 4, 'packet rows and older rows');
  assert.equal(await flows('mixed', parseFilterExpression('proto tcp and (as 13335 or router net 192.0.2.0/24)')), 1);
});
