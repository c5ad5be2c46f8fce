import { test } from 'node:test';
import assert from 'node:assert/strict';
import { negotiateFormat, renderResponse } from './format.ts';
import { AppError } from '../../schemas/errors.ts';

test('negotiation: ?format= first, then Accept by q-value and order; wildcards mean JSON; nothing producible is 406', () => {
  const cases: Array<[string | undefined, string | undefined, string]> = [
    [undefined, undefined, 'json'],
    [undefined, '*/*', 'json'],
    [undefined, 'application/*', 'json'],
    [undefined, 'text/csv', 'csv'],
    [undefined, 'TEXT/CSV; charset=utf-8', 'csv'],
    [undefined, 'application/x-ndjson, text/csv', 'ndjson'],
    [undefined, 'application/x-ndjson;q=0.2, text/csv;q=0.8', 'csv'],
    [undefined, 'image/png, */*;q=0.1', 'json'],
    [undefined, 'text/csv;q=0, application/json', 'json'],
    ['ndjson', 'text/csv', 'ndjson'],
  ];
  for (const [f, a, want] of cases) assert.equal(negotiateFormat(f, a), want, `${f} ${a}`);
  for (const [f, a] of [[undefined, 'image/png'], ['xml', undefined], [undefined, 'text/csv;q=0']] as const) {
    assert.throws(() => negotiateFormat(f, a), (e: unknown) => e instanceof AppError && e.code === 'ERR_NOT_ACCEPTABLE');
  }
});

test('CSV quotes what needs it, writes null as empty and big counters as exact digits', () => {
  const res = {
    columns: [{ name: 'name', type: 'VARCHAR' }, { name: 'bytes', type: 'HUGEINT' }, { name: 'n', type: 'BIGINT' }],
    rows: [['a,b', '18446744073709551617', 3], ['say "hi"', null, -1], [' pad', '9007199254740993', 0]],
    stats: { rows: 3, truncated: false, elapsedMs: 1 },
    requestId: 'r',
  };
  const csv = renderResponse(res, 'csv');
  assert.equal(csv.body, 'name,bytes,n\r\n"a,b",18446744073709551617,3\r\n"say ""hi""",,-1\r\n" pad",9007199254740993,0\r\n');
  const nd = renderResponse(res, 'ndjson');
  assert.deepEqual(nd.body.trimEnd().split('\n').map((l) => JSON.parse(l))[0], { name: 'a,b', bytes: '18446744073709551617', n: 3 });
  assert.equal(JSON.parse(nd.headers['Flowseal-Stats']!).rows, 3);
});

test('negotiation: Arrow IPC stream and Parquet by media type or ?format=; the 406 lists them', () => {
  assert.equal(negotiateFormat(undefined, 'application/vnd.apache.arrow.stream'), 'arrow');
  assert.equal(negotiateFormat(undefined, 'application/vnd.apache.parquet;q=0.9, text/csv;q=0.5'), 'parquet');
  assert.equal(negotiateFormat(undefined, 'application/vnd.apache.arrow.stream;q=0.1, application/json'), 'json');
  assert.equal(negotiateFormat('arrow', 'text/csv'), 'arrow');
  assert.equal(negotiateFormat('parquet', undefined), 'parquet');
  // The Arrow *file* format is not offered: only the stream.
  assert.throws(() => negotiateFormat(undefined, 'application/vnd.apache.arrow.file'), (e: unknown) => e instanceof AppError && e.code === 'ERR_NOT_ACCEPTABLE' && /application\/vnd\.apache\.arrow\.stream/.test(e.message) && /parquet/.test(e.message));
  assert.throws(() => negotiateFormat('feather', undefined), (e: unknown) => e instanceof AppError && /json, ndjson, csv, arrow, parquet/.test(e.message));
});

test('the buffered path renders Arrow and Parquet too, with the stats header and an attachment name', async () => {
  const { tableFromIPC } = await import('apache-arrow');
  const res = {
    columns: [{ name: 'bytes', type: 'UBIGINT' }, { name: 'n', type: 'BIGINT' }],
    rows: [['18446744073709551615', 3], [null, -1]],
    stats: { rows: 2, truncated: false, elapsedMs: 1 },
    requestId: 'r1',
  };
  const arrow = renderResponse(res, 'arrow');
  assert.equal(arrow.contentType, 'application/vnd.apache.arrow.stream');
  assert.equal(arrow.headers['Content-Disposition'], 'attachment; filename="flowseal-r1.arrows"');
  assert.deepEqual(JSON.parse(arrow.headers['Flowseal-Stats']!), { rows: 2, truncated: false, elapsedMs: 1, requestId: 'r1' });
  const t = tableFromIPC(arrow.body as Uint8Array);
  assert.deepEqual([t.getChild('bytes')!.get(0), t.getChild('n')!.get(1), t.getChild('bytes')!.get(1)], [18446744073709551615n, -1n, null]);
  const pq = renderResponse(res, 'parquet');
  assert.equal(pq.contentType, 'application/vnd.apache.parquet');
  assert.deepEqual([...(pq.body as Uint8Array).subarray(0, 4)], [0x50, 0x41, 0x52, 0x31], 'PAR1');
});
