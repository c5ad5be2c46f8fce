/**
 * One spool run (one ingest invocation) as the supervisor drives it, across scans of the spool
 * and across worker restarts.
 *
 * Owns: the run's progress (segments consumed, next expected sequence number), what crashes
 * taught us (poison records, suspect segments), the worker of the current attempt, and the
 * decision that the run is complete (final segment, or the run-end marker after a rejected
 * final segment, or an idle timeout). Every attempt replays the run from its first segment
 * into a fresh staging directory, so a crash loses only the poison record and duplicates
 * nothing. `advance()` feeds whatever is available and returns; runs never block each other.
 * Never: holds plaintext beyond one segment, or logs anything but counts and codes.
 */
import { rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { Policy } from '../../schemas/policy.ts';
import type { ProcessorKeys } from '../spool/keys.ts';
import { readRunEndMarker, removeRunEndMarker, quarantineSegment, type SegmentEntry } from '../spool/spool-files.ts';
import { encodeFrame, encodeJsonFrame, FrameType, type WorkerConfig } from '../worker/protocol.ts';
import { completeJournal, journalExists, publishRun } from '../sinks/publish.ts';
import type { RunManifest } from '../../schemas/manifest.ts';
import { feedSegment, type SegmentRef } from './feed-segment.ts';
import type { ManifestSigner } from '../sinks/manifest-signer.ts';
import { WorkerHandle } from './worker-handle.ts';

/** What a processor is set up with: where to read and write, the policy and its key. */
export interface ProcessorSettings {
  spoolDir: string;
  archiveDir: string;
  dataset: string;
  policy: Policy;
  /** Anonymization master key (in memory only; handed to each worker). */
  masterKey: Uint8Array;
  processorVersion: string;
  /** Signs run manifests (default: an ephemeral per-process key, see sinks/manifest-signer.ts). */
  manifestSigner?: ManifestSigner;
}

export interface RunEnvironment extends ProcessorSettings {
  keys: ProcessorKeys;
  isPublished: (runId: string) => boolean;
  log: (event: Record<string, unknown>) => void;
  workerEnv: Record<string, string>;
  maxRestarts: number;
  gapTimeoutMs: number;
  idleTimeoutMs: number;
  /** Whether the capture side of a run is still alive (its heartbeat file is fresh). */
  ingestAlive: (runId: string) => Promise<boolean>;
  /** Set once the processor is shutting down: no new work, nothing published. */
  isStopping: () => boolean;
  now: () => number;
}

/** 'discarded': nothing of the run could be read (all shredded or rejected); nothing published. */
export type RunStatus = 'pending' | 'published' | 'abandoned' | 'discarded';

export class Run {
  readonly runId: string;
  readonly #env: RunEnvironment;
  /** Every segment consumed so far, in order, across attempts. */
  #fed: SegmentRef[] = [];
  #nextSeq = 0;
  #poison = new Map<number, Set<number>>();
  #suspect = new Set<number>();
  #restarts = 0;
  #transientFailures = 0;
  #counts: Record<string, number> = {};
  #worker: WorkerHandle | null = null;
  #sent: SegmentRef[] = [];
  #cursor = 0;
  #gapSince: number | null = null;
  #lastProgress: number;
  #retryAt = 0;
  /** A publication whose journal is written but whose renames failed: retried, never redone. */
  #journaled = false;

  constructor(runId: string, env: RunEnvironment) {
    this.runId = runId;
    this.#env = env;
    this.#lastProgress = env.now();
  }

  #count = (key: string, n = 1): void => {
    this.#counts[key] = (this.#counts[key] ?? 0) + n;
  };

  get #stagingDir(): string {
    return join(this.#env.archiveDir, '.staging', this.runId);
  }

  async #startWorker(): Promise<WorkerHandle | null> {
    await rm(this.#stagingDir, { recursive: true, force: true });
    const worker = new WorkerHandle(this.#env.workerEnv);
    const config: WorkerConfig = {
      runId: this.runId,
      dataset: this.#env.dataset,
      stagingDir: this.#stagingDir,
      policy: this.#env.policy,
      masterKeyHex: Buffer.from(this.#env.masterKey).toString('hex'),
      processorVersion: this.#env.processorVersion,
    };
    this.#sent = [];
    this.#cursor = 0;
    if (!(await worker.send(encodeJsonFrame(FrameType.Config, config)))) {
      await this.#crashed(worker);
      return null;
    }
    return worker;
  }

  /**
   * Feeds every segment available now (`available`: this run's segments in the spool, by seq).
   * Publishes when the run is complete. Returns the run's status after this step.
   */
  async advance(available: readonly SegmentEntry[]): Promise<RunStatus> {
    for (;;) {
      if (this.#env.isStopping()) return 'pending';
      if (this.#env.now() < this.#retryAt) return 'pending';
      if (this.#journaled) return this.#retryJournal();
      if (this.#restarts > this.#env.maxRestarts) return this.#abandon();
      if (!this.#worker) {
        if (this.#fed.length === 0 && !available.some((s) => s.seq >= this.#nextSeq)) {
          return (await this.#completeWithoutFinal(available)) ? this.#discard() : 'pending';
        }
        this.#worker = await this.#startWorker();
        if (!this.#worker) continue;
      }
      const worker = this.#worker;
      const replaying = this.#cursor < this.#fed.length;
      const next: SegmentRef | undefined = replaying ? this.#fed[this.#cursor] : available.find((s) => s.seq === this.#nextSeq);
      if (!next) {
        const complete = await this.#completeWithoutFinal(available);
        if (complete) return this.#finish(worker);
        // Nothing readable yet (e.g. only segments shredded after a restart): hold no worker.
        if (this.#fed.length === 0) await this.stop();
        return 'pending';
      }
      this.#gapSince = null;
      const result = await feedSegment(
        {
          spoolDir: this.#env.spoolDir,
          keys: this.#env.keys,
          runId: this.runId,
          isPublished: this.#env.isPublished,
          poison: this.#poison.get(next.seq) ?? new Set(),
          careful: this.#suspect.has(next.seq),
          count: this.#count,
          log: this.#env.log,
        },
        worker,
        next,
      );
      if (!replaying) this.#nextSeq = next.seq + 1;
      this.#lastProgress = this.#env.now();
      if (result === 'rejected') {
        // On replay only if the file changed under us: it is no longer part of the run.
        if (replaying) this.#fed = this.#fed.filter((f) => f.seq !== next!.seq);
        continue;
      }
      if (!replaying) this.#fed.push(next);
      this.#cursor++;
      this.#sent.push(next);
      if (result === 'crashed') {
        await this.#crashed(worker);
        continue;
      }
      if (result === 'final' && this.#cursor >= this.#fed.length) return this.#finish(worker);
      if (this.#env.isStopping()) return 'pending';
    }
  }

  /** No next segment: decide whether the run is nonetheless complete (or skip a gap). */
  async #completeWithoutFinal(available: readonly SegmentEntry[]): Promise<boolean> {
    const later = available.filter((s) => s.seq > this.#nextSeq).map((s) => s.seq);
    const now = this.#env.now();
    if (later.length) {
      // A gap: a segment never arrived (or was removed). Wait a while, then go on without it.
      this.#gapSince ??= now;
      if (now - this.#gapSince >= this.#env.gapTimeoutMs) {
        const to = Math.min(...later);
        this.#count('segments_missing', to - this.#nextSeq);
        this.#env.log({ event: 'segments-missing', run: this.runId, from: this.#nextSeq, to: to - 1 });
        this.#nextSeq = to;
        this.#gapSince = null;
      }
      return false;
    }
    const marker = await readRunEndMarker(this.#env.spoolDir, this.runId);
    if (marker && marker.segments <= this.#nextSeq && this.#nextSeq > 0) {
      // Every segment was handled but the final one was rejected: finish with what we have.
      this.#count('final_segment_rejected');
      return true;
    }
    const idleFor = now - this.#lastProgress;
    // With nothing readable there is nothing to wait for once the capture side is gone.
    const limit = this.#fed.length === 0 ? Math.min(this.#env.idleTimeoutMs, this.#env.gapTimeoutMs) : this.#env.idleTimeoutMs;
    if (idleFor >= limit && !(await this.#env.ingestAlive(this.runId))) {
      // The capture side went away without ending the run (its heartbeat stopped): publish what
      // arrived. A quiet but live capture keeps its heartbeat fresh and is never cut short.
      this.#count('run_idle_timeout');
      this.#env.log({ event: 'run-idle-timeout', run: this.runId });
      return true;
    }
    return false;
  }

  async #finish(worker: WorkerHandle): Promise<RunStatus> {
    if (this.#fed.length === 0) return this.#discard();
    if (!(await worker.send(encodeFrame(FrameType.Finish, new Uint8Array(0))))) {
      await this.#crashed(worker);
      return 'pending';
    }
    const code = await worker.exited;
    if (code !== 0 || !worker.done) {
      await this.#crashed(worker);
      return 'pending';
    }
    this.#worker = null;
    let manifest;
    try {
      manifest = await publishRun({
      runId: this.runId,
      dataset: this.#env.dataset,
      archiveDir: this.#env.archiveDir,
      stagingDir: this.#stagingDir,
      done: worker.done,
      counts: { ...this.#counts, ...worker.done.counts },
      policy: this.#env.policy,
      processorVersion: this.#env.processorVersion,
      ...(this.#env.manifestSigner ? { signer: this.#env.manifestSigner } : {}),
      });
    } catch (e) {
      const code = e instanceof AppError ? e.code : ErrorCode.ArchiveWriteFailed;
      this.#env.log({ event: 'publish-failed', run: this.runId, code });
      if (await journalExists(this.#stagingDir)) {
        // Some files may already be in the archive: only rolling the journal forward is safe.
        this.#journaled = true;
        this.#retryAt = this.#env.now() + 5_000;
        return 'pending';
      }
      return this.#abandon();
    }
    return this.#published(manifest);
  }

  /** Nothing of this run was readable (e.g. all sealed to a key lost in a restart). */
  async #discard(): Promise<RunStatus> {
    await this.stop();
    await rm(this.#stagingDir, { recursive: true, force: true });
    await removeRunEndMarker(this.#env.spoolDir, this.runId);
    this.#env.log({ event: 'run-discarded', run: this.runId, counts: this.#counts });
    return 'discarded';
  }

  async #retryJournal(): Promise<RunStatus> {
    try {
      const manifest = await completeJournal(this.#stagingDir, this.#env.archiveDir);
      this.#journaled = false;
      return this.#published(manifest);
    } catch (e) {
      this.#env.log({ event: 'publish-failed', run: this.runId, code: e instanceof AppError ? e.code : ErrorCode.ArchiveWriteFailed });
      this.#retryAt = this.#env.now() + 30_000;
      return 'pending';
    }
  }

  async #published(manifest: RunManifest): Promise<RunStatus> {
    for (const f of this.#fed) await unlink(join(this.#env.spoolDir, 'segments', f.name)).catch(() => undefined);
    await removeRunEndMarker(this.#env.spoolDir, this.runId);
    this.#env.log({ event: 'run-published', run: this.runId, flows: manifest.flows, files: manifest.files.length, counts: manifest.counts });
    return 'published';
  }

  /**
   * Records what a worker death tells us, so the next attempt gets past it: a reported poison
   * record is skipped; an unexplained death marks the first unfinished segment suspect (fed
   * record by record next time); a second death there pins the record after the last ack.
   * A run-level failure (e.g. the archive disk is full) is transient: back off, do not blame
   * a record, and do not count it toward giving up.
   */
  async #crashed(worker: WorkerHandle): Promise<void> {
    await worker.kill();
    this.#worker = null;
    if (this.#env.isStopping()) return;
    if (worker.failedCode === ErrorCode.ArchiveWriteFailed) {
      this.#transientFailures++;
      this.#count('transient_failures');
      this.#retryAt = this.#env.now() + Math.min(60_000, 500 * 2 ** Math.min(7, this.#transientFailures));
      this.#env.log({ event: 'worker-failed', run: this.runId, code: worker.failedCode });
      return;
    }
    this.#restarts++;
    this.#count('worker_restarts');
    this.#env.log({ event: 'worker-restart', run: this.runId, restarts: this.#restarts });
    const addPoison = (seq: number, index: number) => {
      const set = this.#poison.get(seq) ?? new Set<number>();
      set.add(index);
      this.#poison.set(seq, set);
      this.#count('poison_records');
    };
    const unfinished = this.#sent.find((f) => !worker.segmentsDone.includes(f.seq))?.seq;
    if (worker.poison) addPoison(worker.poison.seq, worker.poison.index);
    else if (unfinished !== undefined && this.#suspect.has(unfinished)) {
      addPoison(unfinished, worker.lastAck && worker.lastAck.seq === unfinished ? worker.lastAck.index + 1 : 0);
    } else if (unfinished !== undefined) this.#suspect.add(unfinished);
  }

  /** Gives the run up: its segments go to quarantine. Also used after an unexpected error. */
  async abandon(): Promise<RunStatus> {
    return this.#abandon();
  }

  async #abandon(): Promise<RunStatus> {
    await this.#worker?.kill();
    this.#worker = null;
    for (const f of this.#fed) await quarantineSegment(this.#env.spoolDir, f.name, ErrorCode.ProcessorWorkerFailed).catch(() => undefined);
    await rm(this.#stagingDir, { recursive: true, force: true });
    this.#env.log({ event: 'run-abandoned', run: this.runId, code: ErrorCode.ProcessorWorkerFailed });
    return 'abandoned';
  }

  /** Stops the current worker (processor shutdown). Nothing is published. */
  async stop(): Promise<void> {
    await this.#worker?.kill();
    this.#worker = null;
  }
}
