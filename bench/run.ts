/**
 * `npm run bench`: the benchmarks. Not tests — no thresholds; prints numbers to copy into
 * bench/RESULTS.md with the date and machine.
 *
 * 1. pipeline: a generated capture (default 1,000,000 packets) through `flowseal pipeline`
 *    (ingest + sealed processor as two processes, encrypted spool, Parquet out): packets/s
 *    and MB/s of capture, wall clock, peak RSS of the processor is not tracked here.
 * 2. decode + flow table (bench/decode.bench.ts) and anonymization (bench/anonymize.bench.ts).
 *
 * Environment: BENCH_PACKETS (default 1000000), BENCH_ONLY=pipeline|decode|anonymize.
 * Bun: `npx bun bench/decode.bench.ts` and `npx bun bench/anonymize.bench.ts` run the same code.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { generateCapture } from './gen-capture.ts';

const FLOWSEAL = fileURLToPath(new URL('../bin/flowseal.mjs', import.meta.url));

async function pipelineBench(packets: number): Promise<Record<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-bench-'));
  try {
    const capture = join(dir, 'bench.pcap');
    const t0 = performance.now();
    const gen = await generateCapture(capture, { packets, connections: Math.max(1000, Math.floor(packets / 20)), seed: 42 });
    const genS = (performance.now() - t0) / 1000;
    const size = (await stat(capture)).size;
    const archive = join(dir, 'archive');
    const t1 = performance.now();
    const r = spawnSync(process.execPath, [FLOWSEAL, 'pipeline', capture, '--archive', archive, '--dataset', 'bench'], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 28 });
    const s = (performance.now() - t1) / 1000;
    if (r.status !== 0) throw new Error(`pipeline failed (${r.status}): ${r.stderr.toString().slice(-2000)}`);
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const q = await c.runAndReadAll(`SELECT count(*)::BIGINT, sum(packets_fwd + packets_rev)::BIGINT FROM read_parquet('${join(archive, 'bench', '**', '*.parquet')}')`);
    const [flows, pk] = q.getRows()[0] as [bigint, bigint];
    return {
      packets: gen.packets,
      captureMB: size / 1e6,
      generateSeconds: genS,
      pipelineSeconds: s,
      packetsPerSecond: gen.packets / s,
      megabytesPerSecond: size / 1e6 / s,
      flows: Number(flows),
      packetsInFlows: Number(pk),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const only = process.env.BENCH_ONLY;
const packets = Number(process.env.BENCH_PACKETS ?? 1_000_000);
console.log(`# flowseal bench ${new Date().toISOString()} node ${process.version} ${cpus().length}x ${cpus()[0]?.model ?? '?'} ${(totalmem() / 2 ** 30).toFixed(0)} GiB`);
if (!only || only === 'pipeline') console.log('pipeline', JSON.stringify(await pipelineBench(packets), null, 1));
if (!only || only === 'decode') {
  const { runDecodeBench } = await import('./decode.bench.ts');
  await runDecodeBench();
}
if (!only || only === 'anonymize') {
  const { runAnonymizeBench } = await import('./anonymize.bench.ts');
  await runAnonymizeBench();
}
