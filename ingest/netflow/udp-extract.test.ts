import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { extractUdp, newUdpDatagram, UdpSkipReason, UdpStatus } from './udp-extract.ts';
import { DatagramBody } from './datagram-body.ts';

const LINK_TYPES = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 105];

test('hostile frames: never throws, every status is known, an Ok datagram lies inside the frame', () => {
  const out = newUdpDatagram();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(...LINK_TYPES), fc.nat(8), (bytes, linkType, pad) => {
      const buf = new Uint8Array(pad + bytes.length + pad);
      buf.set(bytes, pad);
      const view = new DataView(buf.buffer);
      const end = pad + bytes.length;
      const s = extractUdp(view, pad, end, linkType, out);
      assert.ok(s === UdpStatus.Ok || UdpSkipReason[-s] !== undefined);
      if (s === UdpStatus.Ok) {
        assert.ok(out.payloadOffset >= pad && out.payloadOffset + out.payloadCaptured <= end);
        assert.ok(out.payloadCaptured <= out.payloadLength);
        if (out.family === 6) assert.ok(out.srcV6Offset >= pad && out.srcV6Offset + 16 <= end);
      }
    }),
    { numRuns: 20_000 },
  );
});

test('IPv4-in-Ethernet built by hand: source, ports and payload bounds', () => {
  const f = Buffer.from('020000000001020000000002080045000024000140004011000' + '0c000020ac633640109c00807001000000102030405060708', 'hex');
  const out = newUdpDatagram();
  assert.equal(extractUdp(new DataView(f.buffer, f.byteOffset, f.length), 0, f.length, 1, out), UdpStatus.Ok);
  assert.deepEqual({ ...out }, { family: 4, srcV4: 0xc000020a, srcV6Offset: 0, srcPort: 2496, dstPort: 2055, payloadOffset: 42, payloadCaptured: 8, payloadLength: 8 });
});

test('exporter address bytes: IPv4-mapped for IPv4 (as text or number), IPv6 as is, zones dropped, junk zeroed', () => {
  const b = new DatagramBody();
  const hex = (x: Uint8Array) => Buffer.from(x.subarray(0, 16)).toString('hex');
  assert.equal(b.setExporterText('192.0.2.1'), true);
  assert.equal(hex(b.withPayload(new Uint8Array(0))), '00000000000000000000ffffc0000201');
  assert.equal(b.setExporterText('::ffff:192.0.2.1'), true);
  assert.equal(hex(b.withPayload(new Uint8Array(0))), '00000000000000000000ffffc0000201');
  b.setExporterV4(0xc0000201);
  assert.equal(hex(b.withPayload(new Uint8Array(0))), '00000000000000000000ffffc0000201');
  assert.equal(b.setExporterText('fe80::1%eth0'), true);
  assert.equal(hex(b.withPayload(new Uint8Array(0))), 'fe800000000000000000000000000001');
  assert.equal(b.setExporterText('not an address'), false);
  const body = b.withPayload(Uint8Array.of(9, 8, 7));
  assert.equal(hex(body), '0'.repeat(32));
  assert.deepEqual([...body.subarray(16)], [9, 8, 7]);
});
