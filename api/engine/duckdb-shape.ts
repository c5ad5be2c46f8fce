/**
 * Turns the rows of a compiled plan (engine/duckdb-plan-sql.ts), batch by batch, into answer
 * rows: drops internal `__` columns, renders prefix group keys as network text, reads the
 * suppressed-group count, withholds an `other` row under the minimum group size, applies the
 * row limit (marking truncation), and keeps the last returned row's sort key for the cursor.
 * A listing compiled with rendered rows (PlanSql `rowText`) yields `TextRows`: the row texts
 * DuckDB made, kept or cut exactly as cell rows would be.
 *
 * Owns: the answer's row layout. Never: touches DuckDB or does IO. Pure apart from its own state.
 */
import type { ResultColumn } from '../../schemas/query.ts';
import type { Cell, EngineStats, RowBatch } from '../ports.ts';
import type { PlanSql } from './duckdb-plan-sql.ts';
import { ROW_TEXT_COLUMN } from './duckdb-plan-sql.ts';
import { rowTextFinisher } from './duckdb-row-text-sql.ts';
import { formatNetwork } from '../query/cidr.ts';
import { jsonConverter, toJsonValue } from './json-value.ts';
import { readStateCell } from './duckdb-sketch-sql.ts';
import { stateToJson } from '../query/sketches/partial-state.ts';

/**
 * One batch of engine rows, read column by column: only the columns an answer shows are
 * converted to JS values (a record listing's sort-key columns — the file name among them — are
 * read for the last row only).
 */
export interface ColumnBatch {
  readonly rowCount: number;
  /** Every value of column `i`, raw (as @duckdb/node-api returns them). */
  column(i: number): readonly unknown[];
  /** One raw value. */
  value(i: number, row: number): unknown;
}

/** A batch over row arrays (tests, benchmarks, materialized results). */
export function rowsBatch(rows: readonly (readonly unknown[])[]): ColumnBatch {
  const cols = new Map<number, unknown[]>();
  return {
    rowCount: rows.length,
    column(i) {
      let c = cols.get(i);
      if (c === undefined) cols.set(i, (c = rows.map((r) => r[i])));
      return c;
    },
    value: (i, row) => rows[row]![i],
  };
}

export interface RowShaper {
  readonly columns: readonly ResultColumn[];
  /** Shapes one batch of engine rows (raw DuckDB values); returns the rows to send. */
  push(batch: ColumnBatch): RowBatch;
  /** True once more rows than the limit were seen: later batches (or statements) add nothing. */
  readonly full: boolean;
  stats(): EngineStats;
}

function toBigInt(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' || typeof v === 'string') return BigInt(v);
  return 0n;
}

/** A shaper for `q`, given the engine's column names and type names. */
export function createShaper(q: PlanSql, engineColumns: readonly { name: string; type: string }[]): RowShaper {
  const index = new Map(engineColumns.map((c, i) => [c.name, i]));
  const at = (name: string): number => {
    const i = index.get(name);
    if (i === undefined) throw new TypeError(`engine result lacks column ${name}`);
    return i;
  };
  if (q.rowText !== null) return textShaper(q, at);
  const states = q.stateKinds;
  const columns: ResultColumn[] = q.outputs.map((o) =>
    o.kind === 'net' ? { name: o.name, type: 'CIDR' } : states?.[o.name] !== undefined ? { name: o.name, type: `STATE:${states[o.name]}` } : { name: o.name, type: engineColumns[at(o.name)].type },
  );
  /** Per output: reads the batch's columns it needs once, then converts row by row. */
  const getters = q.outputs.map((o): ((b: ColumnBatch) => (row: number) => Cell) => {
    if (o.kind === 'column') {
      const i = at(o.name);
      const kind = states?.[o.name];
      // A partial answer's metric: its mergeable state, as JSON text (api/query/sketches).
      if (kind !== undefined) return (b) => {
        const col = b.column(i);
        return (r) => JSON.stringify(stateToJson(kind, readStateCell(kind, col[r])));
      };
      const convert = jsonConverter(engineColumns[i]!.type);
      return (b) => {
        const col = b.column(i);
        return (r) => convert(col[r]) as Cell;
      };
    }
    const [vi, hi, lo] = [at(o.version), at(o.hi), at(o.lo)];
    return (b) => {
      const [v, h, l] = [b.column(vi), b.column(hi), b.column(lo)];
      return (r) => {
        if (v[r] === null || h[r] === null || l[r] === null) return null;
        const version = Number(v[r]) === 4 ? 4 : 6;
        return formatNetwork(version, toBigInt(h[r]), toBigInt(l[r]), version === 4 ? o.prefixV4 : o.prefixV6);
      };
    };
  });
  const otherAt = q.otherColumn === null ? -1 : at(q.otherColumn);
  if (otherAt >= 0) columns.push({ name: 'other', type: 'BOOLEAN' });
  const aggregate = q.kind === 'aggregate';
  const flowsAt = aggregate ? at(q.flowsColumn) : -1;
  const supAt = aggregate ? at('__suppressed') : -1;
  const sortAt = q.sortKeyColumns.map(at);
  let suppressed: number | undefined = aggregate ? 0 : undefined;
  let sawSuppressed = false;
  let emitted = 0;
  let truncated = false;
  let lastKey: Cell[] | undefined;

  return {
    columns,
    push(batch) {
      const out: Cell[][] = [];
      const n = batch.rowCount;
      if (n === 0) return out;
      const cells = getters.map((g) => g(batch));
      const shape = (r: number): Cell[] => cells.map((c) => c(r));
      const flows = aggregate ? batch.column(flowsAt) : null;
      const other = otherAt >= 0 ? batch.column(otherAt) : null;
      let last = -1;
      for (let r = 0; r < n; r++) {
        if (flows !== null) {
          if (!sawSuppressed) {
            suppressed = Number(batch.value(supAt, r) ?? 0);
            sawSuppressed = true;
          }
          // The LEFT JOIN yields one all-NULL group row when every group was withheld.
          if (flows[r] === null) continue;
          if (other !== null && other[r] === true) {
            if (Number(flows[r]) < q.minGroupSize) {
              suppressed = (suppressed ?? 0) + 1;
              continue;
            }
            out.push([...shape(r), true]);
            continue;
          }
        }
        if (emitted >= q.limit) {
          truncated = true;
          continue;
        }
        emitted += 1;
        const shaped = shape(r);
        if (other !== null) shaped.push(false);
        out.push(shaped);
        last = r;
      }
      if (last >= 0 && sortAt.length > 0) lastKey = sortAt.map((i) => toJsonValue(batch.value(i, last)) as Cell);
      return out;
    },
    /** True once more rows than the limit were seen: later batches (or statements) add nothing. */
    get full() {
      return truncated;
    },
    stats() {
      return {
        truncated,
        // A count of fewer than minGroupSize withheld groups would itself describe fewer than
        // minGroupSize flows (grouped by a key unique per flow it is their exact number; 0 or 1
        // is an oracle on any filter): such counts are reported as 0.
        ...(suppressed !== undefined ? { suppressedGroups: suppressed >= q.minGroupSize ? suppressed : 0 } : {}),
        ...(truncated && lastKey !== undefined ? { lastSortKey: lastKey } : {}),
      };
    },
  };
}

/** The shaper of a listing whose rows DuckDB rendered (PlanSql `rowText`): limit, truncation and cursor key as above. */
function textShaper(q: PlanSql, at: (name: string) => number): RowShaper {
  const layout = q.rowText!;
  const types = q.outputTypes;
  if (q.kind !== 'records' || types === null || types.length !== q.outputs.length) throw new TypeError('rendered rows need a record listing with its output types');
  const columns: ResultColumn[] = q.outputs.map((o, i) => ({ name: o.name, type: types[i]! }));
  const textAt = at(ROW_TEXT_COLUMN);
  const finish = rowTextFinisher(layout, columns);
  const sortAt = q.sortKeyColumns.map(at);
  let emitted = 0;
  let truncated = false;
  let lastKey: Cell[] | undefined;
  return {
    columns,
    push(batch) {
      const take = Math.max(0, Math.min(batch.rowCount, q.limit - emitted));
      if (take < batch.rowCount) truncated = true;
      if (take === 0) return { layout, texts: [] };
      const all = batch.column(textAt) as readonly string[];
      const texts: string[] = new Array<string>(take);
      for (let r = 0; r < take; r++) texts[r] = finish(all[r]!);
      emitted += take;
      if (sortAt.length > 0) lastKey = sortAt.map((i) => toJsonValue(batch.value(i, take - 1)) as Cell);
      return { layout, texts };
    },
    get full() {
      return truncated;
    },
    stats() {
      return { truncated, ...(truncated && lastKey !== undefined ? { lastSortKey: lastKey } : {}) };
    },
  };
}
