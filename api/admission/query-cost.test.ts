/**
 * The cost estimate: rows from the dataset's density and the range overlap, filter terms as
 * comparisons per row, group cardinality capped by rows, metric weights, the lanes, and the
 * refusal naming the largest factor. Figures are computed here by hand from the documented
 * formula, so a change of weights has to change this file too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PLAN_COST_PER_TERM, assertAffordable, estimateQueryCost, filterTerms, rowsInRange } from './query-cost.ts';
import { AdmissionConfig } from '../../schemas/api-config.ts';
import { QueryRequest } from '../../schemas/query.ts';
import { planQuery } from '../query/plan.ts';
import { AppError } from '../../schemas/errors.ts';
import type { DatasetInfo } from '../ports.ts';

const DAY = { from: '2026-04-01T00:00:00Z', to: '2026-04-02T00:00:00Z' };
/** One million flows spread over one day. */
const DATASET: DatasetInfo = { id: 'vol', timeStart: DAY.from, timeEnd: DAY.to, flows: 1_000_000, files: 24, runs: 1, rejectedRuns: 0, pendingRuns: 0, verified: false, policyHashes: [], keyIds: [] };
const config = AdmissionConfig.parse({ expensiveCost: 5_000_000, maxCost: 50_000_000 });
const q = (extra: Record<string, unknown>) => {
  const req = QueryRequest.parse({ dataset: 'vol', timeRange: DAY, ...extra });
  return planQuery(req, { now: Date.parse('2026-05-01T00:00:00Z'), limits: { maxRecordRows: 1000, maxGroupRows: 10_000, minGroupSize: 1, maxTimeRangeDays: 31 }, filter: (req.filter ?? null) as never }).plan;
};

test('rows: flows × the overlap of the requested range with the dataset range', () => {
  const at = (iso: string) => Date.parse(iso);
  assert.equal(rowsInRange(DATASET, at(DAY.from), at(DAY.to)), 1_000_000);
  assert.equal(rowsInRange(DATASET, at('2026-04-01T06:00:00Z'), at('2026-04-01T12:00:00Z')), 250_000);
  assert.equal(rowsInRange(DATASET, at('2026-03-31T18:00:00Z'), at('2026-04-01T06:00:00Z')), 250_000, 'only the overlapping part counts');
  assert.equal(rowsInRange(DATASET, at('2026-05-01T00:00:00Z'), at('2026-05-02T00:00:00Z')), 0);
  assert.equal(rowsInRange({ ...DATASET, flows: null }, 0, 1), null);
  assert.equal(rowsInRange({ ...DATASET, timeEnd: DAY.from }, at(DAY.from), at(DAY.to)), 1_000_000, 'a dataset at one instant: all or nothing');
});

test('filter terms count every comparison: listed values, CIDRs per side, combinators', () => {
  assert.equal(filterTerms(undefined), 0);
  assert.equal(filterTerms({ protocol: 6, dstPort: [80, 443, 8080] }), 4);
  assert.equal(filterTerms({ port: [80, 443] }), 4, 'either side: twice');
  assert.equal(filterTerms({ net: ['10.0.0.0/8', '192.168.0.0/16'], srcNet: '10.1.0.0/16' }), 5);
  assert.equal(filterTerms({ as: [1, 2, 3], interface: 4, srcAs: 5, tos: [1, 2], recordSource: ['netflow9', 'ipfix'], nextHopNet: ['10.0.0.0/8', '::1'], exporterNet: '10.0.0.1' }), 6 + 2 + 1 + 2 + 2 + 2 + 1, 'router-export keys: either keys twice');
  const cidrs = Array.from({ length: 256 }, (_, i) => `10.${i}.0.0/16`);
  assert.equal(filterTerms({ or: [{ net: cidrs }, { net: cidrs }], not: { bytes: { min: 1 } } }), 1 + 2 * 512 + 1 + 1);
});

test('estimate: a plain scan, a wide filter, a /32 grouping with quantiles; lanes by cost', () => {
  const small = estimateQueryCost(q({ timeRange: { from: '2026-04-01T10:00:00Z', to: '2026-04-01T11:00:00Z' }, groupBy: ['protocol'] }), DATASET, config);
  const rows = Math.ceil(1_000_000 / 24);
  assert.equal(small.rows, rows);
  assert.equal(small.groups, 256);
  assert.equal(small.cost, rows + 256 * 4);
  assert.equal(small.lane, 'cheap');

  const wide = estimateQueryCost(q({ groupBy: [], filter: { net: Array.from({ length: 32 }, (_, i) => `10.${i}.0.0/16`) } }), DATASET, config);
  assert.equal(wide.filterTerms, 64);
  assert.deepEqual(wide.factors, { timeRange: 1_000_000, filter: (1_000_000 * 8) / 2 + 64 * PLAN_COST_PER_TERM, groups: 4, metrics: 0 });
  assert.equal(wide.lane, 'expensive');

  const quantiles = estimateQueryCost(q({ groupBy: [{ column: 'src_addr', prefixV4: 32 }], metrics: ['flows', 'bytes_p50', 'bytes_p95'] }), DATASET, config);
  assert.equal(quantiles.groups, 1_000_000, 'groups are capped by the rows');
  assert.deepEqual(quantiles.factors, { timeRange: 1_000_000, filter: 0, groups: 4_000_000, metrics: 1_000_000 * 1 + 1_000_000 * 20 });

  const series = estimateQueryCost(q({ groupBy: [{ timeBucket: '5m' }, 'protocol'] }), DATASET, config);
  assert.equal(series.groups, 288 * 256);
  const records = estimateQueryCost(q({ limit: 10 }), DATASET, config);
  assert.deepEqual([records.groups, records.cost], [0, 1_000_000]);
});

test('refusal over maxCost names the largest factor; unknown density is expensive but never refused', () => {
  const big: DatasetInfo = { ...DATASET, flows: 100_000_000 };
  const refused = (req: ReturnType<typeof q>, factor: string) =>
    assert.throws(
      () => assertAffordable(estimateQueryCost(req, big, config), config),
      (e: unknown) => {
        assert.ok(e instanceof AppError);
        assert.equal(e.code, 'ERR_QUERY_TOO_EXPENSIVE');
        assert.equal(e.status, 400);
        assert.equal(e.details?.factor, factor);
        assert.equal(e.details?.maxCost, 50_000_000);
        assert.match(e.message, new RegExp(`its ${factor}`));
        return true;
      },
    );
  const cidrs = Array.from({ length: 256 }, (_, i) => `10.${i}.0.0/16`);
  refused(q({ groupBy: [], filter: { or: [{ net: cidrs }, { net: cidrs }] } }), 'filter');
  refused(q({ groupBy: [{ column: 'src_addr', prefixV4: 32 }, 'dst_port'], metrics: ['bytes_p50', 'bytes_p95', 'distinct_dst_addr'] }), 'metrics');
  refused(q({ groupBy: [{ column: 'src_addr', prefixV4: 32 }], metrics: ['flows'] }), 'groups');
  refused(q({ groupBy: [] }), 'timeRange');
  // The same queries over a day of a million flows are affordable.
  assertAffordable(estimateQueryCost(q({ groupBy: [] }), DATASET, config), config);
  assertAffordable(estimateQueryCost(q({ groupBy: [{ column: 'src_addr', prefixV4: 32 }], metrics: ['flows'] }), DATASET, config), config);
  const unknown = estimateQueryCost(q({ groupBy: [{ column: 'src_addr', prefixV4: 32 }] }), { ...DATASET, flows: null }, config);
  assert.deepEqual([unknown.cost, unknown.lane], [null, 'expensive']);
  assertAffordable(unknown, config);
});

test('filter terms cost their planning time even over a range with no rows', () => {
  const empty = { from: '2027-01-01T00:00:00Z', to: '2027-01-02T00:00:00Z' };
  const plain = estimateQueryCost(q({ timeRange: empty }), DATASET, config);
  const wide = estimateQueryCost(q({ timeRange: empty, filter: { or: Array.from({ length: 4 }, () => ({ net: Array(256).fill('10.0.0.0/8') })) } }), DATASET, config);
  assert.equal(plain.rows, 0);
  assert.equal(plain.cost, 0);
  assert.ok(wide.cost! >= 1024 * 4000, `cost ${wide.cost}`);
  assert.equal(wide.lane, 'expensive');
});

test('a filled series costs a row per bucket per combination of the other keys, even with no data', () => {
  // 1 s buckets over a day: 86 400 rows whatever the data; stacked by protocol, each protocol
  // that occurs (≤ 256, ≤ the rows) gets every bucket.
  const series = estimateQueryCost(q({ groupBy: [{ timeBucket: '1s' }], metrics: ['flows'] }), DATASET, config);
  assert.equal(series.groups, 86_400);
  const sparse = { ...DATASET, flows: 10 };
  assert.equal(estimateQueryCost(q({ groupBy: [{ timeBucket: '1s' }], metrics: ['flows'] }), sparse, config).groups, 86_400);
  const stacked = estimateQueryCost(q({ groupBy: [{ timeBucket: '1s' }, 'protocol'], metrics: ['flows'], fill: true }), sparse, config);
  assert.equal(stacked.groups, 86_400 * 10, 'at most one protocol per row: 10 combinations');
  const wide = estimateQueryCost(q({ groupBy: [{ timeBucket: '1s' }, 'protocol'], metrics: ['flows'], fill: true }), DATASET, config);
  assert.equal(wide.groups, 86_400 * 256);
  assert.throws(() => assertAffordable(wide, config), (e: unknown) => e instanceof AppError && (e.details as { factor?: string }).factor === 'groups');
});
