/**
 * Record listings answered with rows rendered by DuckDB (`rowText`, engine/duckdb-row-text-sql.ts)
 * give the same bytes as the cell path through the text encoders, for JSON (arrays and objects),
 * NDJSON and CSV: every column with awkward values (quotes, commas, newlines, non-ASCII, NULLs,
 * a leading byte-order mark), listings in time order across hours, in another order, cut at
 * the limit, and continued from the last sort key — with the same truncation flag and cursor
 * position. Files of an older schema version are answered with cells.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDuckDbEngine } from './duckdb-engine.ts';
import type { DuckDbEngine } from './duckdb-engine.ts';
import { makeArchive } from '../../test/support/make-archive.ts';
import type { FlowRowInput } from '../../test/support/make-archive.ts';
import { planQuery, type QueryPlan } from '../query/plan.ts';
import { QueryRequest } from '../../schemas/query.ts';
import { isTextRows } from '../ports.ts';
import type { Cell, EngineStats, RowTextLayout } from '../ports.ts';
import { csvEncoder, jsonEncoder, ndjsonEncoder } from '../routes/render/text-formats.ts';
import type { TextFormatEncoder } from '../routes/render/text-formats.ts';

let root: string;
let engine: DuckDbEngine;

const NAMES = ['plain.example', 'a,b', 'say "hi"', 'line\nbreak', ' edge ', 'ünïcödé 日本', '\ufeffbom', 'back\\slash', '\u0001ctl', ''];

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'flowseal-row-text-'));
  const archive = join(root, 'archive');
  const at = (h: number, s: number) => new Date(Date.UTC(2026, 2, 10, h, 0, s, s * 7)).toISOString();
  const rows: FlowRowInput[] = [];
  for (const h of [8, 10, 11]) {
    for (let s = 0; s < 9; s++) {
      const k = rows.length;
      rows.push({
        time_start: at(h, s),
        time_end: at(h, s + 1),
        src_addr: k % 2 ? '10.0.0.1' : '2001:db8::1',
        dst_addr: '10.0.0.2',
        dst_port: 443 + (k % 3),
        bytes_fwd: 1000 + ((k * 37) % 11),
        packets_fwd: 2 ** 40 + k,
        vlan_id: k % 3 ? null : k,
        src_mac: k % 4 ? null : '02:00:00:00:00:01',
        dns_qname: NAMES[k % NAMES.length]!,
        http_host: NAMES[(k + 3) % NAMES.length]!,
        end_reason: k % 5 ? 'idle' : 'fin',
        observation_domain: k % 2 ? null : 4_000_000_000,
        record_source: k % 6 ? 'packets' : null,
      });
    }
  }
  await makeArchive(archive, { dataset: 'lab', rows, runId: 'runa' });
  await makeArchive(archive, { dataset: 'old', rows: rows.slice(0, 5), runId: 'runo', schemaVersion: 1, omitColumns: ['record_source', 'exporter_addr', 'exporter_addr_hi', 'exporter_addr_lo'] });
  engine = await createDuckDbEngine({ archiveDir: archive, threads: 1 });
  await engine.listDatasets();
});
after(async () => {
  await engine.close();
  rmSync(root, { recursive: true, force: true });
});

function plan(dataset: string, limit: number, extra: Record<string, unknown> = {}, after?: readonly Cell[]): QueryPlan {
  const req = QueryRequest.parse({ dataset, timeRange: { from: '2026-03-10T08:00:00Z', to: '2026-03-10T12:00:00Z' }, limit, ...extra });
  return planQuery(req, { now: Date.parse('2026-04-01T00:00:00Z'), limits: { maxRecordRows: 1000, maxGroupRows: 1000, minGroupSize: 1, maxTimeRangeDays: 31 }, filter: null, ...(after ? { after: [...after] } : {}) }).plan;
}

type Format = { name: string; layout: RowTextLayout; encoder: (columns: Parameters<typeof csvEncoder>[0]) => TextFormatEncoder };
const FORMATS: Format[] = [
  { name: 'json arrays', layout: 'json-array', encoder: (c) => jsonEncoder(c, 'arrays', 'r') },
  { name: 'json objects', layout: 'json-object', encoder: (c) => jsonEncoder(c, 'objects', 'r') },
  { name: 'ndjson', layout: 'json-object', encoder: (c) => ndjsonEncoder(c) },
  { name: 'csv', layout: 'csv', encoder: (c) => csvEncoder(c) },
];

/** The answer's text through `format`, its stats, and whether the engine rendered the rows. */
async function render(p: QueryPlan, format: Format, rowText: boolean): Promise<{ text: string; stats: EngineStats; rendered: boolean }> {
  const stream = await engine.execute(p, { timeoutMs: 10_000, ...(rowText ? { rowText: format.layout } : {}) });
  const enc = format.encoder(stream.columns);
  let text = enc.start();
  let rendered = false;
  for await (const batch of stream.batches) {
    rendered ||= isTextRows(batch);
    text += enc.batch(batch);
  }
  const stats = stream.stats();
  return { text: text + enc.end({}), stats, rendered };
}

test('every text format: rendered rows give the bytes, truncation and cursor position of the cell path', async () => {
  const plans = [
    plan('lab', 1000),
    plan('lab', 5),
    plan('lab', 9),
    plan('lab', 20),
    plan('lab', 7, { select: ['http_host', 'packets_fwd', 'time_end', 'dns_qname'] }),
    plan('lab', 6, { orderBy: [{ by: 'bytes_fwd', dir: 'desc' }] }),
    plan('lab', 4, { select: ['dns_qname', 'time_start'], orderBy: [{ by: 'dns_qname', dir: 'asc' }] }),
  ];
  for (const format of FORMATS) {
    for (const p of plans) {
      const cells = await render(p, format, false);
      const text = await render(p, format, true);
      assert.equal(cells.rendered, false);
      assert.equal(text.rendered, true, `${format.name}: the engine rendered the rows`);
      assert.equal(text.text, cells.text, `${format.name} limit ${p.limit} select ${p.select.length}`);
      assert.deepEqual(text.stats, cells.stats);
    }
  }
});

test('paging from the last sort key: rendered pages equal cell pages and cover every row once', async () => {
  const json = FORMATS[0]!;
  let after: readonly Cell[] | undefined;
  const pages: string[] = [];
  for (let page = 0; page < 20; page++) {
    const p = plan('lab', 4, {}, after);
    const cells = await render(p, json, false);
    const text = await render(p, json, true);
    assert.equal(text.text, cells.text);
    assert.deepEqual(text.stats, cells.stats);
    pages.push(...(JSON.parse(text.text) as { rows: unknown[] }).rows.map((r) => JSON.stringify(r)));
    if (!text.stats.truncated) break;
    after = text.stats.lastSortKey;
  }
  assert.equal(pages.length, 27);
  assert.equal(new Set(pages).size, 27);
});

test('files of an older schema version are answered with cells, whatever was asked', async () => {
  for (const format of FORMATS) {
    const text = await render(plan('old', 3), format, true);
    assert.equal(text.rendered, false);
    assert.equal(text.text, (await render(plan('old', 3), format, false)).text);
  }
});
