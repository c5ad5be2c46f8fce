/**
 * Bounded memory: a 2-million-row answer (many times the render buffer) rendered in every
 * streamed format while the consumer reads; the producer must never run more than a few
 * batches ahead of what the consumer has taken. Asserts batches in flight, not time or RSS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderStream } from './render-stream.ts';
import type { RenderOutcome } from './render-stream.ts';
import { fakeStream } from './fake-result-stream.test-util.ts';
import type { Cell } from '../../ports.ts';

const ROWS = 2_000_000;
const BATCH = 2048;
const BATCHES = Math.ceil(ROWS / BATCH);
const columns = [
  { name: 'bytes', type: 'UBIGINT' },
  { name: 'dst_port', type: 'USMALLINT' },
  { name: 'src_net', type: 'CIDR' },
];
// One batch object reused: producing costs nothing, so any lag measured is the renderer's.
const full: Cell[][] = Array.from({ length: BATCH }, (_, i) => [i % 7 === 0 ? '18446744073709551615' : i * 1000, i % 65536, `10.${i % 256}.0.0/16`]);
const last: Cell[][] = full.slice(0, ROWS - (BATCHES - 1) * BATCH);
const MAX_AHEAD = 4;

for (const format of ['ndjson', 'csv', 'arrow', 'json'] as const) {
  test(`${format}: 2M rows stream with the producer at most ${MAX_AHEAD} batches ahead of the consumer`, async () => {
    const stream = fakeStream(columns, BATCHES, (i) => (i === BATCHES - 1 ? last : full), { stats: { rows: ROWS, truncated: false, elapsedMs: 1 } });
    const ends: RenderOutcome[] = [];
    // 64 KiB of buffer: a few batches, so streaming starts at once.
    const r = await renderStream(stream, format, { shape: 'arrays', requestId: 'r', maxBufferBytes: 64 * 1024, onEnd: (o) => ends.push(o) });
    assert.equal(JSON.parse(r.headers['Flowseal-Stats'] ?? '{"streamed":true}').streamed, true);
    const reader = r.body.getReader();
    let chunks = 0;
    let maxAhead = 0;
    let lineEnds = 0;
    let tail: Uint8Array = new Uint8Array(0);
    for (;;) {
      maxAhead = Math.max(maxAhead, stream.produced - chunks);
      const { done, value } = await reader.read();
      if (done) break;
      chunks++;
      // A slow client: give the producer every chance to run ahead before the next read.
      await new Promise((ok) => setImmediate(ok));
      if (format === 'ndjson' || format === 'csv') for (let i = 0; i < value.length; i++) if (value[i] === 0x0a) lineEnds++;
      tail = value;
    }
    assert.ok(maxAhead <= MAX_AHEAD, `producer ran ${maxAhead} batches ahead`);
    assert.equal(stream.produced, BATCHES);
    assert.ok(chunks >= BATCHES, 'at least one chunk per batch: nothing was gathered into one big write');
    assert.equal(ends[0]?.rows, ROWS);
    if (format === 'ndjson') assert.equal(lineEnds, ROWS);
    if (format === 'csv') assert.equal(lineEnds, ROWS + 1);
    if (format === 'json') assert.match(new TextDecoder().decode(tail), /\],"stats":\{"rows":2000000,"truncated":false,"elapsedMs":1\},"requestId":"r"\}$/);
    if (format === 'arrow') assert.deepEqual([...tail.subarray(-8)], [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
  });
}
