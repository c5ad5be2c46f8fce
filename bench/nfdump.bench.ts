/**
 * flowseal's query API against nfdump on the same traffic: the bench capture
 * (bench/gen-capture.ts, default 1 000 000 packets / 50 000 connections / seed 42, cached under
 * `.bench-cache/`) made into nfcapd files by `nfpcapd -r cap -w dir -t 3600` and into a flowseal
 * archive by the real `flowseal pipeline` (signed with the bench manifest key, which the API
 * pins); then each question timed side by side, interleaved, as a user runs it: a fresh
 * `nfdump` process reading the nfcapd files vs one HTTP request to the running API (auth, rate
 * limits, admission and audit on), answer read to the end.
 *
 * Pairs (the API side returns what the nfdump command prints, no more):
 * - top-10 dst ports by flows: `nfdump -R dir -s dstport/flows -n 10 -o csv` vs
 *   `groupBy: [dst_port]`, flows, limit 10.
 * - filtered totals: `nfdump -R dir -N -o null 'proto tcp and dst port 443'` (no records, the
 *   summary line: flows, bytes, packets) vs the same filter with `groupBy: []` and
 *   flows, packets_fwd, bytes_fwd (nfpcapd's flows are one direction, initiator → responder,
 *   which is flowseal's `_fwd`; so the three numbers must be equal).
 * - a capped listing: `nfdump -R dir -c 1000 -o csv 'proto tcp and dst port 443'` vs a record
 *   listing of 1000 rows (the API caps listings; an uncapped `nfdump` listing has no API twin),
 *   once as fetch asks (Brotli or gzip) and once uncompressed, as curl asks.
 * - grand total: `nfdump -R dir -N -o null` (a full read of every record) vs `groupBy: []`.
 * - summary from metadata: `nfdump -R dir -I` (file headers only) vs `GET /v1/datasets/<id>`.
 * Answers are compared and every difference is reported (nfpcapd makes one flow per direction,
 * and files ICMP type/code as a destination port `type << 8 | code`; flowseal makes one
 * bidirectional flow per connection and puts ICMP in `icmp_type`, port 0).
 *
 * Wall time is what a user waits; CPU time (nfdump: the kernel's accounting of the child, via a
 * python3 getrusage wrapper run separately; API: this process, server and client) is steadier on
 * a shared machine.
 *
 * Environment: BENCH_PACKETS (1 000 000), BENCH_NFDUMP_ITER (21), BENCH_THREADS (2).
 * CLI: `node bin/run-ts.mjs bench/nfdump.bench.ts`. Needs `nfpcapd` and `nfdump` (apt nfdump).
 *
 * Owns: the nfdump comparison. Never: asserts a speed; touches anything but its temporary
 * directory and the bench cache.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { signerFromSeed } from '../sealed-processor/sinks/manifest-signer.ts';
import { generateCapture, type GenerateResult } from './gen-capture.ts';
import { DEFAULT_CACHE, benchSeed } from './gen-flow-archive.ts';
import { cpuMs, startBenchApi } from './bench-api.ts';
import { ms, summarize, table, type Summary } from './bench-stats.ts';

const run = promisify(execFile);
const FLOWSEAL = fileURLToPath(new URL('../bin/flowseal.mjs', import.meta.url));
const DATASET = 'cap';
const FILTER = 'proto tcp and dst port 443';

export interface NfdumpBenchSettings {
  readonly packets: number;
  readonly iterations: number;
  readonly threads: number;
}

export function nfdumpSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): NfdumpBenchSettings {
  const n = (k: string, d: number) => (env[k] === undefined || env[k] === '' ? d : Number(env[k]));
  return { packets: n('BENCH_PACKETS', 1_000_000), iterations: n('BENCH_NFDUMP_ITER', 21), threads: n('BENCH_THREADS', 2) };
}

/** The bench capture (as bench/run.ts makes it), cached: generated once per packet count. */
export async function ensureCapture(packets: number, cache = DEFAULT_CACHE): Promise<{ path: string; gen: GenerateResult }> {
  const connections = Math.max(1000, Math.floor(packets / 20));
  const base = join(resolve(cache), `capture-${packets}-${connections}-42`);
  mkdirSync(resolve(cache), { recursive: true });
  if (existsSync(`${base}.json`) && existsSync(`${base}.pcap`)) return { path: `${base}.pcap`, gen: JSON.parse(readFileSync(`${base}.json`, 'utf8')) as GenerateResult };
  const tmp = `${base}.tmp-${process.pid}.pcap`;
  const gen = await generateCapture(tmp, { packets, connections, seed: 42 });
  renameSync(tmp, `${base}.pcap`);
  writeFileSync(`${base}.json`, JSON.stringify(gen));
  return { path: `${base}.pcap`, gen };
}

/** One timed command: wall milliseconds from spawn to exit, and its stdout. */
async function timedCommand(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<{ ms: number; stdout: string }> {
  const t = performance.now();
  const { stdout } = await run(cmd, [...args], { maxBuffer: 1 << 28, ...(env ? { env } : {}) });
  return { ms: performance.now() - t, stdout };
}

/** Python one-liner: runs argv[1:] with stdout discarded and prints the child's user + system CPU in ms (getrusage). */
// (The before/after difference: python's own start-up may already have run children, e.g. a pyenv shim.)
const RUSAGE_WRAPPER =
  'import resource, subprocess, sys; C = resource.RUSAGE_CHILDREN; a = resource.getrusage(C); subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); b = resource.getrusage(C); print((b.ru_utime - a.ru_utime + b.ru_stime - a.ru_stime) * 1000)';

/** CPU milliseconds (user + system) of one run of a command, from the kernel's accounting of the child. */
async function commandCpuMs(cmd: string, args: readonly string[]): Promise<number> {
  const { stdout } = await run('python3', ['-c', RUSAGE_WRAPPER, cmd, ...args]);
  return Number(stdout.trim());
}

/** nfdump's `-s ... -o csv` statistic rows: [value, flows]. */
export function parseNfdumpStatCsv(out: string): [number, number][] {
  return out
    .split('\n')
    .filter((l) => /^\d{4}-\d{2}-\d{2} /.test(l))
    .map((l) => l.split(','))
    .map((f) => [Number(f[4]), Number(f[5])] as [number, number]);
}

/** nfdump's `Summary: total flows: F, total bytes: B, total packets: P` (with -N). */
export function parseNfdumpSummary(out: string): { flows: number; bytes: number; packets: number } {
  const m = /total flows: (\d+), total bytes: (\d+), total packets: (\d+)/.exec(out);
  if (!m) throw new Error(`no nfdump summary in: ${out.slice(0, 300)}`);
  return { flows: Number(m[1]), bytes: Number(m[2]), packets: Number(m[3]) };
}

/** nfdump's `-I` lines `Flows: N`, `Packets: N`, `Bytes: N`. */
export function parseNfdumpInfo(out: string): { flows: number; packets: number; bytes: number } {
  const get = (k: string) => Number(new RegExp(`^${k}: (\\d+)$`, 'm').exec(out)?.[1] ?? Number.NaN);
  return { flows: get('Flows'), packets: get('Packets'), bytes: get('Bytes') };
}

export interface NfdumpPair {
  readonly name: string;
  readonly nfdumpCommand: string;
  readonly nfdump: Summary;
  readonly api: Summary;
  /** API median / nfdump median (below 1: the API is faster). */
  readonly ratio: number;
  /** CPU per answer: nfdump's process (getrusage of the child) vs this process while the API answers (server + client). */
  readonly nfdumpCpu: Summary;
  readonly apiCpu: Summary;
  readonly agreement: string;
}

export interface NfdumpBenchResult {
  readonly settings: NfdumpBenchSettings;
  readonly capture: { packets: number; megabytes: number };
  readonly nfpcapdSeconds: number;
  readonly pipelineSeconds: number;
  readonly nfdumpFlows: number;
  readonly flowsealFlows: number;
  readonly pairs: readonly NfdumpPair[];
  readonly loadAverage: readonly [number, number];
}

interface PairSpec {
  readonly name: string;
  readonly args: readonly string[];
  readonly api: () => Promise<unknown>;
  /** Compares the two answers; returns a one-line account of the agreement (or throws on a real mismatch). */
  readonly agree: (nfdumpOut: string, apiAnswer: unknown) => string;
}

export async function runNfdumpBench(s: NfdumpBenchSettings = nfdumpSettingsFromEnv(), log: (l: string) => void = (l) => console.log(l)): Promise<NfdumpBenchResult> {
  for (const tool of ['nfdump', 'nfpcapd']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} not found: apt-get install nfdump`);
  }
  const cap = await ensureCapture(s.packets);
  const load0 = loadavg()[0]!;
  const work = mkdtempSync(join(tmpdir(), 'flowseal-nfdump-bench-'));
  try {
    const nfDir = join(work, 'nfcapd');
    mkdirSync(nfDir);
    const nfp = await timedCommand('nfpcapd', ['-r', cap.path, '-w', nfDir, '-t', '3600']);
    const archive = join(work, 'archive');
    const seedHex = Buffer.from(benchSeed()).toString('hex');
    const pipe = await timedCommand(process.execPath, [FLOWSEAL, 'pipeline', cap.path, '--archive', archive, '--dataset', DATASET, '--signing-key', 'env:FLOWSEAL_BENCH_SIGNING_KEY'], {
      ...process.env,
      FLOWSEAL_BENCH_SIGNING_KEY: seedHex,
    }).catch((err: { stderr?: string }) => {
      throw new Error(`flowseal pipeline failed: ${String(err.stderr ?? err).slice(-1500)}`);
    });
    log(`capture ${cap.gen.packets.toLocaleString('en')} packets (${(statSync(cap.path).size / 1e6).toFixed(0)} MB): nfpcapd ${ms(nfp.ms)} ms, flowseal pipeline ${ms(pipe.ms)} ms`);
    const signer = await signerFromSeed(benchSeed(), true);
    const api = await startBenchApi({ archiveDir: archive, manifestKey: signer.publicJwk, clients: 1, threads: s.threads, scopes: ['datasets:read', 'query', 'records'] });
    try {
      const url = api.server.url;
      const token = api.tokens[0]!;
      const info = (await (await fetch(`${url}/v1/datasets/${DATASET}`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { flows: number; timeRange: { from: string; to: string }; verified: boolean };
      if (!info.verified) throw new Error('the API did not verify the pipeline manifest under the pinned bench key');
      const hour = 3_600_000;
      const timeRange = { from: new Date(Math.floor(Date.parse(info.timeRange.from) / hour) * hour).toISOString(), to: new Date(Math.ceil((Date.parse(info.timeRange.to) + 1) / hour) * hour).toISOString() };
      const post = async (body: unknown, headers: Record<string, string> = {}) => {
        const r = await fetch(`${url}/v1/query`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
        const text = await r.text();
        if (r.status !== 200) throw new Error(`API ${r.status}: ${text.slice(0, 300)}`);
        return JSON.parse(text) as { rows: unknown[][] };
      };
      const base = { dataset: DATASET, timeRange };
      const specs: PairSpec[] = [
        {
          name: 'top-10 dst ports by flows',
          args: ['-R', nfDir, '-s', 'dstport/flows', '-n', '10', '-o', 'csv'],
          api: () => post({ ...base, groupBy: ['dst_port'], metrics: ['flows'], orderBy: [{ by: 'flows', dir: 'desc' }], limit: 10 }),
          agree: (out, ans) => {
            const nf = new Map(parseNfdumpStatCsv(out));
            const fs = new Map((ans as { rows: [number, number][] }).rows.map(([p, f]) => [Number(p), Number(f)]));
            const same = [...fs].filter(([p, f]) => nf.get(p) === f).map(([p]) => p);
            const onlyNf = [...nf].filter(([p]) => !fs.has(p)).map(([p, f]) => `${p}:${f}`);
            const onlyFs = [...fs].filter(([p]) => !nf.has(p)).map(([p, f]) => `${p}:${f}`);
            const differ = [...fs].filter(([p, f]) => nf.has(p) && nf.get(p) !== f).map(([p, f]) => `${p}: nfdump ${nf.get(p)} / flowseal ${f}`);
            return `same flow counts for ports ${same.join(', ')}; only nfdump ${onlyNf.join(' ') || '–'}; only flowseal ${onlyFs.join(' ') || '–'}${differ.length ? `; differ ${differ.join('; ')}` : ''}`;
          },
        },
        {
          name: `filtered totals '${FILTER}'`,
          args: ['-R', nfDir, '-N', '-o', 'null', FILTER],
          api: () => post({ ...base, filter: { protocol: 'tcp', dstPort: 443 }, groupBy: [], metrics: ['flows', 'packets_fwd', 'bytes_fwd'] }),
          agree: (out, ans) => {
            const nf = parseNfdumpSummary(out);
            const [f, p, b] = (ans as { rows: number[][] }).rows[0]!.map(Number);
            if (nf.flows !== f || nf.packets !== p || nf.bytes !== b) throw new Error(`filtered totals disagree: nfdump ${JSON.stringify(nf)}, flowseal flows ${f} packets_fwd ${p} bytes_fwd ${b}`);
            return `equal: ${f} flows, ${p} packets, ${b} bytes (initiator → responder)`;
          },
        },
        {
          name: `listing, 1000 records of '${FILTER}'`,
          args: ['-R', nfDir, '-c', '1000', '-q', '-o', 'csv', FILTER],
          api: () => post({ ...base, filter: { protocol: 'tcp', dstPort: 443 }, limit: 1000 }),
          agree: (out, ans) => {
            const nfRows = out.split('\n').filter((l) => /^\d{4}-\d{2}-\d{2} /.test(l)).length;
            const apiRows = (ans as { rows: unknown[] }).rows.length;
            if (nfRows !== 1000 || apiRows !== 1000) throw new Error(`listing sizes: nfdump ${nfRows}, API ${apiRows}`);
            return 'both 1000 rows (nfdump: first matches in file order; API: ordered by time_start)';
          },
        },
        {
          // fetch asks for br/gzip; curl (the README's one-liners) asks for no content coding.
          name: `listing, 1000 records of '${FILTER}', uncompressed (as curl asks)`,
          args: ['-R', nfDir, '-c', '1000', '-q', '-o', 'csv', FILTER],
          api: () => post({ ...base, filter: { protocol: 'tcp', dstPort: 443 }, limit: 1000 }, { 'Accept-Encoding': 'identity' }),
          agree: (out, ans) => {
            const nfRows = out.split('\n').filter((l) => /^\d{4}-\d{2}-\d{2} /.test(l)).length;
            const apiRows = (ans as { rows: unknown[] }).rows.length;
            if (nfRows !== 1000 || apiRows !== 1000) throw new Error(`listing sizes: nfdump ${nfRows}, API ${apiRows}`);
            return 'both 1000 rows; the API answer without content coding';
          },
        },
        {
          name: 'grand total (full read)',
          args: ['-R', nfDir, '-N', '-o', 'null'],
          api: () => post({ ...base, groupBy: [], metrics: ['flows', 'packets', 'bytes'] }),
          agree: (out, ans) => {
            const nf = parseNfdumpSummary(out);
            const [f, p, b] = (ans as { rows: number[][] }).rows[0]!.map(Number);
            if (nf.packets !== p || nf.bytes !== b) throw new Error(`grand totals disagree: nfdump ${JSON.stringify(nf)}, flowseal ${f} ${p} ${b}`);
            return `packets ${p} and bytes ${b} equal; flows ${nf.flows} (nfpcapd, one per direction) vs ${f} (flowseal, one per connection)`;
          },
        },
        {
          name: 'summary from metadata',
          args: ['-R', nfDir, '-I'],
          api: async () => (await fetch(`${url}/v1/datasets/${DATASET}`, { headers: { Authorization: `Bearer ${token}` } })).json(),
          agree: (out, ans) => `flows ${parseNfdumpInfo(out).flows} (nfdump -I) vs ${(ans as { flows: number }).flows} (dataset listing, from the manifests)`,
        },
      ];
      const pairs: NfdumpPair[] = [];
      for (const spec of specs) {
        const first = await timedCommand('nfdump', spec.args);
        const agreement = spec.agree(first.stdout, await spec.api());
        const nt: number[] = [];
        const at: number[] = [];
        const nc: number[] = [];
        const ac: number[] = [];
        const timeApi = async () => {
          const r = await cpuMs(spec.api);
          at.push(r.wall);
          ac.push(r.cpu);
        };
        const timeNf = async () => {
          nt.push((await timedCommand('nfdump', spec.args)).ms);
          nc.push(await commandCpuMs('nfdump', spec.args));
        };
        for (let i = 0; i < s.iterations; i++) {
          if (i % 2 === 0) {
            await timeNf();
            await timeApi();
          } else {
            await timeApi();
            await timeNf();
          }
        }
        const p: NfdumpPair = { name: spec.name, nfdumpCommand: `nfdump ${spec.args.map((x) => (x === nfDir ? 'dir' : x.includes(' ') ? `'${x}'` : x)).join(' ')}`, nfdump: summarize(nt), api: summarize(at), ratio: summarize(at).median / summarize(nt).median, nfdumpCpu: summarize(nc), apiCpu: summarize(ac), agreement };
        pairs.push(p);
        log(`${p.name}: nfdump ${ms(p.nfdump.median)} ms, API ${ms(p.api.median)} ms (×${p.ratio.toFixed(2)}); CPU ${ms(p.nfdumpCpu.median)} vs ${ms(p.apiCpu.median)} ms — ${agreement}`);
      }
      return {
        settings: s,
        capture: { packets: cap.gen.packets, megabytes: statSync(cap.path).size / 1e6 },
        nfpcapdSeconds: nfp.ms / 1000,
        pipelineSeconds: pipe.ms / 1000,
        nfdumpFlows: parseNfdumpInfo((await timedCommand('nfdump', ['-R', nfDir, '-I'])).stdout).flows,
        flowsealFlows: info.flows,
        pairs,
        loadAverage: [load0, loadavg()[0]!],
      };
    } finally {
      await api.close();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function nfdumpMarkdown(r: NfdumpBenchResult): string {
  const head = `capture ${r.capture.packets.toLocaleString('en')} packets (${r.capture.megabytes.toFixed(0)} MB): nfpcapd ${r.nfpcapdSeconds.toFixed(1)} s → ${r.nfdumpFlows.toLocaleString('en')} flows; flowseal pipeline ${r.pipelineSeconds.toFixed(1)} s → ${r.flowsealFlows.toLocaleString('en')} flows; load average ${r.loadAverage[0].toFixed(1)} → ${r.loadAverage[1].toFixed(1)}`;
  return `${head}\n\n` + table(
    ['question', 'nfdump command', 'nfdump median (p90) ms', 'API median (p90) ms', 'API / nfdump', 'CPU ms nfdump / API', 'answers'],
    r.pairs.map((p) => [p.name, `\`${p.nfdumpCommand}\``, `${ms(p.nfdump.median)} (${ms(p.nfdump.p90)})`, `${ms(p.api.median)} (${ms(p.api.p90)})`, `${p.ratio.toFixed(2)}×`, `${ms(p.nfdumpCpu.median)} / ${ms(p.apiCpu.median)}`, p.agreement]),
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await runNfdumpBench();
  console.log(`\n${nfdumpMarkdown(r)}\n`);
  console.log(JSON.stringify(r));
}
