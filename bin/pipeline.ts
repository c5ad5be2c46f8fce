/**
 * `flowseal pipeline`: runs the sealed processor and the ingest side as two separate OS
 * processes with the encrypted spool between them, and exits when the input is processed.
 * The input is packet captures, a capture of flow export (`--netflow-pcap`), or a live
 * NetFlow/IPFIX collector (`--netflow-listen`), which runs until SIGINT/SIGTERM and then
 * publishes the rest of what it collected. A live run (a capture from stdin, the collector)
 * is published in parts, one every `--publish-every` (rolling publication).
 *
 * Owns: process orchestration only (start the processor, wait for its public key, start
 * ingest with the same run id, wait for both), and a summary of each published run's counts.
 * Never: touches keys or packet data itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError, ErrorCode } from '../schemas/errors.ts';
import { runManifests } from '../sealed-processor/sinks/committed-parts.ts';
import { checkCaptureInput } from '../ingest/capture-input.ts';
import { parseSigningKeyArg } from '../sealed-processor/sinks/manifest-signer.ts';
import { coverageSummary, EXIT_INCOMPLETE } from './coverage-summary.ts';

const FLOWSEAL = fileURLToPath(new URL('./flowseal.mjs', import.meta.url));

export interface PipelineOptions {
  /** One or more capture paths, or a single '-' for stdin. One processor (one anonymization key) serves them all. */
  captures: string[];
  /** Instead of captures: collect NetFlow/IPFIX on this UDP address (`IPv4:port` / `[IPv6]:port`) until stopped. */
  netflowListen?: string | undefined;
  /** Instead of captures: replay the flow export in this capture (path or '-'). */
  netflowPcap?: string | undefined;
  /** With netflowPcap: only datagrams to this UDP port. */
  netflowPort?: string | undefined;
  archiveDir: string;
  policyPath?: string | undefined;
  dataset: string;
  /** Spool directory; default: a fresh temporary directory removed afterwards. */
  spoolDir?: string | undefined;
  /** The processor's manifest signing key source (`env:NAME` or `file:PATH`); default ephemeral. */
  signingKey?: string | undefined;
  /** A live run publishes a part this often (ms, `--publish-every`); default the processor's (5 minutes). */
  publishEveryMs?: number | undefined;
  /** Spool size limit and policy, passed to ingest (`--spool-max`, `--spool-full`). */
  spoolQuota?: { maxBytes: number; policy: 'pause' | 'drop-oldest' } | undefined;
  /** Where child diagnostics go (NDJSON lines). Default: inherit stderr. */
  stdio?: 'inherit' | 'pipe';
  /** Exit with EXIT_INCOMPLETE (4) when more than 1 % of the captured packets were not turned into flows (`--strict`). */
  strict?: boolean | undefined;
}

/** Exit code, or 128 + signal number for a child killed by a signal (as a shell reports it). */
function waitExit(child: ChildProcess): Promise<number> {
  return new Promise((res) =>
    child.on('exit', (code, signal) => res(code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : 1))),
  );
}

async function waitForFile(path: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (child.exitCode !== null || child.signalCode !== null) throw new AppError(ErrorCode.ProcessorWorkerFailed, 'the processor exited before publishing its key');
    if (Date.now() > deadline) throw new AppError(ErrorCode.SpoolNoPublicKey, 'the processor did not publish its key in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** One ingest process to run: its `flowseal` arguments (before `--spool`/`--run-id`). */
interface IngestJob {
  args: string[];
  stdin: boolean;
  /** A form that may run long (packet capture, collector): it seals segments by age (`--segment-seconds`) so each part gets them. */
  live: boolean;
}

/**
 * The ingest processes the options ask for, checked before any process starts.
 * A wrong path is an error naming it (ingest/capture-input.ts), not an empty run.
 * @throws AppError ERR_BAD_REQUEST (no input, or inputs of two kinds), ERR_LISTEN_ADDRESS_INVALID,
 *   ERR_PORT_INVALID, ERR_INPUT_* for a capture path that is missing, not a file, unreadable or not a capture.
 */
async function ingestJobs(opts: PipelineOptions): Promise<IngestJob[]> {
  const kinds = [opts.captures.length > 0, opts.netflowListen !== undefined, opts.netflowPcap !== undefined].filter(Boolean).length;
  if (kinds === 0) throw new AppError(ErrorCode.BadRequest, 'pipeline needs an input: capture paths (or - for stdin), --netflow-listen <addr:port> or --netflow-pcap <file>');
  if (kinds > 1) throw new AppError(ErrorCode.BadRequest, 'pipeline takes one kind of input: capture paths, --netflow-listen or --netflow-pcap');
  if (opts.netflowPort !== undefined && opts.netflowPcap === undefined) throw new AppError(ErrorCode.BadRequest, '--netflow-port filters --netflow-pcap only');
  const { parseListenAddress, parsePort } = await import('../ingest/netflow/listen-address.ts');
  if (opts.netflowListen !== undefined) {
    parseListenAddress(opts.netflowListen, '--netflow-listen');
    return [{ args: ['ingest', 'netflow', '--listen', opts.netflowListen], stdin: false, live: true }];
  }
  if (opts.netflowPcap !== undefined) {
    const port = opts.netflowPort !== undefined ? ['--port', String(parsePort(opts.netflowPort, '--netflow-port', false))] : [];
    await checkCaptureInput(opts.netflowPcap);
    // A replay reads as fast as it can; `ingest netflow --pcap` has no age timer.
    return [{ args: ['ingest', 'netflow', '--pcap', opts.netflowPcap === '-' ? '-' : resolve(opts.netflowPcap), ...port], stdin: opts.netflowPcap === '-', live: false }];
  }
  if (opts.captures.includes('-') && opts.captures.length > 1) throw new AppError(ErrorCode.BadRequest, "'-' (stdin) must be the only capture");
  for (const capture of opts.captures) await checkCaptureInput(capture);
  return opts.captures.map((c) => ({ args: ['ingest', 'pcap', c], stdin: c === '-', live: true }));
}

/** Returns the exit code: 0 when everything was processed, else the failing side's code. */
export async function runPipeline(opts: PipelineOptions): Promise<number> {
  const jobs = await ingestJobs(opts);
  const live = opts.netflowListen !== undefined;
  const ownSpool = !opts.spoolDir;
  const spoolDir = opts.spoolDir ? resolve(opts.spoolDir) : await mkdtemp(join(tmpdir(), 'flowseal-spool-'));
  // Run ids sort in ingest order, which is the order the processor takes runs in.
  const base = `r${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  const runIds = jobs.map((_, i) => `${base}-${String(i).padStart(4, '0')}`);
  const node = process.execPath;
  const procArgs = [FLOWSEAL, 'process', '--spool', spoolDir, '--archive', resolve(opts.archiveDir), '--dataset', opts.dataset, '--until-run', runIds.join(',')];
  if (opts.policyPath) procArgs.push('--policy', resolve(opts.policyPath));
  if (opts.publishEveryMs !== undefined) procArgs.push('--publish-every', `${opts.publishEveryMs}ms`);
  // Ingest seals a segment at least this often, so a slow live capture or a quiet collector
  // reaches every part.
  const segmentMaxAgeMs = Math.max(100, Math.min(30_000, Math.floor((opts.publishEveryMs ?? 300_000) / 4)));
  const quotaArgs = opts.spoolQuota ? ['--spool-max', String(opts.spoolQuota.maxBytes), '--spool-full', opts.spoolQuota.policy] : [];
  if (opts.signingKey !== undefined) {
    const src = parseSigningKeyArg(opts.signingKey);
    if (src.type === 'stdin') throw new AppError(ErrorCode.BadRequest, 'pipeline: --signing-key must be env:NAME or file:PATH (stdin is the capture\'s)');
    procArgs.push('--signing-key', src.type === 'env' ? `env:${src.name}` : `file:${resolve(src.path)}`);
  }
  const stdio = opts.stdio ?? 'inherit';
  // Children get their own process group: a terminal's Ctrl-C reaches this process only, which
  // decides (below) whether it means "abort" or "the live capture is ending".
  const processor = spawn(node, procArgs, { stdio: ['ignore', stdio, stdio], detached: true });
  const processorExit = waitExit(processor);
  const children = new Set([processor]);
  let interrupts = 0;
  let aborted = false;
  let collector: ChildProcess | null = null;
  const abort = (): void => {
    process.stderr.write('flowseal pipeline: aborting; unprocessed raw data is crypto-shredded\n');
    aborted = true;
    for (const c of children) c.kill('SIGTERM');
  };
  // The live collector's first SIGINT or SIGTERM ends collection: the collector seals its
  // last segment and the processor publishes the run. A second one aborts.
  const stopCollector = (): boolean => {
    if (!live || interrupts !== 1 || collector === null) return false;
    process.stderr.write('flowseal pipeline: stopping the collector; publishing what it collected (signal again to abort)\n');
    collector.kill('SIGTERM');
    return true;
  };
  const onTerminate = (): void => {
    interrupts++;
    if (!stopCollector()) abort();
  };
  const onInterrupt = (): void => {
    interrupts++;
    if (stopCollector()) return;
    if (jobs[0]!.stdin && interrupts === 1) {
      // `tcpdump -w - | flowseal pipeline -`: Ctrl-C stops tcpdump too; its EOF ends the run,
      // and what was captured is still processed and published.
      process.stderr.write('flowseal pipeline: finishing the capture read so far (Ctrl-C again to abort)\n');
      return;
    }
    abort();
  };
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onTerminate);
  try {
    await waitForFile(join(spoolDir, 'processor-key.json'), processor, 30_000);
    let firstFailure = 0;
    for (const [i, job] of jobs.entries()) {
      if (aborted) break;
      const ingest = spawn(node, [FLOWSEAL, ...job.args, '--spool', spoolDir, '--run-id', runIds[i]!, ...(job.live ? ['--segment-seconds', String(segmentMaxAgeMs / 1000)] : []), ...quotaArgs], {
        stdio: [job.stdin ? 'inherit' : 'ignore', stdio, stdio],
        detached: true,
      });
      children.add(ingest);
      if (live) collector = ingest;
      const ingestExit = waitExit(ingest);
      // If the processor dies first, nobody holds the key ingest seals to: stop ingest too.
      const first = await Promise.race([ingestExit.then((code) => ({ who: 'ingest' as const, code })), processorExit.then((code) => ({ who: 'processor' as const, code }))]);
      if (first.who === 'processor' && first.code !== 0) {
        ingest.kill('SIGTERM');
        await ingestExit;
        children.delete(ingest);
        process.stderr.write(`flowseal pipeline: the processor exited (${first.code}) before the capture was processed\n`);
        return aborted ? 130 : first.code;
      }
      const code = first.who === 'ingest' ? first.code : await ingestExit;
      children.delete(ingest);
      if (code !== 0 && firstFailure === 0) firstFailure = code;
    }
    if (aborted) {
      await processorExit;
      return 130;
    }
    if (firstFailure !== 0) {
      // Ingest seals a final segment even on a damaged capture; if it died without one, the
      // processor would wait for the run forever: give it a grace period, then stop it.
      const timer = setTimeout(() => processor.kill('SIGTERM'), 60_000);
      await processorExit;
      clearTimeout(timer);
      return firstFailure;
    }
    const code = await processorExit;
    if (aborted) return 130;
    if (code === 0) {
      const status = await checkPublished(resolve(opts.archiveDir), opts.dataset, runIds);
      const incomplete = await summarizePublished(resolve(opts.archiveDir), opts.dataset, runIds);
      return status === 0 && incomplete && opts.strict ? EXIT_INCOMPLETE : status;
    }
    // Ingest finished but the processor died before publishing everything: its key died with
    // it, so what it had not published is unreadable now. Say which runs that is.
    process.stderr.write(`flowseal pipeline: the processor exited (${code}) before publishing every run; unpublished raw data is crypto-shredded with its key\n`);
    await checkPublished(resolve(opts.archiveDir), opts.dataset, runIds);
    return code;
  } catch (e) {
    processor.kill('SIGTERM');
    await processorExit;
    if (aborted) return 130;
    throw e;
  } finally {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onTerminate);
    if (ownSpool) await rm(spoolDir, { recursive: true, force: true });
  }
}

/** Counts of the manifest the summary line shows, in this order, when present. */
const SUMMARY_COUNTS = ['records', 'packets_decoded', 'export_datagrams', 'export_flows', 'export_drops', 'poison_records'] as const;

/**
 * One line per published run on stderr: its flows (all its parts') and the record counts of its
 * last part (the run's totals), so the user sees what the archive got (e.g. flow-export
 * datagrams not yet decoded); then, for a run where more than 1 % of the packets were not
 * turned into flows, what happened to them by link type and reason (coverage-summary.ts).
 * @returns true when some run was incomplete in that sense.
 */
export async function summarizePublished(archiveDir: string, dataset: string, runIds: readonly string[]): Promise<boolean> {
  let incomplete = false;
  for (const run of runIds) {
    const manifests = await runManifests(archiveDir, dataset, run);
    const last = manifests.at(-1)?.manifest;
    if (!last) continue;
    const flows = manifests.reduce((n, m) => n + m.manifest.flows, 0);
    const counts = SUMMARY_COUNTS.filter((k) => (last.counts[k] ?? 0) > 0).map((k) => `${last.counts[k]} ${k}`);
    const parts = manifests.length > 1 ? ` in ${manifests.length} parts` : '';
    process.stderr.write(`flowseal pipeline: run ${run} published${parts}: ${flows} flows${counts.length ? ` (${counts.join(', ')})` : ''}\n`);
    const coverage = coverageSummary(run, last.counts);
    for (const line of coverage.lines) process.stderr.write(`${line}\n`);
    if (coverage.incomplete) incomplete = true;
  }
  return incomplete;
}

/**
 * After a clean processor exit: every run must have a manifest, and none may have lost
 * segments to quarantine or shredding. Says what went wrong on stderr.
 * @returns 0, or 3 (data lost: a run unpublished, or segments refused).
 */
export async function checkPublished(archiveDir: string, dataset: string, runIds: readonly string[]): Promise<number> {
  let status = 0;
  for (const run of runIds) {
    const manifests = await runManifests(archiveDir, dataset, run);
    const last = manifests.at(-1)?.manifest;
    if (!last) {
      process.stderr.write(`flowseal pipeline: run ${run} was not published: nothing of it reached the archive (its segments were refused, shredded, or held no record)\n`);
      status = 3;
      continue;
    }
    if (last.part && !last.part.final) {
      process.stderr.write(`flowseal pipeline: run ${run} is not finished: ${manifests.length} part(s) published, the rest is crypto-shredded with the processor's key\n`);
      status = 3;
    }
    // Each part carries the run's totals through it: the last one has them all.
    const counts = last.counts;
    const lost = ['segments_quarantined', 'segments_shredded', 'segments_missing'].filter((k) => (counts[k] ?? 0) > 0);
    if (lost.length > 0) {
      process.stderr.write(`flowseal pipeline: run ${run} was published without some of its data: ${lost.map((k) => `${counts[k]} ${k.replace('segments_', 'segment(s) ')}`).join(', ')}\n`);
      status = 3;
    }
    if ((counts.spool_quota_dropped_segments ?? 0) > 0 || (counts.spool_quota_pauses ?? 0) > 0) {
      process.stderr.write(`flowseal pipeline: run ${run}: the spool was full: ${counts.spool_quota_dropped_segments ?? 0} unprocessed segment(s) dropped, ingest paused ${counts.spool_quota_pauses ?? 0} time(s) for ${counts.spool_quota_paused_ms ?? 0} ms (counted in the manifest as spool_quota_*)\n`);
    }
    // Records shown to crash the worker on their own are skipped by design (the rest of the
    // run is published); say how many, so nothing is dropped silently.
    if ((counts.poison_records ?? 0) > 0) {
      process.stderr.write(`flowseal pipeline: run ${run}: ${counts.poison_records} record(s) crashed the decoder deterministically and were skipped (counted in the manifest as poison_records)\n`);
    }
  }
  return status;
}
