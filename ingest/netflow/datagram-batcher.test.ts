import { test } from 'node:test';
import assert from 'node:assert/strict';
import { iterateSpoolRecords, RecordKind } from '../../schemas/spool.ts';
import { DatagramBatcher, type InFlight } from './datagram-batcher.ts';
import { parseProcNetUdp } from './socket-drops.ts';

/** An in-flight count the test moves by hand, as the writer's side would. */
function inFlight(): InFlight & { records: () => number; bytes: () => number; add: (r: number, b: number) => void } {
  let r = 0;
  let b = 0;
  return { records: () => r, bytes: () => b, add: (dr, db) => ((r += dr), (b += db)) };
}

test('batches are framed spool records in arrival order: address, port, times, payload byte-exact', () => {
  const q = new DatagramBatcher(100, 1 << 20, inFlight());
  const payloads = [new Uint8Array([9, 0, 1, 2]), new Uint8Array(0), new Uint8Array(1400).fill(7)];
  assert.ok(q.push(payloads[0]!, '192.0.2.1', 2055, 10, 5));
  assert.ok(q.push(payloads[1]!, '2001:db8::1', 4739, 11, 999_999_999));
  assert.ok(q.push(payloads[2]!, 'not an address', 1, 12, 0));
  assert.equal(q.exporterUnparsed, 1);
  const b = q.take()!;
  assert.equal(b.records, 3);
  assert.equal(q.take(), null, 'taken: the next batch is empty');
  const seen: { port: number; ts: number[]; addr: number[]; payload: number[] }[] = [];
  const n = iterateSpoolRecords(b.framed, (r) => {
    assert.equal(r.kind, RecordKind.FlowDatagram);
    assert.equal(r.origLen, r.capLen);
    seen.push({ port: r.ifIndex, ts: [r.tsSec, r.tsNsec], addr: [...r.data.subarray(0, 16)], payload: [...r.data.subarray(16)] });
  });
  assert.equal(n, 3);
  assert.deepEqual(seen.map((x) => x.port), [2055, 4739, 1]);
  assert.deepEqual(seen.map((x) => x.ts), [[10, 5], [11, 999_999_999], [12, 0]]);
  assert.deepEqual(seen[0]!.addr, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1]);
  assert.deepEqual(seen[1]!.addr, [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 1]);
  assert.deepEqual(seen[2]!.addr, new Array<number>(16).fill(0));
  seen.forEach((x, i) => assert.deepEqual(x.payload, [...payloads[i]!]));
});

test('the bound counts what is in flight and what is batched, by records and by bytes; refusals are counted', () => {
  const f = inFlight();
  const q = new DatagramBatcher(3, 1000, f);
  const d = (len: number) => new Uint8Array(len);
  assert.ok(q.push(d(10), 'a', 1, 0, 0));
  assert.ok(q.push(d(10), 'a', 1, 0, 0));
  const b = q.take()!;
  f.add(b.records, b.framed.length); // handed over, not yet taken by the writer
  assert.ok(q.push(d(10), 'a', 1, 0, 0));
  assert.equal(q.push(d(10), 'a', 1, 0, 0), false, 'three queued: full by count');
  assert.equal(q.highWater, 3);
  f.add(-b.records, -b.framed.length); // the writer took it
  assert.ok(q.push(d(10), 'a', 1, 0, 0));
  // 2 records of 50 bytes batched; a 900-byte payload frames to 940: over 1000.
  assert.equal(q.push(d(900), 'a', 1, 0, 0), false, 'full by bytes');
  assert.ok(q.push(d(800), 'a', 1, 0, 0), '840 + 100 fits');
  assert.equal(q.dropped, 2);
  assert.equal(q.droppedBytes, 10 + 900);
  assert.equal(q.take()!.records, 3);
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
