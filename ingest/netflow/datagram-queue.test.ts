import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DatagramQueue, newQueuedDatagram } from './datagram-queue.ts';
import { parseProcNetUdp } from './socket-drops.ts';

test('the queue is FIFO across wrap-around, bounded by count and by bytes, and counts what it refuses', () => {
  const q = new DatagramQueue(3, 250);
  const out = newQueuedDatagram();
  const d = (n: number, len = 50) => new Uint8Array(len).fill(n);
  let next = 0;
  const taken: number[] = [];
  for (let round = 0; round < 10; round++) {
    while (q.push(d(next), 'a', next, next, 0)) next++;
    assert.ok(q.length === 3);
    assert.ok(q.shift(out));
    taken.push(out.payload[0]!);
    assert.equal(out.port, out.payload[0]);
  }
  while (q.shift(out)) taken.push(out.payload[0]!);
  assert.deepEqual(taken, Array.from({ length: next }, (_, i) => i));
  assert.equal(q.dropped, 10);
  assert.equal(q.highWater, 3);
  assert.equal(q.bytes, 0);
  assert.equal(q.push(d(1, 200), 'a', 1, 0, 0), true);
  assert.equal(q.push(d(2, 51), 'a', 1, 0, 0), false, 'over the byte bound');
  assert.equal(q.droppedBytes, 10 * 50 + 51);
});

test('/proc/net/udp: drops and rx_queue of the socket with our local port', () => {
  const text = [
    '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
    '  100: 0100007F:0807 00000000:0000 07 00000000:00000A00 00:00000000 00000000     0        0 12345 2 0000000000000000 17',
    '  101: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 12346 2 0000000000000000 3',
  ].join('\n');
  assert.deepEqual(parseProcNetUdp(text, 2055), { drops: 17, queuedBytes: 2560 });
  assert.deepEqual(parseProcNetUdp(text, 53), { drops: 3, queuedBytes: 0 });
  assert.equal(parseProcNetUdp(text, 9995), null);
});
