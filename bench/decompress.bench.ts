/**
 * Decompression throughput of compressed captures: flowseal's streaming decoders
 * (ingest/capture/capture-decompress.ts: node:zlib gzip, fzstd behind our zstd frame walker,
 * xz-embedded WASM) against the system tools `gzip -dc`, `zstd -dc`, `xz -dc` on the same
 * files, and `ingest pcap` of each file end to end. Not a test: prints a table to copy into
 * bench/RESULTS.md with the date and machine.
 *
 * CLI: node bin/run-ts.mjs bench/decompress.bench.ts
 * Environment: BENCH_PACKETS (default 20000, about 7 MB of capture), BENCH_RUNS (default 5;
 * the median is printed).
 */
import { spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateProcessorKeys } from '../sealed-processor/spool/keys.ts';
import { writePublicKey } from '../sealed-processor/spool/key-file.ts';
import { openDecompressed } from '../ingest/capture/capture-decompress.ts';
import { runIngestPcap } from '../ingest/ingest-pcap.ts';
import { generateCapture } from './gen-capture.ts';

const PACKETS = Number(process.env.BENCH_PACKETS ?? 20_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function drain(path: string): Promise<number> {
  const d = await openDecompressed(createReadStream(path, { highWaterMark: 256 * 1024 }));
  let n = 0;
  for await (const p of d.stream) n += p.length;
  return n;
}

async function timeIt(fn: () => Promise<unknown> | unknown): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await fn();
    xs.push((performance.now() - t) / 1000);
  }
  return median(xs);
}

const dir = await mkdtemp(join(tmpdir(), 'flowseal-decompress-bench-'));
try {
  const plain = join(dir, 'bench.pcap');
  await generateCapture(plain, { packets: PACKETS, connections: Math.max(100, Math.floor(PACKETS / 20)), seed: 7 });
  const rawBytes = (await stat(plain)).size;
  const variants: { name: string; tool: string; make: string[]; ext: string }[] = [
    { name: 'gzip -6', tool: 'gzip', make: ['-6'], ext: 'gz' },
    { name: 'zstd -3', tool: 'zstd', make: ['-q', '-3'], ext: 'zst' },
    { name: 'zstd -19', tool: 'zstd', make: ['-q', '-19'], ext: '19.zst' },
    { name: 'xz -6', tool: 'xz', make: ['-6', '-T1'], ext: 'xz' },
  ];
  const spool = join(dir, 'spool');
  await writePublicKey(spool, await generateProcessorKeys());
  let run = 0;
  const ingest = async (path: string) => runIngestPcap({ input: path, spoolDir: spool, runId: `b${run++}`, log: () => undefined });
  const rows: string[] = [];
  const mbps = (s: number) => (rawBytes / 1e6 / s).toFixed(0);
  const plainIngest = await timeIt(() => ingest(plain));
  rows.push(`| plain pcap | ${(rawBytes / 1e6).toFixed(1)} MB | — | — | ${plainIngest.toFixed(3)} s (${mbps(plainIngest)} MB/s) |`);
  for (const v of variants) {
    const path = `${plain}.${v.ext}`;
    const made = spawnSync('sh', ['-c', `${v.tool} ${v.make.join(' ')} -c '${plain}' > '${path}'`]);
    if (made.status !== 0) throw new Error(`${v.tool} failed: ${made.stderr}`);
    const size = (await stat(path)).size;
    const ours = await timeIt(async () => {
      if ((await drain(path)) !== rawBytes) throw new Error(`${v.name}: wrong decoded size`);
    });
    const tool = await timeIt(() => {
      const r = spawnSync('sh', ['-c', `${v.tool} -dc '${path}' > /dev/null`]);
      if (r.status !== 0) throw new Error(`${v.tool} -dc failed`);
    });
    const ing = await timeIt(() => ingest(path));
    rows.push(`| ${v.name} | ${(size / 1e6).toFixed(2)} MB | ${ours.toFixed(3)} s (${mbps(ours)} MB/s) | ${tool.toFixed(3)} s (${mbps(tool)} MB/s) | ${ing.toFixed(3)} s (${mbps(ing)} MB/s) |`);
  }
  console.log(`${PACKETS} packets, ${(rawBytes / 1e6).toFixed(1)} MB capture, median of ${RUNS}; MB/s of decompressed capture`);
  console.log('| input | compressed size | flowseal decoder (drain) | system tool `-dc` | `ingest pcap` end to end |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(r);
} finally {
  await rm(dir, { recursive: true, force: true });
}
