/**
 * Rows rendered by DuckDB (duckdb-row-text-sql.ts) are byte for byte what the cell path makes of
 * the same rows — DuckDB values → json-value.ts converters (as the row shaper uses them) → the
 * text encoders of api/routes/render/text-formats.ts — in every layout, for every column type of
 * the record table: random values (fast-check) over each type's whole range, NULLs, timestamps
 * across the whole range of a JavaScript Date (negative and extended years, either side of the
 * epoch, past 2^53 µs), UBIGINTs either side of 2^53, and strings with every control
 * character, quotes, backslashes, commas, CR/LF, Unicode spaces at either edge, non-ASCII text
 * and astral characters, and the U+0001/U+0002 that mark raw strings. Timestamps a JavaScript
 * Date cannot hold fail in both paths (RangeError).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DuckDBInstance, DuckDBTimestampValue, TIMESTAMP, UBIGINT, UINTEGER, USMALLINT, UTINYINT, VARCHAR } from '@duckdb/node-api';
import type { DuckDBConnection, DuckDBType } from '@duckdb/node-api';
import { rowTextFinisher, rowTextSql } from './duckdb-row-text-sql.ts';
import type { TextColumn } from './duckdb-row-text-sql.ts';
import { jsonConverter } from './json-value.ts';
import { csvEncoder, jsonEncoder, ndjsonEncoder } from '../routes/render/text-formats.ts';
import type { Cell, RowTextLayout } from '../ports.ts';
import { RECORD_COLUMNS } from '../../schemas/query.ts';
import { columnByName } from '../../schemas/columns.ts';

let instance: DuckDBInstance;
let conn: DuckDBConnection;
before(async () => {
  instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  conn = await instance.connect();
});
after(() => {
  conn.closeSync();
  instance.closeSync();
});

const TYPES: Record<string, DuckDBType> = { TIMESTAMP, UTINYINT, USMALLINT, UINTEGER, UBIGINT, VARCHAR };

/** The microseconds a JavaScript Date can format (json-value.ts works per whole second). */
const MIN_US = -8_640_000_000_000_000_000n;
const MAX_US = 8_640_000_000_000_999_999n;

const controlText = fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), maxLength: 12 });
const edgySpace = fc.constantFrom(' ', '\t', '\u000b', '\f', '\u00a0', '\u1680', '\u2000', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff', '\u0085', '\u180e', '\u200b');
const awkward = fc.oneof(
  controlText,
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.tuple(edgySpace, fc.string({ maxLength: 4 }), fc.constantFrom('', ' ', '\u3000', 'x')).map(([a, b, c]) => `${a}${b}${c}`),
  fc.constantFrom('', '"', '""', ',', 'a,b', '\r\n', '\\', '\\u000B', '/', '</script>', 'é', '日本語', '😀', '\u007f', '10.1.2.3', '2001:db8::1', 'null', '\u00013\u0002abc', 'x\u0001', '\u0002', '\ufeff\ufeff', '\ufeff"', '😀\u0001😀'),
);
const micros = fc.oneof(
  fc.bigInt({ min: MIN_US, max: MAX_US }),
  fc.bigInt({ min: -62_200_000_000_000_000n, max: 253_500_000_000_000_000n }),
  fc.bigInt({ min: 1_600_000_000_000_000n, max: 1_900_000_000_000_000n }),
  fc.constantFrom(0n, -1n, 1n, -1_000_000n, -999_999n, 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, MIN_US, MAX_US, -62_135_596_800_000_000n, -62_135_596_800_000_001n, 253_402_300_799_999_999n, 253_402_300_800_000_000n),
);

/** A random value of DuckDB type `type` (the JS value the appender takes), or null. */
function valueOf(type: string, nullable: boolean): fc.Arbitrary<unknown> {
  const v: fc.Arbitrary<unknown> = (() => {
    switch (type) {
      case 'TIMESTAMP':
        return micros.map((us) => new DuckDBTimestampValue(us));
      case 'UTINYINT':
        return fc.integer({ min: 0, max: 255 });
      case 'USMALLINT':
        return fc.integer({ min: 0, max: 65_535 });
      case 'UINTEGER':
        return fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(0, 2 ** 32 - 1));
      case 'UBIGINT':
        return fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 2n ** 53n - 3n, max: 2n ** 53n + 3n }), fc.bigInt({ min: 0n, max: 1_000_000n }), fc.constant(2n ** 64n - 1n));
      case 'VARCHAR':
        return awkward;
      default:
        throw new TypeError(`no arbitrary for ${type}`);
    }
  })();
  return nullable ? fc.option(v, { nil: null, freq: 4 }) : fc.option(v, { nil: null, freq: 20 });
}

/** Table `t` with `columns` holding `rows`, and each row as DuckDB returns it, in insertion order. */
async function load(columns: readonly TextColumn[], rows: readonly (readonly unknown[])[]): Promise<void> {
  await conn.run('DROP TABLE IF EXISTS t');
  await conn.run(`CREATE TABLE t (__i INTEGER, ${columns.map((c) => `${c.name} ${c.type}`).join(', ')})`);
  const app = await conn.createAppender('t');
  rows.forEach((row, i) => {
    app.appendInteger(i);
    row.forEach((v, k) => {
      if (v === null) app.appendNull();
      else app.appendValue(v as never, TYPES[columns[k]!.type]!);
    });
    app.endRow();
  });
  app.closeSync();
}

/** The cell path: DuckDB values → the shaper's converters → the encoder's text of each row, per layout. */
function cellTexts(columns: readonly TextColumn[], raw: readonly (readonly unknown[])[], layout: RowTextLayout): string[] {
  const convert = columns.map((c) => jsonConverter(c.type));
  const result = columns.map((c) => ({ name: c.name, type: c.type }));
  return raw.map((r) => {
    const cells = r.map((v, i) => convert[i]!(v) as Cell);
    if (layout === 'csv') return csvEncoder(result).batch([cells]).slice(0, -2);
    const json = jsonEncoder(result, layout === 'json-array' ? 'arrays' : 'objects', 'r').batch([cells]);
    if (layout === 'json-object') assert.equal(ndjsonEncoder(result).batch([cells]), `${json}\n`, 'NDJSON lines are the JSON objects');
    return json;
  });
}

/** DuckDB's rendering of each row of `t`, and the raw values, in insertion order. */
async function rendered(columns: readonly TextColumn[], layout: RowTextLayout): Promise<{ texts: string[]; raw: unknown[][] }> {
  const expr = rowTextSql(layout, columns);
  assert.ok(expr !== null);
  const r = await conn.runAndReadAll(`SELECT ${expr}, ${columns.map((c) => c.name).join(', ')} FROM t ORDER BY __i`);
  const rows = r.getRows();
  const finish = rowTextFinisher(layout, columns);
  return { texts: rows.map((row) => finish(row[0] as string)), raw: rows.map((row) => row.slice(1)) };
}

const LAYOUTS: RowTextLayout[] = ['json-array', 'json-object', 'csv'];
const RECORD: TextColumn[] = RECORD_COLUMNS.map((name) => ({ name, type: columnByName.get(name)!.duckdbType }));

test('every record column type, random rows: DuckDB renders each layout exactly as the cell path and the encoders do', async () => {
  const row = fc.tuple(...RECORD.map((c) => valueOf(c.type, columnByName.get(c.name)!.nullable)));
  await fc.assert(
    fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 40 }), async (rows) => {
      await load(RECORD, rows);
      for (const layout of LAYOUTS) {
        const { texts, raw } = await rendered(RECORD, layout);
        assert.deepEqual(texts, cellTexts(RECORD, raw, layout), layout);
      }
    }),
    { numRuns: 40 },
  );
});

test('one column of each type, many values each: the same text in every layout, edge values included', async () => {
  for (const type of Object.keys(TYPES)) {
    const cols: TextColumn[] = [{ name: 'v', type }];
    await fc.assert(
      fc.asyncProperty(fc.array(valueOf(type, true), { minLength: 1, maxLength: 200 }), async (values) => {
        await load(cols, values.map((v) => [v]));
        for (const layout of LAYOUTS) {
          const { texts, raw } = await rendered(cols, layout);
          assert.deepEqual(texts, cellTexts(cols, raw, layout), `${type} ${layout}`);
        }
      }),
      { numRuns: 40 },
    );
  }
});

test('timestamps a JavaScript Date cannot hold, and infinities: the cell path and the finishing step both throw a RangeError', async () => {
  const cols: TextColumn[] = [{ name: 'v', type: 'TIMESTAMP' }];
  for (const us of [MIN_US - 1n, MAX_US + 1n, 9_223_372_036_854_775_806n, -9_223_372_036_854_775_806n]) {
    await load(cols, [[new DuckDBTimestampValue(us)]]);
    assert.throws(() => jsonConverter('TIMESTAMP')(new DuckDBTimestampValue(us)), RangeError);
    for (const layout of LAYOUTS) await assert.rejects(rendered(cols, layout), RangeError, `${us} ${layout}`);
  }
  await conn.run('DROP TABLE IF EXISTS t');
  await conn.run("CREATE TABLE t AS SELECT 0 AS __i, 'infinity'::TIMESTAMP AS v UNION ALL SELECT 1, '-infinity'::TIMESTAMP");
  for (const layout of LAYOUTS) await assert.rejects(rendered(cols, layout), RangeError);
});

test('a malformed mark is a TypeError; a row without one is returned as it is', () => {
  const csv = rowTextFinisher('csv', [{ name: 'a', type: 'VARCHAR' }]);
  assert.equal(csv('a,b,c'), 'a,b,c');
  assert.equal(csv('\u0001s2\u0002"x'), '"""x"');
  assert.throws(() => csv('\u0001sx'), TypeError);
  assert.throws(() => csv('\u0001q1\u0002a'), TypeError);
  assert.throws(() => rowTextFinisher('csv', [{ name: 't', type: 'TIMESTAMP' }])('\u0001t\u0002'), RangeError);
});

test('types without a text form give null (the engine answers cells); names must be plain identifiers', () => {
  assert.equal(rowTextSql('json-array', [{ name: 'a', type: 'DOUBLE' }]), null);
  assert.equal(rowTextSql('csv', [{ name: 'a', type: 'VARCHAR' }, { name: 'b', type: 'HUGEINT' }]), null);
  assert.throws(() => rowTextSql('csv', [{ name: 'a; DROP', type: 'VARCHAR' }]), TypeError);
  assert.throws(() => rowTextSql('csv', []), TypeError);
});
