import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientErrorCode, FlowsealApiError, errorFromResponse, isFlowsealApiError } from './errors.ts';

test('an API envelope becomes code, status, message, details and requestId', async () => {
  const body = { error: { code: 'ERR_QUERY_FILTER_SYNTAX', message: 'expected a port number at position 18', requestId: 'req-1', details: { position: 18, expected: ['number'] } } };
  const e = await errorFromResponse(new Response(JSON.stringify(body), { status: 400 }), undefined);
  assert.ok(isFlowsealApiError(e));
  assert.equal(e.code, 'ERR_QUERY_FILTER_SYNTAX');
  assert.equal(e.status, 400);
  assert.equal(e.message, 'expected a port number at position 18');
  assert.equal(e.requestId, 'req-1');
  assert.deepEqual(e.details, { position: 18, expected: ['number'] });
  assert.equal(e.name, 'FlowsealApiError');
});

test('an answer without the envelope (a proxy page) is ERR_CLIENT_BAD_RESPONSE with the status', async () => {
  const e = await errorFromResponse(new Response('<html>Bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }), 3);
  assert.ok(e instanceof FlowsealApiError);
  assert.equal(e.code, ClientErrorCode.BadResponse);
  assert.equal(e.status, 502);
  assert.equal(e.retryAfterSec, 3);
  assert.doesNotMatch(e.message, /html/, 'the foreign body is not copied into the message');
});

test('a huge error body is read only up to its first 64 KiB', async () => {
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      pulled += 1;
      if (pulled > 1000) c.close();
      else c.enqueue(new Uint8Array(16_384).fill(0x20));
    },
  });
  const e = await errorFromResponse(new Response(stream, { status: 500 }), undefined);
  assert.equal(e.code, ClientErrorCode.BadResponse);
  assert.ok(pulled < 10, `stopped reading early (${pulled} chunks)`);
});
