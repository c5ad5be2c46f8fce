/**
 * Merging partial answers (plans with `mode: 'partial'`) into one final answer: rows grouped by
 * their key tuple, each metric's state merged (api/query/sketches/partial-state.ts) and
 * finalized in the metric's answer unit (api/query/metric-states.ts). This is what a home node
 * does with its partners' answers (federation) and what the tests do with slices of one archive.
 *
 * Owns: reading a partial answer's cells and the merge. Never: trusts a cell — every state is
 * validated as it is read (a partner's answer is untrusted input). Pure.
 */
import type { Cell } from '../ports.ts';
import { finalizeState, mergeRowSets, stateFromJson } from './sketches/partial-state.ts';
import type { KeyValue, PartialRowSet } from './sketches/partial-state.ts';
import { metricState } from './metric-states.ts';
import { AppError, ErrorCode } from '../../schemas/errors.ts';

export interface PartialAnswer {
  readonly columns: readonly { readonly name: string; readonly type: string }[];
  readonly rows: readonly (readonly Cell[])[];
}

/**
 * Merges answers whose columns are `keyCount` keys then `metrics` (in that order).
 * @throws AppError ERR_BAD_REQUEST when an answer's columns or a state do not fit.
 */
export function mergePartialAnswers(metrics: readonly string[], keyCount: number, answers: readonly PartialAnswer[]): { keys: KeyValue[]; values: (number | string | null)[] }[] {
  const states = metrics.map(metricState);
  const kinds = states.map((s) => s.kind);
  const sets: PartialRowSet[] = answers.map((a, n) => {
    const names = a.columns.slice(keyCount).map((c) => c.name);
    if (a.columns.length !== keyCount + metrics.length || names.some((x, i) => x !== metrics[i])) {
      throw new AppError(ErrorCode.BadRequest, `partial answer ${n} does not have the expected columns`);
    }
    return {
      kinds,
      rows: a.rows.map((row) => ({
        keys: row.slice(0, keyCount) as KeyValue[],
        states: kinds.map((kind, i) => {
          const cell = row[keyCount + i];
          let json: unknown;
          try {
            json = typeof cell === 'string' ? JSON.parse(cell) : undefined;
          } catch {
            json = undefined;
          }
          return stateFromJson(kind, json);
        }),
      })),
    };
  });
  const merged = mergeRowSets(kinds, sets);
  return merged.rows.map((row) => ({
    keys: [...row.keys],
    values: row.states.map((s, i) => states[i]!.toAnswer(finalizeState(states[i]!.spec, s as never))),
  }));
}
