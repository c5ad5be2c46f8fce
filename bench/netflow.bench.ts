/**
 * flowseal's NetFlow/IPFIX collection against nfcapd on the same export stream, side by side in
 * one run:
 *
 * 1. The stream: softflowd reads the bench capture (bench/gen-capture.ts via
 *    nfdump.bench.ts `ensureCapture`, default 1 000 000 packets) and exports its flows as
 *    NetFlow v5, v9 and IPFIX to a local UDP socket, which keeps every datagram (cached under
 *    `.bench-cache/`).
 * 2. Decoder: `decodeExportDatagram` alone, in this process, over the stream repeated until
 *    BENCH_NETFLOW_RECORDS records, after one warm-up pass with the same template store:
 *    records per CPU-second.
 * 3. End to end: the stream (repeated the same way), paced at BENCH_NETFLOW_RATE datagrams/s,
 *    into `nfcapd -w dir` and into `flowseal pipeline --netflow-listen` (collector → sealed
 *    spool → processor → Parquet), each run under a getrusage wrapper: CPU of the whole process
 *    tree, records received (nfdump's flow count; flowseal's done line and manifest).
 * 4. Collector loss: v5 datagrams at rising rates into `nfcapd` and `flowseal ingest netflow`
 *    (BENCH_NETFLOW_STEP datagrams per rate): what each received, and the highest rate each
 *    received everything at.
 *
 * The sender is a Python child (`socket.send`, paced in 1 ms ticks; BENCH_NETFLOW_SENDER=node for
 * this process's node:dgram, which tops out near 72 k datagrams/s); its achieved rate is reported.
 * Environment: BENCH_PACKETS (1 000 000), BENCH_NETFLOW_RECORDS (1 000 000),
 * BENCH_NETFLOW_RATE (20 000), BENCH_NETFLOW_STEP (40 000), BENCH_NETFLOW_RATES
 * (10000,20000,40000,80000), BENCH_NETFLOW_PARTS (decoder,end-to-end,loss: a comma-separated
 * subset runs only those; `loss` alone is the collector-loss ladder), BENCH_NETFLOW_SENDER
 * (python, or node), BENCH_NETFLOW_BASELINE (another checkout's bin/flowseal.mjs: its collector
 * runs the ladder too, for a before/after in one run), BENCH_NETFLOW_BARE=1 (a node:dgram socket
 * that only counts runs it too: the floor of any collector in Node). Needs softflowd, nfcapd and
 * nfdump (apt softflowd nfdump).
 * CLI: `node bin/run-ts.mjs bench/netflow.bench.ts`.
 *
 * Owns: the NetFlow comparison. Never: asserts a speed; sends anywhere but 127.0.0.1.
 */
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeExportDatagram } from '../sealed-processor/flow-export/export-datagram.ts';
import { TemplateStore } from '../sealed-processor/flow-export/template-store.ts';
import { ensureCapture } from './nfdump.bench.ts';
import { DEFAULT_CACHE } from './gen-flow-archive.ts';

const FLOWSEAL = fileURLToPath(new URL('../bin/flowseal.mjs', import.meta.url));
const VERSIONS = [5, 9, 10] as const;
type Version = (typeof VERSIONS)[number];
const NAME: Record<Version, string> = { 5: 'NetFlow v5', 9: 'NetFlow v9', 10: 'IPFIX' };

export interface NetflowBenchSettings {
  readonly packets: number;
  readonly records: number;
  readonly rate: number;
  readonly step: number;
  readonly rates: readonly number[];
  readonly parts: readonly NetflowBenchPart[];
  readonly sender: SenderKind;
  /** Another checkout's bin/flowseal.mjs to run through the loss ladder too (before/after in one run), or null. */
  readonly baseline: string | null;
  /** Also run a node:dgram socket that only counts through the ladder (the floor of any Node collector). */
  readonly bare: boolean;
}

export const NETFLOW_BENCH_PARTS = ['decoder', 'end-to-end', 'loss'] as const;
export type NetflowBenchPart = (typeof NETFLOW_BENCH_PARTS)[number];

export function netflowSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): NetflowBenchSettings {
  const n = (k: string, d: number) => (env[k] === undefined || env[k] === '' ? d : Number(env[k]));
  const rates = (env.BENCH_NETFLOW_RATES ?? '10000,20000,40000,80000').split(',').map(Number).filter((x) => x > 0);
  const sender = env.BENCH_NETFLOW_SENDER ?? 'python';
  if (sender !== 'python' && sender !== 'node') throw new TypeError(`BENCH_NETFLOW_SENDER: python or node (not '${sender}')`);
  const parts = (env.BENCH_NETFLOW_PARTS ?? NETFLOW_BENCH_PARTS.join(',')).split(',').map((x) => x.trim()).filter((x) => x !== '');
  for (const p of parts) if (!(NETFLOW_BENCH_PARTS as readonly string[]).includes(p)) throw new TypeError(`BENCH_NETFLOW_PARTS: unknown part '${p}' (${NETFLOW_BENCH_PARTS.join(', ')})`);
  return {
    packets: n('BENCH_PACKETS', 1_000_000),
    records: n('BENCH_NETFLOW_RECORDS', 1_000_000),
    rate: n('BENCH_NETFLOW_RATE', 20_000),
    step: n('BENCH_NETFLOW_STEP', 40_000),
    rates,
    parts: parts as NetflowBenchPart[],
    sender,
    baseline: env.BENCH_NETFLOW_BASELINE ? resolve(env.BENCH_NETFLOW_BASELINE) : null,
    bare: env.BENCH_NETFLOW_BARE === '1',
  };
}

/** A free UDP port on 127.0.0.1 (bound and released). */
async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** The export softflowd makes of `capture` as version `v`, every datagram in arrival order (cached). */
async function exportStream(capture: string, packets: number, v: Version, cache = DEFAULT_CACHE): Promise<Buffer[]> {
  const file = join(resolve(cache), `export-v${v}-${packets}.bin`);
  if (existsSync(file)) return splitFrames(readFileSync(file));
  const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 64 << 20 });
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(Buffer.from(m)));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const port = sock.address().port;
  const work = mkdtempSync(join(tmpdir(), 'flowseal-softflowd-'));
  try {
    const args = ['-r', capture, '-n', `127.0.0.1:${port}`, '-v', String(v), '-d', '-a', '-p', join(work, 'pid'), ...(v === 5 ? [] : ['-A', 'milli', '-6'])];
    const r = spawnSync('timeout', ['300', 'softflowd', ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`softflowd -v ${v} failed (${r.status}): ${r.stderr}${r.stdout}`);
    // softflowd sends as fast as it reads: let the socket drain.
    let last = -1;
    while (last !== got.length) {
      last = got.length;
      await new Promise((res) => setTimeout(res, 300));
    }
  } finally {
    sock.close();
    rmSync(work, { recursive: true, force: true });
  }
  if (got.length === 0) throw new Error(`softflowd -v ${v} exported nothing`);
  mkdirSync(resolve(cache), { recursive: true });
  writeFileSync(file, joinFrames(got));
  return got;
}

function joinFrames(frames: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of frames) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(f.length);
    parts.push(len, f);
  }
  return Buffer.concat(parts);
}

function splitFrames(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + 4 <= b.length; ) {
    const n = b.readUInt32BE(at);
    out.push(b.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

const EXPORTER = { address: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]), port: 40000 };

/** Records one pass of `stream` decodes to (a fresh store: templates come with the stream). */
function recordsPerPass(stream: readonly Buffer[]): number {
  const store = new TemplateStore();
  let n = 0;
  for (const d of stream) n += decodeExportDatagram(d, EXPORTER, 1_700_000_000_000_000, store, () => undefined);
  return n;
}

export interface DecoderResult {
  readonly version: Version;
  readonly datagrams: number;
  readonly recordsPerPass: number;
  readonly records: number;
  readonly cpuMs: number;
  readonly recordsPerCpuSecond: number;
}

function benchDecoder(v: Version, stream: readonly Buffer[], records: number): DecoderResult {
  // One store for the warm-up pass (which counts the records per pass) and the timed passes, as
  // the worker decodes a run with one store. A second store built after the decoders are
  // optimized makes V8 widen the field types of its reused objects (typed-array fields) and
  // deoptimize every decoder function that relied on them, in the middle of the timed pass:
  // measured ~25% slower, an effect of the harness, not of decoding.
  const store = new TemplateStore();
  let per = 0;
  for (const d of stream) per += decodeExportDatagram(d, EXPORTER, 1_700_000_000_000_000, store, () => undefined);
  const passes = Math.max(1, Math.ceil(records / per));
  let n = 0;
  let emitted = 0;
  const sink = (): void => {
    emitted++;
  };
  const c0 = process.cpuUsage();
  for (let p = 0; p < passes; p++) for (const d of stream) n += decodeExportDatagram(d, EXPORTER, 1_700_000_000_000_000, store, sink);
  const c = process.cpuUsage(c0);
  const cpuMs = (c.user + c.system) / 1000;
  if (emitted !== n) throw new Error('decoder: emitted and returned counts differ');
  return { version: v, datagrams: stream.length, recordsPerPass: per, records: n, cpuMs, recordsPerCpuSecond: n / (cpuMs / 1000) };
}

export interface SendResult {
  readonly sent: number;
  readonly seconds: number;
  readonly rate: number;
}

/**
 * The paced sender: `count` datagrams cycling through `stream` at `rate`/s, in 1 ms ticks (each
 * tick sends what is due, then sleeps), to 127.0.0.1:`port` only. In Python by default: a
 * plain `socket.send` loop sends ~260 k datagrams/s here, where node:dgram (a callback per
 * send) tops out near 72 k/s, below the rates at which nfcapd starts to lose.
 */
const PY_SENDER = [
  'import socket, struct, sys, time',
  'path, port, count, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])',
  'b = open(path, "rb").read()',
  'frames = []',
  'at = 0',
  'while at + 4 <= len(b):',
  '    n = struct.unpack_from(">I", b, at)[0]',
  '    frames.append(b[at + 4:at + 4 + n])',
  '    at += 4 + n',
  's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
  's.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 << 20)',
  's.connect(("127.0.0.1", port))',
  'send, clock, nf = s.send, time.perf_counter, len(frames)',
  'sent = i = 0',
  't0 = clock()',
  'while sent < count:',
  '    due = min(count, int((clock() - t0) * rate) + 1)',
  '    while sent < due:',
  '        send(frames[i])',
  '        i += 1',
  '        if i == nf: i = 0',
  '        sent += 1',
  '    if sent < count: time.sleep(0.001)',
  'print("%d %f" % (sent, clock() - t0))',
].join('\n');

export type SenderKind = 'python' | 'node';

/** Frames files for the Python sender, one per stream (removed at exit). */
const framesFiles = new WeakMap<readonly Buffer[], string>();
let framesDir: string | null = null;

function framesFile(stream: readonly Buffer[]): string {
  let path = framesFiles.get(stream);
  if (path === undefined) {
    if (framesDir === null) {
      const dir = mkdtempSync(join(tmpdir(), 'flowseal-sender-'));
      framesDir = dir;
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    }
    path = join(framesDir, `stream-${Math.random().toString(36).slice(2)}.bin`);
    writeFileSync(path, joinFrames([...stream]));
    framesFiles.set(stream, path);
  }
  return path;
}

/** Sends with the chosen sender; returns the count sent and the achieved rate. */
async function sendPaced(port: number, stream: readonly Buffer[], count: number, rate: number, sender: SenderKind): Promise<SendResult> {
  if (count === 0) return { sent: 0, seconds: 0, rate: 0 };
  if (sender === 'node') return sendPacedNode(port, stream, count, rate);
  const child = spawn('python3', ['-c', PY_SENDER, framesFile(stream), String(port), String(count), String(rate)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? 1)));
  const m = /^(\d+) ([\d.]+)/.exec(out);
  if (code !== 0 || !m) throw new Error(`python sender failed (${code}): ${err.slice(-800)}`);
  const sent = Number(m[1]);
  const seconds = Number(m[2]);
  return { sent, seconds, rate: sent / seconds };
}

/** The same in this process (node:dgram, 1 ms ticks): BENCH_NETFLOW_SENDER=node. */
async function sendPacedNode(port: number, stream: readonly Buffer[], count: number, rate: number): Promise<SendResult> {
  const sock = dgram.createSocket({ type: 'udp4', sendBufferSize: 16 << 20 });
  await new Promise<void>((r) => sock.connect(port, '127.0.0.1', r));
  const t0 = performance.now();
  let sent = 0;
  let i = 0;
  try {
    while (sent < count) {
      const due = Math.min(count, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
      while (sent < due) {
        const d = stream[i]!;
        i = (i + 1) % stream.length;
        await new Promise<void>((r, j) => sock.send(d, (e) => (e ? j(e) : r())));
        sent++;
      }
      if (sent < count) await new Promise((r) => setTimeout(r, 1));
    }
  } finally {
    sock.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  return { sent, seconds, rate: sent / seconds };
}

/** Python's getrusage(RUSAGE_CHILDREN) around a command, forwarding SIGINT/SIGTERM: CPU ms of the whole tree on stderr's last line. */
const RUSAGE = [
  'import resource, signal, subprocess, sys',
  'p = subprocess.Popen(sys.argv[1:])',
  'for s in (signal.SIGINT, signal.SIGTERM): signal.signal(s, lambda n, f: p.send_signal(n))',
  'code = p.wait()',
  'r = resource.getrusage(resource.RUSAGE_CHILDREN)',
  'sys.stderr.write("\\nRUSAGE_MS %f\\n" % ((r.ru_utime + r.ru_stime) * 1000))',
  'sys.exit(code)',
].join('\n');

interface Tree {
  readonly pid: number;
  readonly stderr: () => string;
  /** Signals the tree and resolves with its exit code and CPU ms. */
  stop(signal: NodeJS.Signals): Promise<{ code: number; cpuMs: number }>;
}

function startTree(cmd: string, args: readonly string[]): Tree {
  const child = spawn('python3', ['-c', RUSAGE, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  child.stdout.on('data', () => undefined);
  const exit = new Promise<number>((r) => child.on('exit', (c) => r(c ?? 1)));
  return {
    pid: child.pid!,
    stderr: () => err,
    async stop(signal) {
      child.kill(signal);
      const code = await exit;
      const m = /RUSAGE_MS ([\d.]+)/.exec(err);
      return { code, cpuMs: m ? Number(m[1]) : NaN };
    },
  };
}

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function nfdumpFlows(dir: string): number {
  const files = readdirSync(dir).filter((f) => f.startsWith('nfcapd.') && !f.includes('current'));
  let flows = 0;
  for (const f of files) {
    const r = spawnSync('nfdump', ['-r', join(dir, f), '-I'], { encoding: 'utf8' });
    const m = /^Flows:\s+(\d+)/m.exec(r.stdout);
    if (!m) throw new Error(`nfdump -I ${f}: ${r.stdout}${r.stderr}`);
    flows += Number(m[1]);
  }
  return flows;
}

interface SideRun {
  readonly received: number;
  readonly cpuMs: number;
  readonly send: SendResult;
}

/** nfcapd receiving `count` datagrams of `stream` at `rate`; received = nfdump's flow count. */
async function runNfcapd(stream: readonly Buffer[], count: number, rate: number, sender: SenderKind): Promise<SideRun> {
  const dir = mkdtempSync(join(tmpdir(), 'flowseal-nfcapd-bench-'));
  try {
    const port = await freePort();
    const t = startTree('nfcapd', ['-p', String(port), '-b', '127.0.0.1', '-w', dir, '-t', '3600', '-B', String(8 << 20)]);
    await until('nfcapd to start', () => /Startup/.test(t.stderr()));
    const send = await sendPaced(port, stream, count, rate, sender);
    await new Promise((r) => setTimeout(r, 500));
    const { cpuMs } = await t.stop('SIGTERM');
    return { received: nfdumpFlows(dir), cpuMs, send };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function spoolWithKey(dir: string): Promise<string> {
  const { generateProcessorKeys } = await import('../sealed-processor/spool/keys.ts');
  const { writePublicKey } = await import('../sealed-processor/spool/key-file.ts');
  const spool = join(dir, 'spool');
  await writePublicKey(spool, await generateProcessorKeys());
  return spool;
}

const ndjson = (text: string): Record<string, unknown>[] =>
  text.split('\n').flatMap((l) => {
    try {
      const o = JSON.parse(l) as unknown;
      return o !== null && typeof o === 'object' ? [o as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });

type CollectorRun = SideRun & { kernelDrops: number; queueDrops: number };

/** `flowseal ingest netflow` (`bin`: this checkout's, or another's) receiving `count` datagrams; received = its done line's records (datagrams sealed). */
async function runCollector(stream: readonly Buffer[], count: number, rate: number, sender: SenderKind, bin = FLOWSEAL): Promise<CollectorRun> {
  const dir = mkdtempSync(join(tmpdir(), 'flowseal-collector-bench-'));
  try {
    const spool = await spoolWithKey(dir);
    const port = await freePort();
    const t = startTree(process.execPath, [bin, 'ingest', 'netflow', '--listen', `127.0.0.1:${port}`, '--spool', spool, '--quiet']);
    await until('the collector to listen', () => ndjson(t.stderr()).some((l) => l.event === 'listening'));
    const send = await sendPaced(port, stream, count, rate, sender);
    await new Promise((r) => setTimeout(r, 500));
    const { cpuMs } = await t.stop('SIGTERM');
    const done = ndjson(t.stderr()).find((l) => l.event === 'done');
    if (!done) throw new Error(`collector: no done line: ${t.stderr().slice(-800)}`);
    // Sealed, not merely delivered: a datagram the queue dropped was received and still lost.
    return { received: Number(done.records), cpuMs, send, kernelDrops: Number(done.kernelDrops ?? 0), queueDrops: Number(done.queueDrops ?? 0) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The floor of any Node collector: a node:dgram socket (same 32 MiB receive buffer asked)
 * whose handler only counts, in a process of its own. What it receives at a rate bounds what a
 * collector in Node can; the gap to nfcapd at the same rate is node:dgram's own cost.
 */
const BARE_RECEIVER = [
  "const s = require('node:dgram').createSocket({ type: 'udp4', recvBufferSize: 32 << 20 });",
  'let n = 0;',
  "s.on('message', () => n++);",
  "s.bind(Number(process.argv[1]), '127.0.0.1', () => process.stderr.write('listening\\n'));",
  "process.on('SIGTERM', () => { process.stderr.write(`RECEIVED ${n}\\n`); process.exit(0); });",
].join('\n');

async function runBareNode(stream: readonly Buffer[], count: number, rate: number, sender: SenderKind): Promise<SideRun> {
  const port = await freePort();
  const t = startTree(process.execPath, ['-e', BARE_RECEIVER, String(port)]);
  await until('the bare receiver to listen', () => t.stderr().includes('listening'));
  const send = await sendPaced(port, stream, count, rate, sender);
  await new Promise((r) => setTimeout(r, 500));
  const { cpuMs } = await t.stop('SIGTERM');
  const m = /RECEIVED (\d+)/.exec(t.stderr());
  if (!m) throw new Error(`bare receiver: no count: ${t.stderr().slice(-400)}`);
  return { received: Number(m[1]), cpuMs, send };
}

/** `flowseal pipeline --netflow-listen` receiving `count` datagrams; received = the manifests' flows. */
async function runPipeline(stream: readonly Buffer[], count: number, rate: number, sender: SenderKind): Promise<SideRun & { datagrams: number; counts: Record<string, number> }> {
  const dir = mkdtempSync(join(tmpdir(), 'flowseal-pipeline-nf-bench-'));
  try {
    const port = await freePort();
    const archive = join(dir, 'archive');
    const t = startTree(process.execPath, [FLOWSEAL, 'pipeline', '--netflow-listen', `127.0.0.1:${port}`, '--archive', archive, '--dataset', 'nf']);
    await until('the pipeline collector to listen', () => /listening/.test(t.stderr()), 60_000);
    const send = await sendPaced(port, stream, count, rate, sender);
    await new Promise((r) => setTimeout(r, 500));
    const { code, cpuMs } = await t.stop('SIGINT');
    // A run that received nothing publishes nothing and says so (exit 3): expected for the idle run.
    if (code !== 0 && !(count === 0 && code === 3)) throw new Error(`pipeline exited ${code}: ${t.stderr().slice(-1500)}`);
    const mdir = join(archive, 'nf', 'manifests');
    let flows = 0;
    const counts: Record<string, number> = {};
    for (const f of existsSync(mdir) ? readdirSync(mdir) : []) {
      const doc = JSON.parse(readFileSync(join(mdir, f), 'utf8')) as { manifest?: { flows: number; counts: Record<string, number> } };
      const m = doc.manifest!;
      flows += m.flows;
      // A rolling run's parts each carry the run's counts so far: keep the latest.
      if ((m.counts.records ?? 0) >= (counts.records ?? 0)) Object.assign(counts, m.counts);
    }
    return { received: flows, cpuMs, send, datagrams: counts.records ?? 0, counts };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface NetflowBenchResult {
  readonly settings: NetflowBenchSettings;
  readonly capture: string;
  readonly decoders: DecoderResult[];
  readonly endToEnd: { version: Version; datagrams: number; expectedRecords: number; nfcapd: SideRun; flowseal: Awaited<ReturnType<typeof runPipeline>> }[];
  /** CPU ms of a run that received nothing. */
  readonly idle: { nfcapd: number; flowseal: number } | null;
  readonly loss: {
    rate: number;
    sent: number;
    achievedRate: number;
    nfcapd: number;
    flowseal: number;
    flowsealKernelDrops: number;
    flowsealQueueDrops: number;
    /** The same with BENCH_NETFLOW_BASELINE's collector (another checkout), when set. */
    baseline?: { received: number; kernelDrops: number; queueDrops: number };
    /** What a node:dgram socket that only counts received (BENCH_NETFLOW_BARE=1). */
    bareNode?: number;
  }[];
  readonly loadAverage: [number, number];
}

export async function runNetflowBench(s: NetflowBenchSettings, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<NetflowBenchResult> {
  const load0 = loadavg()[0]!;
  const cap = await ensureCapture(s.packets);
  const streams = new Map<Version, Buffer[]>();
  // The loss ladder sends v5 only.
  const needed: readonly Version[] = s.parts.some((p) => p !== 'loss') ? VERSIONS : [5];
  for (const v of needed) {
    streams.set(v, await exportStream(cap.path, s.packets, v));
    log(`${NAME[v]}: ${streams.get(v)!.length} datagrams from softflowd`);
  }
  const decoders = s.parts.includes('decoder') ? VERSIONS.map((v) => benchDecoder(v, streams.get(v)!, s.records)) : [];
  for (const d of decoders) log(`decoder ${NAME[d.version]}: ${d.records} records in ${d.cpuMs.toFixed(0)} ms CPU → ${(d.recordsPerCpuSecond / 1e6).toFixed(2)} M records/s`);
  const endToEnd: NetflowBenchResult['endToEnd'] = [];
  let idle: NetflowBenchResult['idle'] = null;
  if (s.parts.includes('end-to-end')) {
    // What the process trees cost with nothing to do (start-up, TypeScript loading, shutdown).
    idle = { nfcapd: (await runNfcapd(streams.get(5)!, 0, s.rate, s.sender)).cpuMs, flowseal: (await runPipeline(streams.get(5)!, 0, s.rate, s.sender)).cpuMs };
    log(`idle runs: nfcapd ${idle.nfcapd.toFixed(0)} ms CPU, flowseal pipeline ${idle.flowseal.toFixed(0)} ms CPU`);
  }
  for (const v of s.parts.includes('end-to-end') ? VERSIONS : []) {
    const stream = streams.get(v)!;
    const per = recordsPerPass(stream);
    const passes = Math.max(1, Math.ceil(s.records / per));
    const count = passes * stream.length;
    const nf = await runNfcapd(stream, count, s.rate, s.sender);
    const fs = await runPipeline(stream, count, s.rate, s.sender);
    endToEnd.push({ version: v, datagrams: count, expectedRecords: passes * per, nfcapd: nf, flowseal: fs });
    log(`end to end ${NAME[v]}: ${count} datagrams at ${nf.send.rate.toFixed(0)}/s → nfcapd ${nf.received} flows, ${nf.cpuMs.toFixed(0)} ms CPU; flowseal ${fs.received} flows (${fs.datagrams} datagrams sealed), ${fs.cpuMs.toFixed(0)} ms CPU`);
  }
  const loss: NetflowBenchResult['loss'] = [];
  const v5 = streams.get(5)!;
  const perV5 = v5.map((d) => d.readUInt16BE(2));
  for (const rate of s.parts.includes('loss') ? s.rates : []) {
    const nf = await runNfcapd(v5, s.step, rate, s.sender);
    const col = await runCollector(v5, s.step, rate, s.sender);
    const base = s.baseline === null ? null : await runCollector(v5, s.step, rate, s.sender, s.baseline);
    const bare = s.bare ? await runBareNode(v5, s.step, rate, s.sender) : null;
    // nfcapd's count is flows: turn it into datagrams with the stream's records per datagram.
    let expectFlows = 0;
    for (let i = 0; i < s.step; i++) expectFlows += perV5[i % perV5.length]!;
    const nfDatagrams = Math.round((nf.received / expectFlows) * s.step);
    const achieved = Math.min(nf.send.rate, col.send.rate, base?.send.rate ?? Infinity, bare?.send.rate ?? Infinity);
    loss.push({
      rate,
      sent: s.step,
      achievedRate: achieved,
      nfcapd: nfDatagrams,
      flowseal: col.received,
      flowsealKernelDrops: col.kernelDrops,
      flowsealQueueDrops: col.queueDrops,
      ...(base ? { baseline: { received: base.received, kernelDrops: base.kernelDrops, queueDrops: base.queueDrops } } : {}),
      ...(bare ? { bareNode: bare.received } : {}),
    });
    const baseText = base ? `, baseline ${base.received}/${s.step} (${base.kernelDrops} / ${base.queueDrops}, sent at ${base.send.rate.toFixed(0)})` : '';
    const bareText = bare ? `, bare node:dgram ${bare.received}/${s.step} (sent at ${bare.send.rate.toFixed(0)})` : '';
    log(`loss at ${rate}/s (sent at ${nf.send.rate.toFixed(0)} / ${col.send.rate.toFixed(0)}): nfcapd ${nfDatagrams}/${s.step}, flowseal ${col.received}/${s.step} (kernel drops ${col.kernelDrops}, queue drops ${col.queueDrops})${baseText}${bareText}`);
  }
  return { settings: s, capture: cap.path, decoders, endToEnd, idle, loss, loadAverage: [load0, loadavg()[0]!] };
}

export function netflowMarkdown(r: NetflowBenchResult): string {
  const lines: string[] = [];
  lines.push(`load average ${r.loadAverage[0].toFixed(1)} → ${r.loadAverage[1].toFixed(1)}`, '');
  if (r.decoders.length > 0) {
    lines.push('| decoder (in process) | datagrams per pass | records | CPU ms | M records / CPU-s |', '|---|---|---|---|---|');
    for (const d of r.decoders) lines.push(`| ${NAME[d.version]} | ${d.datagrams} | ${d.records} | ${d.cpuMs.toFixed(0)} | ${(d.recordsPerCpuSecond / 1e6).toFixed(2)} |`);
    lines.push('');
  }
  if (r.idle !== null) {
    const idle = r.idle;
    lines.push(`idle runs (start-up and shutdown, nothing received): nfcapd ${idle.nfcapd.toFixed(0)} ms CPU, flowseal pipeline ${idle.flowseal.toFixed(0)} ms CPU`);
    lines.push('', '| end to end | datagrams (rate) | records sent | nfcapd flows / CPU ms | flowseal flows / CPU ms | CPU flowseal / nfcapd | same, idle run subtracted |', '|---|---|---|---|---|---|---|');
    for (const e of r.endToEnd) {
      const net = (e.flowseal.cpuMs - idle.flowseal) / Math.max(1, e.nfcapd.cpuMs - idle.nfcapd);
      lines.push(`| ${NAME[e.version]} | ${e.datagrams} (${e.nfcapd.send.rate.toFixed(0)}/s) | ${e.expectedRecords} | ${e.nfcapd.received} / ${e.nfcapd.cpuMs.toFixed(0)} | ${e.flowseal.received} / ${e.flowseal.cpuMs.toFixed(0)} | ${(e.flowseal.cpuMs / e.nfcapd.cpuMs).toFixed(2)}× | ${net.toFixed(2)}× |`);
    }
    lines.push('');
  }
  if (r.loss.length === 0) return lines.join('\n');
  const withBase = r.loss.some((l) => l.baseline);
  const withBare = r.loss.some((l) => l.bareNode !== undefined);
  lines.push(
    `| v5 datagrams/s asked (achieved) | sent | nfcapd received | flowseal sealed (kernel / queue drops) |${withBase ? ' baseline flowseal sealed (kernel / queue drops) |' : ''}${withBare ? ' bare node:dgram received |' : ''}`,
    `|---|---|---|---|${withBase ? '---|' : ''}${withBare ? '---|' : ''}`,
  );
  for (const l of r.loss) {
    const b = l.baseline ? ` ${l.baseline.received} (${l.baseline.kernelDrops} / ${l.baseline.queueDrops}) |` : '';
    const n = withBare ? ` ${l.bareNode ?? ''} |` : '';
    lines.push(`| ${l.rate} (${l.achievedRate.toFixed(0)}) | ${l.sent} | ${l.nfcapd} | ${l.flowseal} (${l.flowsealKernelDrops} / ${l.flowsealQueueDrops}) |${b}${n}`);
  }
  const best = (got: (l: NetflowBenchResult['loss'][number]) => number) => Math.max(0, ...r.loss.filter((l) => got(l) >= l.sent).map((l) => l.rate));
  lines.push(
    '',
    `highest rate with nothing lost: nfcapd ${best((l) => l.nfcapd)}/s, flowseal ${best((l) => l.flowseal)}/s` +
      `${withBase ? `, baseline flowseal ${best((l) => l.baseline?.received ?? 0)}/s` : ''}${withBare ? `, bare node:dgram ${best((l) => l.bareNode ?? 0)}/s` : ''}`,
  );
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await runNetflowBench(netflowSettingsFromEnv());
  console.log(netflowMarkdown(r));
  console.log(JSON.stringify(r));
}
