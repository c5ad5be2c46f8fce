/**
 * Record listings through the whole app: the route asks the engine for rendered rows in the
 * layout of the negotiated text format (JSON arrays or objects, NDJSON, CSV) and for cells in
 * Arrow and Parquet, and every body and stats header is byte for byte the one an engine
 * answering cells gives — POST and GET, every shape, cut at the limit and paged by cursor.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from './app.ts';
import { createDuckDbEngine } from './engine/duckdb-engine.ts';
import type { DuckDbEngine } from './engine/duckdb-engine.ts';
import { createJoseVerifier } from './auth/jose-verifier.ts';
import { createDevIssuer } from './auth/dev-issuer.ts';
import type { DevIssuer } from './auth/dev-issuer.ts';
import { createMemoryRateLimitStore } from './rate-limit/memory-store.ts';
import { createMemoryAuditSink } from './audit/memory-sink.ts';
import { ApiConfig } from '../schemas/api-config.ts';
import { makeArchive } from '../test/support/make-archive.ts';
import type { FlowRowInput } from '../test/support/make-archive.ts';
import type { QueryEngine, RowTextLayout } from './ports.ts';

let dir: string;
let engine: DuckDbEngine;
let dev: DevIssuer;
const NAMES = ['a.example', 'x,y', 'q"uote', 'new\nline', ' pad ', 'ünï', '\ufeffbom', null];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flowseal-row-text-http-'));
  const rows: FlowRowInput[] = [];
  for (let i = 0; i < 60; i++) {
    rows.push({
      time_start: new Date(Date.UTC(2026, 2, 10, 8 + (i % 3), i, i % 7, i * 13)).toISOString(),
      src_addr: i % 2 ? `10.0.0.${i}` : `2001:db8::${i.toString(16)}`,
      dst_addr: '198.51.100.1',
      dst_port: [80, 443, 53][i % 3]!,
      bytes_fwd: 100 + i,
      packets_fwd: 2 ** 45 + i,
      http_host: NAMES[i % NAMES.length]!,
      vlan_id: i % 4 ? null : i,
    });
  }
  await makeArchive(dir, { dataset: 'lab', rows });
  engine = await createDuckDbEngine({ archiveDir: dir, threads: 1, memoryLimit: '256MB' });
  const files = new Map<string, string>();
  dev = await createDevIssuer({ read: async (n) => files.get(n) ?? null, write: async (n, t) => void files.set(n, t) });
});
after(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

/** An app over `e`; the same cursor key and clock for both apps, so cursors are the same bytes. */
function app(e: QueryEngine) {
  const a = createApp({
    engine: e,
    cursorKey: new Uint8Array(32).fill(7),
    verifier: createJoseVerifier({ issuers: [{ issuer: dev.issuer, audience: dev.audience, algorithms: ['ES256'], jwks: dev.jwks }] }),
    rateLimit: createMemoryRateLimitStore(),
    audit: createMemoryAuditSink(),
    config: ApiConfig.parse({ rateLimit: { burst: 10_000, perMinute: 10_000 }, limits: { minGroupSize: 1 } }),
    logger: { info: () => {}, error: () => {} },
    now: () => Date.parse('2026-04-01T00:00:00Z'),
  });
  return async (path: string, body?: unknown): Promise<{ status: number; body: Buffer; stats: string | null; type: string | null }> => {
    const token = await dev.signToken('alice', ['query', 'records'], 600);
    const res = await a.request(path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()), stats: res.headers.get('Flowseal-Stats'), type: res.headers.get('Content-Type') };
  };
}

/** The engine with every run's `rowText` recorded; `cells` drops it (the cell path). */
function spied(cells: boolean): { engine: QueryEngine; asked: (RowTextLayout | undefined)[] } {
  const asked: (RowTextLayout | undefined)[] = [];
  return {
    asked,
    engine: {
      listDatasets: () => engine.listDatasets(),
      execute: (plan, o) => {
        asked.push(o.rowText);
        const { rowText: _dropped, ...rest } = o;
        return engine.execute(plan, cells ? rest : o);
      },
    },
  };
}

/** Request ids, elapsed times and the record budget differ between two requests. */
function normalized(text: string): string {
  return text
    .replace(/"requestId":"[^"]*"/g, '"requestId":"-"')
    .replace(/"elapsedMs":\d+/g, '"elapsedMs":0')
    .replace(/"recordBudgetRemaining":\d+/g, '"recordBudgetRemaining":0')
    .replace(/"nextCursor":"[^"]*"/g, '"nextCursor":"-"')
    .replace(/flowseal-[A-Za-z0-9._-]+\.(csv|arrows|parquet)/g, 'flowseal-x.$1');
}

const FORMATS: { format: string; layout: RowTextLayout | undefined }[] = [
  { format: 'json', layout: 'json-array' },
  { format: 'json&shape=objects', layout: 'json-object' },
  { format: 'ndjson', layout: 'json-object' },
  { format: 'csv', layout: 'csv' },
  { format: 'arrow', layout: undefined },
  { format: 'parquet', layout: undefined },
];

test('every format: the route asks for the format\'s row layout, and the bodies and stats equal the cell path\'s', async () => {
  const text = spied(false);
  const cells = spied(true);
  const viaText = app(text.engine);
  const viaCells = app(cells.engine);
  const body = { dataset: 'lab', timeRange: { from: '2026-03-10T08:00:00Z', to: '2026-03-10T11:00:00Z' } };
  const requests: [string, unknown, RowTextLayout | undefined][] = [];
  for (const { format, layout } of FORMATS) {
    requests.push([`/v1/query?format=${format}`, { ...body, limit: 25 }, layout]);
    requests.push([`/v1/query?format=${format}`, { ...body, limit: 500, select: ['http_host', 'packets_fwd', 'time_start', 'vlan_id'], orderBy: [{ by: 'http_host', dir: 'desc' }] }, layout]);
    requests.push([`/v1/datasets/lab/records?from=2026-03-10T08:00:00Z&to=2026-03-10T11:00:00Z&limit=7&format=${format}`, undefined, layout]);
  }
  for (const [path, b, want] of requests) {
    text.asked.length = 0;
    const t = await viaText(path, b);
    const c = await viaCells(path, b);
    assert.equal(t.status, 200, t.body.toString().slice(0, 200));
    assert.deepEqual(text.asked, [want], path);
    assert.equal(t.type, c.type);
    if (path.includes('format=parquet') || path.includes('format=arrow')) {
      // Binary bodies carry the request id; both come from cells, so only the sizes are compared.
      assert.equal(t.body.length, c.body.length, path);
    } else {
      assert.equal(normalized(t.body.toString('utf8')), normalized(c.body.toString('utf8')), path);
    }
    assert.equal(normalized(t.stats ?? ''), normalized(c.stats ?? ''), `${path}: stats header`);
  }
});

test('paging by cursor through rendered rows visits the pages the cell path does', async () => {
  const viaText = app(spied(false).engine);
  const viaCells = app(spied(true).engine);
  const first = { dataset: 'lab', timeRange: { from: '2026-03-10T08:00:00Z', to: '2026-03-10T11:00:00Z' }, limit: 9 };
  let t = await viaText('/v1/query', first);
  let c = await viaCells('/v1/query', first);
  let pages = 1;
  for (;;) {
    assert.equal(normalized(t.body.toString()), normalized(c.body.toString()), `page ${pages}`);
    const cursor = (JSON.parse(t.body.toString()) as { stats: { nextCursor?: string } }).stats.nextCursor;
    if (cursor === undefined) break;
    t = await viaText('/v1/query', { ...first, cursor });
    c = await viaCells('/v1/query', { ...first, cursor });
    pages += 1;
  }
  assert.equal(pages, 7);
});
