import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressReporter, type ProgressCounters } from './progress-reporter.ts';

function harness(tty: boolean) {
  let out = '';
  let now = 1_000_000;
  const c: ProgressCounters = { units: 0, records: 0, bytes: 0, drops: 0, extra: { queued: 0 } };
  const r = new ProgressReporter('ingest netflow', 'datagrams', () => c, { intervalMs: 0, tty, write: (s) => void (out += s) }, () => now);
  r.start();
  return { r, c, advance: (ms: number) => (now += ms), out: () => out, reset: () => (out = '') };
}

test('NDJSON: one progress line per tick with per-second rates over the last interval, a drops line when drops grow', () => {
  const h = harness(false);
  Object.assign(h.c, { units: 2000, records: 1990, bytes: 3_000_000, drops: 0 });
  h.advance(2000);
  h.r.tick();
  Object.assign(h.c, { units: 3000, records: 2500, bytes: 4_000_000, drops: 10 });
  h.advance(500);
  h.r.tick();
  const lines = h.out().trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines[0], { component: 'ingest', event: 'progress', elapsedMs: 2000, datagrams: 2000, datagramsPerSec: 1000, records: 1990, recordsPerSec: 995, bytes: 3_000_000, bytesPerSec: 1_500_000, drops: 0, queued: 0 });
  assert.deepEqual(lines[1], { component: 'ingest', event: 'drops', datagrams: 10, total: 10, overMs: 500 });
  assert.equal(lines[2].datagramsPerSec, 2000);
  assert.equal(lines[2].recordsPerSec, 1020);
  h.r.stop();
  assert.equal(lines.length, 3);
});

test('TTY: the status line is rewritten in place, log lines erase it first, stop leaves the last one on screen', () => {
  const h = harness(true);
  Object.assign(h.c, { units: 12_345, records: 12_345, bytes: 5 * 1024 * 1024, drops: 0 });
  h.advance(1000);
  h.r.tick();
  assert.equal(h.out(), '\ringest netflow: 12,345 datagrams (12,345/s) · 12,345 records (12,345/s) · 5.0 MiB · drops 0 · queued 0 · 1 s\x1b[K');
  h.reset();
  const logged: object[] = [];
  h.r.wrapLog((o) => logged.push(o))({ event: 'x' });
  assert.equal(h.out(), '\r\x1b[K');
  assert.equal(logged.length, 1);
  h.reset();
  h.c.drops = 7;
  h.advance(1000);
  h.r.tick();
  assert.match(h.out(), /^ingest netflow: WARNING: 7 datagrams dropped in the last 1\.0 s \(7 in all\)\n\r.*DROPPED 7/);
  h.reset();
  h.r.stop();
  assert.match(h.out(), /^\r.*\x1b\[K\n$/);
  h.reset();
  h.r.stop();
  assert.equal(h.out(), '', 'nothing more once stopped');
});

test('the timer reports on its own (unref\'d), and no options means no output', async () => {
  let out = '';
  const r = new ProgressReporter('x', 'packets', () => ({ units: 1, records: 1, bytes: 1, drops: 0 }), { intervalMs: 5, tty: false, write: (s) => void (out += s) });
  r.start();
  // Wait for the lines, not a fixed time: a loaded machine delays timers.
  const deadline = Date.now() + 20_000;
  while (out.split('\n').filter(Boolean).length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
  r.stop();
  assert.ok(out.split('\n').filter(Boolean).length >= 2, out);
  const quiet = new ProgressReporter('x', 'packets', () => ({ units: 1, records: 1, bytes: 1, drops: 0 }), undefined);
  quiet.start();
  quiet.stop();
});
