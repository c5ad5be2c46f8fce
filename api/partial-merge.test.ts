/**
 * merge(split(data)) = whole(data), through the real engine: an archive cut into three
 * datasets (as three institutions would hold it) answers partial plans; the merged, finalized
 * answer equals the final answer over everything — counts, sums, minima, maxima, means and
 * rates exactly, distinct counts within 3 standard errors of HyperLogLog (p = 14), quantiles
 * within DDSketch's 1 % relative error of the exact sample quantile — whatever the order the
 * parts are merged in. Groups under the minimum size are withheld in partial answers too.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDuckDbEngine } from './engine/duckdb-engine.ts';
import type { DuckDbEngine } from './engine/duckdb-engine.ts';
import { makeArchive } from '../test/support/make-archive.ts';
import type { FlowRowInput } from '../test/support/make-archive.ts';
import { PLAN_VERSION } from './query/plan.ts';
import type { QueryPlan } from './query/plan.ts';
import { mergePartialAnswers } from './query/partial-answer.ts';
import { METRIC_STATES } from './query/metric-states.ts';
import { METRICS } from '../schemas/query.ts';
import { batchCells } from './ports.ts';
import type { Cell } from './ports.ts';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}
const rnd = lcg(99);
const T0 = Date.parse('2026-04-02T00:00:00Z');
const ROWS: FlowRowInput[] = Array.from({ length: 6000 }, (_, i) => {
  const t = T0 + Math.floor(rnd() * 4 * 3_600_000);
  return {
    time_start: new Date(t).toISOString(),
    time_end: new Date(t + Math.floor(rnd() * 3) * Math.floor(rnd() * 20_000)).toISOString(),
    protocol: rnd() < 0.7 ? 6 : 17,
    src_addr: `10.${Math.floor(rnd() * 4)}.${Math.floor(rnd() * 250)}.${Math.floor(rnd() * 250)}`,
    dst_addr: `192.0.2.${Math.floor(rnd() * 40)}`,
    src_port: 1024 + Math.floor(rnd() * 60000),
    dst_port: [80, 443, 53, 22][Math.floor(rnd() ** 2 * 4)]!,
    packets_fwd: 1 + Math.floor(rnd() ** 3 * 5000),
    bytes_fwd: 40 + Math.floor(rnd() ** 3 * 5_000_000),
    packets_rev: Math.floor(rnd() * 100),
    bytes_rev: Math.floor(rnd() * 100_000),
    // one rare protocol: groups under the minimum size
    ...(i % 1500 === 0 ? { protocol: 47 } : {}),
  };
});

let dir: string;
let engine: DuckDbEngine;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flowseal-partial-'));
  await makeArchive(dir, { dataset: 'whole', rows: ROWS });
  // Uneven, interleaved parts.
  const parts: FlowRowInput[][] = [[], [], []];
  ROWS.forEach((r, i) => parts[i % 7 < 4 ? 0 : i % 7 < 6 ? 1 : 2]!.push(r));
  for (const [i, rows] of parts.entries()) await makeArchive(dir, { dataset: `part${i}`, rows, runId: `p${i}` });
  engine = await createDuckDbEngine({ archiveDir: dir, threads: 1, memoryLimit: '512MB' });
  await engine.listDatasets();
});
after(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

const METRIC_LIST = ['flows', 'bytes', 'packets_fwd', 'bytes_min', 'bytes_max', 'bytes_avg', 'duration_max', 'duration_avg', 'bps', 'pps', 'bpp', 'distinct_src_addr', 'distinct_dst_addr', 'bytes_p50', 'bytes_p95', 'duration_p99', 'packets_p50'];

function plan(dataset: string, mode: 'final' | 'partial', groupBy: QueryPlan['groupBy'], minGroupSize = 1): QueryPlan {
  return {
    version: PLAN_VERSION, dataset, fromMs: T0, toMs: T0 + 4 * 3_600_000, filter: null, restriction: null, kind: 'aggregate',
    select: [], groupBy, metrics: METRIC_LIST, order: [], limit: 10_000, minGroupSize, other: false, fill: mode === 'final' ? false : false, having: {}, after: null, mode,
  };
}

async function answer(p: QueryPlan): Promise<{ columns: { name: string; type: string }[]; rows: Cell[][]; suppressed: number | undefined }> {
  const s = await engine.execute(p, { timeoutMs: 30_000 });
  const rows: Cell[][] = [];
  for await (const b of s.batches) for (const r of batchCells(b)) rows.push([...r]);
  return { columns: [...s.columns], rows, suppressed: s.stats().suppressedGroups };
}

/** The sorted per-flow values of a quantile metric in one group, computed here from the rows. */
function groupValues(groupBy: readonly unknown[], keys: readonly Cell[], metric: string): number[] {
  const value = (r: FlowRowInput): number => {
    if (metric.startsWith('bytes')) return (r.bytes_fwd ?? 0) + (r.bytes_rev ?? 0);
    if (metric.startsWith('packets')) return (r.packets_fwd ?? 0) + (r.packets_rev ?? 0);
    return Date.parse(r.time_end!) - Date.parse(r.time_start!);
  };
  const keyOf = (r: FlowRowInput): Cell[] =>
    groupBy.map((g) => {
      if (g === 'protocol') return r.protocol ?? null;
      if (g === 'dst_port') return r.dst_port ?? null;
      if (typeof g === 'object' && g !== null && 'timeBucket' in g) return `${new Date(Math.floor(Date.parse(r.time_start!) / 3_600_000) * 3_600_000).toISOString().slice(0, -1)}000Z`;
      return `${r.src_addr!.split('.')[0]}.0.0.0/8`;
    });
  const want = JSON.stringify(keys);
  return ROWS.filter((r) => JSON.stringify(keyOf(r)) === want).map(value).sort((a, b) => a - b);
}

test('every metric has a mergeable state', () => {
  assert.deepEqual(Object.keys(METRIC_STATES).sort(), Object.keys(METRICS).sort());
});

for (const [label, groupBy] of [
  ['a total', []],
  ['by protocol and dst_port', ['protocol', 'dst_port']],
  ['by hour and /8 source prefix', [{ timeBucket: '1h' }, { column: 'src_addr', prefixV4: 8, prefixV6: 32 }]],
] as const) {
  test(`merge(split) = whole: ${label}`, async () => {
    const keyCount = groupBy.length;
    const whole = await answer(plan('whole', 'final', [...groupBy]));
    const parts = await Promise.all([0, 1, 2].map((i) => answer(plan(`part${i}`, 'partial', [...groupBy]))));
    assert.ok(parts.every((p) => p.columns.slice(keyCount).every((c) => c.type.startsWith('STATE:'))));
    const merged = mergePartialAnswers(METRIC_LIST, keyCount, parts);
    const reversed = mergePartialAnswers(METRIC_LIST, keyCount, [...parts].reverse());
    assert.deepEqual(reversed, merged, 'merge order does not matter');
    const byKey = new Map(merged.map((m) => [JSON.stringify(m.keys), m.values]));
    assert.equal(byKey.size, whole.rows.length);
    for (const row of whole.rows) {
      const got = byKey.get(JSON.stringify(row.slice(0, keyCount)));
      assert.ok(got, `group ${JSON.stringify(row.slice(0, keyCount))} merged`);
      METRIC_LIST.forEach((m, i) => {
        const want = row[keyCount + i];
        const have = got[i];
        if (want === null || have === null) return assert.equal(have, want, m);
        const w = Number(want);
        const h = Number(have);
        const kind = METRIC_STATES[m]!.kind;
        if (kind === 'distinct') {
          const sigma = 1.04 / Math.sqrt(2 ** 14);
          assert.ok(Math.abs(h - w) <= Math.max(1, 3 * sigma * w), `${m}: ${h} vs exact ${w}`);
        } else if (kind === 'quantile') {
          // DDSketch estimates the sample of rank max(0, ⌈q·n⌉ − 1) within 1 %; the final answer
          // interpolates (quantile_cont) between the samples of ranks ⌊q·(n−1)⌋ and ⌈q·(n−1)⌉.
          // Both lie between the samples of ranks ⌊q·(n−1)⌋ and ⌈q·n⌉ − 1 (or the reverse).
          const values = groupValues(groupBy, row.slice(0, keyCount), m);
          const q = Number(m.slice(-2)) / 100;
          const n = values.length;
          const ranks = [Math.floor(q * (n - 1)), Math.ceil(q * (n - 1)), Math.max(0, Math.ceil(q * n) - 1)];
          const lo = Math.min(...ranks.map((r) => values[r]!));
          const hi = Math.max(...ranks.map((r) => values[r]!));
          assert.ok(h >= lo * 0.99 - 1e-9 && h <= hi * 1.01 + 1e-9, `${m}: ${h} outside [${lo}, ${hi}] ±1 % (final ${w})`);
        } else if (kind === 'avg' || kind === 'ratio') {
          assert.ok(Math.abs(h - w) <= 1e-9 * Math.max(1, Math.abs(w)), `${m}: ${h} vs ${w}`);
        } else {
          assert.equal(String(have), String(want), m);
        }
      });
    }
  });
}

test('partial answers withhold groups under the minimum size and refuse order, other, fill and having', async () => {
  const p = await answer(plan('whole', 'partial', ['protocol'], 10));
  const protos = p.rows.map((r) => r[0]);
  assert.ok(!protos.includes(47), 'the rare protocol is withheld');
  assert.equal(p.suppressed, 0, 'one withheld group (fewer than the minimum) is reported as 0');
  await assert.rejects(engine.execute({ ...plan('whole', 'partial', ['protocol']), other: true }, { timeoutMs: 5000 }), /partial answers/);
});
