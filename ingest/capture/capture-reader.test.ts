import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { skipUnlessTools } from '../../test/support/required-tools.ts';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureReader, type CaptureRecord } from './capture-reader.ts';
import { encodePcap, encodePcapng, expectedNsec, pushInPieces, type FixtureBlock, type FixtureInterface, type FixturePacket, type FixtureSection } from './capture-fixtures.ts';
import { AppError, ErrorCode } from '../../schemas/errors.ts';

type Got = Omit<CaptureRecord, 'data'> & { data: number[] };

/** Reads `bytes` split at `cuts`; each pushed piece is scribbled over after push to prove nothing is retained. */
function readAll(bytes: Uint8Array, cuts: number[] = []): { records: Got[]; reader: CaptureReader; error: unknown } {
  const records: Got[] = [];
  const reader = new CaptureReader((r: CaptureRecord) => {
    records.push({ linkType: r.linkType, ifIndex: r.ifIndex, tsSec: r.tsSec, tsNsec: r.tsNsec, origLen: r.origLen, capLen: r.capLen, data: [...r.data] });
  });
  let error: unknown = null;
  try {
    pushInPieces(bytes, cuts, (chunk) => {
      reader.push(chunk);
      chunk.fill(0xee);
    });
    reader.end();
  } catch (e) {
    error = e;
  }
  return { records, reader, error };
}

function codeOf(e: unknown): string | undefined {
  return e instanceof AppError ? e.code : undefined;
}

const arbPacket = (maxIfIndex: number): fc.Arbitrary<FixturePacket> =>
  fc.record({
    ifIndex: fc.integer({ min: 0, max: maxIfIndex }),
    tsSec: fc.integer({ min: 0, max: 0xffffffff }),
    tsNsec: fc.integer({ min: 0, max: 999_999_999 }),
    data: fc.uint8Array({ maxLength: 80 }),
    extra: fc.integer({ min: 0, max: 1500 }),
  }).map(({ extra, ...p }) => ({ ...p, origLen: p.data.length + extra }));

const arbCuts = (n: number) => fc.array(fc.integer({ min: 0, max: n }), { maxLength: 12 });

test('classic pcap round-trips in any chunking, both byte orders, µs and ns', () => {
  fc.assert(
    fc.property(fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 0xffff }), fc.array(arbPacket(0), { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 12 }), (le, nanos, linkType, packets, rawCuts) => {
      const bytes = encodePcap({ littleEndian: le, nanos, linkType, packets });
      const { records, error, reader } = readAll(bytes, rawCuts.map((c) => c % (bytes.length + 1)));
      assert.equal(error, null);
      assert.equal(reader.format, 'pcap');
      assert.equal(records.length, packets.length);
      packets.forEach((p, i) => {
        const r = records[i]!;
        assert.equal(r.linkType, linkType);
        assert.equal(r.ifIndex, 0);
        assert.equal(r.tsSec, p.tsSec);
        assert.equal(r.tsNsec, nanos ? p.tsNsec : Math.floor(p.tsNsec / 1000) * 1000);
        assert.equal(r.origLen, p.origLen);
        assert.equal(r.capLen, p.data.length);
        assert.deepEqual(r.data, [...p.data]);
      });
    }),
    { numRuns: 150 },
  );
});

test('pcap byte-order and resolution variants decode the same packet', () => {
  const packets = [{ ifIndex: 0, tsSec: 1_700_000_000, tsNsec: 123_456_789, origLen: 60, data: Uint8Array.of(1, 2, 3, 4) }];
  for (const le of [true, false]) {
    const us = readAll(encodePcap({ littleEndian: le, nanos: false, linkType: 1, packets })).records[0]!;
    const ns = readAll(encodePcap({ littleEndian: le, nanos: true, linkType: 1, packets })).records[0]!;
    assert.equal(us.tsNsec, 123_456_000);
    assert.equal(ns.tsNsec, 123_456_789);
    assert.equal(us.tsSec, 1_700_000_000);
    assert.deepEqual(us.data, [1, 2, 3, 4]);
  }
});

const arbIface: fc.Arbitrary<FixtureInterface> = fc.record(
  {
    linkType: fc.constantFrom(1, 101, 113, 276),
    tsresol: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0x80, max: 0x80 + 32 })),
    tsoffset: fc.integer({ min: -1000, max: 1000 }),
  },
  { requiredKeys: ['linkType'] },
);

/** Largest whole second whose tick count still fits the 64-bit timestamp (minus offset room). */
function maxSeconds(iface: FixtureInterface): number {
  const r = iface.tsresol ?? 6;
  const unit = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
  return Math.min(0xffffffff, Math.floor(2 ** 64 / unit) - 1) - 1001;
}

const arbSection: fc.Arbitrary<FixtureSection> = fc
  .tuple(fc.boolean(), fc.array(arbIface, { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 40 }))
  .chain(([le, interfaces, shbOptionBytes]) =>
    fc.record({
      littleEndian: fc.constant(le),
      interfaces: fc.constant(interfaces),
      shbOptionBytes: fc.constant(shbOptionBytes),
      blocks: fc.array(
        fc.oneof(
          arbPacket(interfaces.length - 1).chain((p) =>
            fc.record({ type: fc.constantFrom('epb' as const, 'opb' as const), withOptions: fc.boolean() }).map((t) => ({ ...p, ...t, tsSec: Math.max(1001, Math.min(p.tsSec, maxSeconds(interfaces[p.ifIndex]!))) })),
          ),
          fc.record({ type: fc.constant('other' as const), blockType: fc.constantFrom(4, 5, 0x0a, 0x0bad, 0x40000bad, 0x7777), bodyLength: fc.integer({ min: 0, max: 64 }) }),
        ) as fc.Arbitrary<FixtureBlock>,
        { maxLength: 12 },
      ),
    }),
  );

test('pcapng round-trips: byte orders, sections, interfaces, tsresol/tsoffset, skipped blocks, any chunking', () => {
  fc.assert(
    fc.property(fc.array(arbSection, { minLength: 1, maxLength: 3 }), fc.array(fc.nat(), { maxLength: 12 }), (sections, rawCuts) => {
      const bytes = encodePcapng(sections);
      const { records, error, reader } = readAll(bytes, rawCuts.map((c) => c % (bytes.length + 1)));
      assert.equal(error, null);
      assert.equal(reader.format, 'pcapng');
      assert.equal(reader.stats.sections, sections.length);
      const expected = sections.flatMap((s) => s.blocks.flatMap((b) => (b.type === 'epb' || b.type === 'opb' ? [{ b, iface: s.interfaces[b.ifIndex]! }] : [])));
      assert.equal(records.length, expected.length);
      expected.forEach(({ b, iface }, i) => {
        const r = records[i]!;
        assert.equal(r.linkType, iface.linkType);
        assert.equal(r.ifIndex, b.ifIndex);
        assert.equal(r.tsSec, b.tsSec, `record ${i} seconds`);
        assert.equal(r.tsNsec, expectedNsec(iface, b.tsNsec), `record ${i} nanoseconds`);
        assert.equal(r.origLen, b.origLen);
        assert.deepEqual(r.data, [...b.data]);
      });
      const skipped = sections.reduce((n, s) => n + s.blocks.filter((b) => b.type === 'other').length, 0);
      assert.equal(reader.stats.skippedBlocks, skipped);
    }),
    { numRuns: 150 },
  );
});

test('pcapng tsresol: nanosecond, 2^-20, picosecond and a negative offset', () => {
  const sec = 10_000_000;
  const cases: [FixtureInterface, number][] = [
    [{ linkType: 1, tsresol: 9 }, 987_654_321],
    [{ linkType: 1, tsresol: 0x80 + 20 }, expectedNsec({ linkType: 1, tsresol: 0x94 }, 987_654_321)],
    [{ linkType: 1, tsresol: 12 }, 987_654_321],
    [{ linkType: 1, tsresol: 6, tsoffset: -3600 }, 987_654_000],
  ];
  for (const [iface, nsec] of cases) {
    const bytes = encodePcapng([{ littleEndian: false, interfaces: [iface], blocks: [{ type: 'epb', ifIndex: 0, tsSec: sec, tsNsec: 987_654_321, origLen: 4, data: Uint8Array.of(9, 9, 9, 9) }] }]);
    const r = readAll(bytes).records[0]!;
    assert.equal(r.tsSec, sec, JSON.stringify(iface));
    assert.equal(r.tsNsec, nsec, JSON.stringify(iface));
  }
});

test('simple packet blocks use interface 0, origLen from the block, and reuse the last timestamp', () => {
  const bytes = encodePcapng([
    {
      littleEndian: true,
      interfaces: [{ linkType: 101, snapLen: 3 }, { linkType: 1 }],
      blocks: [
        { type: 'epb', ifIndex: 1, tsSec: 50, tsNsec: 5000, origLen: 2, data: Uint8Array.of(7, 7) },
        { type: 'spb', origLen: 10, data: Uint8Array.of(1, 2, 3, 0) },
      ],
    },
  ]);
  const { records, reader, error } = readAll(bytes);
  assert.equal(error, null);
  assert.equal(records.length, 2);
  const spb = records[1]!;
  assert.deepEqual({ linkType: spb.linkType, ifIndex: spb.ifIndex, origLen: spb.origLen, capLen: spb.capLen, tsSec: spb.tsSec, tsNsec: spb.tsNsec }, { linkType: 101, ifIndex: 0, origLen: 10, capLen: 3, tsSec: 50, tsNsec: 5000 });
  assert.deepEqual(spb.data, [1, 2, 3]);
  assert.equal(reader.stats.simplePacketBlocks, 1);
});

test('a truncated capture delivers every complete record, then throws TRUNCATED', () => {
  const packets = Array.from({ length: 5 }, (_, i) => ({ ifIndex: 0, tsSec: i, tsNsec: 0, origLen: 20, data: new Uint8Array(20).fill(i) }));
  const pcap = encodePcap({ littleEndian: true, nanos: false, linkType: 1, packets });
  const ng = encodePcapng([{ littleEndian: true, interfaces: [{ linkType: 1 }], blocks: packets.map((p) => ({ type: 'epb' as const, ...p })) }]);
  for (const bytes of [pcap, ng]) {
    for (const cutBack of [1, 4, 17, 30]) {
      const { records, error } = readAll(bytes.subarray(0, bytes.length - cutBack), [7, 33, 64]);
      assert.equal(codeOf(error), ErrorCode.CaptureTruncated);
      assert.equal(records.length, 4);
      assert.deepEqual(records[3]!.data, [...new Uint8Array(20).fill(3)]);
      assert.equal(typeof (error as AppError).details?.offset, 'number');
    }
  }
  assert.equal(codeOf(readAll(new Uint8Array(0)).error), ErrorCode.CaptureTruncated);
  assert.equal(codeOf(readAll(pcap.subarray(0, 10)).error), ErrorCode.CaptureTruncated);
});

test('a truncated skipped block (streamed, never buffered) is TRUNCATED too', () => {
  const bytes = encodePcapng([{ littleEndian: true, interfaces: [{ linkType: 1 }], blocks: [{ type: 'other', blockType: 4, bodyLength: 4000 }] }]);
  const { error } = readAll(bytes.subarray(0, bytes.length - 100), [50, 500]);
  assert.equal(codeOf(error), ErrorCode.CaptureTruncated);
});

test('not a capture is BAD_MAGIC, before any record', () => {
  for (const bytes of [new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n'), new Uint8Array(64)]) {
    const { records, error } = readAll(bytes);
    assert.equal(codeOf(error), ErrorCode.CaptureBadMagic);
    assert.equal(records.length, 0);
  }
});

function mutate(bytes: Uint8Array, at: number, le: boolean, value: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(at, value, le);
  return copy;
}

test('insane lengths, bad trailers and unknown interfaces are CORRUPT, earlier records kept', () => {
  const pkt = (i: number): FixtureBlock => ({ type: 'epb', ifIndex: 0, tsSec: i, tsNsec: 0, origLen: 8, data: new Uint8Array(8) });
  const ng = encodePcapng([{ littleEndian: true, interfaces: [{ linkType: 1 }], blocks: [pkt(0), pkt(1)] }]);
  // SHB is 28 bytes, IDB 20, each EPB 40: the second EPB starts at 88.
  const second = 88;
  const cases: [string, Uint8Array][] = [
    ['length not a multiple of 4', mutate(ng, second + 4, true, 42)],
    ['length below 12', mutate(ng, second + 4, true, 8)],
    ['huge length', mutate(ng, second + 4, true, 0x7ffffffc)],
    ['trailer mismatch', mutate(ng, second + 36, true, 44)],
    ['capLen beyond block', mutate(ng, second + 20, true, 200)],
    ['unknown interface', mutate(ng, second + 8, true, 3)],
  ];
  for (const [name, bytes] of cases) {
    const { records, error } = readAll(bytes);
    assert.equal(codeOf(error), ErrorCode.CaptureCorrupt, name);
    assert.equal(records.length, 1, name);
    assert.equal((error as AppError).details?.offset, second, name);
  }
  const pcap = encodePcap({ littleEndian: false, nanos: false, linkType: 1, packets: [{ ifIndex: 0, tsSec: 1, tsNsec: 0, origLen: 4, data: new Uint8Array(4) }] });
  const { error } = readAll(mutate(pcap, 24 + 8, false, 300_000));
  assert.equal(codeOf(error), ErrorCode.CaptureCorrupt);
  // A packet before any interface description.
  const noIdb = encodePcapng([{ littleEndian: true, interfaces: [], blocks: [] }]);
  const bogus = encodePcapng([{ littleEndian: true, interfaces: [{ linkType: 1 }], blocks: [pkt(0)] }]).subarray(48);
  const joined = new Uint8Array(noIdb.length + bogus.length);
  joined.set(noIdb);
  joined.set(bogus, noIdb.length);
  assert.equal(codeOf(readAll(joined).error), ErrorCode.CaptureCorrupt);
});

test('a new section resets its interfaces', () => {
  const bytes = encodePcapng([
    { littleEndian: true, interfaces: [{ linkType: 1 }, { linkType: 113 }], blocks: [] },
    { littleEndian: false, interfaces: [{ linkType: 101 }], blocks: [{ type: 'epb', ifIndex: 0, tsSec: 1, tsNsec: 0, origLen: 1, data: Uint8Array.of(1) }] },
  ]);
  const ok = readAll(bytes);
  assert.equal(ok.error, null);
  assert.equal(ok.records[0]!.linkType, 101);
  // Interface 1 existed only in the first section.
  const tail = mutate(bytes, bytes.length - 40 + 8, false, 1);
  assert.equal(codeOf(readAll(tail).error), ErrorCode.CaptureCorrupt);
});

test('errors are sticky and messages carry no packet bytes', () => {
  const reader = new CaptureReader(() => undefined);
  assert.throws(() => reader.push(new TextEncoder().encode('secret-hostname.example')), (e: unknown) => codeOf(e) === ErrorCode.CaptureBadMagic && !(e as Error).message.includes('secret'));
  assert.throws(() => reader.push(new Uint8Array(4)), (e: unknown) => codeOf(e) === ErrorCode.CaptureBadMagic);
  assert.throws(() => reader.end(), (e: unknown) => codeOf(e) === ErrorCode.CaptureBadMagic);
});

test('unsupported tsresol and pcapng major version are UNSUPPORTED', () => {
  const bad = encodePcapng([{ littleEndian: true, interfaces: [{ linkType: 1, tsresol: 40 }], blocks: [] }]);
  assert.equal(codeOf(readAll(bad).error), ErrorCode.CaptureUnsupported);
  const v2 = encodePcapng([{ littleEndian: true, interfaces: [], blocks: [] }]);
  new DataView(v2.buffer).setUint16(12, 2, true);
  assert.equal(codeOf(readAll(v2).error), ErrorCode.CaptureUnsupported);
});

test('pcapng written by Wireshark editcap (independent writer) matches the source pcap', { skip: skipUnlessTools('editcap') }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowseal-editcap-'));
  try {
    const packets = Array.from({ length: 30 }, (_, i) => ({ ifIndex: 0, tsSec: 1_700_000_000 + i, tsNsec: (i * 104_729_993) % 1e9, origLen: 200 + i, data: new Uint8Array(40 + i).fill(i) }));
    const src = join(dir, 'in.pcap');
    writeFileSync(src, encodePcap({ littleEndian: false, nanos: true, linkType: 1, packets }));
    const r = spawnSync('editcap', ['-F', 'pcapng', src, join(dir, 'out.pcapng')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const fromPcap = readAll(new Uint8Array(readFileSync(src)), [100, 500]);
    const fromNg = readAll(new Uint8Array(readFileSync(join(dir, 'out.pcapng'))), [77, 333, 1000]);
    assert.equal(fromNg.error, null);
    assert.equal(fromNg.reader.format, 'pcapng');
    assert.equal(fromNg.records.length, 30);
    assert.deepEqual(fromNg.records, fromPcap.records);
    assert.equal(fromNg.records[7]!.tsNsec, packets[7]!.tsNsec);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
