import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { skipUnlessTools } from '../../test/support/required-tools.ts';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { encodePcap } from './capture-fixtures.ts';
import { openDecompressed, sniffCompression, type Compression } from './capture-decompress.ts';
import { ZSTD_MAX_WINDOW_BYTES } from './decompress-zstd.ts';

const TOOLS = skipUnlessTools('gzip', 'zstd', 'xz');

/** A small classic pcap with varied payloads (so the compressors emit real compressed blocks). */
function capture(packets: number, seed = 1): Uint8Array {
  let x = seed;
  const rnd = () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  return encodePcap({
    littleEndian: true,
    nanos: false,
    linkType: 1,
    packets: Array.from({ length: packets }, (_, i) => ({ ifIndex: 0, tsSec: 1_700_000_000 + i, tsNsec: i * 1000, origLen: 120, data: Uint8Array.from({ length: 60 + (i % 60) }, (_, j) => (j < 20 ? i & 0xff : rnd())) })),
  });
}

/** Runs a real compressor over `input`. */
function compress(tool: 'gzip' | 'zstd' | 'xz', input: Uint8Array, args: string[] = []): Uint8Array {
  const r = spawnSync(tool, [...args, '-c'], { input });
  assert.equal(r.status, 0, `${tool}: ${r.stderr}`);
  return new Uint8Array(r.stdout);
}

async function* pieces(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
}

interface Outcome {
  compression: Compression | null;
  out: Uint8Array;
  error: unknown;
  maxPiece: number;
}

async function decodeAll(bytes: Uint8Array, size = 4096): Promise<Outcome> {
  const parts: Uint8Array[] = [];
  let compression: Compression | null = null;
  let maxPiece = 0;
  let error: unknown = null;
  try {
    const d = await openDecompressed(pieces(bytes, size));
    compression = d.compression;
    for await (const p of d.stream) {
      parts.push(p.slice());
      maxPiece = Math.max(maxPiece, p.length);
    }
  } catch (e) {
    error = e;
  }
  return { compression, out: Buffer.concat(parts), error, maxPiece };
}

/** Offset of the first block header of a zstd frame (RFC 8878 §3.1.1.1). */
function firstZstdBlock(frame: Uint8Array): number {
  const fhd = frame[4]!;
  const single = (fhd >> 5) & 1;
  const fcsFlag = fhd >> 6;
  return 5 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3]! + (fcsFlag === 0 ? single : 1 << fcsFlag);
}

const codeOf = (e: unknown): string | undefined => (e instanceof AppError ? e.code : undefined);
const isPrefix = (a: Uint8Array, of: Uint8Array): boolean => a.length <= of.length && Buffer.from(of.subarray(0, a.length)).equals(a);

test('magic detection: gzip, zstd, xz, legacy lzma; pcap and pcapng are not compressed', () => {
  assert.equal(sniffCompression(Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0)), 'gzip');
  assert.equal(sniffCompression(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0, 0)), 'zstd');
  assert.equal(sniffCompression(Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0)), 'xz');
  assert.equal(sniffCompression(Uint8Array.of(0x5d, 0, 0, 0x80, 0, 0xff)), 'lzma');
  assert.equal(sniffCompression(Uint8Array.of(0xd4, 0xc3, 0xb2, 0xa1, 2, 0)), 'none');
  assert.equal(sniffCompression(Uint8Array.of(0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0)), 'none');
  assert.equal(sniffCompression(Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 1)), 'none');
});

test('gzip, zstd and xz from the real tools decode to the same bytes, in any chunking, piece size bounded', { skip: TOOLS }, async () => {
  const raw = capture(400);
  const cases: [Compression, Uint8Array][] = [
    ['gzip', compress('gzip', raw)],
    ['zstd', compress('zstd', raw, ['-q', '-19'])],
    ['zstd', compress('zstd', raw, ['-q', '--no-check'])],
    ['xz', compress('xz', raw)],
    ['xz', compress('xz', raw, ['--check=crc32', '-0'])],
  ];
  for (const [kind, bytes] of cases) {
    for (const size of [1, 7, 4096, 1 << 20]) {
      const r = await decodeAll(bytes, size);
      assert.equal(r.error, null, `${kind} in ${size}-byte pieces: ${String(r.error)}`);
      assert.equal(r.compression, kind);
      assert.ok(Buffer.from(raw).equals(r.out), `${kind} in ${size}-byte pieces`);
      assert.ok(r.maxPiece <= 128 * 1024);
    }
  }
  const plain = await decodeAll(raw, 333);
  assert.equal(plain.compression, 'none');
  assert.ok(Buffer.from(raw).equals(plain.out));
});

test('multi-member gzip, multi-frame zstd (with a skippable frame), concatenated xz streams', { skip: TOOLS }, async () => {
  const a = capture(50, 1);
  const b = capture(70, 2).subarray(24);
  const joined = Buffer.concat([a, b]);
  const skippable = Uint8Array.of(0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9);
  for (const [kind, bytes] of [
    ['gzip', Buffer.concat([compress('gzip', a), compress('gzip', b)])],
    ['zstd', Buffer.concat([compress('zstd', a, ['-q']), skippable, compress('zstd', b, ['-q'])])],
    ['xz', Buffer.concat([compress('xz', a), compress('xz', b)])],
  ] as const) {
    const r = await decodeAll(new Uint8Array(bytes), 1000);
    assert.equal(r.error, null, `${kind}: ${String(r.error)}`);
    assert.ok(joined.equals(r.out), kind);
  }
});

test('truncated compressed input: COMPRESSED_TRUNCATED, and what came out is a prefix of the capture', { skip: TOOLS }, async () => {
  // Over 128 KiB, so zstd has several blocks and some come out before a cut in the middle.
  const raw = capture(3000);
  for (const [kind, bytes] of [
    ['gzip', compress('gzip', raw)],
    ['zstd', compress('zstd', raw, ['-q'])],
    ['xz', compress('xz', raw)],
  ] as const) {
    for (const cut of [1, 3, 10, Math.floor(bytes.length / 4)]) {
      const r = await decodeAll(bytes.subarray(0, bytes.length - cut), 2048);
      assert.equal(codeOf(r.error), ErrorCode.CaptureCompressedTruncated, `${kind} cut ${cut}: ${String(r.error)}`);
      assert.match((r.error as Error).message, new RegExp(`^${kind}: `));
      assert.ok(isPrefix(r.out, raw), `${kind} cut ${cut}: output is a prefix`);
      if (cut === Math.floor(bytes.length / 4)) assert.ok(r.out.length > 0, `${kind}: data before the cut came out`);
    }
  }
});

test('corrupted compressed input: COMPRESSED_CORRUPT (data, checksum, framing, trailing garbage)', { skip: TOOLS }, async () => {
  const raw = capture(600);
  const gz = compress('gzip', raw);
  const zs = compress('zstd', raw, ['-q']);
  const xz = compress('xz', raw);
  const flip = (b: Uint8Array, at: number) => {
    const c = b.slice();
    c[at]! ^= 0x40;
    return c;
  };
  const cases: [string, Uint8Array][] = [
    ['gzip data', flip(gz, Math.floor(gz.length / 2))],
    ['gzip crc', flip(gz, gz.length - 6)],
    ['zstd checksum', flip(zs, zs.length - 2)],
    ['zstd reserved block type', (() => {
      const c = zs.slice();
      c[firstZstdBlock(zs)]! |= 0x06;
      return c;
    })()],
    ['zstd trailing garbage', new Uint8Array(Buffer.concat([zs, Buffer.from('garbage!')]))],
    ['xz data', flip(xz, Math.floor(xz.length / 2))],
    ['xz check', flip(xz, xz.length - 20)],
  ];
  for (const [name, bytes] of cases) {
    const r = await decodeAll(bytes, 2048);
    assert.equal(codeOf(r.error), ErrorCode.CaptureCompressedCorrupt, `${name}: ${String(r.error)}`);
    assert.equal(typeof (r.error as AppError).details?.compression, 'string', name);
  }
});

test('unsupported: legacy .lzma, zstd dictionary, zstd window over 128 MiB', { skip: TOOLS }, async () => {
  const lzma = spawnSync('xz', ['--format=lzma', '-c'], { input: capture(10) }).stdout;
  assert.equal(codeOf((await decodeAll(new Uint8Array(lzma))).error), ErrorCode.CaptureUnsupported);
  // Frame header: magic, FHD (no single segment, dict id 1 byte), window descriptor, dict id.
  const dict = Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x01, 0x00, 0x07, 0x01, 0x00, 0x00);
  assert.equal(codeOf((await decodeAll(dict)).error), ErrorCode.CaptureUnsupported);
  // Window exponent 28 (256 MiB) > 2^27.
  const big = Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x00, (28 - 10) << 3, 0x01, 0x00, 0x00);
  const r = await decodeAll(big);
  assert.equal(codeOf(r.error), ErrorCode.CaptureUnsupported);
  assert.match((r.error as Error).message, new RegExp(`${ZSTD_MAX_WINDOW_BYTES / 2 ** 20} MiB`));
});

test('a zstd bomb (RLE blocks) streams: pieces stay one block, input is read only as output is taken', async () => {
  // One frame, 128 KiB window, 4000 RLE blocks of 128 KiB each (500 MiB decoded), no checksum.
  const blocks = 4000;
  const header = Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x00, (17 - 10) << 3);
  const rle = (last: boolean) => {
    const bits = (128 * 1024) << 3 | (1 << 1) | (last ? 1 : 0);
    return Uint8Array.of(bits & 0xff, (bits >> 8) & 0xff, bits >> 16, 0x41);
  };
  let read = 0;
  async function* source(): AsyncGenerator<Uint8Array> {
    yield header;
    for (let i = 0; i < blocks; i += 100) {
      const chunk = new Uint8Array(400);
      for (let k = 0; k < 100; k++) chunk.set(rle(i + k === blocks - 1), k * 4);
      read++;
      yield chunk;
    }
  }
  const d = await openDecompressed(source());
  let pieces = 0;
  let bytes = 0;
  for await (const p of d.stream) {
    assert.ok(p.length <= 128 * 1024);
    bytes += p.length;
    if (++pieces === 150) assert.ok(read <= 3, `after 150 pieces only ${read} input chunks were read`);
  }
  assert.equal(bytes, blocks * 128 * 1024);
});

/** Compressed samples made once by the real tools, mutated by fast-check below. */
function samples(): [string, Uint8Array][] {
  const raw = capture(120);
  return [
    ['gzip', compress('gzip', raw)],
    ['zstd', compress('zstd', raw, ['-q'])],
    ['zstd-multi', new Uint8Array(Buffer.concat([compress('zstd', raw.subarray(0, 3000), ['-q']), compress('zstd', raw.subarray(3000), ['-q', '--no-check'])]))],
    ['xz', compress('xz', raw, ['-1'])],
  ];
}

const ALLOWED = new Set<string>([ErrorCode.CaptureCompressedTruncated, ErrorCode.CaptureCompressedCorrupt, ErrorCode.CaptureUnsupported]);

test('fuzz: truncated, mutated and spliced compressed inputs end in a stable error or valid output, never a crash, hang or blow-up', { skip: TOOLS, timeout: 120_000 }, async () => {
  const all = samples();
  const arbInput = fc.constantFrom(...all).chain(([name, bytes]) =>
    fc
      .record({
        cut: fc.integer({ min: 0, max: bytes.length }),
        flips: fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), { maxLength: 4 }),
        insert: fc.option(fc.record({ at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }), { nil: undefined }),
        chunk: fc.integer({ min: 1, max: 5000 }),
      })
      .map(({ cut, flips, insert, chunk }) => {
        let b = bytes.slice(0, cut);
        for (const f of flips) if (b.length > 0) b[f.at % b.length]! ^= f.xor;
        if (insert && b.length > 0) {
          const at = insert.at % b.length;
          b = new Uint8Array(Buffer.concat([b.subarray(0, at), insert.bytes, b.subarray(at)]));
        }
        return { name, bytes: b, chunk };
      }),
  );
  await fc.assert(
    fc.asyncProperty(arbInput, async ({ name, bytes, chunk }) => {
      const r = await decodeAll(bytes, chunk);
      if (r.error !== null) assert.ok(ALLOWED.has(codeOf(r.error) ?? '') || (r.compression === null && bytes.length < 6), `${name}: unexpected ${String(r.error)}`);
      assert.ok(r.maxPiece <= 128 * 1024);
      // Nothing expands past what the sample decodes to (plus slack for a spliced frame).
      assert.ok(r.out.length <= 64 * 1024 * 1024, `${name}: ${r.out.length} bytes out`);
    }),
    { numRuns: 300 },
  );
});

test('fuzz: random bytes behind each magic end in a stable error', async () => {
  const magics = [Uint8Array.of(0x1f, 0x8b), Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd), Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)];
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...magics), fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.integer({ min: 1, max: 64 }), async (magic, tail, chunk) => {
      const r = await decodeAll(new Uint8Array(Buffer.concat([magic, tail])), chunk);
      if (r.error !== null) assert.ok(ALLOWED.has(codeOf(r.error) ?? ''), `unexpected ${String(r.error)}`);
      assert.ok(r.maxPiece <= 128 * 1024);
    }),
    { numRuns: 300 },
  );
});
