/**
 * Over a real HTTP/1.1 connection (@hono/node-server, the Node adapter's server): a streamed
 * answer arrives whole, and a failure part-way cuts the connection, so a client's body read
 * fails instead of ending as if the answer were complete — with and without compression.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { renderStream } from './render-stream.ts';
import type { StreamFormat } from './render-stream.ts';
import { fakeStream } from './fake-result-stream.test-util.ts';
import { compress } from '../../middleware/compress.ts';
import type { Cell } from '../../ports.ts';

const columns = [{ name: 'n', type: 'BIGINT' }, { name: 'net', type: 'CIDR' }];
const batch = (i: number): Cell[][] => Array.from({ length: 500 }, (_, j) => [i * 500 + j, `10.${j % 256}.0.0/16`]);

let server: ReturnType<typeof serve>;
let base: string;
before(async () => {
  const app = new Hono();
  app.use('*', compress());
  app.get('/:format/:fail', async (c) => {
    const fail = c.req.param('fail') === 'fail';
    const stream = fakeStream(columns, 40, batch, { stats: { rows: 20_000, truncated: false, elapsedMs: 1 }, ...(fail ? { failAfterBatches: 30 } : {}) });
    const out = await renderStream(stream, c.req.param('format') as StreamFormat, { shape: 'arrays', requestId: 'r', maxBufferBytes: 4096 });
    return c.body(out.body, 200, { 'Content-Type': out.contentType, ...out.headers });
  });
  await new Promise<void>((ok) => {
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => ok());
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((ok) => server.close(() => ok())));

/** GET with node:http, so the test sees exactly whether the response ended cleanly. */
function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer; complete: boolean; error?: Error }> {
  return new Promise((ok, fail) => {
    const req = request(`${base}${path}`, { headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      const done = (error?: Error) => ok({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), complete: res.complete, ...(error ? { error } : {}) });
      res.on('end', () => done());
      res.on('error', (e) => done(e));
      res.on('aborted', () => done(new Error('aborted')));
    });
    req.on('error', fail);
    req.end();
  });
}

test('a streamed answer arrives whole over HTTP (chunked), plain and gzip', async () => {
  const plain = await get('/ndjson/ok');
  assert.equal(plain.status, 200);
  assert.equal(plain.complete, true);
  assert.equal(plain.headers['transfer-encoding'], 'chunked');
  assert.equal(plain.body.toString().split('\n').length - 1, 20_000);
  const gz = await get('/json/ok', { 'Accept-Encoding': 'gzip' });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  const doc = JSON.parse(gunzipSync(gz.body).toString());
  assert.equal(doc.rows.length, 20_000);
  assert.equal(doc.stats.rows, 20_000);
});

test('a failure part-way cuts the connection: the client sees an incomplete response, never a clean end', async () => {
  // @hono/node-server logs the body's error with console.error: keep the test output clean.
  const logged: unknown[] = [];
  const saved = console.error;
  console.error = (e: unknown) => logged.push(e);
  try {
    for (const format of ['json', 'ndjson', 'csv', 'arrow'] as const) {
      for (const headers of [{}, { 'Accept-Encoding': 'gzip' }] as Record<string, string>[]) {
        const r = await get(`/${format}/fail`, headers);
        assert.equal(r.status, 200, 'headers had gone out');
        assert.ok(r.body.byteLength > 0, 'part of the body had gone out');
        assert.equal(r.complete, false, `${format} ${JSON.stringify(headers)}: the response must not end cleanly`);
        assert.ok(r.error, `${format}: the client saw an error`);
        if (!('Accept-Encoding' in headers)) assert.ok(!r.body.includes('engine failed'), 'nothing about the failure is written in-band');
      }
    }
  } finally {
    console.error = saved;
  }
  assert.ok(logged.length >= 8);
});
