/**
 * `flowseal ingest pcap|netflow`: checks the command line, wires progress to stderr and
 * SIGINT/SIGTERM to the live collector's clean end, runs the ingest component, and prints the
 * final summary (one NDJSON `done` line) and, when anything was dropped, a warning that says so.
 *
 * Owns: option checks (which options go with which form) and output. Never: prints traffic
 * data; only counts, rates, sizes and codes reach stderr.
 */
import { AppError, ErrorCode } from '../schemas/errors.ts';
import { SEGMENT_MAX_RECORD_BYTES } from '../schemas/spool.ts';
import { parseSize, type ParsedValues } from './args.ts';

const err = (s: string) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);
const ndjson = (o: object) => err(JSON.stringify({ component: 'ingest', ...o }));

const NETFLOW_ONLY = ['listen', 'pcap', 'port', 'recv-buffer', 'queue-datagrams'] as const;

export const INGEST_USAGE = [
  'flowseal ingest pcap <file|-> --spool <dir> [--run-id <id>] [--segment-bytes <n>] [--segment-seconds <s>] [--spool-max <size> [--spool-full pause|drop-oldest]] [--progress-interval <s>] [--quiet]',
  '       flowseal ingest netflow [--listen <addr:port>] --spool <dir> [--recv-buffer <bytes>] [--queue-datagrams <n>] [--segment-seconds <s>] [...]',
  '       flowseal ingest netflow --pcap <file|-> [--port <n>] --spool <dir> [...]',
].join('\n');

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function integer(text: string, name: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new AppError(ErrorCode.BadRequest, `--${name} must be an integer from ${min} to ${max}`);
  }
  return n;
}

function seconds(text: string, name: string): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(n >= 0 && n <= 86_400)) throw new AppError(ErrorCode.BadRequest, `--${name} must be a number of seconds from 0 to 86400`);
  return n;
}

/** Progress settings from `--progress-interval` / `--quiet`; a status line only when stderr is a terminal. */
function progressFrom(v: ParsedValues) {
  const interval = str(v['progress-interval']);
  const intervalMs = v.quiet ? 0 : Math.round((interval !== undefined ? seconds(interval, 'progress-interval') : 1) * 1000);
  return { intervalMs, tty: process.stderr.isTTY === true, write: (s: string) => void process.stderr.write(s) };
}

/** `--spool-max` / `--spool-full` of every ingest form and of `pipeline` (ingest/spool/spool-quota.ts). */
export const SPOOL_QUOTA_OPTIONS = {
  'spool-max': { type: 'string', value: '<size>', default: 'no limit', description: 'Most bytes of sealed segments the spool may hold (512M, 20G)' },
  'spool-full': { type: 'string', value: '<policy>', default: 'pause', description: 'When the spool is full: pause (backpressure; a collector drops and counts datagrams meanwhile) or drop-oldest (unprocessed segment); counted in the manifest' },
} as const;

/**
 * The quota of `--spool-max`/`--spool-full`, or undefined without a limit.
 * @throws AppError ERR_BAD_REQUEST for a bad size or policy, or `--spool-full` alone.
 */
export function spoolQuota(v: ParsedValues): { maxBytes: number; policy: 'pause' | 'drop-oldest' } | undefined {
  const policy = str(v['spool-full']) ?? 'pause';
  if (policy !== 'pause' && policy !== 'drop-oldest') throw new AppError(ErrorCode.BadRequest, '--spool-full must be pause or drop-oldest');
  const max = str(v['spool-max']);
  if (max === undefined) {
    if (v['spool-full'] !== undefined) throw new AppError(ErrorCode.BadRequest, '--spool-full needs --spool-max');
    return undefined;
  }
  return { maxBytes: parseSize(max, 'spool-max'), policy };
}

/** `--segment-seconds` as milliseconds, when given. */
function segmentAge(v: ParsedValues): { segmentMaxAgeMs?: number } {
  const age = str(v['segment-seconds']);
  return age !== undefined ? { segmentMaxAgeMs: Math.round(seconds(age, 'segment-seconds') * 1000) } : {};
}

function common(v: ParsedValues) {
  const spoolDir = str(v.spool);
  if (!spoolDir) throw new AppError(ErrorCode.BadRequest, '--spool is required');
  const runId = str(v['run-id']);
  const segBytes = str(v['segment-bytes']);
  return {
    spoolDir,
    ...(runId ? { runId } : {}),
    // Spool segments are decrypted whole in the processor's memory: keep them modest.
    ...(segBytes ? { segmentMaxBytes: integer(segBytes, 'segment-bytes', 1, SEGMENT_MAX_RECORD_BYTES) } : {}),
    progress: progressFrom(v),
    spoolQuota: spoolQuota(v),
  };
}

/** Runs `ingest <form> ...`; returns the exit code. */
export async function runIngestCommand(v: ParsedValues, p: string[]): Promise<number> {
  if (p[0] === 'pcap') {
    if (p.length !== 2) throw new AppError(ErrorCode.BadRequest, 'ingest pcap takes one capture path (or - for stdin)');
    const extra = NETFLOW_ONLY.find((o) => v[o] !== undefined);
    if (extra) throw new AppError(ErrorCode.BadRequest, `--${extra} applies to ingest netflow only`);
    const { runIngestPcap } = await import('../ingest/ingest-pcap.ts');
    const res = await runIngestPcap({ input: p[1]!, ...common(v), ...segmentAge(v), log: ndjson });
    ndjson({ event: 'done', ...res });
    return 0;
  }
  if (p[0] === 'netflow') {
    if (p.length !== 1) throw new AppError(ErrorCode.BadRequest, 'ingest netflow takes no positional argument: give --listen <addr:port> or --pcap <file|->');
    return str(v.pcap) !== undefined ? netflowPcap(v) : netflowListen(v);
  }
  throw new AppError(ErrorCode.BadRequest, `ingest needs a form: pcap or netflow${p[0] ? ` (not '${p[0].slice(0, 20)}')` : ''}`);
}

async function netflowPcap(v: ParsedValues): Promise<number> {
  for (const o of ['listen', 'recv-buffer', 'queue-datagrams', 'segment-seconds'] as const) {
    if (v[o] !== undefined) throw new AppError(ErrorCode.BadRequest, `--${o} applies to the live collector (--listen), not to --pcap`);
  }
  const { parsePort } = await import('../ingest/netflow/listen-address.ts');
  const port = str(v.port);
  const { runIngestNetflowPcap } = await import('../ingest/netflow/ingest-netflow-pcap.ts');
  const res = await runIngestNetflowPcap({ input: str(v.pcap)!, ...(port !== undefined ? { port: parsePort(port, '--port', false) } : {}), ...common(v), log: ndjson });
  ndjson({ event: 'done', ...res });
  return 0;
}

async function netflowListen(v: ParsedValues): Promise<number> {
  if (v.port !== undefined) throw new AppError(ErrorCode.BadRequest, '--port filters a capture (--pcap); with --listen the port is part of the address');
  const { DEFAULT_LISTEN, parseListenAddress } = await import('../ingest/netflow/listen-address.ts');
  const listen = parseListenAddress(str(v.listen) ?? DEFAULT_LISTEN);
  const recv = str(v['recv-buffer']);
  const queue = str(v['queue-datagrams']);
  const options = {
    listen,
    ...common(v),
    ...(recv ? { recvBufferBytes: integer(recv, 'recv-buffer', 4096, 2 ** 31 - 1) } : {}),
    ...(queue ? { queueDatagrams: integer(queue, 'queue-datagrams', 1, 10_000_000) } : {}),
    ...segmentAge(v),
  };
  const { runIngestNetflowListen } = await import('../ingest/netflow/ingest-netflow-listen.ts');
  const stop = new AbortController();
  let signals = 0;
  const onSignal = (name: string) => {
    signals++;
    if (signals === 1) {
      ndjson({ event: 'stopping', signal: name });
      stop.abort();
      return;
    }
    err('flowseal ingest: second signal: exiting now; the open segment is not sealed');
    process.exit(130);
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const res = await runIngestNetflowListen({ ...options, signal: stop.signal, log: ndjson });
    ndjson({ event: 'done', ...res });
    const dropped = res.queueDrops + (res.kernelDrops ?? 0);
    if (dropped > 0) {
      const text = `${dropped} datagram(s) were dropped before the spool (queue full: ${res.queueDrops}, kernel receive buffer: ${res.kernelDrops ?? 'unknown'})`;
      if (process.stderr.isTTY) err(`flowseal ingest: WARNING: ${text}`);
      else ndjson({ event: 'warning', code: 'datagrams-dropped', queueDrops: res.queueDrops, kernelDrops: res.kernelDrops, message: text });
    }
    return 0;
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
