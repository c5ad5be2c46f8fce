/**
 * The shared input check (capture-input.ts): one set of codes for the pre-flight check and for
 * opening, the first bytes peeked without moving the stream, a FIFO neither sniffed nor hung on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError, ErrorCode } from '../schemas/errors.ts';
import { checkCaptureInput, looksLikeCapture, openCaptureInput } from './capture-input.ts';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-capture-input-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const refusedWith = (code: string, text: string) => (e: unknown) => e instanceof AppError && e.code === code && e.message.includes(text);

test('the same code from the pre-flight check and from opening, naming the path', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'notes.txt'), 'not a capture');
    await writeFile(join(dir, 'empty.pcap'), '');
    const cases: [string, string, string][] = [
      [join(dir, 'missing.pcap'), ErrorCode.InputNotFound, 'does not exist'],
      [join(dir, 'notes.txt', 'x.pcap'), ErrorCode.InputNotFound, 'does not exist'],
      [dir, ErrorCode.InputNotAFile, 'is a directory'],
      [join(dir, 'notes.txt'), ErrorCode.InputNotCapture, 'no pcap, pcapng, gzip, zstd or xz signature'],
      [join(dir, 'empty.pcap'), ErrorCode.InputNotCapture, 'empty file'],
    ];
    for (const [path, code, text] of cases) {
      await assert.rejects(checkCaptureInput(path), refusedWith(code, text), path);
      await assert.rejects(openCaptureInput(path), refusedWith(code, JSON.stringify(path)), path);
    }
  });
});

test('a capture file is peeked, not consumed: the stream starts at its first byte', async () => {
  await withDir(async (dir) => {
    const bytes = Buffer.concat([Buffer.from([0xd4, 0xc3, 0xb2, 0xa1]), Buffer.alloc(100, 7)]);
    await writeFile(join(dir, 'c.pcap'), bytes);
    await checkCaptureInput(join(dir, 'c.pcap'));
    const input = await openCaptureInput(join(dir, 'c.pcap'));
    const read: Buffer[] = [];
    for await (const c of input.stream) read.push(Buffer.from(c));
    await input.close();
    assert.deepEqual(Buffer.concat(read), bytes);
  });
});

test('magic: pcap (both byte orders, ns), pcapng, gzip, zstd, xz, legacy lzma; not text', () => {
  const heads = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0x0a, 0x0d, 0x0d, 0x0a],
    [0x1f, 0x8b, 8, 0],
    [0x28, 0xb5, 0x2f, 0xfd],
    [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
    [0x5d, 0x00, 0x00, 0x80, 0x00],
  ];
  for (const h of heads) assert.ok(looksLikeCapture(new Uint8Array(h)), h.join(','));
  assert.ok(!looksLikeCapture(new TextEncoder().encode('GET / HTTP/1.1')));
  assert.ok(!looksLikeCapture(new Uint8Array([0xd4, 0xc3])));
});

test('a FIFO is accepted without being read or hanging the pre-flight check (process substitution, tcpdump -w fifo)', async () => {
  await withDir(async (dir) => {
    const fifo = join(dir, 'cap.fifo');
    execFileSync('mkfifo', [fifo]);
    await checkCaptureInput(fifo);
  });
});

test('stdin (-) is not checked', async () => {
  await checkCaptureInput('-');
  const input = await openCaptureInput('-', (async function* () {})());
  assert.equal(input.source, 'stdin');
});
