/**
 * `flowseal pipeline`: runs the sealed processor and the ingest side as two separate OS
 * processes with the encrypted spool between them, and exits when the capture is processed.
 *
 * Owns: process orchestration only (start the processor, wait for its public key, start
 * ingest with the same run id, wait for both). Never: touches keys or packet data itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError, ErrorCode } from '../schemas/errors.ts';
import { runManifests } from '../sealed-processor/sinks/committed-parts.ts';
import { checkCaptureInput } from '../ingest/check-input.ts';
import { parseSigningKeyArg } from '../sealed-processor/sinks/manifest-signer.ts';

const FLOWSEAL = fileURLToPath(new URL('./flowseal.mjs', import.meta.url));

export interface PipelineOptions {
  /** One or more capture paths, or a single '-' for stdin. One processor (one anonymization key) serves them all. */
  captures: string[];
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

/** Returns the exit code: 0 when everything was processed, else the failing side's code. */
export async function runPipeline(opts: PipelineOptions): Promise<number> {
  if (opts.captures.length === 0) throw new AppError(ErrorCode.BadRequest, 'pipeline needs at least one capture');
  if (opts.captures.includes('-') && opts.captures.length > 1) throw new AppError(ErrorCode.BadRequest, "'-' (stdin) must be the only capture");
  // Before anything starts: a wrong path is an error naming it, not an empty run.
  for (const capture of opts.captures) await checkCaptureInput(capture);
  const ownSpool = !opts.spoolDir;
  const spoolDir = opts.spoolDir ? resolve(opts.spoolDir) : await mkdtemp(join(tmpdir(), 'flowseal-spool-'));
  // Run ids sort in ingest order, which is the order the processor takes runs in.
  const base = `r${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  const runIds = opts.captures.map((_, i) => `${base}-${String(i).padStart(4, '0')}`);
  const node = process.execPath;
  const procArgs = [FLOWSEAL, 'process', '--spool', spoolDir, '--archive', resolve(opts.archiveDir), '--dataset', opts.dataset, '--until-run', runIds.join(',')];
  if (opts.policyPath) procArgs.push('--policy', resolve(opts.policyPath));
  if (opts.publishEveryMs !== undefined) procArgs.push('--publish-every', `${opts.publishEveryMs}ms`);
  // Ingest seals a segment at least this often, so a slow live capture reaches every part.
  const segmentMaxAgeMs = Math.max(100, Math.min(30_000, Math.floor((opts.publishEveryMs ?? 300_000) / 4)));
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
  const abort = (): void => {
    process.stderr.write('flowseal pipeline: aborting; unprocessed raw data is crypto-shredded\n');
    aborted = true;
    for (const c of children) c.kill('SIGTERM');
  };
  const onTerminate = (): void => abort();
  const onInterrupt = (): void => {
    interrupts++;
    if (opts.captures[0] === '-' && interrupts === 1) {
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
    for (const [i, capture] of opts.captures.entries()) {
      if (aborted) break;
      const ingest = spawn(node, [FLOWSEAL, 'ingest', 'pcap', capture, '--spool', spoolDir, '--run-id', runIds[i]!, '--segment-max-age', `${segmentMaxAgeMs}ms`, ...(opts.spoolQuota ? ['--spool-max', String(opts.spoolQuota.maxBytes), '--spool-full', opts.spoolQuota.policy] : [])], {
        stdio: [capture === '-' ? 'inherit' : 'ignore', stdio, stdio],
        detached: true,
      });
      children.add(ingest);
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
    if (code === 0) return await checkPublished(resolve(opts.archiveDir), opts.dataset, runIds);
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
