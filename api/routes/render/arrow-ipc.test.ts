/**
 * Arrow answers read back with apache-arrow's own reader, every value compared with what the
 * cell meant (64-bit and 128-bit integers exactly, timestamps as raw microseconds). DuckDB
 * cannot be the second reader: its `arrow` extension is not available offline (FACTS.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordBatchReader, tableFromIPC } from 'apache-arrow';
import type { Table } from 'apache-arrow';
import { renderStream } from './render-stream.ts';
import { arrowType, arrowStreamEncoder } from './arrow-ipc.ts';
import { DUCKDB_TYPE_KINDS, columnKind } from './column-kinds.ts';
import { fakeStream, readAll } from './fake-result-stream.test-util.ts';
import type { Cell } from '../../ports.ts';

const columns = [
  { name: 'flows', type: 'BIGINT' },
  { name: 'bytes', type: 'UBIGINT' },
  { name: 'sum_bytes', type: 'HUGEINT' },
  { name: 'proto', type: 'UTINYINT' },
  { name: 'port', type: 'USMALLINT' },
  { name: 'u32', type: 'UINTEGER' },
  { name: 'i32', type: 'INTEGER' },
  { name: 'avg', type: 'DOUBLE' },
  { name: 'dec', type: 'DECIMAL(18,3)' },
  { name: 'src_net', type: 'CIDR' },
  { name: 'ok', type: 'BOOLEAN' },
  { name: 'time_bucket', type: 'TIMESTAMP' },
  { name: 'day', type: 'DATE' },
  { name: 'tags', type: 'VARCHAR[]' },
];
const rows: Cell[][] = [
  [-9007199254740993 as never, '18446744073709551615', '-99999999999999999999999999999999999999', 255, 65535, 4294967295, -2147483648, 0.1, 1.5, '10.0.0.0/8', true, '2026-02-01T10:00:12.345678Z', '2026-02-01', '[a, b]'],
  ['9223372036854775807', 0, '99999999999999999999999999999999999999', 0, 0, 0, 2147483647, 'NaN', -0.001, '2001:db8::/32', false, '1969-12-31T23:59:59.999999Z', '1969-12-31', '[]'],
  [null, null, null, null, null, null, null, null, null, null, null, null, null, null],
  ['-9223372036854775808', '9007199254740993', 5, 6, 443, 7, -7, '-Infinity', '123456789012345.678', '', true, '2262-04-11T23:47:16.854775Z', '9999-12-31', 'x'],
];
// The first cell above is a number beyond 2^53 only to show the engine never sends one; use its string.
rows[0]![0] = '-9007199254740993';

const micros = (iso: string) => BigInt(Date.parse(iso)) * 1000n + BigInt(iso.slice(23, 26));

/** The value a cell should read back as, per column. */
function expected(col: number, v: Cell): unknown {
  if (v === null) return null;
  switch (columns[col]!.name) {
    case 'flows':
    case 'bytes':
      return BigInt(v as string | number);
    case 'sum_bytes':
      return String(v);
    case 'dec':
      return { '1.5': '1500', '-0.001': '-1', '123456789012345.678': '123456789012345678' }[String(v)];
    case 'avg':
      return Number(v);
    case 'time_bucket':
      return micros(v as string);
    case 'day':
      return Date.parse(v as string) / 86_400_000;
    default:
      return v;
  }
}

/** The raw value of cell (row, col) of `table`, without lossy conversions. */
function actual(table: Table, row: number, col: number): unknown {
  const vec = table.getChildAt(col)!;
  if (!vec.isValid(row)) return null;
  const name = columns[col]!.name;
  if (name === 'time_bucket' || name === 'day') {
    // Raw int64 microseconds / int32 days, not the reader's float milliseconds.
    let at = row;
    for (const d of vec.data) {
      if (at < d.length) return (d.values as BigInt64Array | Int32Array)[at];
      at -= d.length;
    }
  }
  if (name === 'sum_bytes' || name === 'dec') return String(vec.get(row));
  return vec.get(row);
}

test('every DuckDB type name in the table maps to an Arrow type; unknown names become Utf8 with a reason', () => {
  for (const name of Object.keys(DUCKDB_TYPE_KINDS)) assert.ok(arrowType(columnKind(name)), name);
  const unknown = columnKind('STRUCT(a INTEGER)');
  assert.equal(unknown.kind, 'utf8');
  assert.match((unknown as { fallback?: string }).fallback ?? '', /no typed mapping/);
  assert.deepEqual(columnKind('DECIMAL(18,3)'), { kind: 'decimal', precision: 18, scale: 3 });
  assert.equal(columnKind('DECIMAL(40,3)').kind, 'utf8');
});

test('an Arrow stream reads back with apache-arrow: schema from the DuckDB types, one record batch per engine batch, every value exact', async () => {
  const batches = [rows.slice(0, 2), [], rows.slice(2)];
  const stream = fakeStream(columns, batches.length, (i) => batches[i]!, { stats: { rows: 4, truncated: false, elapsedMs: 1 } });
  const r = await renderStream(stream, 'arrow', { shape: 'arrays', requestId: 'req-a' });
  const bytes = await readAll(r.body);
  assert.deepEqual(JSON.parse(r.headers['Flowseal-Stats']!), { rows: 4, truncated: false, elapsedMs: 1, requestId: 'req-a' });

  const table = tableFromIPC(bytes);
  assert.equal(table.batches.length, 2, 'empty engine batches write no record batch');
  assert.deepEqual(table.batches.map((b) => b.numRows), [2, 2]);
  assert.deepEqual(
    table.schema.fields.map((f) => [f.name, String(f.type), f.nullable]),
    [
      ['flows', 'Int64', true], ['bytes', 'Uint64', true], ['sum_bytes', 'Decimal[38e0]', true], ['proto', 'Uint8', true],
      ['port', 'Uint16', true], ['u32', 'Uint32', true], ['i32', 'Int32', true], ['avg', 'Float64', true],
      ['dec', 'Decimal[18e+3]', true], ['src_net', 'Utf8', true], ['ok', 'Bool', true],
      ['time_bucket', 'Timestamp<MICROSECOND, UTC>', true], ['day', 'Date32<DAY>', true], ['tags', 'Utf8', true],
    ],
  );
  assert.equal(table.schema.metadata.get('flowseal.request_id'), 'req-a');
  assert.equal(table.schema.fields[1]!.metadata.get('flowseal.duckdb_type'), 'UBIGINT');
  assert.equal(table.schema.fields[13]!.metadata.get('flowseal.duckdb_type'), 'VARCHAR[]');
  assert.match(table.schema.fields[13]!.metadata.get('flowseal.fallback') ?? '', /no typed mapping for DuckDB type VARCHAR\[\]/);
  assert.equal(table.schema.fields[9]!.metadata.has('flowseal.fallback'), false, 'CIDR is text, not a fallback');

  for (let row = 0; row < rows.length; row++) {
    for (let col = 0; col < columns.length; col++) {
      const want = expected(col, rows[row]![col]!);
      const got = actual(table, row, col);
      if (typeof want === 'number' && Number.isNaN(want)) assert.ok(Number.isNaN(got), `${row},${col}`);
      else assert.deepEqual(got, want, `row ${row} column ${columns[col]!.name}`);
    }
  }
});

test('the stream is readable incrementally (RecordBatchReader over the body) and ends with the end-of-stream marker', async () => {
  const stream = fakeStream(columns, 50, (i) => [rows[i % 4]!], {});
  const r = await renderStream(stream, 'arrow', { shape: 'arrays', requestId: 'r', maxBufferBytes: 1 });
  const [a, b] = r.body.tee();
  const reader = await RecordBatchReader.from(a);
  let n = 0;
  for await (const batch of reader) n += batch.numRows;
  assert.equal(n, 50);
  const all = await readAll(b);
  assert.deepEqual([...all.subarray(-8)], [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
});

test('a cell that does not fit its column type fails the batch (the engine broke its contract), naming the column, never the value', () => {
  const enc = arrowStreamEncoder([{ name: 'port', type: 'USMALLINT' }], 'r');
  enc.start();
  assert.throws(() => enc.batch([[65536]]), (e: unknown) => e instanceof TypeError && /"port"/.test(e.message) && !/65536/.test(e.message));
  assert.throws(() => arrowStreamEncoder([{ name: 'b', type: 'UBIGINT' }], 'r').batch([['-1']]), TypeError);
  assert.throws(() => arrowStreamEncoder([{ name: 't', type: 'TIMESTAMP' }], 'r').batch([['10.0.0.1']]), (e: unknown) => e instanceof TypeError && !/10\.0\.0\.1/.test(e.message));
});
