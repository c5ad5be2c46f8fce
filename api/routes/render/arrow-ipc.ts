/**
 * Arrow IPC **streaming** format (application/vnd.apache.arrow.stream) with `apache-arrow`: a
 * schema message, one record batch per engine batch, the end-of-stream marker. Each batch is
 * serialised as soon as it arrives, so memory holds one batch, not the answer.
 *
 * Types come from the column's DuckDB type through one table (column-kinds.ts) and one switch
 * here: integers keep their width and signedness (64-bit values exact, as BigInt), HUGEINT is
 * Decimal128(38,0), DECIMAL(p,s) is Decimal128(p,s), TIMESTAMP* is Timestamp(µs, "UTC"), DATE is
 * Date32 (days); anything else is Utf8 and its field says why in metadata `flowseal.fallback`.
 * Every field carries `flowseal.duckdb_type`; the schema carries `flowseal.request_id`. The stats
 * cannot go into the schema (it is written before the first row), so they travel in the
 * `Flowseal-Stats` header when the answer fits the render buffer (see render-stream.ts).
 *
 * Owns: the DuckDB → Arrow type mapping and the byte layout. Never: rounds a 64-bit value
 * through a double, or buffers more than the batch at hand.
 */
import {
  AsyncByteQueue, Bool, DateDay, Decimal, Field, Float32, Float64, Int8, Int16, Int32, Int64,
  RecordBatch, RecordBatchStreamWriter, Schema, Struct, TimestampMicrosecond, Uint8, Uint16,
  Uint32, Uint64, Utf8, makeData,
} from 'apache-arrow';
import type { Data, DataType } from 'apache-arrow';
import type { Cell } from '../../ports.ts';
import type { ResultColumn } from '../../../schemas/query.ts';
import {
  boolCell, columnKind, dateDaysCell, floatCell, int128Cell, int64Cell, smallIntCell,
  textCell, timestampMicrosCell, unscaledDecimalCell,
} from './column-kinds.ts';
import type { ColumnKind } from './column-kinds.ts';

/** The Arrow type of a column kind. Exhaustive: a new kind fails to compile here. */
export function arrowType(k: ColumnKind): DataType {
  switch (k.kind) {
    case 'bool':
      return new Bool();
    case 'int':
      if (k.signed) return k.bits === 8 ? new Int8() : k.bits === 16 ? new Int16() : k.bits === 32 ? new Int32() : new Int64();
      return k.bits === 8 ? new Uint8() : k.bits === 16 ? new Uint16() : k.bits === 32 ? new Uint32() : new Uint64();
    case 'int128':
      return new Decimal(0, 38, 128);
    case 'decimal':
      return new Decimal(k.scale, k.precision, 128);
    case 'float':
      return k.bits === 32 ? new Float32() : new Float64();
    case 'utf8':
      return new Utf8();
    case 'timestamp':
      return new TimestampMicrosecond('UTC');
    case 'date':
      return new DateDay();
    default: {
      const never: never = k;
      throw new TypeError(`unhandled column kind ${JSON.stringify(never)}`);
    }
  }
}

/** The Arrow schema of an answer: one nullable field per column, in order. */
export function arrowSchema(columns: readonly ResultColumn[], requestId: string): { schema: Schema; kinds: ColumnKind[] } {
  const kinds = columns.map((c) => columnKind(c.type));
  const fields = columns.map((c, i) => {
    const k = kinds[i]!;
    const meta = new Map([['flowseal.duckdb_type', c.type]]);
    if (k.kind === 'utf8' && k.fallback !== undefined) meta.set('flowseal.fallback', k.fallback);
    return new Field(c.name, arrowType(k), true, meta);
  });
  return { schema: new Schema(fields, new Map([['flowseal.request_id', requestId]])), kinds };
}

/** Validity bitmap (LSB first) and null count of column `col`. */
function validity(rows: readonly (readonly Cell[])[], col: number): { bitmap: Uint8Array; nulls: number } {
  const bitmap = new Uint8Array((rows.length + 7) >> 3);
  let nulls = 0;
  for (let r = 0; r < rows.length; r++) {
    const v = rows[r]![col];
    if (v === null || v === undefined) nulls++;
    else bitmap[r >> 3]! |= 1 << (r & 7);
  }
  return { bitmap, nulls };
}

/** Two's complement little-endian 32-bit words of a 128-bit value at `out[at..at+4]`. */
function putInt128(out: Uint32Array, at: number, v: bigint): void {
  let x = BigInt.asUintN(128, v);
  for (let w = 0; w < 4; w++) {
    out[at + w] = Number(x & 0xffffffffn);
    x >>= 32n;
  }
}

const utf8 = new TextEncoder();

/** The Arrow data of one column of a batch. @throws TypeError for a cell that does not fit. */
function columnData(type: DataType, k: ColumnKind, name: string, rows: readonly (readonly Cell[])[], col: number): Data {
  const n = rows.length;
  const { bitmap, nulls } = validity(rows, col);
  const base = { type, length: n, nullCount: nulls, nullBitmap: nulls === 0 ? new Uint8Array(0) : bitmap };
  const cell = (r: number): Cell | undefined => rows[r]![col];
  const fill = <A extends { [i: number]: number | bigint }>(out: A, conv: (v: Cell) => number | bigint): A => {
    for (let r = 0; r < n; r++) {
      const v = cell(r);
      if (v !== null && v !== undefined) out[r] = conv(v);
    }
    return out;
  };
  switch (k.kind) {
    case 'bool': {
      const bits = new Uint8Array((n + 7) >> 3);
      for (let r = 0; r < n; r++) {
        const v = cell(r);
        if (v !== null && v !== undefined && boolCell(v, name)) bits[r >> 3]! |= 1 << (r & 7);
      }
      return makeData({ ...base, type: type as Bool, data: bits });
    }
    case 'int': {
      if (k.bits === 64) {
        const out = k.signed ? new BigInt64Array(n) : new BigUint64Array(n);
        return makeData({ ...base, type: type as Int64, data: fill(out, (v) => int64Cell(v, k.signed, name)) as BigInt64Array });
      }
      const bits = k.bits;
      const Ctor = k.signed ? (bits === 8 ? Int8Array : bits === 16 ? Int16Array : Int32Array) : bits === 8 ? Uint8Array : bits === 16 ? Uint16Array : Uint32Array;
      return makeData({ ...base, type: type as Int32, data: fill(new Ctor(n), (v) => smallIntCell(v, bits, k.signed, name)) as Int32Array });
    }
    case 'int128':
    case 'decimal': {
      const words = new Uint32Array(n * 4);
      for (let r = 0; r < n; r++) {
        const v = cell(r);
        if (v === null || v === undefined) continue;
        putInt128(words, r * 4, k.kind === 'int128' ? int128Cell(v, name) : unscaledDecimalCell(v, k.precision, k.scale, name));
      }
      return makeData({ ...base, type: type as Decimal, data: words });
    }
    case 'float': {
      const out = k.bits === 32 ? new Float32Array(n) : new Float64Array(n);
      return makeData({ ...base, type: type as Float64, data: fill(out, (v) => floatCell(v, name)) as Float64Array });
    }
    case 'timestamp':
      return makeData({ ...base, type: type as TimestampMicrosecond, data: fill(new BigInt64Array(n), (v) => timestampMicrosCell(v, name)) });
    case 'date':
      return makeData({ ...base, type: type as DateDay, data: fill(new Int32Array(n), (v) => dateDaysCell(v, name)) });
    case 'utf8': {
      const texts: string[] = new Array<string>(n);
      let chars = 0;
      for (let r = 0; r < n; r++) {
        const v = cell(r);
        const t = v === null || v === undefined ? '' : textCell(v);
        texts[r] = t;
        chars += t.length;
      }
      // UTF-8 needs at most 3 bytes per UTF-16 code unit.
      const bytes = new Uint8Array(chars * 3);
      const offsets = new Int32Array(n + 1);
      let at = 0;
      for (let r = 0; r < n; r++) {
        at += utf8.encodeInto(texts[r]!, bytes.subarray(at)).written;
        offsets[r + 1] = at;
      }
      return makeData({ ...base, type: type as Utf8, data: bytes.subarray(0, at), valueOffsets: offsets });
    }
    default: {
      const never: never = k;
      throw new TypeError(`unhandled column kind ${JSON.stringify(never)}`);
    }
  }
}

/** A byte queue the writer fills and `drain` empties after each message (public `reset(sink)` API). */
class DrainedQueue extends AsyncByteQueue {
  chunks: Uint8Array[] = [];
  override write(value: Uint8Array | ArrayBufferView | ArrayBuffer): void {
    const bytes = value instanceof Uint8Array ? value : ArrayBuffer.isView(value) ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : new Uint8Array(value);
    if (bytes.byteLength > 0) this.chunks.push(bytes);
  }
  drain(): Uint8Array {
    const total = this.chunks.reduce((s, c) => s + c.byteLength, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    this.chunks = [];
    return out;
  }
}

/** Encodes an answer as Arrow IPC stream messages, a batch at a time. */
export interface ArrowStreamEncoder {
  /** The schema message. */
  start(): Uint8Array;
  /** One record batch message (empty bytes for an empty batch). @throws TypeError for a cell that does not fit its type. */
  batch(rows: readonly (readonly Cell[])[]): Uint8Array;
  /** The end-of-stream marker. */
  end(): Uint8Array;
}

export function arrowStreamEncoder(columns: readonly ResultColumn[], requestId: string): ArrowStreamEncoder {
  const { schema, kinds } = arrowSchema(columns, requestId);
  const structType = new Struct(schema.fields);
  const sink = new DrainedQueue();
  const writer = new RecordBatchStreamWriter({ autoDestroy: false });
  return {
    start() {
      writer.reset(sink, schema);
      return sink.drain();
    },
    batch(rows) {
      if (rows.length === 0) return new Uint8Array(0);
      const children = schema.fields.map((f, i) => columnData(f.type, kinds[i]!, f.name, rows, i));
      writer.write(new RecordBatch(schema, makeData({ type: structType, length: rows.length, nullCount: 0, children })));
      return sink.drain();
    },
    end() {
      writer.finish();
      return sink.drain();
    },
  };
}
