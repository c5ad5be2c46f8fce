import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRequest, orderItems, runQuery, statItem } from './query.ts';
import type { QueryIo } from './query.ts';
import { renderApiError, renderCsv, renderTable } from './query-output.ts';
import { FlowsealApiError } from '../client/index.ts';

test('-s items: columns pass through, src_net/dst_net (and src_addr/N) become prefixes', () => {
  assert.equal(statItem('dst_port'), 'dst_port');
  assert.equal(statItem('src_addr'), 'src_addr');
  assert.deepEqual(statItem('src_net'), { column: 'src_addr' });
  assert.deepEqual(statItem('src_net/24'), { column: 'src_addr', prefixV4: 24 });
  assert.deepEqual(statItem('dst_net/16/48'), { column: 'dst_addr', prefixV4: 16, prefixV6: 48 });
  assert.deepEqual(statItem('dst_addr/8'), { column: 'dst_addr', prefixV4: 8 });
  assert.throws(() => statItem('src_net/33'), /IPv4 prefix length of src_net must be 0-32/);
  assert.throws(() => statItem('src_net/24/129'), /IPv6 prefix length/);
});

test('--order: a leading - is descending', () => {
  assert.deepEqual(orderItems('-bytes,time_start,+dst_port'), [
    { by: 'bytes', dir: 'desc' },
    { by: 'time_start', dir: 'asc' },
    { by: 'dst_port', dir: 'asc' },
  ]);
});

test('buildRequest: a top-N orders by the first metric and defaults to 10 rows', () => {
  const { request, records } = buildRequest({ dataset: 'demo', stat: 'dst_port,src_net/24', metric: 'bytes,flows', other: true, filter: 'proto tcp' });
  assert.equal(records, false);
  assert.deepEqual(request, {
    dataset: 'demo',
    timeRange: { from: '', to: '' },
    filter: 'proto tcp',
    groupBy: ['dst_port', { column: 'src_addr', prefixV4: 24 }],
    metrics: ['bytes', 'flows'],
    orderBy: [{ by: 'bytes', dir: 'desc' }],
    limit: 10,
    other: true,
  });
});

test('buildRequest: a bucket is a time series in time order; no -s and no bucket is one total', () => {
  assert.deepEqual(buildRequest({ dataset: 'd', bucket: '1h' }).request.groupBy, [{ timeBucket: '1h' }]);
  assert.deepEqual(buildRequest({ dataset: 'd', bucket: '1h' }).request.orderBy, [{ by: 'time_bucket', dir: 'asc' }]);
  assert.equal(buildRequest({ dataset: 'd', bucket: '1h' }).request.limit, undefined);
  const total = buildRequest({ dataset: 'd' }).request;
  assert.deepEqual(total.groupBy, []);
  assert.equal(total.orderBy, undefined);
});

test('buildRequest: JSON filters, records listings and the combinations refused', () => {
  assert.deepEqual(buildRequest({ dataset: 'd', filter: '{"protocol":"tcp"}' }).request.filter, { protocol: 'tcp' });
  assert.throws(() => buildRequest({ dataset: 'd', filter: '{nope' }), /--filter starts with \{ but is not valid JSON/);
  const rec = buildRequest({ dataset: 'd', records: true, select: 'time_start,bytes_fwd', order: '-bytes_fwd' });
  assert.equal(rec.records, true);
  assert.equal(rec.maxRows, 1000);
  assert.equal(rec.request.groupBy, undefined, 'no groupBy: a listing');
  assert.deepEqual(rec.request.select, ['time_start', 'bytes_fwd']);
  assert.equal(buildRequest({ dataset: 'd', records: true, limit: '25' }).maxRows, 25);
  assert.throws(() => buildRequest({}), /--dataset is required/);
  assert.throws(() => buildRequest({ dataset: 'd', records: true, stat: 'dst_port' }), /--stat aggregates: it cannot be combined with --records/);
  assert.throws(() => buildRequest({ dataset: 'd', select: 'bytes_fwd' }), /--select .* with --records/);
  assert.throws(() => buildRequest({ dataset: 'd', other: true }), /--other needs --stat/);
  assert.throws(() => buildRequest({ dataset: 'd', limit: '0' }), /--limit must be a positive integer/);
  assert.throws(() => buildRequest({ dataset: 'd', stat: 'a,,b' }), /--stat: empty item/);
});

function io(over: Partial<QueryIo> = {}): QueryIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    write: async (c) => void out.push(typeof c === 'string' ? c : new TextDecoder().decode(c)),
    error: (t) => void err.push(t),
    stdoutIsTty: false,
    env: {},
    readFile: async () => 'tok',
    fetch: async () => {
      throw new Error('no request expected');
    },
    ...over,
  };
}

test('arrow and parquet are never written to a terminal (exit 2 before any request)', async () => {
  for (const output of ['arrow', 'parquet']) {
    const t = io({ stdoutIsTty: true });
    await assert.rejects(runQuery({ dataset: 'd', output }, t), (e: Error & { code?: string }) => e.code === 'ERR_BAD_REQUEST' && new RegExp(`refusing to write binary ${output} output to a terminal`).test(e.message));
  }
  await assert.rejects(runQuery({ dataset: 'd', output: 'tabel' }, io()), /--output must be one of .*; did you mean table\?/);
});

test('a 4xx answer exits 2 and a 5xx exits 1, printed as error CODE: message', async () => {
  const answer = (status: number, code: string) => async () => new Response(JSON.stringify({ error: { code, message: `m ${status}`, requestId: 'r9' } }), { status });
  const bad = io({ fetch: answer(404, 'ERR_DATASET_NOT_FOUND') });
  assert.equal(await runQuery({ dataset: 'd', from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' }, bad), 2);
  assert.match(bad.err.join(''), /^error ERR_DATASET_NOT_FOUND: m 404\n  \(request r9\)\n$/);
  const down = io({ fetch: answer(500, 'ERR_INTERNAL') });
  assert.equal(await runQuery({ dataset: 'd', from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' }, down), 1);
});

test('the token goes only into the Authorization header; file beats variable', async () => {
  const seen: Headers[] = [];
  const t = io({
    env: { FLOWSEAL_TOKEN: 'from-env' },
    readFile: async () => '  from-file\n',
    fetch: async (_u, init) => {
      seen.push(new Headers(init.headers));
      return new Response(JSON.stringify({ error: { code: 'ERR_AUTH_INVALID', message: 'invalid bearer token', requestId: 'r' } }), { status: 401 });
    },
  });
  assert.equal(await runQuery({ dataset: 'd', from: 'now', 'token-file': 'tok.txt' }, t), 2);
  assert.equal(seen[0]!.get('Authorization'), 'Bearer from-file');
  assert.ok(!t.err.join('').includes('from-file') && !t.out.join('').includes('from-file'));
  const env = io({ env: { FLOWSEAL_TOKEN: 'from-env' }, fetch: async (_u, init) => (seen.push(new Headers(init.headers)), new Response('{}', { status: 401 })) });
  await runQuery({ dataset: 'd', from: 'now' }, env);
  assert.equal(seen[1]!.get('Authorization'), 'Bearer from-env');
  await assert.rejects(runQuery({ dataset: 'd', token: 'a', 'token-file': 'b' }, io()), /give --token or --token-file, not both/);
});

test('a filter syntax error shows the filter with a caret at details.position', () => {
  const e = new FlowsealApiError({ code: 'ERR_QUERY_FILTER_SYNTAX', status: 400, message: 'unexpected word at position 18', details: { position: 18, expected: ['a port number', '('] }, requestId: 'abc' });
  assert.equal(
    renderApiError(e, 'proto tcp and dst prot 443'),
    ['error ERR_QUERY_FILTER_SYNTAX: unexpected word at position 18', '  proto tcp and dst prot 443', `  ${' '.repeat(18)}^`, '  expected: a port number, (', '  (request abc)', ''].join('\n'),
  );
  const noPos = new FlowsealApiError({ code: 'ERR_QUERY_FILTER_SYNTAX', status: 400, message: 'x' });
  assert.equal(renderApiError(noPos, 'proto tcp'), 'error ERR_QUERY_FILTER_SYNTAX: x\n');
});

test('table: columns aligned, numbers right-aligned, null as -; CSV as RFC 4180', () => {
  const cols = [{ name: 'dst_port', type: 'USMALLINT' }, { name: 'bytes', type: 'UBIGINT' }, { name: 'src_net', type: 'CIDR' }];
  assert.equal(renderTable(cols, [[443, 123456, '10.0.0.0/24'], [53, 7, null]]), ['dst_port   bytes  src_net', '     443  123456  10.0.0.0/24', '      53       7  -', ''].join('\n'));
  assert.equal(renderCsv(cols, [[1, 'a,b', null]], 3), 'dst_port,bytes,src_net\r\n1,"a,b",\r\n');
});
