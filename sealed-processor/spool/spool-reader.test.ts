/**
 * Opening sealed spool segments (spool-reader.ts) with real segments written by the ingest
 * spool writer: round trip across segments and chunks, one stable code per kind of bad segment
 * (header, tamper, truncation, reorder, foreign key, replay), and the spool file helpers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { utimes, mkdir, mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { decodeSegmentHeader, iterateSpoolRecords, RecordKind } from '../../schemas/spool.ts';
import { SpoolWriter } from '../../ingest/spool/spool-writer.ts';
import { generateProcessorKeys, type ProcessorKeys } from './keys.ts';
import { writePublicKey } from './key-file.ts';
import { openSegment } from './spool-reader.ts';
import { listSegments, quarantineSegment } from './spool-files.ts';

let dir: string;
let keys: ProcessorKeys;
/** Segments of run "run1" (3 chunks in the first) and of run "run2", as bytes. */
const segs: Record<string, Uint8Array> = {};

function record(i: number, size: number) {
  const data = new Uint8Array(size);
  for (let j = 0; j < size; j++) data[j] = (i * 31 + j) & 0xff;
  return { kind: RecordKind.Packet, linkType: 1, ifIndex: i % 3, tsSec: 1_700_000_000 + i, tsNsec: i * 1000, origLen: size + 10, data };
}

async function writeRun(runId: string, count: number, size: number, segmentMaxBytes: number): Promise<void> {
  const w = await SpoolWriter.open(dir, { runId, segmentMaxBytes });
  for (let i = 0; i < count; i++) await w.append(record(i, size));
  await w.close();
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flowseal-spool-test-'));
  keys = await generateProcessorKeys();
  await writePublicKey(dir, keys);
  // 50 records of ~60 KiB = ~3 MiB, segments of at most 2.5 MiB: two segments, the first
  // with three chunks (1 MiB, 1 MiB, rest).
  await writeRun('run1', 50, 60_000, 2_500_000);
  await writeRun('run2', 3, 100, 1 << 20);
  for (const s of await listSegments(dir)) segs[s.name] = new Uint8Array(await readFile(join(dir, 'segments', s.name)));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Offsets of the chunks (their u32 length prefix) of a segment. */
function chunks(bytes: Uint8Array): { off: number; len: number }[] {
  const { headerBytes } = decodeSegmentHeader(bytes);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = [];
  for (let off = headerBytes.length; off < bytes.length; ) {
    const len = 4 + v.getUint32(off, true);
    out.push({ off, len });
    off += len;
  }
  return out;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    if (e instanceof AppError) return e.code;
    throw e;
  }
}

function flip(bytes: Uint8Array, byte: number, bit = 0): Uint8Array {
  const c = bytes.slice();
  c[byte]! ^= 1 << bit;
  return c;
}

const S0 = 'run1-00000000.seg';
const S1 = 'run1-00000001.seg';
const R2 = 'run2-00000000.seg';

test('round trip: every record comes back in order across segments and chunks; only the last segment is final', async () => {
  assert.deepEqual(Object.keys(segs).sort(), [S0, S1, R2]);
  assert.equal(chunks(segs[S0]!).length, 3);
  let i = 0;
  for (const name of [S0, S1]) {
    const opened = await openSegment(segs[name]!, keys);
    assert.equal(opened.header.runId, 'run1');
    assert.equal(opened.header.final, name === S1);
    iterateSpoolRecords(opened.plaintext, (rec) => {
      const want = record(i, 60_000);
      assert.equal(rec.tsSec, want.tsSec);
      assert.equal(rec.tsNsec, want.tsNsec);
      assert.equal(rec.ifIndex, want.ifIndex);
      assert.equal(rec.origLen, want.origLen);
      assert.deepEqual(rec.data, want.data);
      i++;
    });
  }
  assert.equal(i, 50);
  const r2 = await openSegment(segs[R2]!, keys);
  assert.equal(r2.header.final, true);
  assert.equal(iterateSpoolRecords(r2.plaintext, () => undefined), 3);
});

test('a bit flipped anywhere in the header is rejected, with the field decisive for the code', async () => {
  const seg = segs[R2]!;
  const { headerBytes } = decodeSegmentHeader(seg);
  assert.equal(await codeOf(openSegment(flip(seg, 0), keys)), ErrorCode.SpoolBadHeader, 'magic');
  assert.equal(await codeOf(openSegment(flip(seg, 8), keys)), ErrorCode.SpoolBadHeader, 'version');
  assert.equal(await codeOf(openSegment(flip(seg, 12), keys)), ErrorCode.SpoolBadHeader, 'kem id');
  assert.equal(await codeOf(openSegment(flip(seg, 33, 3), keys)), ErrorCode.SpoolUnknownKey, 'key id');
  assert.equal(await codeOf(openSegment(flip(seg, 18), keys)), ErrorCode.SpoolAuthFailed, 'final flag');
  assert.equal(await codeOf(openSegment(flip(seg, 20), keys)), ErrorCode.SpoolAuthFailed, 'seq');
  assert.equal(await codeOf(openSegment(flip(seg, 25), keys)), ErrorCode.SpoolAuthFailed, 'created at');
  assert.equal(await codeOf(openSegment(flip(seg, 50 + 3), keys)), ErrorCode.SpoolAuthFailed, 'run id "run2" → "run3"');
  assert.equal(await codeOf(openSegment(flip(seg, headerBytes.length - 5), keys)), ErrorCode.SpoolAuthFailed, 'enc');
  const allowed = new Set<string>([ErrorCode.SpoolBadHeader, ErrorCode.SpoolUnknownKey, ErrorCode.SpoolAuthFailed]);
  for (let byte = 0; byte < headerBytes.length; byte++) {
    for (let bit = 0; bit < 8; bit++) {
      const code = await codeOf(openSegment(flip(seg, byte, bit), keys));
      assert.ok(allowed.has(code), `header byte ${byte} bit ${bit}: ${code}`);
    }
  }
});

test('body tampering: ciphertext bits are AUTH_FAILED; length bits never pass', async () => {
  const seg = segs[S0]!;
  const cs = chunks(seg);
  for (const c of cs) {
    assert.equal(await codeOf(openSegment(flip(seg, c.off + 4 + 7, 2), keys)), ErrorCode.SpoolAuthFailed);
    assert.equal(await codeOf(openSegment(flip(seg, c.off + c.len - 1, 7), keys)), ErrorCode.SpoolAuthFailed, 'tag');
    for (let bit = 0; bit < 32; bit++) {
      const code = await codeOf(openSegment(flip(seg, c.off + (bit >> 3), bit & 7), keys));
      assert.ok(code === ErrorCode.SpoolAuthFailed || code === ErrorCode.SpoolTruncated, `length bit ${bit}: ${code}`);
    }
  }
});

test('truncation: a dropped final chunk or a cut inside a chunk is TRUNCATED', async () => {
  const seg = segs[S0]!;
  const cs = chunks(seg);
  const last = cs[cs.length - 1]!;
  assert.equal(await codeOf(openSegment(seg.subarray(0, last.off), keys)), ErrorCode.SpoolTruncated, 'dropped last chunk');
  assert.equal(await codeOf(openSegment(seg.subarray(0, cs[1]!.off), keys)), ErrorCode.SpoolTruncated, 'only the first chunk');
  assert.equal(await codeOf(openSegment(seg.subarray(0, last.off + 10), keys)), ErrorCode.SpoolTruncated, 'cut mid-chunk');
  assert.equal(await codeOf(openSegment(seg.subarray(0, last.off + 2), keys)), ErrorCode.SpoolTruncated, 'cut in a length');
  const { headerBytes } = decodeSegmentHeader(seg);
  assert.equal(await codeOf(openSegment(seg.subarray(0, headerBytes.length), keys)), ErrorCode.SpoolTruncated, 'no chunk at all');
  assert.equal(await codeOf(openSegment(seg.subarray(0, 30), keys)), ErrorCode.SpoolBadHeader, 'cut in the header');
});

function assemble(seg: Uint8Array, order: { src: Uint8Array; off: number; len: number }[]): Uint8Array {
  const { headerBytes } = decodeSegmentHeader(seg);
  const out = new Uint8Array(headerBytes.length + order.reduce((n, c) => n + c.len, 0));
  out.set(headerBytes);
  let p = headerBytes.length;
  for (const c of order) {
    out.set(c.src.subarray(c.off, c.off + c.len), p);
    p += c.len;
  }
  return out;
}

test('reordered, spliced and surplus chunks are AUTH_FAILED', async () => {
  const seg = segs[S0]!;
  const [c0, c1, c2] = chunks(seg).map((c) => ({ src: seg, ...c }));
  assert.equal(await codeOf(openSegment(assemble(seg, [c1!, c0!, c2!]), keys)), ErrorCode.SpoolAuthFailed, 'swap 0/1');
  assert.equal(await codeOf(openSegment(assemble(seg, [c0!, c2!, c1!]), keys)), ErrorCode.SpoolAuthFailed, 'swap 1/2');
  const other = segs[S1]!;
  const o0 = { src: other, ...chunks(other)[0]! };
  assert.equal(await codeOf(openSegment(assemble(seg, [o0, c1!, c2!]), keys)), ErrorCode.SpoolAuthFailed, 'spliced chunk 0 from segment 1');
  assert.equal(await codeOf(openSegment(assemble(seg, [c0!, c1!, c2!, c2!]), keys)), ErrorCode.SpoolAuthFailed, 'duplicated final chunk');
  const tail = new Uint8Array(seg.length + 3);
  tail.set(seg);
  assert.equal(await codeOf(openSegment(tail, keys)), ErrorCode.SpoolAuthFailed, 'junk after the final chunk');
});

test('replay: an authentic segment already processed is REPLAYED', async () => {
  const seen = new Set<string>();
  const isReplay = (runId: string, seq: number) => seen.has(`${runId}/${seq}`);
  const first = await openSegment(segs[R2]!, keys, { isReplay });
  seen.add(`${first.header.runId}/${first.header.seq}`);
  assert.equal(await codeOf(openSegment(segs[R2]!, keys, { isReplay })), ErrorCode.SpoolReplayed);
  assert.equal(await codeOf(openSegment(segs[S0]!, keys, { isReplay })), 'OK');
});

test('replay of a published run refuses every one of its segments, not only the first', async () => {
  // As feed-segment.ts asks: by run id alone (a published run), whatever the sequence number.
  const isReplay = (runId: string) => runId === 'run1';
  assert.equal(decodeSegmentHeader(segs[S1]!).header.seq, 1);
  assert.equal(await codeOf(openSegment(segs[S0]!, keys, { isReplay })), ErrorCode.SpoolReplayed, 'seq 0');
  assert.equal(await codeOf(openSegment(segs[S1]!, keys, { isReplay })), ErrorCode.SpoolReplayed, 'seq 1');
  assert.equal(await codeOf(openSegment(segs[R2]!, keys, { isReplay })), 'OK', 'another run');
  const seqs: number[] = [];
  await openSegment(segs[S1]!, keys, { isReplay: (_run, seq) => (seqs.push(seq), false) });
  assert.deepEqual(seqs, [1], 'the check is handed the header\'s seq');
});

test('the file name is not authenticated: a renamed segment opens and its header still names where it was written', async () => {
  // Why the supervisor (feed-segment.ts) must compare the header with the name it found the
  // segment under: the reader itself cannot see a rename.
  const d = await mkdtemp(join(tmpdir(), 'flowseal-spool-rename-'));
  try {
    await mkdir(join(d, 'segments'), { recursive: true });
    await writeFile(join(d, 'segments', 'run2-00000005.seg'), segs[S1]!);
    assert.deepEqual(await listSegments(d), [{ name: 'run2-00000005.seg', runId: 'run2', seq: 5 }]);
    const opened = await openSegment(new Uint8Array(await readFile(join(d, 'segments', 'run2-00000005.seg'))), keys);
    assert.equal(opened.header.runId, 'run1');
    assert.equal(opened.header.seq, 1);
    assert.equal(opened.header.final, true);
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});

test('a segment sealed to another processor (or read by anyone else) does not open', async () => {
  const stranger = await generateProcessorKeys();
  assert.equal(await codeOf(openSegment(segs[R2]!, stranger)), ErrorCode.SpoolUnknownKey);
  // Even claiming the right key id, another private key cannot open it.
  const impostor: ProcessorKeys = { ...stranger, keyId: keys.keyId };
  assert.equal(await codeOf(openSegment(segs[R2]!, impostor)), ErrorCode.SpoolAuthFailed);
});

test('the processor private key is non-extractable', async () => {
  assert.equal(keys.keyPair.privateKey.extractable, false);
  await assert.rejects(crypto.subtle.exportKey('pkcs8', keys.keyPair.privateKey));
  await assert.rejects(crypto.subtle.exportKey('jwk', keys.keyPair.privateKey));
  assert.equal(JSON.stringify(keys).includes('"d"'), false);
});

test('listSegments sorts by run then seq and ignores temp files; quarantine moves with a reason', async () => {
  const d = await mkdtemp(join(tmpdir(), 'flowseal-spool-list-'));
  try {
    const names = ['b-00000010.seg', 'b-00000002.seg', 'a-00000001.seg', 'a-00000000.seg.tmp', 'junk.txt'];
    await mkdir(join(d, 'segments'), { recursive: true });
    for (const n of names) await writeFile(join(d, 'segments', n), 'x');
    const listed = (await listSegments(d)).map((s) => s.name);
    assert.deepEqual(listed, ['a-00000001.seg', 'b-00000002.seg', 'b-00000010.seg']);
    await quarantineSegment(d, 'b-00000002.seg', ErrorCode.SpoolAuthFailed, () => 0);
    assert.deepEqual((await readdir(join(d, 'quarantine'))).sort(), ['b-00000002.seg', 'b-00000002.seg.reason.json']);
    const reason = JSON.parse(await readFile(join(d, 'quarantine', 'b-00000002.seg.reason.json'), 'utf8'));
    assert.deepEqual(reason, { code: 'ERR_SPOOL_AUTH_FAILED', segment: 'b-00000002.seg', runId: 'b', seq: 2, quarantinedAt: '1970-01-01T00:00:00.000Z' });
    assert.deepEqual((await listSegments(d)).map((s) => s.name), ['a-00000001.seg', 'b-00000010.seg']);
    await assert.rejects(quarantineSegment(d, '../processor-key.json', ErrorCode.SpoolAuthFailed), TypeError);
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});

test('the quarantine is bounded: the oldest quarantined segments go first, each with its reason, and are counted', async () => {
  const d = await mkdtemp(join(tmpdir(), 'flowseal-spool-quarantine-'));
  try {
    await mkdir(join(d, 'segments'), { recursive: true });
    const limits = { maxSegments: 3, maxBytes: 10 };
    const evicted: number[] = [];
    for (let i = 0; i < 6; i++) {
      const name = `r-${String(i).padStart(8, '0')}.seg`;
      await writeFile(join(d, 'segments', name), 'xx');
      evicted.push(await quarantineSegment(d, name, ErrorCode.SpoolAuthFailed, () => i * 1000, limits));
      await utimes(join(d, 'quarantine', name), new Date(1_000_000 + i * 1000), new Date(1_000_000 + i * 1000));
    }
    assert.deepEqual(evicted, [0, 0, 0, 1, 1, 1], 'one out for each one in beyond three');
    assert.deepEqual((await readdir(join(d, 'quarantine'))).sort(), ['r-00000003.seg', 'r-00000003.seg.reason.json', 'r-00000004.seg', 'r-00000004.seg.reason.json', 'r-00000005.seg', 'r-00000005.seg.reason.json']);
    // The byte bound: 12 bytes do not fit under 10 even alone.
    await writeFile(join(d, 'segments', 'big-00000000.seg'), 'yyyyyyyyyyyy');
    assert.equal(await quarantineSegment(d, 'big-00000000.seg', ErrorCode.SpoolAuthFailed, () => 0, limits), 4, 'the byte bound evicts the older ones, then the one over it');
    assert.deepEqual((await readdir(join(d, 'quarantine'))).sort(), []);
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});
