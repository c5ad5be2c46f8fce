/**
 * `npm run bench`: the benchmarks. Not tests — no thresholds; prints numbers to copy into
 * bench/RESULTS.md with the date and machine.
 *
 * 1. pipeline: a generated capture (default 1,000,000 packets) through `flowseal pipeline`
 *    (ingest + sealed processor as two processes, encrypted spool, Parquet out): packets/s
 *    and MB/s of capture, wall clock, peak RSS of the processor is not tracked here.
 * 2. decode + flow table (bench/decode.bench.ts) and anonymization (bench/anonymize.bench.ts).
 * 3. query: the API vs DuckDB directly on the bench flow archive (bench/query.bench.ts), then
 *    the small query's overhead stage by stage (bench/query-overhead.bench.ts). Sized by
 *    BENCH_FLOWS: 2 000 000 here by default (the archive is generated once, about 25 s, and
 *    cached in .bench-cache/); the figures need BENCH_FLOWS=20000000 (about 4 min to
 *    generate the first time, 940 MB; the two benches then take about 4 min).
 * 4. nfdump: the API vs nfdump on the bench capture (bench/nfdump.bench.ts); skipped with a
 *    note when nfdump/nfpcapd are not installed (apt-get install nfdump).
 * 5. netflow: NetFlow v5/v9/IPFIX decoders and collection vs nfcapd on softflowd's export of
 *    the bench capture (bench/netflow.bench.ts); skipped without softflowd/nfcapd.
 *
 * Environment: BENCH_PACKETS (default 1000000), BENCH_FLOWS (default 2000000 here),
 * BENCH_ONLY=pipeline|decode|anonymize|query|overhead|nfdump|netflow (comma-separated for several), and
 * the knobs each bench file lists.
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

const only = process.env.BENCH_ONLY?.split(',').map((x) => x.trim());
const wants = (name: string): boolean => !only || only.includes(name);
const packets = Number(process.env.BENCH_PACKETS ?? 1_000_000);
console.log(`# flowseal bench ${new Date().toISOString()} node ${process.version} ${cpus().length}x ${cpus()[0]?.model ?? '?'} ${(totalmem() / 2 ** 30).toFixed(0)} GiB`);
if (wants('pipeline')) console.log('pipeline', JSON.stringify(await pipelineBench(packets), null, 1));
if (wants('decode')) {
  const { runDecodeBench } = await import('./decode.bench.ts');
  await runDecodeBench();
}
if (wants('anonymize')) {
  const { runAnonymizeBench } = await import('./anonymize.bench.ts');
  await runAnonymizeBench();
}
if (wants('query') || wants('overhead')) {
  const { runQueryBench, settingsFromEnv, queryBenchMarkdown } = await import('./query.bench.ts');
  const settings = { ...settingsFromEnv(), flows: Number(process.env.BENCH_FLOWS ?? 2_000_000) };
  if (wants('query')) console.log(`query (API vs direct DuckDB)\n${queryBenchMarkdown(await runQueryBench(settings))}`);
  if (wants('overhead')) {
    const { runOverheadBench, overheadMarkdown } = await import('./query-overhead.bench.ts');
    console.log(`query overhead (small query)\n${overheadMarkdown(await runOverheadBench(settings))}`);
  }
}
if (wants('nfdump')) {
  if (spawnSync('sh', ['-c', 'command -v nfdump && command -v nfpcapd'], { stdio: 'ignore' }).status !== 0) {
    console.log('nfdump: skipped (nfdump/nfpcapd not installed: apt-get install nfdump)');
  } else {
    const { runNfdumpBench, nfdumpMarkdown, nfdumpSettingsFromEnv } = await import('./nfdump.bench.ts');
    console.log(`nfdump vs API\n${nfdumpMarkdown(await runNfdumpBench({ ...nfdumpSettingsFromEnv(), packets }))}`);
  }
}
if (wants('netflow')) {
  if (spawnSync('sh', ['-c', 'command -v softflowd && command -v nfcapd && command -v nfdump'], { stdio: 'ignore' }).status !== 0) {
    console.log('netflow: skipped (softflowd/nfcapd not installed: apt-get install softflowd nfdump)');
  } else {
    const { runNetflowBench, netflowMarkdown, netflowSettingsFromEnv } = await import('./netflow.bench.ts');
    console.log(`NetFlow/IPFIX vs nfcapd\n${netflowMarkdown(await runNetflowBench({ ...netflowSettingsFromEnv(), packets }))}`);
  }
}
