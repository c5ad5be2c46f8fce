import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { iterateSpoolRecords, RecordKind } from '../../schemas/spool.ts';
import { DatagramRing, type InFlight, type RingBatch } from './datagram-ring.ts';
import { parseProcNetUdp } from './socket-drops.ts';

/** The writer's side by hand: batches handed over are in flight until released. */
function handOver(): InFlight & { add: (b: RingBatch) => void; release: (b: RingBatch) => void } {
  let r = 0;
  let n = 0;
  return {
    records: () => r,
    bytes: () => n,
    add: (b) => ((r += b.records), (n += b.skip + b.end - b.start)),
    release: (b) => ((r -= b.records), (n -= b.skip + b.end - b.start)),
  };
}

function records(ring: Uint8Array, b: RingBatch) {
  const out: { kind: number; port: number; ts: number[]; addr: number[]; payload: number[]; origLen: number; capLen: number }[] = [];
  iterateSpoolRecords(ring.subarray(b.start, b.end), (r) => {
    out.push({ kind: r.kind, port: r.ifIndex, ts: [r.tsSec, r.tsNsec], addr: [...r.data.subarray(0, 16)], payload: [...r.data.subarray(16)], origLen: r.origLen, capLen: r.capLen });
  });
  return out;
}

test('records framed in place: address, port, times, payload byte-exact, in arrival order', () => {
  const ring = new Uint8Array(1 << 16);
  const q = new DatagramRing(ring, 100, handOver());
  const payloads = [new Uint8Array([9, 0, 1, 2]), new Uint8Array(0), new Uint8Array(1400).fill(7)];
  assert.ok(q.push(payloads[0]!, '192.0.2.1', 2055, 10, 5));
  assert.ok(q.push(payloads[1]!, '2001:db8::1', 4739, 11, 999_999_999));
  assert.ok(q.push(payloads[2]!, 'not an address', 1, 12, 0));
  assert.equal(q.exporterUnparsed, 1);
  const b = q.take()!;
  assert.deepEqual([b.start, b.skip, b.records], [0, 0, 3]);
  assert.equal(q.take(), null, 'taken: nothing more');
  const seen = records(ring, b);
  assert.deepEqual(seen.map((x) => [x.kind, x.port, x.origLen, x.capLen]), [[RecordKind.FlowDatagram, 2055, 20, 20], [RecordKind.FlowDatagram, 4739, 16, 16], [RecordKind.FlowDatagram, 1, 1416, 1416]]);
  assert.deepEqual(seen.map((x) => x.ts), [[10, 5], [11, 999_999_999], [12, 0]]);
  assert.deepEqual(seen[0]!.addr, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1]);
  assert.deepEqual(seen[1]!.addr, [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 1]);
  assert.deepEqual(seen[2]!.addr, new Array<number>(16).fill(0));
  seen.forEach((x, i) => assert.deepEqual(x.payload, [...payloads[i]!]));
});

test('the bound: records and bytes handed over and not released, plus those not yet handed over; refusals are counted', () => {
  const f = handOver();
  const q = new DatagramRing(new Uint8Array(1000), 3, f);
  const d = (len: number) => new Uint8Array(len);
  assert.ok(q.push(d(10), 'a', 1, 0, 0));
  assert.ok(q.push(d(10), 'a', 1, 0, 0));
  const b = q.take()!;
  f.add(b);
  assert.ok(q.push(d(10), 'a', 1, 0, 0));
  assert.equal(q.push(d(10), 'a', 1, 0, 0), false, 'three queued: full by count');
  assert.equal(q.highWater, 3);
  f.release(b);
  // 50 bytes framed at 100; 900 + 40 would end past 1000: it wraps to 0, where 100 bytes are free only.
  assert.equal(q.push(d(900), 'a', 1, 0, 0), false, 'full by bytes');
  assert.ok(q.push(d(10), 'a', 1, 0, 0));
  assert.deepEqual([q.dropped, q.droppedBytes], [2, 10 + 900]);
  assert.deepEqual(q.take(), { start: 100, end: 200, skip: 0, records: 2 });
});

test('property: whatever the sizes and release timing, every accepted datagram comes out once, in order, byte-exact, within the bound; drops are the rest', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 200, max: 5000 }),
      fc.integer({ min: 1, max: 40 }),
      // (payload length, then: 0 nothing, 1 hand over, 2 and release one, 3 and release two)
      fc.array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 300 }),
      (ringBytes, maxRecords, ops) => {
        const ring = new Uint8Array(ringBytes);
        const f = handOver();
        const q = new DatagramRing(ring, maxRecords, f);
        const inFlight: { b: RingBatch; copy: ReturnType<typeof records> }[] = [];
        const accepted: number[] = [];
        const out: number[] = [];
        let seq = 0;
        const release = () => {
          const x = inFlight.shift()!;
          // The writer reads a batch when it gets to it: until released, nothing overwrote it.
          const now = records(ring, x.b);
          assert.deepEqual(now, x.copy, 'a batch is intact until released');
          for (const r of now) out.push(r.ts[0]!);
          f.release(x.b);
        };
        for (const [len, action] of ops) {
          const payload = new Uint8Array(len).fill(seq & 0xff);
          if (q.push(payload, '127.0.0.1', 7, seq, 0)) accepted.push(seq);
          seq++;
          assert.ok(f.bytes() <= ringBytes && f.records() + q.pendingRecords <= maxRecords);
          if (action >= 1) {
            for (let b = q.take(); b !== null; b = q.take()) {
              assert.ok(b.start >= 0 && b.end <= ringBytes && b.start <= b.end);
              const copy = records(ring, b);
              assert.equal(copy.length, b.records);
              for (const r of copy) assert.ok(r.payload.every((x) => x === (r.ts[0]! & 0xff)) && r.port === 7, 'byte-exact at hand-over');
              f.add(b);
              inFlight.push({ b, copy });
            }
          }
          if (action >= 2 && inFlight.length > 0) release();
          if (action === 3 && inFlight.length > 0) release();
        }
        for (let b = q.take(); b !== null; b = q.take()) {
          f.add(b);
          inFlight.push({ b, copy: records(ring, b) });
        }
        while (inFlight.length > 0) release();
        assert.deepEqual(out, accepted);
        assert.equal(q.dropped, seq - accepted.length);
        assert.deepEqual([f.records(), f.bytes()], [0, 0]);
      },
    ),
    { numRuns: 300 },
  );
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
