/**
 * The convenience GETs' query strings → `POST /v1/query` bodies: exact bodies for each route,
 * strict decoding of integers, booleans and comma lists, errors that name the query-string
 * parameter and its allowed values (taken from the schemas, not from this file), unknown names
 * with a suggestion, and no echo of values or of names that do not look like names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { editDistance, parseRecordsParams, parseTimeseriesParams, parseTopParams, suggestName } from './get-params.ts';
import type { ParamIssue } from './get-params.ts';
import { AppError } from '../../schemas/errors.ts';
import { Metric, QueryRequest, TimeBucket } from '../../schemas/query.ts';
import { GET_QUERY_PARAMS, NET_GROUP_PATTERN } from '../../schemas/http-params.ts';

const FROM = '2026-02-01T00:00:00Z';
const TO = '2026-02-02T00:00:00Z';
const q = (rest: string) => new URLSearchParams(`from=${FROM}&to=${TO}${rest ? `&${rest}` : ''}`);

/** The AppError `fn` throws, checked to be ERR_QUERY_INVALID with issues. */
function invalid(fn: () => unknown): { message: string; issues: ParamIssue[]; details: Record<string, unknown> } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.code, 'ERR_QUERY_INVALID');
    assert.equal(err.status, 400);
    const details = err.details as { issues: ParamIssue[] };
    assert.ok(Array.isArray(details.issues) && details.issues.length > 0);
    return { message: err.message, issues: details.issues, details: err.details! };
  }
  assert.fail('expected ERR_QUERY_INVALID');
}

test('top: by (columns and address prefixes), metric (the first ranks), n, other, filter text kept', () => {
  const body = parseTopParams(q('by=src_net/24,protocol,dst_net/16/64,src_net&metric=bytes,flows&n=5&other=true&filter=proto%20tcp%20and%20not%20net%2010.0.0.0/8&format=csv&shape=objects'), 'lab');
  assert.deepEqual(body, {
    dataset: 'lab',
    timeRange: { from: FROM, to: TO },
    filter: 'proto tcp and not net 10.0.0.0/8',
    groupBy: [{ column: 'src_addr', prefixV4: 24 }, 'protocol', { column: 'dst_addr', prefixV4: 16, prefixV6: 64 }, { column: 'src_addr' }],
    metrics: ['bytes', 'flows'],
    orderBy: [{ by: 'bytes', dir: 'desc' }],
    limit: 5,
    other: true,
  });
});

test('top defaults: dst_port by flows, 10 rows; the body is one POST /v1/query accepts', () => {
  const body = parseTopParams(q(''), 'lab');
  assert.deepEqual(body, { dataset: 'lab', timeRange: { from: FROM, to: TO }, groupBy: ['dst_port'], metrics: ['flows'], orderBy: [{ by: 'flows', dir: 'desc' }], limit: 10 });
  assert.ok(QueryRequest.safeParse(body).success);
  assert.ok(QueryRequest.safeParse(parseTopParams(q('by=src_net/24/48,dst_port&metric=bytes'), 'lab')).success);
});

test('timeseries: the bucket groups first, by stacks after it, time ascending, fill only when given', () => {
  assert.deepEqual(parseTimeseriesParams(q('bucket=5m&metric=flows,bytes&by=protocol,dst_net/24&fill=false'), 'lab'), {
    dataset: 'lab',
    timeRange: { from: FROM, to: TO },
    groupBy: [{ timeBucket: '5m' }, 'protocol', { column: 'dst_addr', prefixV4: 24 }],
    metrics: ['flows', 'bytes'],
    orderBy: [{ by: 'time_bucket', dir: 'asc' }],
    fill: false,
  });
  const plain = parseTimeseriesParams(q(''), 'lab');
  assert.deepEqual(plain.groupBy, [{ timeBucket: '1h' }]);
  assert.ok(!('fill' in plain));
  assert.ok(QueryRequest.safeParse(plain).success);
});

test('records: select, order with - for descending, limit, cursor; no groupBy', () => {
  const body = parseRecordsParams(q('select=time_start,src_addr,dst_port&order=-bytes_fwd,time_start&limit=20&cursor=abc.def'), 'lab');
  assert.deepEqual(body, {
    dataset: 'lab',
    timeRange: { from: FROM, to: TO },
    select: ['time_start', 'src_addr', 'dst_port'],
    orderBy: [{ by: 'bytes_fwd', dir: 'desc' }, { by: 'time_start', dir: 'asc' }],
    limit: 20,
    cursor: 'abc.def',
  });
  assert.ok(!('groupBy' in body));
  const { cursor: _cursor, ...withoutCursor } = body;
  assert.ok(QueryRequest.safeParse(withoutCursor).success);
});

test('lists: spaces trimmed, a repeated list parameter continues it, an empty item is named by position', () => {
  assert.deepEqual(parseTopParams(q('metric=bytes,%20flows&metric=packets'), 'lab').metrics, ['bytes', 'flows', 'packets']);
  const e = invalid(() => parseRecordsParams(q('select=src_addr,,dst_addr'), 'lab'));
  assert.deepEqual(e.issues.map((i) => i.param), ['select']);
  assert.match(e.message, /select item 2 is empty/);
  assert.match(invalid(() => parseTimeseriesParams(q('bucket=1h&bucket=1d'), 'lab')).message, /bucket is given 2 times/);
});

test('integers and booleans are strict: digits only, true/false only', () => {
  for (const n of ['1e3', '+5', '0x10', '5.0', ' 5', 'five', '99999999999999999999']) {
    const e = invalid(() => parseTopParams(new URLSearchParams({ from: FROM, to: TO, n }), 'lab'));
    assert.equal(e.issues[0]!.param, 'n', n);
  }
  assert.match(invalid(() => parseTopParams(q('n=0'), 'lab')).message, /^n must be at least 1$/);
  assert.match(invalid(() => parseRecordsParams(q('limit=-3'), 'lab')).message, /^limit must be at least 1$/);
  for (const v of ['1', 'TRUE', 'yes', 'on']) {
    const e = invalid(() => parseTopParams(new URLSearchParams({ from: FROM, to: TO, other: v }), 'lab'));
    assert.deepEqual(e.issues, [{ param: 'other', message: 'other must be true or false' }], v);
  }
  assert.equal(parseTopParams(q('other=false'), 'lab').other, false);
});

test('enumerations: the message and details name the parameter and every allowed value, from the schemas', () => {
  const bucket = invalid(() => parseTimeseriesParams(q('bucket=2h'), 'lab'));
  assert.equal(bucket.message, `bucket must be one of ${TimeBucket.options.join(', ')}`);
  assert.deepEqual(bucket.issues, [{ param: 'bucket', message: bucket.message, allowed: TimeBucket.options }]);
  assert.ok(!bucket.message.includes('groupBy'));
  const metric = invalid(() => parseTopParams(q('metric=bytes,nope'), 'lab'));
  assert.equal(metric.issues[0]!.param, 'metric');
  assert.equal(metric.message, `metric item 2 must be one of ${Metric.options.join(', ')}`);
  assert.match(invalid(() => parseRecordsParams(q('shape=table'), 'lab')).message, /^shape must be one of arrays, objects$/);
  const by = invalid(() => parseTopParams(q('by=dst_port,src_net/33'), 'lab'));
  assert.match(by.message, /^by item 2 must be a groupable column, or src_net \/ dst_net/);
});

test('several problems are reported together, each under its own parameter', () => {
  const e = invalid(() => parseTopParams(q('n=x&other=1&metric=zzz'), 'lab'));
  assert.deepEqual(e.issues.map((i) => i.param).sort(), ['metric', 'n', 'other']);
});

test('from and to: required, and a time the request schema refuses is named by its parameter', () => {
  const missing = invalid(() => parseTopParams(new URLSearchParams(`from=${FROM}`), 'lab'));
  assert.deepEqual(missing.issues.map((i) => i.param), ['to']);
  assert.match(missing.message, /^to is required: an ISO-8601 time/);
  const bad = invalid(() => parseRecordsParams(new URLSearchParams(`from=yesterday&to=${TO}`), 'lab'));
  assert.deepEqual(bad.issues.map((i) => i.param), ['from']);
  assert.match(bad.message, /^from must be an ISO-8601 time with offset .* or a time relative to the server clock/);
  assert.ok(!bad.message.includes('timeRange'));
});

test('unknown parameters: named with a did-you-mean and the list of known ones; odd names are not echoed', () => {
  const typo = invalid(() => parseTimeseriesParams(q('bukcet=1h'), 'lab'));
  assert.deepEqual(typo.issues, [{ param: 'bukcet', message: 'unknown parameter bukcet (did you mean bucket?)' }]);
  assert.deepEqual(typo.details.known, [...Object.keys(GET_QUERY_PARAMS.timeseries.shape), 'format']);
  assert.match(typo.message, /parameters here: from, to, filter/);
  assert.match(invalid(() => parseTopParams(q('limit=5'), 'lab')).message, /unknown parameter limit \(did you mean n\?\)/);
  assert.match(invalid(() => parseRecordsParams(q('n=5'), 'lab')).message, /unknown parameter n \(did you mean limit\?\)/);
  assert.match(invalid(() => parseTopParams(q('metrics=bytes'), 'lab')).message, /did you mean metric\?/);
  const odd = invalid(() => parseTopParams(q('10.1.2.3=1&2001:db8::1=2'), 'lab'));
  assert.ok(!odd.message.includes('10.1.2.3') && !odd.message.includes('2001:db8'), odd.message);
  assert.deepEqual(odd.issues.map((i) => i.param), ['(unknown)', '(unknown)']);
});

test('values are never echoed in errors (filters and cursors carry addresses)', () => {
  for (const [param, value] of [['n', '10.9.8.7'], ['bucket', '10.9.8.7'], ['by', '10.9.8.7'], ['select', '10.9.8.7'], ['from', '10.9.8.7'], ['other', '10.9.8.7'], ['shape', '10.9.8.7']] as const) {
    const e = invalid(() => (param === 'bucket' ? parseTimeseriesParams : param === 'select' ? parseRecordsParams : parseTopParams)(new URLSearchParams({ from: FROM, to: TO, [param]: value }), 'lab'));
    assert.ok(!JSON.stringify(e).includes('10.9.8.7'), `${param}: ${e.message}`);
  }
  assert.match(invalid(() => parseTopParams(q(`filter=${'x'.repeat(8193)}`), 'lab')).message, /^filter is longer than 8192 characters$/);
});

test('empty values count as absent; format is accepted and left to the renderer', () => {
  const body = parseTopParams(q('n=&filter=&format=xml'), 'lab');
  assert.equal(body.limit, 10);
  assert.ok(!('filter' in body) && !('format' in body));
});

test('by prefix pattern: every IPv4 length 0-32 and IPv6 length 0-128, nothing else', () => {
  fc.assert(fc.property(fc.constantFrom('src', 'dst'), fc.integer({ min: 0, max: 40 }), fc.option(fc.integer({ min: 0, max: 140 })), (side, v4, v6) => {
    const text = `${side}_net/${v4}${v6 === null ? '' : `/${v6}`}`;
    assert.equal(NET_GROUP_PATTERN.test(text), v4 <= 32 && (v6 === null || v6 <= 128), text);
  }));
  assert.ok(!NET_GROUP_PATTERN.test('src_net/024') && !NET_GROUP_PATTERN.test('src_net/') && !NET_GROUP_PATTERN.test('mid_net/8'));
});

test('edit distance counts an adjacent swap as one; suggestions stay close', () => {
  assert.equal(editDistance('bukcet', 'bucket'), 1);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  fc.assert(fc.property(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), (a, b) => editDistance(a, b) === editDistance(b, a) && editDistance(a, b) <= Math.max(a.length, b.length)));
  assert.equal(suggestName('Bucket', ['bucket']), 'bucket');
  assert.equal(suggestName('start', ['from', 'to']), 'from');
  assert.equal(suggestName('zzzzzz', ['from', 'to']), undefined);
  assert.equal(suggestName('x', ['n']), 'n');
});
