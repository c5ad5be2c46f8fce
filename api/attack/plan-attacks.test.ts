/**
 * Attack regression tests (branch i7-attack): each test FAILS while the hole it names exists.
 * Over a small real archive, through the whole app (`app.request()`), dev-issuer tokens.
 *
 * 1. stats.suppressedGroups reveals the exact flow count of a sub-minimum group, and is a
 *    1-bit oracle that extracts single-flow values (scope `query` only, no record budget).
 * 2. POST /v1/plan skips the filter limits (maxFilterNodes/maxFilterTerms/depth) that requests get.
 * 3. POST /v1/plan accepts `after` without a cursor: keyset comparisons on `filename` disclose
 *    server paths that cursors are encrypted to hide.
 * 4. A HEAD on a streamed query GET leaks its admission slot (and DuckDB connection) forever.
 * 5. An audit outage during streamed answers leaks their slots forever.
 * 6. A client that stops reading a streamed answer holds its slot past the deadline.
 * 7. POST /v1/plan is rate limited as a cheap request, not as a query.
 * 8. Malformed plans give 500s instead of 400s.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeHarness, makeApp, type Harness } from './harness.test-util.ts';
import { planQuery } from '../query/plan.ts';
import type { QueryPlan } from '../query/plan.ts';
import { QueryRequest } from '../../schemas/query.ts';

const T0 = Date.parse('2026-03-10T08:00:00Z');
const FROM = '2026-03-10T08:00:00Z';
const TO = '2026-03-10T10:00:00Z';
const rows: any[] = [];
for (let i = 0; i < 300; i++) {
  const t = T0 + i * 10_000;
  rows.push({ time_start: new Date(t).toISOString(), time_end: new Date(t + 1000).toISOString(), protocol: 6, src_addr: `10.0.0.${1 + (i % 50)}`, dst_addr: '198.51.100.1', src_port: 40000 + i, dst_port: 443, packets_fwd: 3, bytes_fwd: 100 + i, packets_rev: 2, bytes_rev: 50 });
}
// The target: host 10.9.9.9 made exactly 3 flows (fewer than minGroupSize 5) to port 22.
for (const [k, b] of [[0, 1000], [1, 123_457], [2, 4242]] as const) {
  rows.push({ time_start: new Date(T0 + 777_000 + k * 1000).toISOString(), time_end: new Date(T0 + 778_000 + k * 1000).toISOString(), protocol: 6, src_addr: '10.9.9.9', dst_addr: '198.51.100.7', src_port: 50000 + k, dst_port: 22, packets_fwd: 5, bytes_fwd: b, packets_rev: 0, bytes_rev: 0 });
}

let h: Harness;
before(async () => {
  h = await makeHarness(rows);
});
after(async () => {
  await h.close();
});

const q = (extra: Record<string, unknown>) => ({ dataset: 'lab', timeRange: { from: FROM, to: TO }, ...extra });
const planOf = (extra: Record<string, unknown>): QueryPlan =>
  planQuery(QueryRequest.parse(q(extra)), { now: Date.now(), limits: { maxRecordRows: 1000, maxGroupRows: 10_000, minGroupSize: 5, maxTimeRangeDays: 31 }, filter: null }).plan;
const stable = (stats: Record<string, unknown>) => {
  const { elapsedMs: _e, ...rest } = stats;
  return rest;
};

test('1. a single aggregate answer does not tell a host with 3 flows from a host with none (minGroupSize 5)', async () => {
  const { call } = makeApp(h, { limits: { minGroupSize: 5 } });
  const ask = (host: string) => call('/v1/query', q({ filter: `src host ${host} and dst port 22`, groupBy: ['src_port'], metrics: ['flows'] }), { scopes: ['query'] });
  const three = await ask('10.9.9.9');
  const none = await ask('10.9.9.10');
  assert.equal(three.status, 200, three.text);
  assert.deepEqual(three.json.rows, none.json.rows);
  // Today: suppressedGroups is 3 vs 0 — the exact size of a withheld group, in one answer.
  assert.deepEqual(stable(three.json.stats), stable(none.json.stats), 'stats reveal the withheld group');
});

test('1b. the withheld-group count is not an oracle for one flow\'s byte count', async () => {
  const { call } = makeApp(h, { limits: { minGroupSize: 5 } });
  const ask = (min: number) => call('/v1/query', q({ filter: `src host 10.9.9.9 and bytes >= ${min}`, groupBy: ['src_addr'], metrics: ['flows'] }), { scopes: ['query'] });
  const at = await ask(123_457);
  const above = await ask(123_458);
  assert.deepEqual(stable(at.json.stats), stable(above.json.stats), 'suppressedGroups flips exactly at the flow\'s byte count');
});

test('2. a forwarded plan is held to the same filter limits as a request (terms, nodes, depth)', async () => {
  const { call } = makeApp(h);
  const base = planOf({ groupBy: ['dst_port'], metrics: ['flows'] });
  // 2 048 listed ports (4 096 comparisons): POST /v1/query refuses this (maxFilterTerms 1024).
  const wide = { or: Array.from({ length: 8 }, (_, j) => ({ port: Array.from({ length: 256 }, (_, i) => j * 256 + i) })) };
  const asQuery = await call('/v1/query', q({ groupBy: ['dst_port'], metrics: ['flows'], filter: wide }));
  assert.equal(asQuery.json.error.code, 'ERR_QUERY_FILTER_INVALID');
  const asPlan = await call('/v1/plan', { plan: { ...base, filter: wide } });
  assert.equal(asPlan.json?.error?.code, 'ERR_QUERY_FILTER_INVALID', `plan: ${asPlan.status}`);
  // Nested 7 000 deep: the request path refuses it before zod; the plan path overflows zod's stack (500).
  const deep = JSON.stringify({ plan: { ...base, filter: 'XX' } }).replace('"XX"', '{"not":'.repeat(7000) + '{}' + '}'.repeat(7000));
  const deepPlan = await call('/v1/plan', deep);
  assert.equal(deepPlan.status, 400, deepPlan.text.slice(0, 200));
});

test('3. a forwarded plan cannot compare rows against server file names (after without a cursor)', async () => {
  const { call } = makeApp(h);
  const rec = planOf({ select: ['time_start', 'time_end'], limit: 1 });
  const first = await call('/v1/plan', { plan: rec });
  assert.equal(first.status, 200, first.text);
  const t0 = Date.parse(first.json.rows[0][0]) * 1000;
  const t1 = Date.parse(first.json.rows[0][1]) * 1000;
  const probe = async (name: string) => {
    const r = await call('/v1/plan', { plan: { ...rec, after: [t0, t1, name, -1] } });
    return { status: r.status, rows: r.json?.rows ?? null };
  };
  // The first row's file name is > h.dir and < h.dir + '\uffff' today: the answers differ.
  assert.deepEqual(await probe(`${h.dir}/`), await probe(`${h.dir}/\uffff`), 'the answer depends on the server path');
});

const bigTop = `/v1/datasets/lab/top?from=${FROM}&to=${TO}&by=src_port&n=300`;
const small = q({ groupBy: [], metrics: ['flows'] });
const streaming = { limits: { minGroupSize: 1, streamBufferBytes: 1024, queryTimeoutMs: 1000 } };

test('4. HEAD on a streamed query GET does not keep its admission slot', async () => {
  const { app, call } = makeApp(h, streaming);
  for (const sub of ['m1', 'm2']) {
    const token = await h.dev.signToken(sub, ['query', 'records'], 600);
    const res = await app.request(bigTop, { method: 'HEAD', headers: { Authorization: `Bearer ${token}` } });
    // Refused before admission (a HEAD would run the query and discard the body).
    assert.ok(res.status === 400 || res.status === 405, `HEAD → ${res.status}`);
  }
  await new Promise((r) => setTimeout(r, 1500));
  const v = await call('/v1/query', small, { sub: 'victim' });
  assert.equal(v.status, 200, `after two HEADs: ${v.text.slice(0, 160)}`);
});

test('5. an audit outage during streamed answers does not leak their slots', async () => {
  let fail = true;
  const sink = {
    async write() {
      if (fail) throw new Error('disk full');
    },
  };
  const { call } = makeApp(h, streaming, { audit: sink });
  for (const sub of ['a1', 'a2']) assert.equal((await call(bigTop, undefined, { sub })).status, 503);
  fail = false;
  await new Promise((r) => setTimeout(r, 1500));
  const v = await call('/v1/query', small, { sub: 'victim' });
  assert.equal(v.status, 200, `after the audit recovered: ${v.text.slice(0, 160)}`);
});

test('6. a client that stops reading a streamed answer gives its slot back at the deadline', async () => {
  const { raw, call } = makeApp(h, streaming);
  const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
  try {
    for (const sub of ['s1', 's2']) {
      const res = await raw(bigTop, undefined, { sub });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      await reader.read();
      readers.push(reader);
    }
    await new Promise((r) => setTimeout(r, 2500));
    const v = await call('/v1/query', small, { sub: 'victim' });
    assert.equal(v.status, 200, `two idle readers, 2.5 s after a 1 s deadline: ${v.text.slice(0, 160)}`);
  } finally {
    for (const r of readers) await r.cancel().catch(() => undefined);
  }
});

test('7. POST /v1/plan costs a query\'s rate-limit tokens', async () => {
  const { call } = makeApp(h);
  const a = await call('/v1/plan', { plan: planOf({ groupBy: [], metrics: ['flows'] }) });
  const b = await call('/v1/query', small);
  assert.equal(Number(a.headers.get('RateLimit-Limit')) - Number(a.headers.get('RateLimit-Remaining')), 2, 'plan');
  assert.equal(Number(a.headers.get('RateLimit-Remaining')) - Number(b.headers.get('RateLimit-Remaining')), 2, 'query');
});

test('8. malformed plans are 400s, not 500s', async () => {
  const { call } = makeApp(h);
  const agg = planOf({ groupBy: ['dst_port'], metrics: ['flows'] });
  const cases: Record<string, unknown> = {
    otherWithoutKeys: { ...agg, groupBy: [], other: true },
    afterOfWrongTypes: { ...planOf({ select: ['time_start'] }), after: ['x', 'y', 1, 'z'] },
    timeOutOfRange: { ...agg, fromMs: 8.64e15 + 1, toMs: 8.64e15 + 2 },
  };
  for (const [name, plan] of Object.entries(cases)) {
    const r = await call('/v1/plan', { plan });
    assert.equal(r.status, 400, `${name}: ${r.text.slice(0, 160)}`);
  }
});
