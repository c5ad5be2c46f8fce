import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeFrame, FrameDecoder, FrameType } from './protocol.ts';

test('FrameDecoder returns every frame intact under any chunking', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 20 }),
      (payloads, cuts) => {
        const wire = Buffer.concat(payloads.map((p) => encodeFrame(FrameType.Records, p)));
        const dec = new FrameDecoder();
        const got: Uint8Array[] = [];
        let off = 0;
        let i = 0;
        while (off < wire.length) {
          const n = cuts[i++ % cuts.length]!;
          dec.push(wire.subarray(off, off + n), (t, p) => {
            assert.equal(t, FrameType.Records);
            got.push(p.slice());
          });
          off += n;
        }
        assert.equal(dec.pending, 0);
        assert.deepEqual(got.map((g) => Buffer.from(g).toString('hex')), payloads.map((p) => Buffer.from(p).toString('hex')));
      },
    ),
  );
});

test('FrameDecoder rejects an oversized frame', () => {
  const bad = new Uint8Array(5);
  new DataView(bad.buffer).setUint32(1, 0xffffffff, true);
  assert.throws(() => new FrameDecoder().push(bad, () => undefined), TypeError);
});
