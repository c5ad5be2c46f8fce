/**
 * Turns the rows of a compiled plan (engine/duckdb-plan-sql.ts), batch by batch, into answer
 * rows: drops internal `__` columns, renders prefix group keys as network text, reads the
 * suppressed-group count, withholds an `other` row under the minimum group size, applies the
 * row limit (marking truncation), and keeps the last returned row's sort key for the cursor.
 *
 * Owns: the answer's row layout. Never: touches DuckDB or does IO. Pure apart from its own state.
 */
import type { ResultColumn } from '../../schemas/query.ts';
import type { Cell, EngineStats } from '../ports.ts';
import type { PlanSql } from './duckdb-plan-sql.ts';
import { formatNetwork } from '../query/cidr.ts';
import { toJsonValue } from './json-value.ts';
import { readStateCell } from './duckdb-sketch-sql.ts';
import { stateToJson } from '../query/sketches/partial-state.ts';

export interface RowShaper {
  readonly columns: readonly ResultColumn[];
  /** Shapes one batch of engine rows (raw DuckDB values); returns the rows to send. */
  push(rows: readonly (readonly unknown[])[]): Cell[][];
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
  const states = q.stateKinds;
  const columns: ResultColumn[] = q.outputs.map((o) =>
    o.kind === 'net' ? { name: o.name, type: 'CIDR' } : states?.[o.name] !== undefined ? { name: o.name, type: `STATE:${states[o.name]}` } : { name: o.name, type: engineColumns[at(o.name)].type },
  );
  const getters = q.outputs.map((o): ((row: readonly unknown[]) => Cell) => {
    if (o.kind === 'column') {
      const i = at(o.name);
      const kind = states?.[o.name];
      // A partial answer's metric: its mergeable state, as JSON text (api/query/sketches).
      if (kind !== undefined) return (row) => JSON.stringify(stateToJson(kind, readStateCell(kind, row[i])));
      return (row) => toJsonValue(row[i]) as Cell;
    }
    const [vi, hi, lo] = [at(o.version), at(o.hi), at(o.lo)];
    return (row) => {
      if (row[vi] === null || row[hi] === null || row[lo] === null) return null;
      const version = Number(row[vi]) === 4 ? 4 : 6;
      return formatNetwork(version, toBigInt(row[hi]), toBigInt(row[lo]), version === 4 ? o.prefixV4 : o.prefixV6);
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
    push(rows) {
      const out: Cell[][] = [];
      for (const row of rows) {
        if (aggregate) {
          if (!sawSuppressed) {
            suppressed = Number(row[supAt] ?? 0);
            sawSuppressed = true;
          }
          // The LEFT JOIN yields one all-NULL group row when every group was withheld.
          if (row[flowsAt] === null) continue;
          if (otherAt >= 0 && row[otherAt] === true) {
            if (Number(row[flowsAt]) < q.minGroupSize) {
              suppressed = (suppressed ?? 0) + 1;
              continue;
            }
            out.push([...getters.map((g) => g(row)), true]);
            continue;
          }
        }
        if (emitted >= q.limit) {
          truncated = true;
          continue;
        }
        emitted += 1;
        const shaped = getters.map((g) => g(row));
        if (otherAt >= 0) shaped.push(false);
        out.push(shaped);
        if (sortAt.length > 0) lastKey = sortAt.map((i) => toJsonValue(row[i]) as Cell);
      }
      return out;
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
