/**
 * Property tests for "user input never becomes SQL text": for `POST /v1/query` bodies and the
 * convenience GETs, two requests of the same shape (query-shape.test-util.ts) compile to the
 * same SQL text — only the bound parameters differ — the text is made of the compiler's fixed
 * vocabulary alone, and no value string (time, CIDR, glob, ignored parameter) appears in it.
 * Values the schema rejects, and injection strings in enum or pattern fields, are refused
 * before any statement reaches the engine. Run against the compiler directly and through the
 * real routes (api/routes/query.ts) with an engine that only records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { GROUP_COLUMNS, RECORD_COLUMNS } from '../../schemas/query.ts';
import { parseQueryRequest } from '../routes/execute-query.ts';
import { parseFilterExpression } from './nfdump-filter.ts';
import {
  BUCKETS, INJECTION, METRIC_NAMES, assertFixedVocabulary, bodyValue, compileBody, datasetValue, filterShape, filterValue,
  globValue, isFixedWord, limitsValue, queryShape, routeHarness, timeRangeValue, valueStrings,
} from './query-shape.test-util.ts';
import type { CompiledSql, FilterShape } from './query-shape.test-util.ts';

const RUNS = { numRuns: 200 };

/**
 * Same text; parameters differ only in value (same count, same JS type → same DuckDB type).
 * Statements over different file-source forms (the range covering a file's hour whole or not)
 * are not comparable: the case is discarded, and each form is still checked for value text.
 */
function assertSameShape(a: CompiledSql, b: CompiledSql): void {
  fc.pre(a.fileForm === b.fileForm);
  assert.equal(a.sql, b.sql);
  assert.deepEqual(a.params.map((v) => typeof v), b.params.map((v) => typeof v));
}

function assertNoValueText(c: CompiledSql, values: readonly string[]): void {
  assertFixedVocabulary(c);
  // A bound string that is itself a word of the fixed vocabulary (the record source `packets`,
  // a metric name too) says nothing by appearing in the text: assertFixedVocabulary covers it.
  for (const v of [...values, ...c.params.filter((p): p is string => typeof p === 'string' && !isFixedWord(p))]) {
    assert.ok(!c.sql.includes(v), `value ${JSON.stringify(v)} appears in SQL text`);
  }
}

/** Size caps out of the way: the shape property is about compilation, not refusal. */
const BIG = { maxFilterNodes: 100_000, maxFilterTerms: 100_000 };
const instance = fc.record({ limits: limitsValue, files: fc.array(globValue, { minLength: 1, maxLength: 3 }) });

test('POST body: SQL text depends only on the shape; times, CIDRs, ports, limits, prefixes and the file list are bound', () => {
  const cases = queryShape.chain((s) => fc.tuple(bodyValue(s), instance, bodyValue(s), instance));
  fc.assert(fc.property(cases, ([bodyA, a, bodyB, b]) => {
    const ca = compileBody(bodyA, a.limits, a.files);
    const cb = compileBody(bodyB, b.limits, b.files);
    assertSameShape(ca, cb);
    assertNoValueText(ca, [...valueStrings(bodyA), ...a.files]);
    assertNoValueText(cb, [...valueStrings(bodyB), ...b.files]);
  }), RUNS);
});

test('POST /v1/query through the route: the statement the engine receives depends only on the shape', async () => {
  const h = routeHarness();
  const cases = queryShape.chain((s) => fc.tuple(bodyValue(s), bodyValue(s)));
  await fc.assert(fc.asyncProperty(cases, async ([bodyA, bodyB]) => {
    h.runs.length = 0;
    for (const body of [bodyA, bodyB]) {
      const r = await h.call('/v1/query', body);
      assert.equal(h.runs.length, body === bodyA ? 1 : 2, r.text);
    }
    assertSameShape(h.runs[0], h.runs[1]);
    assertNoValueText(h.runs[0], [...valueStrings(bodyA), ...h.globs]);
  }), { numRuns: 60 });
});

type GetShape =
  | { endpoint: 'records'; filter: FilterShape | undefined }
  | { endpoint: 'top'; by: string; metric: string; filter: FilterShape | undefined }
  | { endpoint: 'timeseries'; bucket: string; metric: string; filter: FilterShape | undefined };

const getFilter = fc.option(filterShape(2), { nil: undefined });
const getShape: fc.Arbitrary<GetShape> = fc.oneof(
  fc.record({ endpoint: fc.constant('records' as const), filter: getFilter }),
  fc.record({ endpoint: fc.constant('top' as const), by: fc.constantFrom(...GROUP_COLUMNS), metric: fc.constantFrom(...METRIC_NAMES), filter: getFilter })
    .filter((s) => s.by !== s.metric),
  fc.record({ endpoint: fc.constant('timeseries' as const), bucket: fc.constantFrom(...BUCKETS), metric: fc.constantFrom(...METRIC_NAMES), filter: getFilter }),
);

/** A GET URL of shape `s`; defaults (`by=dst_port`, `metric=flows`, `bucket=1h`) may be left out. */
function getUrl(s: GetShape): fc.Arbitrary<{ url: string; values: string[] }> {
  return fc.record({
    dataset: datasetValue,
    timeRange: timeRangeValue,
    filter: s.filter ? filterValue(s.filter) : fc.constant(undefined),
    count: fc.option(fc.tuple(fc.integer({ min: 1, max: 1_000_000 }), fc.nat({ max: 2 })), { nil: undefined }),
    omit: fc.boolean(),
  }).map(({ dataset, timeRange, filter, count, omit }) => {
    // Unknown parameters are refused (with a did-you-mean): get-params.test.ts covers that.
    const q = new URLSearchParams({ from: timeRange.from, to: timeRange.to });
    if (filter) q.set('filter', JSON.stringify(filter));
    const digits = count && String(count[0]).padStart(Math.min(9, String(count[0]).length + count[1]), '0');
    if (s.endpoint === 'records' && digits) q.set('limit', digits);
    if (s.endpoint === 'top') {
      if (digits) q.set('n', digits);
      if (!(omit && s.by === 'dst_port')) q.set('by', s.by);
    }
    if (s.endpoint === 'timeseries' && !(omit && s.bucket === '1h')) q.set('bucket', s.bucket);
    if (s.endpoint !== 'records' && !(omit && s.metric === 'flows')) q.set('metric', s.metric);
    return { url: `/v1/datasets/${dataset}/${s.endpoint}?${q}`, values: valueStrings({ timeRange, filter }) };
  });
}

test('GET records/top/timeseries: from, to, filter, limit, n, by, metric and bucket become the same SQL per shape', async () => {
  const h = routeHarness();
  await fc.assert(fc.asyncProperty(getShape.chain((s) => fc.tuple(getUrl(s), getUrl(s))), async ([a, b]) => {
    h.runs.length = 0;
    for (const { url } of [a, b]) {
      const r = await h.call(url);
      assert.ok(h.runs.length > 0 && r.status === 504, `${url} → ${r.status} ${r.text}`);
    }
    assert.equal(h.runs.length, 2);
    assertSameShape(h.runs[0], h.runs[1]);
    assertNoValueText(h.runs[0], [...a.values, ...h.globs]);
  }), { numRuns: 100 });
});

test('orderBy.by: an identifier the schema allows but the output lacks is refused before SQL, without echoing it', async () => {
  const outputs = new Set([...RECORD_COLUMNS, ...METRIC_NAMES, 'src_net', 'dst_net', 'time_bucket']);
  const by = fc.stringMatching(/^[a-z][a-z0-9_]{0,39}$/).filter((x) => !outputs.has(x) && x.length > 3);
  const h = routeHarness();
  await fc.assert(fc.asyncProperty(queryShape.chain((s) => bodyValue(s)), by, async (body, name) => {
    const bad = { ...body, orderBy: [{ by: name }] };
    assert.throws(() => compileBody(bad, { recordRows: 10, groupRows: 10, minGroupSize: 1, maxTimeRangeDays: 31, maxFilterNodes: 1e5 }, ['/g']),
      (e: unknown) => e instanceof AppError && e.code === ErrorCode.QueryInvalid && !e.message.includes(name));
    const r = await h.call('/v1/query', bad);
    assert.equal(r.status, 400);
    assert.ok(!r.text.includes(name));
    assert.equal(h.runs.length, 0);
  }), { numRuns: 50 });
});

test('GET top: by and metric naming the same column is refused before SQL', async () => {
  const h = routeHarness();
  for (const name of ['packets_fwd', 'packets_rev', 'bytes_fwd', 'bytes_rev']) {
    const r = await h.call(`/v1/datasets/lab/top?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&by=${name}&metric=${name}`);
    assert.equal(r.status, 400, r.text);
  }
  assert.equal(h.runs.length, 0);
});

// ---- rejected values ----
const INJECTIONS = [INJECTION, '1 OR 1=1', 'protocol); DROP TABLE flows; --', "x') UNION SELECT * FROM read_csv('/etc/passwd') --", '$1', 'count(*)', 'flows, (SELECT 1)', "10.0.0.0/8' OR '1'='1", 'asc NULLS FIRST', '1h\'', ' flows', 'desc\u0000'];
/** Strings no pattern or enum field accepts: each carries a quote, space, `;`, `)` or NUL (`--` alone is a valid dataset id). */
const hostile = fc.oneof(
  fc.constantFrom(...INJECTIONS),
  fc.tuple(fc.string({ maxLength: 12 }), fc.constantFrom("'", '"', ';', ' ', ')', '\u0000'), fc.string({ maxLength: 12 })).map((p) => p.join('')),
);
/** Plausible names outside the allow-lists (internal columns, other cases, expressions). */
const nearMiss = (allowed: readonly string[]) =>
  // GET lists are trimmed per item (`metric=flows, bytes`): a padded allowed name is allowed.
  fc.oneof(hostile.filter((x) => !x.split(',').every((p) => allowed.includes(p.trim()))), fc.constantFrom('src_addr_hi', 'dst_addr_lo', 'FLOWS', 'Bytes', 'time_start', 'date', 'hour', '*', 'count', '1H', '2h', 'src_net').filter((x) => !allowed.includes(x)));
/** Text that is no filter expression (`#…` is an nfdump comment: the empty filter, valid). */
function notAFilter(text: string): boolean {
  try {
    parseFilterExpression(text);
    return false;
  } catch {
    return true;
  }
}
/** Out of range, fractional, or not numbers at all. */
const badInt = (min: number, max: number) =>
  fc.oneof(
    fc.double({ min: max + 1, max: max + 2 ** 60, noNaN: true }),
    fc.double({ min: min - 2 ** 60, max: min - 1, noNaN: true }),
    fc.double({ min: min - 1, max: max + 1, noNaN: true }).filter((x) => !Number.isInteger(x)),
    hostile,
    fc.constantFrom('80', null, true, ['1'], { min: 1 }),
  );

type Corrupt = (body: Record<string, unknown>) => Record<string, unknown>;
const inFilter = (key: string, v: unknown): Corrupt => (b) => ({ ...b, filter: { ...(b.filter as object | undefined), [key]: v } });
interface Corruption { readonly what: string; readonly apply: Corrupt; readonly echoOk: boolean }
const corrupt = (what: string, v: unknown, apply: Corrupt, echoOk = false): Corruption => ({ what: `${what} = ${JSON.stringify(v)}`, apply, echoOk });
const corruption: fc.Arbitrary<Corruption> = fc.oneof(
  hostile.map((v) => corrupt('dataset', v, (b) => ({ ...b, dataset: v }))),
  fc.tuple(fc.constantFrom('from', 'to'), fc.oneof(hostile, fc.constantFrom('2026-01-01', '2026-01-01T00:00Z', '2026-01-01 00:00:00Z', 'Now', '-1y', '-0h', 'now-1h')))
    .map(([k, v]) => corrupt(`timeRange.${k}`, v, (b) => ({ ...b, timeRange: { ...(b.timeRange as object), [k]: v } }))),
  nearMiss(RECORD_COLUMNS).map((v) => corrupt('select', v, (b) => ({ ...b, select: ['protocol', v] }))),
  nearMiss(GROUP_COLUMNS).map((v) => corrupt('groupBy column', v, (b) => ({ ...b, groupBy: [v] }))),
  nearMiss(['src_addr', 'dst_addr']).map((v) => corrupt('groupBy prefix column', v, (b) => ({ ...b, groupBy: [{ column: v }] }))),
  fc.tuple(fc.constantFrom(['prefixV4', 32] as const, ['prefixV6', 128] as const), fc.constant(null)).chain(([[k, max]]) =>
    badInt(0, max).map((v) => corrupt(`groupBy ${k}`, v, (b: Record<string, unknown>) => ({ ...b, groupBy: [{ column: 'src_addr', [k]: v }] })))),
  nearMiss(BUCKETS).map((v) => corrupt('timeBucket', v, (b) => ({ ...b, groupBy: [{ timeBucket: v }] }))),
  nearMiss(METRIC_NAMES).map((v) => corrupt('metrics', v, (b) => ({ ...b, metrics: ['flows', v] }))),
  nearMiss(['asc', 'desc']).map((v) => corrupt('orderBy.dir', v, (b) => ({ ...b, orderBy: [{ by: 'protocol', dir: v }] }))),
  hostile.map((v) => corrupt('orderBy.by', v, (b) => ({ ...b, orderBy: [{ by: v }] }))),
  fc.tuple(fc.constantFrom('srcNet', 'dstNet', 'net'), hostile, fc.boolean()).map(([k, v, list]) => corrupt(k, v, inFilter(k, list ? ['10.0.0.0/8', v] : v))),
  nearMiss(['idle', 'active', 'fin', 'rst', 'eof']).map((v) => corrupt('endReason', v, inFilter('endReason', [v]))),
  nearMiss(['packets', 'netflow5', 'netflow9', 'ipfix']).map((v) => corrupt('recordSource', v, inFilter('recordSource', [v]))),
  fc.tuple(fc.constantFrom('exporterNet', 'nextHopNet', 'bgpNextHopNet'), hostile).map(([k, v]) => corrupt(k, v, inFilter(k, v))),
  fc.tuple(fc.constantFrom(
    ['protocol', 255] as const, ['srcPort', 65_535] as const, ['dstPort', 65_535] as const, ['port', 65_535] as const, ['vlanId', 65_535] as const,
    ['srcAs', 0xffff_ffff] as const, ['as', 0xffff_ffff] as const, ['interface', 0xffff_ffff] as const, ['tos', 255] as const, ['observationDomain', 0xffff_ffff] as const,
  ), fc.nat({ max: 2 }))
    .chain(([[k, max], form]) => badInt(0, max).map((v) => corrupt(k, v, inFilter(k, [v, [1, v], { min: 0, max: v }][form])))),
  badInt(4, 4).filter((v) => v !== 6).map((v) => corrupt('ipVersion', v, inFilter('ipVersion', v))),
  fc.tuple(fc.constantFrom('bytes', 'packets'), badInt(0, Number.MAX_SAFE_INTEGER)).map(([k, v]) => corrupt(k, v, inFilter(k, { min: v }))),
  hostile.map((v) => corrupt('nested srcNet', v, inFilter('and', [{ not: { srcNet: v } }]))),
  badInt(1, 1_000_000).map((v) => corrupt('limit', v, (b) => ({ ...b, limit: v }))),
  hostile.map((v) => corrupt('unknown filter key', v, inFilter(v, 1))),
  hostile.map((v) => corrupt('unknown body key', v, (b) => ({ ...b, [v]: 1 }))),
);

/** A rejected request's answer repeats none of the (long) injection strings it carried. */
function assertNotEchoed(request: unknown, answer: string, what: string): void {
  const sent = JSON.stringify(request);
  for (const x of INJECTIONS.map((i) => JSON.stringify(i).slice(1, -1)).filter((i) => i.length >= 8 && sent.includes(i))) {
    assert.ok(!answer.includes(x), `${what}: answer echoes ${x}`);
  }
}

test('POST: values the schema rejects (injections in enum, pattern and number fields) never reach the compiler', async () => {
  const h = routeHarness();
  await fc.assert(fc.asyncProperty(queryShape.chain((s) => bodyValue(s)), corruption, async (body, c) => {
    const bad = c.apply(body);
    assert.throws(() => parseQueryRequest(bad, BIG), (e: unknown) => e instanceof AppError && e.code === ErrorCode.QueryInvalid, c.what);
    const r = await h.call('/v1/query', bad);
    assert.equal(r.status, 400, `${c.what}: ${r.text}`);
    assert.equal(h.runs.length, 0, c.what);
    if (!c.echoOk) assertNotEchoed(bad, r.text, c.what);
  }), RUNS);
});

test('GET: by, metric, bucket, from, to, n, limit and filter values outside the schema never reach the compiler', async () => {
  const h = routeHarness();
  const badCount = fc.oneof(fc.constantFrom('0', '1000001', '999999999', '-1', '1e3', '0x10', ' 5', '5 ', '10; DROP', '1.5', '1234567890'), hostile);
  const param: fc.Arbitrary<[string, string, string]> = fc.oneof(
    // `src_net` alone is a valid GET form (a /24 or /48 prefix group).
    nearMiss([...GROUP_COLUMNS, 'src_net']).map((v): [string, string, string] => ['top', 'by', v]),
    nearMiss(METRIC_NAMES).chain((v) => fc.constantFrom<[string, string, string]>(['top', 'metric', v], ['timeseries', 'metric', v])),
    nearMiss(BUCKETS).map((v): [string, string, string] => ['timeseries', 'bucket', v]),
    fc.tuple(fc.constantFrom('records', 'top', 'timeseries'), fc.constantFrom('from', 'to'), hostile),
    badCount.map((v): [string, string, string] => ['top', 'n', v]),
    badCount.map((v): [string, string, string] => ['records', 'limit', v]),
    fc.tuple(fc.constantFrom('records', 'top', 'timeseries'), fc.constant('filter'), fc.oneof(hostile.filter(notAFilter), hostile.map((v) => JSON.stringify({ srcNet: v })), hostile.map((v) => JSON.stringify({ endReason: v })))),
  );
  await fc.assert(fc.asyncProperty(timeRangeValue, param, async (t, [endpoint, key, v]) => {
    h.runs.length = 0;
    const q = new URLSearchParams({ from: t.from, to: t.to });
    q.set(key, v);
    const r = await h.call(`/v1/datasets/lab/${endpoint}?${q}`);
    assert.equal(r.status, 400, `${endpoint} ${key}=${JSON.stringify(v)}: ${r.text}`);
    assert.equal(h.runs.length, 0, `${endpoint} ${key}=${JSON.stringify(v)} reached the engine: ${r.text}`);
  }), RUNS);
});
