/**
 * Parquet answers read back by two independent readers: hyparquet (pure JS, raw timestamps
 * and dates through its parser hooks) and DuckDB `read_parquet` over the bytes written to a
 * temporary file, every value compared — 64-bit and 128-bit values exactly (DuckDB casts them to
 * text; hyparquet returns BigInt for INT64 and a double for DECIMAL, so decimals are checked
 * exactly in DuckDB only).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { renderStream } from './render-stream.ts';
import { parquetElement } from './parquet-file.ts';
import { DUCKDB_TYPE_KINDS, columnKind } from './column-kinds.ts';
import { fakeStream, readAll } from './fake-result-stream.test-util.ts';
import type { Cell } from '../../ports.ts';

const dir = mkdtempSync(join(tmpdir(), 'flowseal-parquet-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const columns = [
  { name: 'flows', type: 'BIGINT' },
  { name: 'bytes', type: 'UBIGINT' },
  { name: 'sum_bytes', type: 'HUGEINT' },
  { name: 'proto', type: 'UTINYINT' },
  { name: 'port', type: 'USMALLINT' },
  { name: 'u32', type: 'UINTEGER' },
  { name: 'i8', type: 'TINYINT' },
  { name: 'avg', type: 'DOUBLE' },
  { name: 'dec', type: 'DECIMAL(18,3)' },
  { name: 'src_net', type: 'CIDR' },
  { name: 'ok', type: 'BOOLEAN' },
  { name: 'time_bucket', type: 'TIMESTAMP' },
  { name: 'day', type: 'DATE' },
  { name: 'tags', type: 'VARCHAR[]' },
];
const rows: Cell[][] = [
  ['-9007199254740993', '18446744073709551615', '-99999999999999999999999999999999999999', 255, 65535, 4294967295, -128, 0.1, 1.5, '10.0.0.0/8', true, '2026-02-01T10:00:12.345678Z', '2026-02-01', '[a, b]'],
  ['9223372036854775807', 0, '170141183460469231731687303715884105', 0, 0, 0, 127, 2.5, -0.001, '2001:db8::/32', false, '1969-12-31T23:59:59.999999Z', '1969-12-31', '[]'],
  [null, null, null, null, null, null, null, null, null, null, null, null, null, null],
  ['-9223372036854775808', '9223372036854775808', 5, 6, 443, 7, -7, -1e-7, '123456789012345.678', 'ünï', true, '2262-04-11T23:47:16.854775Z', '9999-12-31', 'x'],
];
/** What DuckDB prints for each cell (`::VARCHAR`; timestamps as microseconds since the epoch). */
const duckText: (string | null)[][] = [
  ['-9007199254740993', '18446744073709551615', '-99999999999999999999999999999999999999', '255', '65535', '4294967295', '-128', '0.1', '1.500', '10.0.0.0/8', 'true', '1769940012345678', '2026-02-01', '[a, b]'],
  ['9223372036854775807', '0', '170141183460469231731687303715884105', '0', '0', '0', '127', '2.5', '-0.001', '2001:db8::/32', 'false', '-1', '1969-12-31', '[]'],
  columns.map(() => null),
  ['-9223372036854775808', '9223372036854775808', '5', '6', '443', '7', '-7', '-1e-07', '123456789012345.678', 'ünï', 'true', '9223372036854775', '9999-12-31', 'x'],
];
const stats = { rows: 4, truncated: false, elapsedMs: 2, recordBudgetRemaining: 996 };

async function render(): Promise<{ bytes: Uint8Array; headers: Record<string, string> }> {
  const batches = [rows.slice(0, 1), rows.slice(1, 3), rows.slice(3)];
  const r = await renderStream(fakeStream(columns, 3, (i) => batches[i]!, { stats }), 'parquet', { shape: 'arrays', requestId: 'req-p' });
  assert.equal(r.contentType, 'application/vnd.apache.parquet');
  const bytes = await readAll(r.body);
  assert.equal(r.headers['Content-Length'], String(bytes.byteLength));
  return { bytes, headers: r.headers };
}

test('every DuckDB type name in the table has a Parquet schema element', () => {
  for (const name of Object.keys(DUCKDB_TYPE_KINDS)) assert.ok(parquetElement('c', columnKind(name)).type, name);
});

test('a Parquet answer reads back in DuckDB with the same types and every value exact; stats in the header and the file', async () => {
  const { bytes, headers } = await render();
  assert.deepEqual(JSON.parse(headers['Flowseal-Stats']!), { ...stats, requestId: 'req-p' });
  const path = join(dir, 'answer.parquet');
  writeFileSync(path, bytes);
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const select = columns.map((col) => (col.name === 'time_bucket' ? `epoch_us(${col.name})::VARCHAR` : `${col.name}::VARCHAR`)).join(', ');
    const got = (await (await c.run(`SELECT ${select} FROM read_parquet('${path}')`)).getRows()).map((r) => r.map((v) => (v === null ? null : String(v))));
    assert.deepEqual(got, duckText);
    const types = (await (await c.run(`SELECT ${columns.map((col) => `typeof(${col.name})`).join(', ')} FROM read_parquet('${path}') LIMIT 1`)).getRows())[0]!.map(String);
    assert.deepEqual(types, ['BIGINT', 'UBIGINT', 'DECIMAL(38,0)', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'TINYINT', 'DOUBLE', 'DECIMAL(18,3)', 'VARCHAR', 'BOOLEAN', 'TIMESTAMP WITH TIME ZONE', 'DATE', 'VARCHAR']);
    const kv = (await (await c.run(`SELECT decode(key), decode(value) FROM parquet_kv_metadata('${path}')`)).getRows()).map((r) => r.map(String));
    const meta = Object.fromEntries(kv);
    assert.deepEqual(JSON.parse(meta['flowseal.stats']), { ...stats, requestId: 'req-p' });
    const described = JSON.parse(meta['flowseal.columns']);
    assert.deepEqual(described[1], { name: 'bytes', duckdbType: 'UBIGINT' });
    assert.match(described[13].fallback, /no typed mapping/);
  } finally {
    c.closeSync();
  }
});

test('a Parquet answer reads back in hyparquet: integers exact as BigInt, raw microseconds and days', async () => {
  const { bytes } = await render();
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const got = await parquetReadObjects({ file, parsers: { timestampFromMicroseconds: (us: bigint) => us, dateFromDays: (d: number) => d } });
  assert.equal(got.length, rows.length);
  for (let r = 0; r < rows.length; r++) {
    for (let i = 0; i < columns.length; i++) {
      const name = columns[i]!.name;
      const cell = rows[r]![i]!;
      const v = got[r]![name];
      const want = duckText[r]![i];
      if (cell === null) assert.equal(v, null, `${r} ${name}`);
      else if (name === 'flows' || name === 'bytes') assert.equal(v, BigInt(want!), `${r} ${name}`);
      else if (name === 'time_bucket') assert.equal(v, BigInt(want!), `${r} ${name}`);
      else if (name === 'day') assert.equal(v, Date.parse(cell as string) / 86_400_000, `${r} ${name}`);
      else if (name === 'sum_bytes' || name === 'dec') {
        // hyparquet scales decimals in floating point: equal to a few ulps (DuckDB checks them exactly).
        assert.ok(Math.abs((v as number) - Number(want)) <= Math.abs(Number(want)) * 4 * Number.EPSILON, `${r} ${name}: ${v} vs ${want}`);
      }
      else assert.equal(v, cell, `${r} ${name}`);
    }
  }
  const meta = parquetMetadata(file);
  assert.equal(meta.created_by, 'flowseal');
  assert.equal(Number(meta.num_rows), 4);
});
