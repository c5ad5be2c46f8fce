import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AppError, ErrorCode } from './errors.ts';
import {
  base64UrlDecode,
  base64UrlEncode,
  decodeSegmentHeader,
  encodeSegmentHeader,
  encodeSpoolRecord,
  iterateSpoolRecords,
  parseSegmentFileName,
  RecordKind,
  segmentFileName,
  segmentInfo,
  SpoolBuffer,
  SPOOL_RECORD_HEADER_BYTES,
  SpoolSuite,
  type SegmentHeader,
  type SpoolRecordInput,
} from './spool.ts';

const arbRecord: fc.Arbitrary<SpoolRecordInput> = fc.oneof(
  fc.record({
    kind: fc.constant(RecordKind.Packet),
    linkType: fc.integer({ min: 0, max: 0xffff }),
    ifIndex: fc.integer({ min: 0, max: 0xffffffff }),
    tsSec: fc.integer({ min: 0, max: 0xffffffff }),
    tsNsec: fc.integer({ min: 0, max: 999_999_999 }),
    origLen: fc.integer({ min: 0, max: 0xffffffff }),
    data: fc.uint8Array({ maxLength: 300 }),
  }),
  fc.record({
    kind: fc.constant(RecordKind.FlowDatagram),
    linkType: fc.constant(0),
    ifIndex: fc.integer({ min: 0, max: 65535 }),
    tsSec: fc.integer({ min: 0, max: 0xffffffff }),
    tsNsec: fc.integer({ min: 0, max: 999_999_999 }),
    origLen: fc.integer({ min: 16, max: 2000 }),
    data: fc.uint8Array({ minLength: 16, maxLength: 300 }),
  }),
);

test('records round-trip through the framing, with start/end offsets of each record', () => {
  fc.assert(
    fc.property(fc.array(arbRecord, { maxLength: 30 }), (records) => {
      const buf = new SpoolBuffer(16);
      let total = 0;
      for (const r of records) total += encodeSpoolRecord(buf, r);
      assert.equal(buf.length, total);
      const got: SpoolRecordInput[] = [];
      let expectStart = 0;
      const n = iterateSpoolRecords(buf.bytes, (r, start, end) => {
        assert.equal(start, expectStart);
        assert.equal(end - start, SPOOL_RECORD_HEADER_BYTES + r.capLen);
        expectStart = end;
        got.push({ kind: r.kind, linkType: r.linkType, ifIndex: r.ifIndex, tsSec: r.tsSec, tsNsec: r.tsNsec, origLen: r.origLen, data: r.data.slice() });
      });
      assert.equal(n, records.length);
      assert.deepEqual(got, records.map((r) => ({ ...r })));
    }),
    { numRuns: 200 },
  );
});

test('the header layout is the documented one (little-endian, 24 bytes)', () => {
  const buf = new SpoolBuffer();
  encodeSpoolRecord(buf, { kind: 1, linkType: 0x0102, ifIndex: 0x03040506, tsSec: 7, tsNsec: 8, origLen: 9, data: Uint8Array.of(0xaa, 0xbb) });
  assert.deepEqual([...buf.bytes], [1, 0, 2, 1, 6, 5, 4, 3, 7, 0, 0, 0, 8, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0, 0, 0xaa, 0xbb]);
});

function framingCode(bytes: Uint8Array): { code: string | undefined; delivered: number } {
  let delivered = 0;
  try {
    iterateSpoolRecords(bytes, () => delivered++);
    return { code: undefined, delivered };
  } catch (e) {
    return { code: e instanceof AppError ? e.code : 'other', delivered };
  }
}

test('bad framing is ERR_SPOOL_RECORD_INVALID after the good records', () => {
  const buf = new SpoolBuffer();
  encodeSpoolRecord(buf, { kind: 1, linkType: 1, ifIndex: 0, tsSec: 1, tsNsec: 0, origLen: 4, data: new Uint8Array(4) });
  encodeSpoolRecord(buf, { kind: 1, linkType: 1, ifIndex: 0, tsSec: 2, tsNsec: 0, origLen: 4, data: new Uint8Array(4) });
  const good = buf.bytes.slice();
  const second = 28;
  const bad = (at: number, value: number, width: 1 | 4 = 1) => {
    const c = good.slice();
    const v = new DataView(c.buffer);
    if (width === 1) v.setUint8(at, value);
    else v.setUint32(at, value, true);
    return c;
  };
  const cases: [string, Uint8Array][] = [
    ['kind', bad(second, 3)],
    ['flags', bad(second + 1, 1)],
    ['nsec', bad(second + 12, 1e9, 4)],
    ['capLen beyond end', bad(second + 20, 5, 4)],
    ['capLen huge', bad(second + 20, 0x7fffffff, 4)],
    ['datagram too short', bad(second, 2)],
    ['truncated header', good.subarray(0, second + 10)],
  ];
  for (const [name, bytes] of cases) {
    const r = framingCode(bytes);
    assert.equal(r.code, ErrorCode.SpoolRecordInvalid, name);
    assert.equal(r.delivered, 1, name);
  }
  assert.equal(framingCode(new Uint8Array(0)).code, undefined);
});

test('segment headers round-trip; info is the header without enc', () => {
  fc.assert(
    fc.property(
      fc.record({
        runId: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
        seq: fc.integer({ min: 0, max: 0xffffffff }),
        final: fc.boolean(),
        createdAt: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        keyId: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('')),
        enc: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      }),
      ({ enc, ...f }) => {
        const header: SegmentHeader = { formatVersion: 1, ...SpoolSuite, ...f };
        const bytes = encodeSegmentHeader(header, enc);
        const withBody = new Uint8Array(bytes.length + 5);
        withBody.set(bytes);
        const d = decodeSegmentHeader(withBody);
        assert.deepEqual(d.header, { ...header });
        assert.deepEqual(d.enc, enc);
        assert.deepEqual(d.headerBytes, bytes);
        assert.deepEqual(d.info, segmentInfo(bytes));
        assert.equal(d.info.length, bytes.length - 32);
      },
    ),
  );
});

test('segment file names and base64url', () => {
  assert.equal(segmentFileName('r-1_x', 42), 'r-1_x-00000042.seg');
  assert.deepEqual(parseSegmentFileName('r-1_x-00000042.seg'), { runId: 'r-1_x', seq: 42 });
  for (const bad of ['r-00000042.seg.tmp', '../x-00000001.seg', 'x-1.seg', 'x-00000001.segx', '-00000001.seg']) assert.equal(parseSegmentFileName(bad), null, bad);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => assert.deepEqual(base64UrlDecode(base64UrlEncode(b)), b)));
});
