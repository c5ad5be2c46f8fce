/**
 * Turns the engine's rows for a compiled query into the response's columns and rows: drops
 * internal `__` columns, renders prefix group keys as network text, reads the suppressed-group
 * count, and applies the row limit (marking truncation).
 *
 * Owns: the response row layout. Never: touches the engine or does IO. Pure.
 */
import type { ResultColumn } from '../../schemas/query.ts';
import type { EngineResult } from '../ports.ts';
import type { CompiledQuery } from './compile-query.ts';
import { formatNetwork } from './cidr.ts';

export interface ShapedResult {
  readonly columns: ResultColumn[];
  readonly rows: unknown[][];
  readonly truncated: boolean;
  /** Aggregates only. */
  readonly suppressedGroups: number | undefined;
}

function toBigInt(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' || typeof v === 'string') return BigInt(v);
  return 0n;
}

/** Shapes the result; the engine was asked for `limit + 1` rows at most. */
export function shapeResult(q: CompiledQuery, r: EngineResult): ShapedResult {
  const index = new Map(r.columns.map((c, i) => [c.name, i]));
  const at = (name: string): number => {
    const i = index.get(name);
    if (i === undefined) throw new TypeError(`engine result lacks column ${name}`);
    return i;
  };
  const columns: ResultColumn[] = q.outputs.map((o) => (o.kind === 'net' ? { name: o.name, type: 'CIDR' } : { name: o.name, type: r.columns[at(o.name)].type }));
  const getters = q.outputs.map((o): ((row: unknown[]) => unknown) => {
    if (o.kind === 'column') {
      const i = at(o.name);
      return (row) => row[i];
    }
    const [vi, hi, lo] = [at(o.version), at(o.hi), at(o.lo)];
    return (row) => {
      if (row[vi] === null || row[hi] === null || row[lo] === null) return null;
      const version = Number(row[vi]) === 4 ? 4 : 6;
      return formatNetwork(version, toBigInt(row[hi]), toBigInt(row[lo]), version === 4 ? o.prefixV4 : o.prefixV6);
    };
  });
  let source = r.rows;
  let suppressedGroups: number | undefined;
  if (q.kind === 'aggregate') {
    const flowsAt = at('__flows');
    const supAt = at('__suppressed');
    suppressedGroups = source.length > 0 ? Number(source[0][supAt] ?? 0) : 0;
    // The LEFT JOIN yields one all-NULL group row when every group was suppressed.
    source = source.filter((row) => row[flowsAt] !== null);
  }
  const truncated = r.truncated || source.length > q.limit;
  const rows = source.slice(0, q.limit).map((row) => getters.map((g) => g(row)));
  return { columns, rows, truncated, suppressedGroups };
}
