/**
 * The sealed processor's supervisor: key custody, segment intake, worker lifecycle,
 * crash recovery and publication.
 *
 * Owns: the spool private key (in memory only, generated at start, published as a public
 * key file), decrypting and authenticating segments, feeding plaintext to a worker process,
 * restarting the worker after a crash (skipping the poison record and replaying the run from
 * its first segment, so no flow is lost or duplicated), and publishing the run's files into
 * the archive by atomic rename with a journal so a kill mid-publish rolls forward.
 * Never: writes a key or plaintext to disk, logs anything but counts and error codes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { AppError, ErrorCode, isAppError } from '../schemas/errors.ts';
import type { Policy } from '../schemas/policy.ts';
import { iterateSpoolRecords } from '../schemas/spool.ts';
import { generateProcessorKeys, type ProcessorKeys } from './spool/keys.ts';
import { writePublicKey } from './spool/key-file.ts';
import { openSegment } from './spool/spool-reader.ts';
import { listSegments, quarantineSegment, readRunEndMarker, removeRunEndMarker } from './spool/spool-files.ts';
import { encodeFrame, encodeFrameHeader, encodeJsonFrame, FrameType, type WorkerConfig, type WorkerEvent } from './worker/protocol.ts';
import { publishRun, rollForwardStaging, type PublishInput } from './sinks/publish.ts';

const RUN_TS = fileURLToPath(new URL('../bin/run-ts.mjs', import.meta.url));
const WORKER_MAIN = fileURLToPath(new URL('./worker/worker-main.ts', import.meta.url));

export interface SupervisorOptions {
  spoolDir: string;
  archiveDir: string;
  dataset: string;
  policy: Policy;
  masterKey: Uint8Array;
  processorVersion: string;
  /** Exit after this run id has been published. Without it: run until stopped. */
  untilRun?: string | undefined;
  /** One-way diagnostics sink (counts and codes only). */
  log: (event: Record<string, unknown>) => void;
  pollMs?: number;
  /** How long a missing segment is waited for before the run goes on without it. Default 10 s. */
  gapTimeoutMs?: number;
  /** Worker restarts allowed per run before the run is given up (its segments quarantined). */
  maxRestarts?: number;
  /** Extra environment for the worker (tests inject faults with it). */
  workerEnv?: Record<string, string>;
}

interface RunState {
  runId: string;
  /** Segment file names already fed to the current worker, in order. */
  fed: { name: string; seq: number }[];
  nextSeq: number;
  poison: Map<number, Set<number>>;
  /** Segments in which a worker died without saying why: replay them record by record. */
  suspect: Set<number>;
  restarts: number;
  counts: Record<string, number>;
  finished: boolean;
}

function bump(counts: Record<string, number>, key: string, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}

/** A running worker process and the events it has sent. */
class WorkerHandle {
  readonly child: ChildProcess;
  readonly exited: Promise<number>;
  lastAck: { seq: number; index: number } | null = null;
  poison: { seq: number; index: number } | null = null;
  done: Extract<WorkerEvent, { type: 'done' }> | null = null;
  /** Segments the worker has fully processed, in order. */
  segmentsDone: number[] = [];

  constructor(env: Record<string, string>) {
    // FLOWSEAL_WORKER_NODE_ARGS: extra Node flags for the worker (profiling, e.g. --cpu-prof).
    const nodeArgs = (process.env.FLOWSEAL_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
    this.child = spawn(process.execPath, [...nodeArgs, RUN_TS, WORKER_MAIN], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    });
    this.exited = new Promise((res) => this.child.on('exit', (code, sig) => res(code ?? (sig ? 128 : 1))));
    this.child.stdin!.on('error', () => undefined);
    const rl = createInterface({ input: this.child.stdout! });
    rl.on('line', (line) => {
      let ev: WorkerEvent;
      try {
        ev = JSON.parse(line) as WorkerEvent;
      } catch {
        return;
      }
      if (ev.type === 'ack') this.lastAck = { seq: ev.seq, index: ev.index };
      else if (ev.type === 'poison') this.poison = { seq: ev.seq, index: ev.index };
      else if (ev.type === 'done') this.done = ev;
      else if (ev.type === 'segment-done') this.segmentsDone.push(ev.seq);
    });
  }

  /** Writes a frame; resolves false if the worker is gone. */
  send(frame: Uint8Array): Promise<boolean> {
    const stdin = this.child.stdin!;
    if (stdin.destroyed || this.child.exitCode !== null) return Promise.resolve(false);
    return new Promise((res) => {
      const ok = stdin.write(frame, (e) => (e ? res(false) : undefined));
      if (ok) res(true);
      else stdin.once('drain', () => res(true));
      this.exited.then(() => res(false));
    });
  }
}

/** Runs until `untilRun` is published (or forever). Resolves to an exit code. */
export async function runSupervisor(opts: SupervisorOptions): Promise<number> {
  const keys: ProcessorKeys = await generateProcessorKeys();
  const stagingRoot = join(opts.archiveDir, '.staging');
  const rolled = await rollForwardStaging(stagingRoot, opts.archiveDir);
  if (rolled.completed || rolled.discarded) opts.log({ event: 'staging-recovered', ...rolled });
  await writePublicKey(opts.spoolDir, keys);
  opts.log({ event: 'started', spoolKeyId: keys.keyId });
  const published = new Set<string>();
  let stopping = false;
  const stop = () => {
    stopping = true;
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    while (!stopping) {
      const progressed = await step(opts, keys, published);
      if (opts.untilRun && published.has(opts.untilRun)) return 0;
      if (!progressed) await new Promise((r) => setTimeout(r, opts.pollMs ?? 100));
    }
    return 0;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}

/** One scan of the spool: processes every run that has its first segment waiting. */
async function step(opts: SupervisorOptions, keys: ProcessorKeys, published: Set<string>): Promise<boolean> {
  const segments = await listSegments(opts.spoolDir);
  const byRun = new Map<string, { name: string; seq: number }[]>();
  for (const s of segments) {
    if (published.has(s.runId)) continue;
    const list = byRun.get(s.runId) ?? [];
    list.push({ name: s.name, seq: s.seq });
    byRun.set(s.runId, list);
  }
  let progressed = false;
  for (const runId of byRun.keys()) {
    const done = await processRun(opts, published, keys, runId);
    if (done) {
      published.add(runId);
      progressed = true;
    }
  }
  return progressed;
}

/**
 * Processes one run to completion: feeds its segments in order as they appear, restarting
 * the worker on a crash. Returns true when the run was published (or given up).
 */
async function processRun(opts: SupervisorOptions, published: ReadonlySet<string>, keys: ProcessorKeys, runId: string): Promise<boolean> {
  const state: RunState = { runId, fed: [], nextSeq: 0, poison: new Map(), suspect: new Set(), restarts: 0, counts: {}, finished: false };
  const maxRestarts = opts.maxRestarts ?? 8;
  for (;;) {
    const outcome = await attemptRun(opts, published, keys, state);
    if (outcome === 'published') return true;
    if (outcome === 'waiting') return false;
    state.restarts++;
    bump(state.counts, 'worker_restarts');
    opts.log({ event: 'worker-restart', run: runId, restarts: state.restarts });
    if (state.restarts > maxRestarts) {
      for (const f of state.fed) await quarantineSegment(opts.spoolDir, f.name, ErrorCode.ProcessorWorkerFailed);
      opts.log({ event: 'run-abandoned', run: runId, code: ErrorCode.ProcessorWorkerFailed });
      return true;
    }
  }
}

type Outcome = 'published' | 'waiting' | 'crashed';

async function attemptRun(opts: SupervisorOptions, published: ReadonlySet<string>, keys: ProcessorKeys, state: RunState): Promise<Outcome> {
  const stagingDir = join(opts.archiveDir, '.staging', state.runId);
  await rm(stagingDir, { recursive: true, force: true });
  const worker = new WorkerHandle(opts.workerEnv ?? {});
  const config: WorkerConfig = {
    runId: state.runId,
    dataset: opts.dataset,
    stagingDir,
    policy: opts.policy,
    masterKeyHex: Buffer.from(opts.masterKey).toString('hex'),
    processorVersion: opts.processorVersion,
  };
  if (!(await worker.send(encodeJsonFrame(FrameType.Config, config)))) return noteCrash(state, worker, []);
  // Replay what an earlier worker of this run already consumed, then continue with new segments.
  // `state.fed` keeps every segment this run has consumed across attempts; `sent` is what this
  // worker has been given, in order (for pinning down where a crash happened).
  const replay = state.fed.slice();
  const sent: { name: string; seq: number }[] = [];
  let cursor = 0;
  let finalSeen = false;
  let gapSince: number | null = null;
  for (;;) {
    let next: { name: string; seq: number } | undefined = replay[cursor];
    const replaying = next !== undefined;
    if (next) cursor++;
    else {
      const all = (await listSegments(opts.spoolDir)).filter((s) => s.runId === state.runId && s.seq >= state.nextSeq);
      next = all.find((s) => s.seq === state.nextSeq);
      if (!next) {
        const later = all.reduce<number | null>((m, s) => (m === null || s.seq < m ? s.seq : m), null);
        if (later !== null) {
          // A gap: a segment never arrived (or was removed). Wait a while, then go on without it.
          gapSince ??= Date.now();
          if (Date.now() - gapSince >= (opts.gapTimeoutMs ?? 10_000)) {
            bump(state.counts, 'segments_missing', later - state.nextSeq);
            opts.log({ event: 'segments-missing', run: state.runId, from: state.nextSeq, to: later - 1 });
            state.nextSeq = later;
            gapSince = null;
            continue;
          }
        } else if ((await readRunEndMarker(opts.spoolDir, state.runId))?.segments === state.nextSeq && state.nextSeq > 0) {
          // Every segment of the run was handled but the final one was rejected: finish anyway.
          bump(state.counts, 'final_segment_rejected');
          finalSeen = true;
          break;
        } else if (state.fed.length === 0) {
          worker.child.kill('SIGTERM');
          await worker.exited;
          return 'waiting';
        }
        await new Promise((r) => setTimeout(r, opts.pollMs ?? 100));
        continue;
      }
      gapSince = null;
    }
    const fed = await feedSegment(opts, published, keys, state, worker, next);
    state.nextSeq = Math.max(state.nextSeq, next.seq + 1);
    if (fed === 'rejected') {
      // Only possible on replay if the file changed under us: it is no longer part of the run.
      if (replaying) state.fed = state.fed.filter((f) => f.seq !== next.seq);
      continue;
    }
    if (!replaying) state.fed.push(next);
    sent.push(next);
    if (fed === 'crashed') return noteCrash(state, worker, sent);
    if (fed === 'final') {
      finalSeen = true;
      break;
    }
  }
  if (!finalSeen) return 'waiting';
  if (!(await worker.send(encodeFrame(FrameType.Finish, new Uint8Array(0))))) return noteCrash(state, worker, sent);
  const code = await worker.exited;
  if (code !== 0 || !worker.done) return noteCrash(state, worker, sent);
  const input: PublishInput = {
    runId: state.runId,
    dataset: opts.dataset,
    archiveDir: opts.archiveDir,
    stagingDir,
    done: worker.done,
    counts: { ...state.counts, ...worker.done.counts },
    policy: opts.policy,
    processorVersion: opts.processorVersion,
  };
  const manifest = await publishRun(input);
  for (const f of state.fed) await unlink(join(opts.spoolDir, 'segments', f.name)).catch(() => undefined);
  await removeRunEndMarker(opts.spoolDir, state.runId);
  opts.log({ event: 'run-published', run: state.runId, flows: manifest.flows, files: manifest.files.length, counts: manifest.counts });
  return 'published';
}

/**
 * Records what a worker death tells us, so the next attempt can get past it: a reported
 * poison record is skipped; an unexplained death marks the first unfinished segment suspect
 * (fed record by record next time); a second death there pins the record after the last ack.
 */
async function noteCrash(state: RunState, worker: WorkerHandle, sent: { seq: number }[]): Promise<Outcome> {
  worker.child.kill('SIGKILL');
  await worker.exited;
  const addPoison = (seq: number, index: number) => {
    const set = state.poison.get(seq) ?? new Set<number>();
    set.add(index);
    state.poison.set(seq, set);
    bump(state.counts, 'poison_records');
  };
  const unfinished = sent.find((f) => !worker.segmentsDone.includes(f.seq))?.seq;
  if (worker.poison) addPoison(worker.poison.seq, worker.poison.index);
  else if (unfinished !== undefined && state.suspect.has(unfinished)) {
    addPoison(unfinished, worker.lastAck && worker.lastAck.seq === unfinished ? worker.lastAck.index + 1 : 0);
  } else if (unfinished !== undefined) state.suspect.add(unfinished);
  return 'crashed';
}

/** Decrypts one segment and sends its records. Quarantines a bad segment and moves on. */
async function feedSegment(
  opts: SupervisorOptions,
  published: ReadonlySet<string>,
  keys: ProcessorKeys,
  state: RunState,
  worker: WorkerHandle,
  seg: { name: string; seq: number },
): Promise<'ok' | 'final' | 'rejected' | 'crashed'> {
  let opened;
  try {
    const bytes = await readFile(join(opts.spoolDir, 'segments', seg.name));
    opened = await openSegment(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), keys, {
      isReplay: (run) => published.has(run),
    });
    // The name is not authenticated, the header is: a copy renamed to another slot is a replay.
    if (opened.header.runId !== state.runId || opened.header.seq !== seg.seq) {
      throw new AppError(ErrorCode.SpoolReplayed, 'segment header does not match its place in the spool');
    }
  } catch (e) {
    const code = isAppError(e) ? e.code : ErrorCode.SpoolBadHeader;
    if (code === ErrorCode.SpoolUnknownKey) {
      // Sealed to a key this process never held (written before a restart): crypto-shredded.
      await unlink(join(opts.spoolDir, 'segments', seg.name)).catch(() => undefined);
      bump(state.counts, 'segments_shredded');
    } else {
      await quarantineSegment(opts.spoolDir, seg.name, code);
      bump(state.counts, 'segments_quarantined');
    }
    opts.log({ event: 'segment-rejected', run: state.runId, seq: seg.seq, code });
    // A rejected segment cannot tell us whether it was final; the run waits for the next one.
    return 'rejected';
  }
  const skip = [...(state.poison.get(seg.seq) ?? [])];
  const careful = state.suspect.has(seg.seq);
  if (!(await worker.send(encodeJsonFrame(FrameType.Segment, { seq: seg.seq, careful, skip })))) return 'crashed';
  if (careful) {
    // One frame per record so the worker's acks pin down the record that kills it.
    let ok = true;
    const frames: Uint8Array[] = [];
    iterateSpoolRecords(opened.plaintext, (_rec, start, end) => {
      frames.push(opened.plaintext.subarray(start, end));
    });
    for (const f of frames) {
      ok = await worker.send(encodeFrame(FrameType.Records, f));
      if (!ok) break;
    }
    if (!ok) return 'crashed';
  } else if (
    !(await worker.send(encodeFrameHeader(FrameType.Records, opened.plaintext.length))) ||
    !(await worker.send(opened.plaintext))
  ) {
    return 'crashed';
  }
  return opened.header.final ? 'final' : 'ok';
}
