import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderStream, headerJson } from './render-stream.ts';
import type { RenderOutcome, StreamFormat } from './render-stream.ts';
import { fakeStream, readAll } from './fake-result-stream.test-util.ts';
import { AppError } from '../../../schemas/errors.ts';
import type { Cell } from '../../ports.ts';

const columns = [
  { name: 'dst_port', type: 'USMALLINT' },
  { name: 'bytes', type: 'HUGEINT' },
  { name: 'name', type: 'VARCHAR' },
];
const stats = { rows: 6, truncated: true, elapsedMs: 3, minGroupSize: 1, requestId: 'engine-side-id' };
/** Batch i: two rows with awkward text (quotes, commas, newlines, non-ASCII) and a big counter. */
const batch = (i: number): Cell[][] => [
  [i, '18446744073709551617', `a,"b"\n${i}`],
  [i + 100, null, ' ünï '],
];
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const rowsOf = (n: number) => Array.from({ length: n }, (_, i) => batch(i)).flat();

test('JSON: the body is exactly JSON.stringify of the QueryResponse, stats from finish() at the end; shape objects keys rows by name', async () => {
  const r = await renderStream(fakeStream(columns, 3, batch, { stats }), 'json', { shape: 'arrays', requestId: 'req-1' });
  const body = text(await readAll(r.body));
  const { requestId: _, ...bodyStats } = stats;
  assert.equal(body, JSON.stringify({ columns, rows: rowsOf(3), stats: bodyStats, requestId: 'req-1' }));
  assert.equal(r.status, 200);
  assert.match(r.contentType, /^application\/json/);
  assert.equal(r.headers['Flowseal-Stats'], undefined);
  assert.equal(r.headers['Content-Length'], String(new TextEncoder().encode(body).byteLength));

  const o = await renderStream(fakeStream(columns, 2, batch, { stats }), 'json', { shape: 'objects', requestId: 'req-1' });
  const parsed = JSON.parse(text(await readAll(o.body)));
  assert.deepEqual(parsed.rows, rowsOf(2).map((row) => Object.fromEntries(columns.map((c, i) => [c.name, row[i]]))));
  assert.deepEqual(parsed.stats, bodyStats);

  const empty = await renderStream(fakeStream(columns, 0, batch, { stats }), 'json', { shape: 'arrays', requestId: 'r' });
  assert.deepEqual(JSON.parse(text(await readAll(empty.body))).rows, []);
});

test('NDJSON and CSV: an answer within the buffer is sent whole, with the complete stats header and Content-Length', async () => {
  const nd = await renderStream(fakeStream(columns, 3, batch, { stats }), 'ndjson', { shape: 'arrays', requestId: 'req-2' });
  const lines = text(await readAll(nd.body)).split('\n');
  assert.equal(lines.pop(), '');
  assert.deepEqual(lines.map((l) => JSON.parse(l)), rowsOf(3).map((row) => Object.fromEntries(columns.map((c, i) => [c.name, row[i]]))));
  assert.deepEqual(JSON.parse(nd.headers['Flowseal-Stats']!), { ...stats, requestId: 'req-2' });

  const csv = await renderStream(fakeStream(columns, 1, batch, { stats }), 'csv', { shape: 'arrays', requestId: 'req-2' });
  const body = text(await readAll(csv.body));
  assert.equal(body, 'dst_port,bytes,name\r\n0,18446744073709551617,"a,""b""\n0"\r\n100,," ünï "\r\n');
  assert.equal(csv.headers['Content-Length'], String(new TextEncoder().encode(body).byteLength));
  assert.equal(JSON.parse(csv.headers['Flowseal-Stats']!).rows, 6);
  assert.equal(csv.headers['Content-Disposition'], 'inline; filename="flowseal-req-2.csv"');
});

test('past the buffer every format streams the same bytes it would have buffered; NDJSON/CSV/Arrow then say streamed in the header', async () => {
  for (const format of ['json', 'ndjson', 'csv', 'arrow'] as const) {
    const whole = await renderStream(fakeStream(columns, 40, batch, { stats }), format, { shape: 'arrays', requestId: 'r' });
    const wholeBytes = await readAll(whole.body);
    const ends: RenderOutcome[] = [];
    const streamed = await renderStream(fakeStream(columns, 40, batch, { stats }), format, { shape: 'arrays', requestId: 'r', maxBufferBytes: 200, onEnd: (o) => ends.push(o) });
    assert.equal(streamed.headers['Content-Length'], undefined, format);
    assert.equal(ends.length, 0, `${format}: not ended before the body is read`);
    assert.deepEqual(await readAll(streamed.body), wholeBytes, format);
    assert.equal(ends.length, 1);
    assert.equal(ends[0]!.rows, 80);
    assert.deepEqual(ends[0]!.error, undefined);
    if (format === 'json') assert.equal(streamed.headers['Flowseal-Stats'], undefined);
    else {
      assert.deepEqual(JSON.parse(streamed.headers['Flowseal-Stats']!), { streamed: true, requestId: 'r' }, format);
      assert.deepEqual(JSON.parse(whole.headers['Flowseal-Stats']!), { ...stats, requestId: 'r' }, format);
    }
  }
});

test('a failure before the buffer is full rejects: nothing was sent, so the route answers with an error envelope', async () => {
  for (const format of ['json', 'ndjson', 'csv', 'arrow', 'parquet'] as const) {
    const ends: RenderOutcome[] = [];
    const boom = new AppError('ERR_QUERY_TIMEOUT', 'query timed out');
    await assert.rejects(renderStream(fakeStream(columns, 5, batch, { failAfterBatches: 2, error: boom }), format, { shape: 'arrays', requestId: 'r', onEnd: (o) => ends.push(o) }), (e) => e === boom, format);
    assert.equal(ends.length, 1);
    assert.equal(ends[0]!.error, boom);
    assert.equal(ends[0]!.rows, 4);
    // A failing finish() (after every batch) is the same: no stats, no answer.
    await assert.rejects(renderStream(fakeStream(columns, 2, batch, { failFinish: true, error: boom }), format, { shape: 'arrays', requestId: 'r' }), (e) => e === boom, format);
  }
});

test('a failure after the first bytes were sent errors the body; a JSON document stays unterminated', async () => {
  for (const format of ['json', 'ndjson', 'csv', 'arrow'] as const satisfies readonly StreamFormat[]) {
    for (const how of [{ failAfterBatches: 30 }, { failFinish: true }]) {
      const ends: RenderOutcome[] = [];
      const r = await renderStream(fakeStream(columns, 40, batch, { stats, ...how }), format, { shape: 'arrays', requestId: 'r', maxBufferBytes: 100, onEnd: (o) => ends.push(o) });
      const got: Uint8Array[] = [];
      await assert.rejects(
        (async () => {
          for await (const chunk of r.body) got.push(chunk);
        })(),
        /engine failed part-way/,
        `${format} ${JSON.stringify(how)}`,
      );
      assert.ok(got.length > 0, 'some bytes were sent before the failure');
      assert.match(String(ends[0]?.error), /engine failed part-way/);
      if (format === 'json') {
        const partial = got.map(text).join('');
        assert.throws(() => JSON.parse(partial), SyntaxError);
        assert.doesNotMatch(partial, /"stats"/);
      }
    }
  }
});

test('the body is pulled: nothing past the buffer is asked of the engine until the client reads, and cancelling stops the query', async () => {
  const stream = fakeStream(columns, 1000, batch, { stats });
  const ends: RenderOutcome[] = [];
  const r = await renderStream(stream, 'ndjson', { shape: 'arrays', requestId: 'r', maxBufferBytes: 300, onEnd: (o) => ends.push(o) });
  const afterRender = stream.produced;
  assert.ok(afterRender < 10, `buffered ${afterRender} batches for 300 bytes`);
  for (let i = 0; i < 20; i++) await new Promise((ok) => setImmediate(ok));
  assert.equal(stream.produced, afterRender, 'no batch is produced while nobody reads');
  const reader = r.body.getReader();
  for (let i = 0; i < afterRender + 5; i++) await reader.read();
  assert.ok(stream.produced <= afterRender + 6, `produced ${stream.produced} after ${afterRender + 5} reads`);
  await reader.cancel('client went away');
  assert.equal(stream.returned, true, 'the batches iterator was returned (query stopped)');
  assert.ok(stream.produced < 20);
  assert.equal(ends.length, 1);
  assert.equal(ends[0]!.error, 'client went away');
});

test('parquet over maxParquetRows is ERR_QUERY_TOO_LARGE naming the limit, before anything is sent, and the query is stopped', async () => {
  const stream = fakeStream(columns, 100, batch, { stats });
  await assert.rejects(renderStream(stream, 'parquet', { shape: 'arrays', requestId: 'r', maxParquetRows: 9 }), (e: unknown) => {
    assert.ok(e instanceof AppError);
    assert.equal(e.code, 'ERR_QUERY_TOO_LARGE');
    assert.equal(e.status, 400);
    assert.match(e.message, /limited to 9 rows/);
    assert.match(e.message, /arrow or ndjson/);
    assert.deepEqual(e.details, { limit: 9, formats: ['arrow', 'ndjson'] });
    return true;
  });
  assert.equal(stream.returned, true);
  assert.equal(stream.produced, 5, 'read only until the limit was passed');
  // Exactly at the limit is fine.
  const ok = await renderStream(fakeStream(columns, 5, batch, { stats }), 'parquet', { shape: 'arrays', requestId: 'r', maxParquetRows: 10 });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['Content-Disposition'], 'attachment; filename="flowseal-r.parquet"');
});

test('headers: Flowseal-Stats is ASCII JSON; file names come from a sanitised request id', async () => {
  assert.equal(headerJson({ cursor: 'ü\u2028' }), '{"cursor":"\\u00fc\\u2028"}');
  assert.deepEqual(JSON.parse(headerJson({ cursor: 'ü\u2028' })), { cursor: 'ü\u2028' });
  const r = await renderStream(fakeStream(columns, 1, batch), 'arrow', { shape: 'arrays', requestId: 'a"b/c', maxBufferBytes: 1 });
  assert.equal(r.headers['Content-Disposition'], 'attachment; filename="flowseal-a_b_c.arrows"');
  assert.equal(r.contentType, 'application/vnd.apache.arrow.stream');
  await r.body.cancel();
});
