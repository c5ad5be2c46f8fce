/**
 * A `ResultStream` for renderer tests: batches made lazily by a function, with counters for
 * what the renderer asked for (`produced`), whether it stopped the query early (`returned`),
 * and an optional failure after some batches or in `finish()`.
 */
import type { Cell, ResultStream } from '../../ports.ts';
import type { ResultColumn } from '../../../schemas/query.ts';

export interface FakeStream extends ResultStream {
  /** Batches handed out so far. */
  readonly produced: number;
  /** The renderer ended the iteration before the last batch (the query would be stopped). */
  readonly returned: boolean;
}

export function fakeStream(
  columns: readonly ResultColumn[],
  batchCount: number,
  makeBatch: (index: number) => Cell[][],
  options: { stats?: Record<string, unknown>; failAfterBatches?: number; failFinish?: boolean; error?: Error } = {},
): FakeStream {
  const state = { produced: 0, returned: false, exhausted: false };
  const error = options.error ?? new Error('engine failed part-way');
  async function* batches(): AsyncGenerator<Cell[][]> {
    try {
      for (let i = 0; i < batchCount; i++) {
        if (options.failAfterBatches !== undefined && i === options.failAfterBatches) throw error;
        await Promise.resolve();
        state.produced++;
        yield makeBatch(i);
      }
      state.exhausted = true;
    } finally {
      if (!state.exhausted) state.returned = true;
    }
  }
  return {
    columns,
    batches: batches(),
    async finish() {
      if (!state.exhausted) throw new Error('finish() called before the batches were exhausted');
      if (options.failFinish) throw error;
      return options.stats ?? { rows: 0, truncated: false, elapsedMs: 1 };
    },
    get produced() {
      return state.produced;
    },
    get returned() {
      return state.returned;
    },
  };
}

/** Reads a body to the end. */
export async function readAll(body: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of body) parts.push(p);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
