import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { Hono } from 'hono';
import { chooseEncoding, compress } from './compress.ts';
import { nodeBrotliCompressor } from '../adapters/node-brotli.ts';

const big = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ row: i, net: `10.${i % 256}.0.0/16` })).join('\n');
const bytes = (b: ArrayBuffer) => new Uint8Array(b);

/** An app with one compressible route, one small, one pre-encoded, one Parquet and one streamed. */
function app(options: Parameters<typeof compress>[0] = {}, pulls = { n: 0 }) {
  const a = new Hono();
  a.use('*', compress(options));
  a.get('/big', (c) => c.body(big, 200, { 'Content-Type': 'application/x-ndjson; charset=utf-8', 'Content-Length': String(Buffer.byteLength(big)), Vary: 'Accept', ETag: '"v1"' }));
  a.get('/small', (c) => c.body('{"ok":true}', 200, { 'Content-Type': 'application/json', 'Content-Length': '11' }));
  a.get('/encoded', (c) => c.body(new Uint8Array([1, 2, 3]), 200, { 'Content-Type': 'text/plain', 'Content-Encoding': 'gzip' }));
  a.get('/parquet', (c) => c.body(new TextEncoder().encode(big), 200, { 'Content-Type': 'application/vnd.apache.parquet' }));
  a.get('/no-transform', (c) => c.body(big, 200, { 'Content-Type': 'text/csv', 'Cache-Control': 'no-transform' }));
  a.get('/stream', (c) => {
    const enc = new TextEncoder();
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          pulls.n++;
          if (pulls.n > 50) controller.close();
          else controller.enqueue(enc.encode(`${big.slice(0, 2000)}\n`));
        },
      },
      { highWaterMark: 0 },
    );
    return c.body(body, 200, { 'Content-Type': 'application/vnd.apache.arrow.stream' });
  });
  return a;
}

test('Accept-Encoding: q-values decide, br wins ties, * covers the unlisted, q=0 and identity refuse', () => {
  const both = ['br', 'gzip'] as const;
  const cases: Array<[string | undefined, readonly ('br' | 'gzip')[], string | null]> = [
    [undefined, both, null],
    ['', both, null],
    ['identity', both, null],
    ['gzip', both, 'gzip'],
    ['gzip, br', both, 'br'],
    ['br;q=0.5, gzip;q=0.8', both, 'gzip'],
    ['br;q=0, gzip', both, 'gzip'],
    ['GZIP;Q=0.3, deflate', both, 'gzip'],
    ['*', both, 'br'],
    ['*', ['gzip'], 'gzip'],
    ['*;q=0.1, br;q=0', both, 'gzip'],
    ['gzip;q=0', both, null],
    ['br', ['gzip'], null],
    ['x-gzip', both, 'gzip'],
    ['gzip;q=abc', both, null],
    ['zstd, deflate', both, null],
  ];
  for (const [header, offered, want] of cases) assert.equal(chooseEncoding(header, offered), want, `${header} / ${offered}`);
});

test('gzip by default (no Brotli factory): body decompresses to the same bytes; Vary appended; length dropped; ETag weakened', async () => {
  const a = app();
  for (const ae of ['gzip', 'br, gzip;q=0.5']) {
    const r = await a.request('/big', { headers: { 'Accept-Encoding': ae } });
    assert.equal(r.headers.get('Content-Encoding'), 'gzip', ae);
    assert.equal(r.headers.get('Vary'), 'Accept, Accept-Encoding');
    assert.equal(r.headers.get('Content-Length'), null);
    assert.equal(r.headers.get('ETag'), 'W/"v1"');
    assert.equal(gunzipSync(bytes(await r.arrayBuffer())).toString(), big);
  }
  const onlyBr = await a.request('/big', { headers: { 'Accept-Encoding': 'br' } });
  assert.equal(onlyBr.headers.get('Content-Encoding'), null, 'br without a factory is not offered');
  assert.equal(await onlyBr.text(), big);
});

test('br with the Node adapter: decompresses to the same bytes, smaller than the body', async () => {
  const a = app({ brotli: nodeBrotliCompressor() });
  const r = await a.request('/big', { headers: { 'Accept-Encoding': 'gzip, br' } });
  assert.equal(r.headers.get('Content-Encoding'), 'br');
  const raw = bytes(await r.arrayBuffer());
  assert.ok(raw.byteLength < Buffer.byteLength(big) / 3);
  assert.equal(brotliDecompressSync(raw).toString(), big);
  const g = await a.request('/big', { headers: { 'Accept-Encoding': 'gzip;q=1, br;q=0.9' } });
  assert.equal(g.headers.get('Content-Encoding'), 'gzip');
  assert.throws(() => nodeBrotliCompressor({ quality: 12 }), TypeError);
});

test('br on a body of known length up to wholeMaxBytes: compressed in one call, with its new Content-Length; larger or streamed bodies through the stream', async () => {
  const calls = { whole: 0, stream: 0 };
  const node = nodeBrotliCompressor();
  const counted = Object.assign(() => (calls.stream++, node()), { whole: (b: Uint8Array) => (calls.whole++, node.whole!(b)) });
  const a = app({ brotli: counted });
  const r = await a.request('/big', { headers: { 'Accept-Encoding': 'br' } });
  const raw = bytes(await r.arrayBuffer());
  assert.equal(r.headers.get('Content-Encoding'), 'br');
  assert.equal(r.headers.get('Content-Length'), String(raw.byteLength));
  assert.equal(r.headers.get('ETag'), 'W/"v1"');
  assert.equal(brotliDecompressSync(raw).toString(), big);
  assert.deepEqual(calls, { whole: 1, stream: 0 });
  const s = await a.request('/stream', { headers: { 'Accept-Encoding': 'br' } });
  assert.equal(s.headers.get('Content-Length'), null);
  await s.arrayBuffer();
  assert.deepEqual(calls, { whole: 1, stream: 1 }, 'a streamed body (no length) goes through the stream');
  const small = app({ brotli: counted, wholeMaxBytes: 1000 });
  const l = await small.request('/big', { headers: { 'Accept-Encoding': 'br' } });
  assert.equal(l.headers.get('Content-Length'), null);
  assert.equal(brotliDecompressSync(bytes(await l.arrayBuffer())).toString(), big);
  assert.deepEqual(calls, { whole: 1, stream: 2 }, 'over wholeMaxBytes: through the stream');
  assert.throws(() => compress({ wholeMaxBytes: -1 }), TypeError);
});

test('identity, no header, small, pre-encoded, Parquet and no-transform bodies pass through unchanged', async () => {
  const a = app({ brotli: nodeBrotliCompressor() });
  for (const headers of [{}, { 'Accept-Encoding': 'identity' }, { 'Accept-Encoding': 'gzip;q=0, br;q=0' }] as Record<string, string>[]) {
    const r = await a.request('/big', { headers });
    assert.equal(r.headers.get('Content-Encoding'), null);
    assert.equal(r.headers.get('Vary'), 'Accept, Accept-Encoding', 'the answer depended on Accept-Encoding');
    assert.equal(r.headers.get('ETag'), '"v1"');
    assert.equal(await r.text(), big);
  }
  const gz = { headers: { 'Accept-Encoding': 'gzip, br' } };
  const small = await a.request('/small', gz);
  assert.equal(small.headers.get('Content-Encoding'), null);
  assert.equal(await small.text(), '{"ok":true}');
  const encoded = await a.request('/encoded', gz);
  assert.equal(encoded.headers.get('Content-Encoding'), 'gzip');
  assert.deepEqual(bytes(await encoded.arrayBuffer()), new Uint8Array([1, 2, 3]));
  const pq = await a.request('/parquet', gz);
  assert.equal(pq.headers.get('Content-Encoding'), null);
  assert.equal(pq.headers.get('Vary'), null);
  const nt = await a.request('/no-transform', gz);
  assert.equal(nt.headers.get('Content-Encoding'), null);
  assert.equal(await nt.text(), big);
  assert.throws(() => compress({ threshold: -1 }), TypeError);
});

test('a streamed body stays streamed: the response is returned before the source is read through, and decompresses whole', async () => {
  for (const [ae, options, decode] of [
    ['gzip', {}, gunzipSync],
    ['br', { brotli: nodeBrotliCompressor() }, brotliDecompressSync],
  ] as const) {
    const pulls = { n: 0 };
    const r = await app(options, pulls).request('/stream', { headers: { 'Accept-Encoding': ae } });
    assert.equal(r.headers.get('Content-Encoding'), ae);
    assert.ok(pulls.n <= 2, `${ae}: ${pulls.n} chunks pulled before the client read anything`);
    const out = decode(bytes(await r.arrayBuffer())).toString();
    assert.equal(pulls.n, 51);
    assert.equal(out, `${big.slice(0, 2000)}\n`.repeat(50));
  }
});
