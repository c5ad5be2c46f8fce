import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { encodeSpoolRecord, iterateSpoolRecords, RecordKind, SpoolBuffer, type SpoolRecordInput } from '../../schemas/spool.ts';
import { generateProcessorKeys, type ProcessorKeys } from '../../sealed-processor/spool/keys.ts';
import { writePublicKey } from '../../sealed-processor/spool/key-file.ts';
import { openSegment } from '../../sealed-processor/spool/spool-reader.ts';
import { SpoolWriter } from './spool-writer.ts';

async function withSpool(fn: (dir: string, keys: ProcessorKeys) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-writer-test-'));
  try {
    const keys = await generateProcessorKeys();
    await writePublicKey(dir, keys);
    await fn(dir, keys);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function rec(i: number, size: number): SpoolRecordInput {
  return { kind: RecordKind.Packet, linkType: 1, ifIndex: 0, tsSec: i, tsNsec: 0, origLen: size, data: new Uint8Array(size).fill(i & 0xff) };
}

async function openAll(dir: string, keys: ProcessorKeys) {
  const names = (await readdir(join(dir, 'segments'))).sort();
  const out = [];
  for (const name of names) {
    const opened = await openSegment(new Uint8Array(await readFile(join(dir, 'segments', name))), keys);
    const tsSecs: number[] = [];
    iterateSpoolRecords(opened.plaintext, (r) => tsSecs.push(r.tsSec));
    out.push({ name, final: opened.header.final, seq: opened.header.seq, tsSecs, chunks: opened.chunks });
  }
  return out;
}

test('without a published key the writer refuses to start, saying the processor must run first', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-writer-test-'));
  try {
    await assert.rejects(SpoolWriter.open(dir), (e: unknown) => e instanceof AppError && e.code === ErrorCode.SpoolNoPublicKey && /processor/.test(e.message));
    await writeFile(join(dir, 'processor-key.json'), '{"version":1,"publicKey":"x"}');
    await assert.rejects(SpoolWriter.open(dir), (e: unknown) => e instanceof AppError && e.code === ErrorCode.KeyInvalid);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a run of zero records still publishes one empty final segment', async () => {
  await withSpool(async (dir, keys) => {
    const w = await SpoolWriter.open(dir, { runId: 'empty' });
    const res = await w.close();
    assert.equal(res.segments, 1);
    assert.equal(res.records, 0);
    const segs = await openAll(dir, keys);
    assert.deepEqual(segs.map((s) => [s.name, s.final, s.tsSecs.length]), [['empty-00000000.seg', true, 0]]);
  });
});

test('segments rotate by size; records stay whole and in order; only the last is final; no temp files remain', async () => {
  await withSpool(async (dir, keys) => {
    const w = await SpoolWriter.open(dir, { runId: 'rot', segmentMaxBytes: 1000 });
    for (let i = 0; i < 25; i++) await w.append(rec(i, 100 + i));
    const res = await w.close();
    const segs = await openAll(dir, keys);
    assert.equal(res.segments, segs.length);
    assert.equal(res.records, 25);
    assert.ok(segs.length >= 4);
    assert.deepEqual(segs.flatMap((s) => s.tsSecs), Array.from({ length: 25 }, (_, i) => i));
    assert.deepEqual(segs.map((s) => s.final), segs.map((_, i) => i === segs.length - 1));
    assert.deepEqual(segs.map((s) => s.seq), segs.map((_, i) => i));
    assert.equal(res.bytes, (await Promise.all(segs.map((s) => readFile(join(dir, 'segments', s.name))))).reduce((n, b) => n + b.length, 0));
    assert.equal((await readdir(join(dir, 'segments'))).some((n) => n.endsWith('.tmp')), false);
  });
});

test('a last segment already started non-final (over 1 MiB) is followed by an empty final segment', async () => {
  await withSpool(async (dir, keys) => {
    const w = await SpoolWriter.open(dir, { runId: 'big' });
    for (let i = 0; i < 6; i++) await w.append(rec(i, 250_000));
    const res = await w.close();
    const segs = await openAll(dir, keys);
    assert.deepEqual(segs.map((s) => [s.final, s.tsSecs.length, s.chunks]), [[false, 6, 2], [true, 0, 1]]);
    assert.equal(res.segments, 2);
  });
});

test('segments rotate by age (injected clock)', async () => {
  await withSpool(async (dir, keys) => {
    let t = 1_000_000;
    const w = await SpoolWriter.open(dir, { runId: 'age', segmentMaxAgeMs: 5000, now: () => t });
    for (let i = 0; i < 6; i++) {
      await w.append(rec(i, 10));
      t += 2000;
    }
    await w.close();
    const segs = await openAll(dir, keys);
    // Records at t=0,2,4 s | 6,8,10 s: the segment opened at 0 is too old at 6 s.
    assert.deepEqual(segs.map((s) => s.tsSecs), [[0, 1, 2], [3, 4, 5]]);
  });
});

test('a restarted processor publishes a new key: later segments use it, earlier ones are shredded', async () => {
  await withSpool(async (dir, keys1) => {
    // Each 174-byte record fills a 200-byte segment; a segment is sealed when the next one begins.
    const w = await SpoolWriter.open(dir, { runId: 'restart', segmentMaxBytes: 200 });
    await w.append(rec(0, 150));
    await w.append(rec(1, 150)); // seals segment 0 (record 0) to key 1
    const keys2 = await generateProcessorKeys();
    await writePublicKey(dir, keys2);
    await w.append(rec(2, 150)); // seals segment 1 (record 1) to key 2
    await w.close(); // segment 2 (record 2), key 2, final
    const names = (await readdir(join(dir, 'segments'))).sort();
    assert.equal(names.length, 3);
    const bytes = await Promise.all(names.map(async (n) => new Uint8Array(await readFile(join(dir, 'segments', n)))));
    await assert.rejects(openSegment(bytes[0]!, keys2), (e: unknown) => e instanceof AppError && e.code === ErrorCode.SpoolUnknownKey);
    assert.equal((await openSegment(bytes[0]!, keys1)).header.seq, 0);
    await assert.rejects(openSegment(bytes[1]!, keys1), (e: unknown) => e instanceof AppError && e.code === ErrorCode.SpoolUnknownKey);
    assert.equal((await openSegment(bytes[1]!, keys2)).header.seq, 1);
    const last = await openSegment(bytes[2]!, keys2);
    assert.equal(last.header.final, true);
    assert.equal(iterateSpoolRecords(last.plaintext, () => undefined), 1);
  });
});

test('append copies its input; a reused run id is refused; abort leaves no temp file', async () => {
  await withSpool(async (dir, keys) => {
    const w = await SpoolWriter.open(dir, { runId: 'copy' });
    const buf = new Uint8Array(64).fill(7);
    const p = w.append({ ...rec(1, 0), data: buf });
    buf.fill(9);
    await p;
    await w.close();
    const opened = await openSegment(new Uint8Array(await readFile(join(dir, 'segments', 'copy-00000000.seg'))), keys);
    iterateSpoolRecords(opened.plaintext, (r) => assert.deepEqual(r.data, new Uint8Array(64).fill(7)));
    await assert.rejects(SpoolWriter.open(dir, { runId: 'copy' }), (e: unknown) => e instanceof AppError && e.code === ErrorCode.BadRequest);
    await assert.rejects(SpoolWriter.open(dir, { runId: '../evil' }), (e: unknown) => e instanceof AppError && e.code === ErrorCode.BadRequest);

    const a = await SpoolWriter.open(dir, { runId: 'aborted' });
    for (let i = 0; i < 5; i++) await a.append(rec(i, 250_000)); // a chunk was sealed: temp file exists
    assert.ok((await readdir(join(dir, 'segments'))).includes('aborted-00000000.seg.tmp'));
    await a.abort();
    assert.deepEqual((await readdir(join(dir, 'segments'))).filter((n) => n.startsWith('aborted')), []);
  });
});

test('appendFramed: the same segments as one append per record (size and age rotation, chunks), in any batch split', async () => {
  await withSpool(async (dir, keys) => {
    const recs = Array.from({ length: 40 }, (_, i) => rec(i, 30 + ((i * 97) % 400)));
    // Sizes force rotations inside batches, at batch edges, and a record larger than a segment.
    recs[17] = rec(17, 1500);
    const opts = (runId: string, clock: { t: number }) => ({ runId, segmentMaxBytes: 1200, segmentMaxAgeMs: 5000, now: () => clock.t });
    const one = { t: 0 };
    const a = await SpoolWriter.open(dir, opts('one', one));
    for (const [i, r] of recs.entries()) {
      one.t = i * 600; // ages out every ~9 records, on top of the size limit
      await a.append(r);
    }
    const ra = await a.close();
    const framed = { t: 0 };
    const b = await SpoolWriter.open(dir, opts('framed', framed));
    let taken = 0;
    for (let i = 0; i < recs.length; ) {
      const n = 1 + (i % 5); // batches of 1..5 records
      const buf = new SpoolBuffer();
      for (const r of recs.slice(i, i + n)) encodeSpoolRecord(buf, r);
      // A batch shares one clock reading: age rotation happens at batch starts here.
      framed.t = i * 600;
      taken += await b.appendFramed(buf.bytes);
      i += n;
    }
    const rb = await b.close();
    assert.equal(taken, recs.length);
    assert.deepEqual([rb.records, rb.segments > 4], [ra.records, true]);
    const segs = await openAll(dir, keys);
    const of = (run: string) => segs.filter((s) => s.name.startsWith(`${run}-`));
    const flat = (run: string) => of(run).flatMap((s) => s.tsSecs);
    assert.deepEqual(flat('framed'), flat('one'), 'every record once, in order');
    assert.deepEqual(of('framed').map((s) => s.final), of('framed').map((_, i, all) => i === all.length - 1));
    // Without an age limit, batches are exactly equivalent: the same records in the same segments.
    const c = await SpoolWriter.open(dir, { runId: 'size-one', segmentMaxBytes: 1200 });
    for (const r of recs) await c.append(r);
    await c.close();
    for (const [run, batch] of [['size-by3', 3], ['size-all', recs.length]] as const) {
      const d = await SpoolWriter.open(dir, { runId: run, segmentMaxBytes: 1200 });
      for (let i = 0; i < recs.length; i += batch) {
        const buf = new SpoolBuffer();
        for (const r of recs.slice(i, i + batch)) encodeSpoolRecord(buf, r);
        await d.appendFramed(buf.bytes.slice());
      }
      await d.close();
    }
    const again = await openAll(dir, keys);
    const split = (run: string) => again.filter((s) => s.name.startsWith(`${run}-`)).map((s) => [s.final, s.tsSecs]);
    assert.deepEqual(split('size-by3'), split('size-one'));
    assert.deepEqual(split('size-all'), split('size-one'));
  });
});

test('appendFramed refuses bytes that are not whole framed records, and copies its input', async () => {
  await withSpool(async (dir, keys) => {
    const w = await SpoolWriter.open(dir, { runId: 'bad-framing' });
    const buf = new SpoolBuffer();
    encodeSpoolRecord(buf, rec(1, 64));
    const good = buf.bytes.slice();
    assert.throws(() => w.appendFramed(good.subarray(0, 30)), TypeError, 'a truncated body');
    assert.throws(() => w.appendFramed(good.subarray(0, 10)), TypeError, 'a truncated header');
    const badKind = good.slice();
    badKind[0] = 9;
    assert.throws(() => w.appendFramed(badKind), TypeError);
    const p = w.appendFramed(good);
    good.fill(0xee);
    assert.equal(await p, 1);
    await w.close();
    const [seg] = await openAll(dir, keys);
    assert.deepEqual(seg!.tsSecs, [1]);
  });
});

test('appendFramed seals whole chunks as they fill (a batch over 1 MiB)', async () => {
  await withSpool(async (dir, keys) => {
    const w = await SpoolWriter.open(dir, { runId: 'framed-big' });
    const buf = new SpoolBuffer();
    for (let i = 0; i < 6; i++) encodeSpoolRecord(buf, rec(i, 250_000));
    assert.equal(await w.appendFramed(buf.bytes.slice()), 6);
    await w.close();
    const segs = await openAll(dir, keys);
    assert.deepEqual(segs.map((s) => [s.final, s.tsSecs, s.chunks]), [[false, [0, 1, 2, 3, 4, 5], 2], [true, [], 1]]);
  });
});
