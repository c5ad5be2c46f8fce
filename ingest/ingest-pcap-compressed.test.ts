/**
 * Compressed captures end to end on the capture side: the repo's real fixture captures,
 * compressed by the real gzip/zstd/xz tools, ingested from a file, from an injected stdin and
 * through the real `flowseal ingest pcap -` with a pipe, must seal exactly the records the
 * uncompressed file seals; tshark must count the same packets; damaged files must fail with a
 * stable code naming the file while the records before the damage stay sealed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError, ErrorCode } from '../schemas/errors.ts';
import { iterateSpoolRecords } from '../schemas/spool.ts';
import { generateProcessorKeys, type ProcessorKeys } from '../sealed-processor/spool/keys.ts';
import { writePublicKey } from '../sealed-processor/spool/key-file.ts';
import { openSegment } from '../sealed-processor/spool/spool-reader.ts';
import { listSegments } from '../sealed-processor/spool/spool-files.ts';
import { skipUnlessTools } from '../test/support/required-tools.ts';
import { runFlowseal } from '../test/support/run-flowseal.ts';
import { runIngestPcap } from './ingest-pcap.ts';

const FIXTURES = fileURLToPath(new URL('../test/fixtures/', import.meta.url));
const TOOLS = skipUnlessTools('gzip', 'zstd', 'xz');
const TSHARK = skipUnlessTools('gzip', 'zstd', 'xz', 'tshark');

type Tool = 'gzip' | 'zstd' | 'xz';
const TOOL_LIST: Tool[] = ['gzip', 'zstd', 'xz'];

function compress(tool: Tool, bytes: Uint8Array): Uint8Array {
  const r = spawnSync(tool, tool === 'zstd' ? ['-q', '-c'] : ['-c'], { input: bytes });
  assert.equal(r.status, 0, String(r.stderr));
  return new Uint8Array(r.stdout);
}

async function withSpool(fn: (dir: string, keys: ProcessorKeys) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-compressed-test-'));
  try {
    const keys = await generateProcessorKeys();
    await writePublicKey(join(dir, 'spool'), keys);
    await fn(dir, keys);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every record of a run, as comparable strings, and whether the run's last segment is final. */
async function sealed(spoolDir: string, keys: ProcessorKeys, runId: string): Promise<{ records: string[]; final: boolean }> {
  const records: string[] = [];
  let final = false;
  for (const s of (await listSegments(spoolDir)).filter((x) => x.runId === runId)) {
    const opened = await openSegment(new Uint8Array(await readFile(join(spoolDir, 'segments', s.name))), keys);
    iterateSpoolRecords(opened.plaintext, (r) => records.push(`${r.kind}/${r.linkType}/${r.ifIndex}/${r.tsSec}.${r.tsNsec}/${r.origLen}/${Buffer.from(r.data).toString('hex')}`));
    final = opened.header.final;
  }
  return { records, final };
}

const quiet = () => undefined;

test('fixture captures compressed with gzip, zstd and xz seal exactly the records of the plain file, from a file and from stdin', { skip: TOOLS }, async () => {
  await withSpool(async (dir, keys) => {
    const spool = join(dir, 'spool');
    for (const name of ['dns-ns.pcapng', 'multi-if.pcapng', 'sll2-any.pcap']) {
      const plainPath = join(FIXTURES, name);
      const base = name.replace(/\W/g, '');
      await runIngestPcap({ input: plainPath, spoolDir: spool, runId: `${base}-plain`, log: quiet });
      const expected = await sealed(spool, keys, `${base}-plain`);
      assert.ok(expected.records.length > 0, name);
      const raw = new Uint8Array(await readFile(plainPath));
      for (const tool of TOOL_LIST) {
        const path = join(dir, `${name}.${tool}`);
        await writeFile(path, compress(tool, raw));
        const fromFile = await runIngestPcap({ input: path, spoolDir: spool, runId: `${base}-${tool}-file`, log: quiet });
        assert.equal(fromFile.compression, tool);
        assert.deepEqual(await sealed(spool, keys, `${base}-${tool}-file`), expected, `${name} ${tool} file`);
        const fromStdin = await runIngestPcap({ input: '-', stdin: createReadStream(path, { highWaterMark: 777 }), spoolDir: spool, runId: `${base}-${tool}-stdin`, log: quiet });
        assert.equal(fromStdin.records, expected.records.length);
        assert.deepEqual(await sealed(spool, keys, `${base}-${tool}-stdin`), expected, `${name} ${tool} stdin`);
      }
    }
  });
});

test('tshark counts the same packets in the compressed files as flowseal seals (xz through xz -dc, tshark cannot read it)', { skip: TSHARK }, async () => {
  await withSpool(async (dir) => {
    const raw = new Uint8Array(await readFile(join(FIXTURES, 'http-lo.pcap')));
    for (const tool of TOOL_LIST) {
      const path = join(dir, `http-lo.pcap.${tool}`);
      await writeFile(path, compress(tool, raw));
      const res = await runIngestPcap({ input: path, spoolDir: join(dir, 'spool'), runId: `http-${tool}`, log: quiet });
      const tshark = tool === 'xz' ? spawnSync('sh', ['-c', `xz -dc '${path}' | tshark -n -r - -T fields -e frame.number`], { encoding: 'utf8' }) : spawnSync('tshark', ['-n', '-r', path, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' });
      assert.equal(tshark.status, 0, tshark.stderr);
      assert.equal(res.records, tshark.stdout.trim().split('\n').length, tool);
    }
  });
});

test('`gzip -c | flowseal ingest pcap -` and `zstd -c | ...` through the real CLI seal what the plain file seals', { skip: TOOLS }, async () => {
  await withSpool(async (dir, keys) => {
    const spool = join(dir, 'spool');
    const plainPath = join(FIXTURES, 'vlan-tls.pcap');
    await runIngestPcap({ input: plainPath, spoolDir: spool, runId: 'cli-plain', log: quiet });
    const expected = await sealed(spool, keys, 'cli-plain');
    const raw = new Uint8Array(await readFile(plainPath));
    for (const tool of ['gzip', 'zstd'] as const) {
      const r = await runFlowseal(['ingest', 'pcap', '-', '--spool', spool, '--run-id', `cli-${tool}`], { input: compress(tool, raw) });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`"compression":"${tool}"`));
      assert.deepEqual(await sealed(spool, keys, `cli-${tool}`), expected, tool);
    }
  });
});

test('damaged compressed files: a stable code naming the file, the records before the damage sealed with a final segment', { skip: TOOLS }, async () => {
  await withSpool(async (dir, keys) => {
    const spool = join(dir, 'spool');
    const raw = new Uint8Array(await readFile(join(FIXTURES, 'http-lo.pcap')));
    await runIngestPcap({ input: join(FIXTURES, 'http-lo.pcap'), spoolDir: spool, runId: 'whole', log: quiet });
    const all = (await sealed(spool, keys, 'whole')).records;
    for (const tool of TOOL_LIST) {
      const packed = compress(tool, raw);
      const cutPath = join(dir, `cut.pcap.${tool}`);
      await writeFile(cutPath, packed.subarray(0, Math.floor(packed.length * 0.8)));
      const logs: Record<string, unknown>[] = [];
      await assert.rejects(runIngestPcap({ input: cutPath, spoolDir: spool, runId: `cut-${tool}`, log: (o) => logs.push(o as Record<string, unknown>) }), (e: unknown) => {
        assert.ok(e instanceof AppError);
        assert.equal(e.code, ErrorCode.CaptureCompressedTruncated, tool);
        assert.ok(e.message.startsWith(`${cutPath}: `), e.message);
        assert.equal(e.details?.input, cutPath);
        return true;
      });
      const kept = await sealed(spool, keys, `cut-${tool}`);
      assert.equal(kept.final, true, tool);
      assert.ok(kept.records.length > 0 && kept.records.length < all.length, `${tool}: ${kept.records.length} of ${all.length} kept`);
      assert.deepEqual(kept.records, all.slice(0, kept.records.length), `${tool}: the kept records are the first ones`);
      assert.ok(logs.some((l) => l.event === 'capture-error' && l.records === kept.records.length && l.compression === tool));

      const bad = packed.slice();
      bad[Math.floor(bad.length * 0.7)]! ^= 0xff;
      const badPath = join(dir, `bad.pcap.${tool}`);
      await writeFile(badPath, bad);
      await assert.rejects(runIngestPcap({ input: badPath, spoolDir: spool, runId: `bad-${tool}`, log: quiet }), (e: unknown) => {
        assert.ok(e instanceof AppError);
        // Damage inside the compressed data is the decoder's to find; a mutation that still decodes is caught by the capture reader.
        assert.ok(([ErrorCode.CaptureCompressedCorrupt, ErrorCode.CaptureCorrupt] as string[]).includes(e.code), `${tool}: ${e.code} ${e.message}`);
        assert.ok(e.message.startsWith(`${badPath}: `));
        return true;
      });
      assert.equal((await sealed(spool, keys, `bad-${tool}`)).final, true);
    }
  });
});

test('a compressed file that is not a capture: BAD_MAGIC naming the file and the compression', { skip: TOOLS }, async () => {
  await withSpool(async (dir) => {
    for (const tool of TOOL_LIST) {
      const path = join(dir, `notes.txt.${tool}`);
      await writeFile(path, compress(tool, new TextEncoder().encode('these are meeting notes, not packets\n'.repeat(20))));
      await assert.rejects(runIngestPcap({ input: path, spoolDir: join(dir, 'spool'), runId: `txt-${tool}`, log: quiet }), (e: unknown) => {
        assert.ok(e instanceof AppError && e.code === ErrorCode.CaptureBadMagic);
        assert.ok(e.message.startsWith(`${path}: `) && e.message.includes(`after ${tool} decompression`), e.message);
        return true;
      });
    }
    await assert.rejects(runIngestPcap({ input: '-', stdin: (async function* () { yield compress('gzip', new Uint8Array(100)); })(), spoolDir: join(dir, 'spool'), runId: 'txt-stdin', log: quiet }), (e: unknown) => e instanceof AppError && e.code === ErrorCode.CaptureBadMagic && e.message.startsWith('stdin: '));
  });
});
