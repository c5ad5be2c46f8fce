/**
 * Anonymized rows → DuckDB data chunks: buffers `AnonFlowRow`s column by column in typed arrays
 * (one per column, in DuckDB's own in-memory layout) and hands them to an appender one data
 * chunk (up to DuckDB's vector size, 2048 rows) at a time.
 *
 * Why: appending value by value costs one native call per cell (45 per row), and every
 * timestamp and UBIGINT became a fresh BigInt and a wrapper object on the way; at one row per
 * exported NetFlow record that was most of the worker's CPU. Here a chunk costs one memory copy
 * per column (`copy_data_to_vector`); strings of at most 12 ASCII bytes are written inline in
 * DuckDB's `duckdb_string_t` layout (u32 length, 12 bytes zero-padded — duckdb.h), a string
 * column holding one value in every row of the chunk (record_source, often exporter_addr)
 * becomes a constant vector, and only the other strings cost a native call each.
 *
 * Values are checked as the appender checked them, before any of the row is kept: an integer of
 * the column's range (u8, u16, u32: numbers; u64: a bigint or an integral number, 0..2^64-1;
 * timestamps: integral µs since epoch, either), a string for VARCHAR; anything else throws and
 * the row is not buffered (the appender threw too, leaving a broken row behind).
 *
 * Owns: the column buffers and the chunk layout (int64/uint64 as little-endian u32 pairs,
 * validity as DuckDB's LSB-first bit words, inlined strings). The low-level calls go to the
 * addon node-api itself uses (duckdb-modules.ts).
 * Never: accepts anything but `AnonFlowRow`; holds a row after `append` returns.
 */
import { endianness } from 'node:os';
import type { DuckDBAppender, DuckDBDataChunk, DuckDBType } from '@duckdb/node-api';
import { FLOW_COLUMNS, type ColumnKind, type FlowColumnName } from '../../schemas/columns.ts';
import type { AnonFlowRow, AnonValue } from '../flows/flow-record.ts';
import { duckdbApi, duckdbBindings as duckdb, type Bindings } from './duckdb-modules.ts';

const { TIMESTAMP, UBIGINT, UINTEGER, USMALLINT, UTINYINT, VARCHAR } = duckdbApi;

const Kind = { Timestamp: 0, U8: 1, U16: 2, U32: 3, U64: 4, String: 5 } as const;
const KIND_OF: Record<ColumnKind, number> = { timestamp: Kind.Timestamp, u8: Kind.U8, u16: Kind.U16, u32: Kind.U32, u64: Kind.U64, string: Kind.String };
const TYPE_OF: Record<ColumnKind, DuckDBType> = { timestamp: TIMESTAMP, u8: UTINYINT, u16: USMALLINT, u32: UINTEGER, u64: UBIGINT, string: VARCHAR };
const BYTES_OF: Record<ColumnKind, number> = { timestamp: 8, u8: 1, u16: 2, u32: 4, u64: 8, string: 16 };
/** duckdb_string_t: strings up to this many bytes live inside the 16-byte cell. */
const STRING_INLINE_BYTES = 12;
const TWO32 = 4294967296;
const TWO63 = 2 ** 63;
const TWO64 = 2 ** 64;
const MAX_U64 = 2n ** 64n - 1n;
const MIN_I64 = -(2n ** 63n);
const MAX_I64 = 2n ** 63n - 1n;

/** One column's buffer for a chunk. */
interface ColumnBuffer {
  readonly name: FlowColumnName;
  readonly kind: number;
  readonly bytes: number;
  /** The chunk's values (8-byte kinds: as u32 words, `big` and `i32` view the same memory). */
  readonly data: Uint8Array | Uint16Array | Uint32Array;
  readonly big: BigUint64Array | BigInt64Array | null;
  readonly i32: Int32Array | null;
  readonly strings: (string | null)[];
  /** String columns: `data` as bytes (the inlined cells). */
  readonly bytesView: Uint8Array | null;
  /** Validity bits, one per row, LSB first (DuckDB's uint64 words, as u32 on little-endian). */
  readonly valid: Uint32Array;
  nulls: number;
}

function rangeError(name: string, what: string): never {
  throw new RangeError(`row-chunks: ${name}: ${what}`);
}

/**
 * `(row, out) => { out[0] = row[names[0]]; ... }` with each property read at its own site,
 * compiled once. Why: a loop of `row[name]` over 45 names is a megamorphic keyed load per cell;
 * named loads of rows that share one hidden class (the anonymizer builds them so) are one field
 * read each. The source holds only the column names of schemas/columns.ts (checked).
 */
function rowReader(names: readonly FlowColumnName[]): (row: AnonFlowRow, out: AnonValue[]) => void {
  for (const n of names) if (!/^[a-z][a-z0-9_]*$/.test(n)) throw new TypeError(`row-chunks: unexpected column name ${n}`);
  return new Function('row', 'out', names.map((n, i) => `out[${i}] = row.${n};`).join('\n')) as (row: AnonFlowRow, out: AnonValue[]) => void;
}

/** Buffers rows for one appender; `flush` (or a full chunk) appends them. Not reentrant. */
export class RowChunks {
  readonly #appender: () => DuckDBAppender;
  readonly #chunk: DuckDBDataChunk;
  readonly #cols: ColumnBuffer[];
  readonly #capacity: number;
  readonly #read: (row: AnonFlowRow, out: AnonValue[]) => void;
  readonly #values: AnonValue[];
  #rows = 0;

  /**
   * @param appender the appender to write into, read at every chunk (the sink replaces it).
   * @throws TypeError on a big-endian host (the u32-pair layout assumes little-endian).
   */
  constructor(appender: () => DuckDBAppender) {
    if (endianness() !== 'LE') throw new TypeError('row-chunks: the chunk layout assumes a little-endian host');
    this.#appender = appender;
    this.#read = rowReader(FLOW_COLUMNS.map((c) => c.name));
    this.#values = FLOW_COLUMNS.map(() => null);
    this.#capacity = Math.min(2048, duckdb.vector_size());
    const n = this.#capacity;
    this.#chunk = duckdbApi.DuckDBDataChunk.create(FLOW_COLUMNS.map((c) => TYPE_OF[c.kind]));
    this.#cols = FLOW_COLUMNS.map((c): ColumnBuffer => {
      const bytes = BYTES_OF[c.kind];
      const buf = new ArrayBuffer(n * bytes);
      const data = bytes === 1 ? new Uint8Array(buf) : bytes === 2 ? new Uint16Array(buf) : new Uint32Array(buf);
      const big = c.kind === 'u64' ? new BigUint64Array(buf) : c.kind === 'timestamp' ? new BigInt64Array(buf) : null;
      return {
        name: c.name,
        kind: KIND_OF[c.kind],
        bytes,
        data,
        big,
        i32: c.kind === 'timestamp' ? new Int32Array(buf) : null,
        strings: c.kind === 'string' ? new Array<string | null>(n).fill(null) : [],
        bytesView: c.kind === 'string' ? new Uint8Array(buf) : null,
        valid: new Uint32Array(Math.ceil(n / 64) * 2),
        nulls: 0,
      };
    });
  }

  /** Rows buffered and not yet appended. */
  get buffered(): number {
    return this.#rows;
  }

  /**
   * Buffers one row (appending a full chunk first when needed).
   * @throws RangeError / TypeError for a value its column cannot hold (nothing of the row kept).
   */
  append(row: AnonFlowRow): void {
    if (this.#rows === this.#capacity) this.flush();
    const i = this.#rows;
    const cols = this.#cols;
    const values = this.#values;
    this.#read(row, values);
    const word = i >>> 5;
    const bit = 1 << (i & 31);
    for (let c = 0; c < cols.length; c++) {
      const col = cols[c];
      const v = values[c];
      if (v === null || v === undefined) {
        col.valid[word] &= ~bit;
        continue;
      }
      switch (col.kind) {
        case Kind.Timestamp:
          if (typeof v === 'number') {
            if (!Number.isInteger(v) || v < -TWO63 || v >= TWO63) rangeError(col.name, 'not an int64 timestamp');
            const hi = Math.floor(v / TWO32);
            col.i32![2 * i + 1] = hi;
            (col.data as Uint32Array)[2 * i] = v - hi * TWO32;
          } else if (typeof v === 'bigint') {
            if (v < MIN_I64 || v > MAX_I64) rangeError(col.name, 'not an int64 timestamp');
            (col.big as BigInt64Array)[i] = v;
          } else throw new TypeError(`row-chunks: ${col.name}: not a timestamp`);
          break;
        case Kind.U8:
          if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xff) rangeError(col.name, 'not a u8');
          (col.data as Uint8Array)[i] = v;
          break;
        case Kind.U16:
          if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff) rangeError(col.name, 'not a u16');
          (col.data as Uint16Array)[i] = v;
          break;
        case Kind.U32:
          if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) rangeError(col.name, 'not a u32');
          (col.data as Uint32Array)[i] = v;
          break;
        case Kind.U64:
          if (typeof v === 'bigint') {
            if (v < 0n || v > MAX_U64) rangeError(col.name, 'not a u64');
            (col.big as BigUint64Array)[i] = v;
          } else if (typeof v === 'number') {
            if (!Number.isInteger(v) || v < 0 || v >= TWO64) rangeError(col.name, 'not a u64');
            const lo = v % TWO32;
            (col.data as Uint32Array)[2 * i] = lo;
            (col.data as Uint32Array)[2 * i + 1] = (v - lo) / TWO32;
          } else throw new TypeError(`row-chunks: ${col.name}: not a u64`);
          break;
        default:
          if (typeof v !== 'string') throw new TypeError(`row-chunks: ${col.name}: not a string`);
          col.strings[i] = v;
      }
      col.valid[word] |= bit;
    }
    // Only now is the row complete: NULL cells are counted per column for the chunk.
    for (let c = 0; c < cols.length; c++) if ((cols[c].valid[word] & bit) === 0) cols[c].nulls++;
    this.#rows = i + 1;
  }

  /** Appends the buffered rows as one data chunk (nothing when none are buffered). */
  flush(): void {
    if (this.#rows === 0) return;
    this.fill(this.#chunk);
    this.#appender().appendDataChunk(this.#chunk);
  }

  /** Writes the buffered rows into `chunk` (reset first, size set) and empties the buffer. */
  fill(chunk: DuckDBDataChunk): void {
    const n = this.#rows;
    const raw = chunk.chunk;
    duckdb.data_chunk_reset(raw);
    for (let c = 0; c < this.#cols.length; c++) {
      const col = this.#cols[c];
      const vector = duckdb.data_chunk_get_vector(raw, c);
      if (col.kind === Kind.String) writeStrings(col, vector, n);
      else duckdb.copy_data_to_vector(vector, 0, col.data.buffer as ArrayBuffer, 0, n * col.bytes);
      if (col.nulls > 0) {
        duckdb.vector_ensure_validity_writable(vector);
        duckdb.copy_data_to_vector_validity(vector, 0, col.valid.buffer as ArrayBuffer, 0, Math.ceil(n / 64) * 8);
      }
      col.nulls = 0;
    }
    duckdb.data_chunk_set_size(raw, n);
    this.#rows = 0;
  }
}

/** The string cells of a chunk into `vector` (see the file comment), and clears them. */
function writeStrings(col: ColumnBuffer, vector: Bindings.Vector, n: number): void {
  const s = col.strings;
  if (col.nulls === 0) {
    let same = true;
    for (let i = 1; i < n && same; i++) same = s[i] === s[0];
    if (same) {
      duckdb.vector_reference_value(vector, duckdb.create_varchar(s[0]!));
      s.fill(null, 0, n);
      return;
    }
  }
  const bytes = col.bytesView!;
  const words = col.data as Uint32Array;
  let long = 0;
  for (let i = 0; i < n; i++) {
    const w = i * 4;
    words[w] = 0;
    words[w + 1] = 0;
    words[w + 2] = 0;
    words[w + 3] = 0;
    const v = s[i];
    if (v === null || (col.valid[i >>> 5] & (1 << (i & 31))) === 0) {
      s[i] = null;
      continue;
    }
    let inline = v.length <= STRING_INLINE_BYTES;
    for (let k = 0, at = w * 4 + 4; inline && k < v.length; k++) {
      const ch = v.charCodeAt(k);
      if (ch < 0x80) bytes[at + k] = ch;
      else inline = false;
    }
    if (inline) {
      words[w] = v.length;
      s[i] = null;
    } else {
      // Zeros (the loop may have copied a few bytes) until the native call below fills the cell.
      words[w + 1] = words[w + 2] = words[w + 3] = 0;
      long++;
    }
  }
  duckdb.copy_data_to_vector(vector, 0, words.buffer as ArrayBuffer, 0, n * 16);
  for (let i = 0; long > 0 && i < n; i++) {
    const v = s[i];
    if (v === null) continue;
    duckdb.vector_assign_string_element(vector, i, v);
    s[i] = null;
    long--;
  }
}
