/**
 * Parquet answers (application/vnd.apache.parquet), written in memory with `hyparquet-writer`:
 * pure JavaScript, so it runs on Node, Bun, Deno and Workers alike (imported by its
 * runtime-neutral entry, `src/index.js`, not the Node one that pulls in `fs`). A Parquet file's
 * footer comes last and describes every row group, so the file is built whole: answers are
 * bounded (`maxParquetRows`) and rows are collected into typed column arrays batch by batch
 * (no per-row objects), failing with ERR_QUERY_TOO_LARGE as soon as the limit is passed —
 * before any byte is sent.
 *
 * Types (column-kinds.ts): integers keep width and signedness (INT32/INT64 with INTEGER logical
 * types, 64-bit values exact as BigInt), HUGEINT is DECIMAL(38,0) in 16 fixed bytes, DECIMAL(p,s)
 * is INT64 (p ≤ 18) or 16 fixed bytes, TIMESTAMP* is INT64 TIMESTAMP(µs, UTC), DATE is INT32
 * DATE, text and fallbacks are UTF-8 strings. Key-value metadata: `flowseal.stats` (the stats
 * and request id, JSON) and `flowseal.columns` (DuckDB type and fallback reason per column).
 *
 * Owns: the DuckDB → Parquet type mapping and the row limit. Never: streams a partial file.
 */
import { parquetWriteBuffer } from 'hyparquet-writer/src/index.js';
import type { ColumnSource, SchemaElement } from 'hyparquet-writer/src/index.js';
import { AppError, ErrorCode } from '../../../schemas/errors.ts';
import type { Cell } from '../../ports.ts';
import type { ResultColumn } from '../../../schemas/query.ts';
import {
  boolCell, columnKind, dateDaysCell, floatCell, int128Cell, int64Cell, smallIntCell,
  textCell, timestampMicrosCell, unscaledDecimalCell,
} from './column-kinds.ts';
import type { ColumnKind } from './column-kinds.ts';

/** The Parquet schema element of a column kind. Exhaustive: a new kind fails to compile here. */
export function parquetElement(name: string, k: ColumnKind): SchemaElement {
  const base = { name, repetition_type: 'OPTIONAL' } as const;
  switch (k.kind) {
    case 'bool':
      return { ...base, type: 'BOOLEAN' };
    case 'int': {
      // Converted type only: hyparquet-writer 0.17 encodes the INTEGER logical type's i8
      // bitWidth as an i32, which DuckDB's Thrift reader rejects; INT_n/UINT_n mean the same.
      const converted = `${k.signed ? 'INT' : 'UINT'}_${k.bits}` as const;
      return { ...base, type: k.bits === 64 ? 'INT64' : 'INT32', converted_type: converted };
    }
    case 'int128':
    case 'decimal': {
      const precision = k.kind === 'int128' ? 38 : k.precision;
      const scale = k.kind === 'int128' ? 0 : k.scale;
      const physical = precision <= 18 ? ({ type: 'INT64' } as const) : ({ type: 'FIXED_LEN_BYTE_ARRAY', type_length: 16 } as const);
      return { ...base, ...physical, converted_type: 'DECIMAL', precision, scale, logical_type: { type: 'DECIMAL', precision, scale } };
    }
    case 'float':
      return { ...base, type: k.bits === 32 ? 'FLOAT' : 'DOUBLE' };
    case 'utf8':
      return { ...base, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } };
    case 'timestamp':
      return { ...base, type: 'INT64', converted_type: 'TIMESTAMP_MICROS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } };
    case 'date':
      return { ...base, type: 'INT32', converted_type: 'DATE', logical_type: { type: 'DATE' } };
    default: {
      const never: never = k;
      throw new TypeError(`unhandled column kind ${JSON.stringify(never)}`);
    }
  }
}

type ParquetValue = boolean | number | bigint | string | null;

/** One cell → the value hyparquet-writer expects for the kind. @throws TypeError if it does not fit. */
function parquetValue(v: Cell | undefined, k: ColumnKind, name: string): ParquetValue {
  if (v === null || v === undefined) return null;
  switch (k.kind) {
    case 'bool':
      return boolCell(v, name);
    case 'int':
      return k.bits === 64 ? int64Cell(v, k.signed, name) : smallIntCell(v, k.bits, k.signed, name);
    case 'int128':
      return int128Cell(v, name);
    case 'decimal':
      return unscaledDecimalCell(v, k.precision, k.scale, name);
    case 'float':
      return floatCell(v, name);
    case 'utf8':
      return textCell(v);
    case 'timestamp':
      return timestampMicrosCell(v, name);
    case 'date':
      return dateDaysCell(v, name);
    default: {
      const never: never = k;
      throw new TypeError(`unhandled column kind ${JSON.stringify(never)}`);
    }
  }
}

/** The refusal for an answer over the Parquet row limit (nothing has been sent yet). */
export function parquetTooLarge(limit: number): AppError {
  return new AppError(ErrorCode.QueryTooLarge, `parquet answers are limited to ${limit} rows and this one has more; use format arrow or ndjson (streamed), or narrow the query`, {
    details: { limit, formats: ['arrow', 'ndjson'] },
  });
}

/** Collects an answer's rows into columns, then writes the file. */
export interface ParquetCollector {
  /** @throws AppError ERR_QUERY_TOO_LARGE past the limit; TypeError for a cell that does not fit. */
  add(rows: readonly (readonly Cell[])[]): void;
  readonly rows: number;
  /** The whole file; `stats` goes into the `flowseal.stats` key-value metadata. */
  finish(stats: Readonly<Record<string, unknown>>): Uint8Array<ArrayBuffer>;
}

export function parquetCollector(columns: readonly ResultColumn[], maxRows: number): ParquetCollector {
  const kinds = columns.map((c) => columnKind(c.type));
  const data: ParquetValue[][] = columns.map(() => []);
  let count = 0;
  return {
    get rows() {
      return count;
    },
    add(rows) {
      if (count + rows.length > maxRows) throw parquetTooLarge(maxRows);
      for (let i = 0; i < columns.length; i++) {
        const out = data[i]!;
        const k = kinds[i]!;
        const name = columns[i]!.name;
        for (const r of rows) out.push(parquetValue(r[i], k, name));
      }
      count += rows.length;
    },
    finish(stats) {
      const schema: SchemaElement[] = [{ name: 'root', num_children: columns.length }, ...columns.map((c, i) => parquetElement(c.name, kinds[i]!))];
      const columnData: ColumnSource[] = columns.map((c, i) => ({ name: c.name, data: data[i]! }));
      const described = columns.map((c, i) => {
        const k = kinds[i]!;
        return { name: c.name, duckdbType: c.type, ...(k.kind === 'utf8' && k.fallback !== undefined ? { fallback: k.fallback } : {}) };
      });
      const buffer = parquetWriteBuffer({
        columnData,
        schema,
        kvMetadata: [
          { key: 'flowseal.stats', value: JSON.stringify(stats) },
          { key: 'flowseal.columns', value: JSON.stringify(described) },
        ],
        createdBy: 'flowseal',
      });
      return new Uint8Array(buffer);
    },
  };
}
