/**
 * One spool run (one ingest invocation) as the supervisor drives it, across scans of the spool
 * and across worker restarts.
 *
 * Owns: the run's progress (segments consumed, next expected sequence number), the worker of the
 * current attempt, the adopted worker checkpoint, and the decision that the run is complete (final segment, or the run-end
 * marker after a rejected final segment, or an idle timeout). What a worker death teaches —
 * poison records to skip, segments to feed carefully, records to try alone, hostile segments to
 * quarantine, when to try again — is run-recovery.ts's and crash-ledger.ts's. Every attempt
 * starts from the last adopted checkpoint (else the run's first segment) into a fresh staging
 * directory, so a crash loses only records shown to be poison and duplicates nothing. A run is never given up as a whole:
 * however often its worker dies — killed from outside, out of memory, hung, crashed — it is
 * retried and published with everything not shown to be poison; an unexpected error or a
 * failed publication is retried later too. `advance()` feeds whatever is available and
 * returns; runs never block each other.
 *
 * Rolling publication: every `publishEveryMs` of wall-clock time (and only between segments)
 * the worker is told to CUT; the part it closed is published at once (sinks/publish.ts).
 *
 * Checkpoints: at each CUT the worker also seals its whole state after the cut (open flows,
 * fragment map, template store with held sets, counts) to a per-run key that lives only in
 * this process and the worker (worker/worker-checkpoint.ts). Once the part is committed (or
 * was empty) the supervisor adopts that checkpoint and deletes every segment up to the cut
 * from the run and the spool: a live run keeps only what came after its last part, and the
 * spool quota (ingest/spool/spool-quota.ts) sees that room freed. Every later attempt restores
 * the checkpoint and is fed only later segments — nothing is replayed, nothing published
 * twice, the flows open at the cut continue whole. A checkpoint that cannot be read back
 * (ERR_PROCESSOR_CHECKPOINT_INVALID: damaged, missing) is dropped: the run continues after it
 * with an empty state, and what it held is counted (checkpoints_lost, flows_lost_checkpoint,
 * export_sets_lost_checkpoint) with the counts it carried kept. A processor restart loses the
 * key, so checkpoints are crypto-shredded with the unprocessed spool.
 *
 * Without a checkpoint (none written: the worker's write failed), a replay starts from the
 * run's first segment and drops the rows emitted while processing segments up to the last
 * committed one (exact only if it re-reads them as the first pass did: see "Replay gaps"
 * below); those segments then stay in the spool until the run is finished. A run
 * resumed by a restarted processor (`resume`, read from the archive) continues with the next
 * part number and never feeds segments its committed parts cover; flows that were open when
 * the old processor died are crypto-shredded with its key. A run that read no record at all
 * publishes nothing.
 *
 * Replay gaps: dropping rows of segments ≤ throughSegment is exact only if the replay re-reads
 * those segments exactly as the worker that committed them did — the spool is untrusted, and
 * a committed segment may since have been damaged, deleted or replaced by another authentic
 * segment of the slot (the capture side seals), or become unreadable to the crash ledger
 * (quarantined, a record newly convicted). Its flow table would then differ from the first
 * pass's: a flow that ended during a committed segment would end later and be published
 * again, and another would be lost silently. So every fed segment is remembered with the
 * SHA-256 of its file and the records skipped in it; a replay feeds a committed segment only
 * if both match (feed-segment.ts checks the digest), and on any mismatch the run falls back
 * to what a restarted processor does: the worker is stopped, the committed segments are
 * dropped from the run and the spool, and a fresh worker starts after throughSegment with an
 * empty flow table. What that loses is exactly what the committing worker still held at its
 * cut (it reports it with the part): counted as flows_lost_replay_gap and
 * export_sets_lost_replay_gap (replay_gaps: how often), logged as `replay-gap` with counts
 * only, and carried by the next manifest (a final part is published for it if need be).
 * Suppressing by flow identity instead was not chosen: with a different flow table, flows are
 * split and merged differently (a missing packet ends a flow early, a flow absorbs another's
 * packets), so no identity matches them up soundly, and the supervisor would have to hold the
 * identities of every committed flow.
 * Counts (manifest): checkpoints, segments_released_checkpoint, checkpoints_lost,
 * flows_lost_checkpoint, export_sets_lost_checkpoint, worker_restarts and worker_restarts_<cause>, poison_records[_<cause>],
 * isolation_probes[_<outcome>], crash_suspects_cleared, segments_quarantined[_poisoned],
 * transient_failures, run_errors, publish_retries, parts_published, segments_already_committed,
 * replay_gaps, flows_lost_replay_gap, export_sets_lost_replay_gap, and from ingest's spool
 * quota (ingest/spool/spool-quota.ts) spool_quota_pauses, spool_quota_paused_ms,
 * spool_quota_dropped_segments, and from the collector's report (ingest/netflow)
 * collector_datagrams, collector_queue_drops, collector_kernel_drops,
 * collector_unread_at_close_bytes (collector_report_not_final: a part published while the
 * socket was still open). Each part's manifest carries the run's totals through that
 * part. Segments the quota dropped are skipped at once (no gap timeout).
 * Never: holds plaintext beyond one segment, or logs anything but counts, positions and codes.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { runCollectorName, RunQuota, runProgressName, runQuotaName } from '../../schemas/spool.ts';
import { join } from 'node:path';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { Policy } from '../../schemas/policy.ts';
import type { ProcessorKeys } from '../spool/keys.ts';
import { readRunCollector, readRunEndMarker, removeRunEndMarker, type SegmentEntry } from '../spool/spool-files.ts';
import { encodeFrame, encodeJsonFrame, FrameType, type CutRequest, type WorkerConfig } from '../worker/protocol.ts';
import { checkpointThrough } from '../worker/worker-checkpoint.ts';
import { completeJournal, journalExists, partStagingDir, publishPart } from '../sinks/publish.ts';
import { NOTHING_COMMITTED, type CommittedRun } from '../sinks/committed-parts.ts';
import { feedSegment, type SegmentRef } from './feed-segment.ts';
import type { ManifestSigner } from '../sinks/manifest-signer.ts';
import { RunRecovery } from './run-recovery.ts';
import { WorkerHandle, type WorkerDone, type WorkerPart } from './worker-handle.ts';

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
  /** Publish a part of a live run this often (wall clock, ms); 0: only when the run ends. */
  publishEveryMs?: number;
}

export interface RunEnvironment extends ProcessorSettings {
  keys: ProcessorKeys;
  isPublished: (runId: string) => boolean;
  log: (event: Record<string, unknown>) => void;
  workerEnv: Record<string, string>;
  /** Worker stall timeout (see WorkerHandle). */
  stallMs: number;
  /** First restart delay after a death that taught nothing new; doubles per such death in a row. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  gapTimeoutMs: number;
  idleTimeoutMs: number;
  /** Whether the capture side of a run is still alive (its heartbeat file is fresh). */
  ingestAlive: (runId: string) => Promise<boolean>;
  /** Set once the processor is shutting down: no new work, nothing published. */
  isStopping: () => boolean;
  now: () => number;
}

/** 'discarded': nothing of the run could be read (all shredded or rejected); nothing published. */
export type RunStatus = 'pending' | 'published' | 'discarded';

export class Run {
  readonly runId: string;
  readonly #env: RunEnvironment;
  /** Every segment consumed so far, in order, across attempts. */
  #fed: SegmentRef[] = [];
  #nextSeq = 0;
  readonly #recovery: RunRecovery;
  #runErrors = 0;
  #attempts = 0;
  #counts: Record<string, number> = {};
  #worker: WorkerHandle | null = null;
  /** Segments sent to the current worker, in order, and whether each went carefully. */
  #sent: Array<{ seq: number; careful: boolean }> = [];
  #cursor = 0;
  #finishing = false;
  /** The run's final segment has been seen (it stays seen if later quarantined). */
  #sawFinal = false;
  #gapSince: number | null = null;
  #lastProgress: number;
  #retryAt = 0;
  /** A publication whose journal is written but whose renames failed: retried, never redone. */
  #journaled: { part: number; final: boolean; through: number | null; report: WorkerDone | WorkerPart } | null = null;
  /** How each segment of `#fed` was last fed: its file's SHA-256 and the records skipped in it. */
  #fedAs = new Map<number, { digest: string; skip: string }>();
  /** What the worker that committed the last part through a segment still held at its cut. */
  #openAtCommit = { flows: 0, exportSets: 0 };
  /** That worker's counts at its cut (it was fed every segment since the run's start, or since the last replay gap). */
  #committedWorkerCounts: Record<string, number> = {};
  /** Worker counts of segments no longer fed after replay gaps (added to the manifest counts). */
  #workerBase: Record<string, number> = {};
  /** A committed segment left the run (quarantined, unreadable): the next attempt cannot replay exactly. */
  #gapPending = false;
  /** A replay gap whose counts no manifest carries yet. */
  #gapUnpublished = false;
  /** The first part not yet committed. */
  #nextPart: number;
  /** Rows of segments up to this seq are in committed parts. */
  #committedThrough: number | null;
  /** What an earlier processor committed of this run (its counts are added to ours). */
  readonly #base: Record<string, number>;
  #lastCutAt: number;
  /** Segments fed to the current worker since its last CUT (or its start). */
  #fedSinceCut = false;
  /** A segment of this run was fed (it had something readable), in this processor. */
  #readAny = false;
  /** Seals this run's worker checkpoints; in memory only (a processor restart shreds them). */
  readonly #checkpointKey = randomBytes(32);
  /**
   * The adopted checkpoint: the worker state after segment `through` (every segment up to it is
   * gone from the run and the spool), what it holds (`open`) and the worker counts it carries.
   */
  #checkpoint: { through: number; digest: string; open: { flows: number; exportSets: number }; counts: Record<string, number> } | null = null;
  /** Workers that died restoring the adopted checkpoint, in a row (two: it is dropped). */
  #restoreDeaths = 0;

  constructor(runId: string, env: RunEnvironment, resume: CommittedRun = NOTHING_COMMITTED) {
    this.runId = runId;
    this.#env = env;
    this.#nextPart = resume.nextPart;
    this.#committedThrough = resume.throughSegment;
    this.#base = resume.counts;
    if (resume.throughSegment !== null) this.#nextSeq = resume.throughSegment + 1;
    this.#lastCutAt = env.now();
    this.#lastProgress = env.now();
    this.#recovery = new RunRecovery({
      runId,
      env,
      count: this.#count,
      config: () => this.#config(),
      fed: () => this.#fed,
      dropFed: (seq) => {
        this.#fed = this.#fed.filter((f) => f.seq !== seq);
        if (this.#committedThrough !== null && seq <= this.#committedThrough) this.#gapPending = true;
      },
    });
  }

  #count = (key: string, n = 1): void => {
    this.#counts[key] = (this.#counts[key] ?? 0) + n;
  };

  get #stagingDir(): string {
    return join(this.#env.archiveDir, '.staging', this.runId);
  }

  #config(): WorkerConfig {
    return {
      runId: this.runId,
      dataset: this.#env.dataset,
      stagingDir: this.#stagingDir,
      firstPart: this.#nextPart,
      committedThroughSegment: this.#committedThrough,
      policy: this.#env.policy,
      masterKeyHex: Buffer.from(this.#env.masterKey).toString('hex'),
      processorVersion: this.#env.processorVersion,
      checkpointKeyHex: this.#checkpointKey.toString('hex'),
      restoreThrough: this.#checkpoint?.through ?? null,
      ...(this.#checkpoint ? { restoreDigest: this.#checkpoint.digest } : {}),
    };
  }

  /**
   * Removes what earlier attempts staged for parts not committed (and any pre-part staging
   * dir), and every checkpoint file but the adopted one.
   */
  async #clearStaging(): Promise<void> {
    await rm(this.#stagingDir, { recursive: true, force: true });
    const root = join(this.#env.archiveDir, '.staging');
    const prefix = `${this.runId}.p`;
    for (const name of await readdir(root).catch(() => [] as string[])) {
      const n = name.startsWith(prefix) ? Number(name.slice(prefix.length)) : NaN;
      if (Number.isInteger(n) && n >= this.#nextPart) await rm(join(root, name), { recursive: true, force: true });
    }
    await this.#removeCheckpoints(this.#checkpoint?.through ?? null);
  }

  /** Removes this run's checkpoint files (and their temporaries), but the one after `keep`. */
  async #removeCheckpoints(keep: number | null): Promise<void> {
    const root = join(this.#env.archiveDir, '.staging');
    for (const name of await readdir(root).catch(() => [] as string[])) {
      const through = checkpointThrough(this.runId, name.endsWith('.tmp') ? name.slice(0, -4) : name);
      if (through === null || (through === keep && !name.endsWith('.tmp'))) continue;
      await rm(join(root, name), { force: true });
    }
  }

  async #startWorker(): Promise<WorkerHandle | null> {
    await this.#clearStaging();
    this.#fedSinceCut = false;
    const worker = new WorkerHandle({ env: this.#env.workerEnv, stallMs: this.#env.stallMs });
    this.#env.log({ event: 'worker-started', run: this.runId, attempt: ++this.#attempts, pid: worker.pid, ...(this.#checkpoint ? { from_checkpoint: this.#checkpoint.through } : {}) });
    this.#sent = [];
    this.#cursor = 0;
    this.#finishing = false;
    if (!(await worker.send(encodeJsonFrame(FrameType.Config, this.#config())))) {
      await this.#crashed(worker);
      return null;
    }
    if (this.#checkpoint) {
      if (await worker.waitReady()) this.#restoreDeaths = 0;
      else if (worker.failedCode === ErrorCode.ProcessorCheckpointInvalid || ++this.#restoreDeaths >= 2) {
        // The checkpoint could not be read back, or kills (OOM, hang, crash) every worker that
        // restores it: continue without it (what it held is counted lost).
        this.#count(worker.failedCode === ErrorCode.ProcessorCheckpointInvalid ? 'checkpoints_invalid' : 'checkpoints_fatal');
        await this.#checkpointLost(worker);
        return null;
      } else {
        await this.#crashed(worker);
        return null;
      }
    }
    return worker;
  }

  /**
   * Feeds every segment available now (`available`: this run's segments in the spool, by seq).
   * Publishes when the run is complete. Returns the run's status after this step.
   */
  async advance(available: readonly SegmentEntry[]): Promise<RunStatus> {
    await this.#dropCommittedBeforeResume(available);
    for (;;) {
      if (this.#env.isStopping()) return 'pending';
      if (this.#env.now() < this.#retryAt) return 'pending';
      if (this.#journaled) {
        const status = await this.#retryJournal();
        if (status !== 'pending' || this.#journaled) return status;
        continue;
      }
      if (this.#worker && !this.#worker.alive) {
        // Died while idle (killed from outside between segments): learn, and replay now.
        await this.#crashed(this.#worker);
        continue;
      }
      if (this.#gapPending) {
        await this.#replayGap();
        continue;
      }
      if (!this.#worker) {
        // Records to try alone first (crash-ledger.ts says which).
        const retryAt = await this.#recovery.isolateNext();
        if (retryAt !== null) {
          this.#retryAt = retryAt;
          continue;
        }
      }
      if (!this.#worker) {
        if (this.#fed.length === 0 && this.#checkpoint === null && !available.some((s) => s.seq >= this.#nextSeq)) {
          if (!(await this.#completeWithoutFinal(available))) return 'pending';
          if (!this.#gapUnpublished) return this.#discard();
          // Nothing left to feed after a replay gap: a final part carries its counts.
          const worker = await this.#startWorker();
          if (!worker) continue;
          this.#worker = worker;
          return this.#finish(worker);
        }
        this.#worker = await this.#startWorker();
        if (!this.#worker) continue;
      }
      const worker = this.#worker;
      const replaying = this.#cursor < this.#fed.length;
      if (!replaying && this.#sawFinal) return this.#finish(worker);
      const next: SegmentRef | undefined = replaying ? this.#fed[this.#cursor] : available.find((s) => s.seq === this.#nextSeq);
      if (!next) {
        const complete = await this.#completeWithoutFinal(available);
        if (complete) return this.#finish(worker);
        if (this.#cutDue() && !(await this.#cut(worker))) continue;
        // Nothing readable yet (e.g. only segments shredded after a restart): hold no worker.
        if (this.#fed.length === 0 && this.#checkpoint === null) await this.stop();
        return 'pending';
      }
      this.#gapSince = null;
      const poison = this.#recovery.ledger.poisonOf(next.seq);
      const skip = [...poison].sort((a, b) => a - b).join(',');
      const committed = replaying && this.#committedThrough !== null && next.seq <= this.#committedThrough;
      const fedAs = this.#fedAs.get(next.seq);
      if (committed && (!fedAs || fedAs.skip !== skip)) {
        // A record newly convicted in a committed segment: the replay would differ.
        await this.#replayGap();
        continue;
      }
      const careful = this.#recovery.ledger.isCareful(next.seq);
      // Listed before it is fed: a death while feeding it is located at it.
      this.#sent.push({ seq: next.seq, careful });
      const result = await feedSegment(
        {
          spoolDir: this.#env.spoolDir,
          keys: this.#env.keys,
          runId: this.runId,
          isPublished: this.#env.isPublished,
          poison,
          careful,
          onFinal: () => void (this.#sawFinal = true),
          ...(committed ? { expectDigest: fedAs!.digest } : {}),
          onDigest: (digest) => void this.#fedAs.set(next.seq, { digest, skip }),
          count: this.#count,
          log: this.#env.log,
        },
        worker,
        next,
      );
      if (!replaying) this.#nextSeq = next.seq + 1;
      this.#lastProgress = this.#env.now();
      if (result === 'rejected') {
        this.#sent.pop();
        // On replay only if the file changed under us: it is no longer part of the run.
        if (replaying) this.#fed = this.#fed.filter((f) => f.seq !== next.seq);
        this.#fedAs.delete(next.seq);
        if (committed) await this.#replayGap();
        continue;
      }
      if (!replaying) {
        this.#readAny = true;
        this.#fed.push(next);
        await this.#writeProgress(next.seq);
      }
      this.#cursor++;
      if (result === 'crashed') {
        await this.#crashed(worker);
        continue;
      }
      this.#fedSinceCut = true;
      if (this.#sawFinal && this.#cursor >= this.#fed.length) return this.#finish(worker);
      if (this.#env.isStopping()) return 'pending';
      if (!replaying && this.#cutDue() && !(await this.#cut(worker))) continue;
    }
  }

  /**
   * Segments a resumed run's committed parts cover (left in the spool by a processor that died
   * before the run finished): never fed again, removed.
   */
  async #dropCommittedBeforeResume(available: readonly SegmentEntry[]): Promise<void> {
    const through = this.#committedThrough;
    if (through === null || this.#fed.length > 0) return;
    for (const s of available) {
      if (s.seq > through) continue;
      // Counted once removed (after a replay gap the listing may name files already gone).
      if (await unlink(join(this.#env.spoolDir, 'segments', s.name)).then(() => true, () => false)) this.#count('segments_already_committed');
    }
  }

  /**
   * The replay cannot re-read the committed segments as the committing worker did (see the
   * file comment): stop the worker, drop the committed segments from the run and the spool,
   * count what the committing worker still held at its cut as lost, and let the next attempt
   * start after throughSegment with an empty flow table.
   */
  async #replayGap(): Promise<void> {
    this.#gapPending = false;
    const through = this.#committedThrough;
    if (through === null) return;
    const worker = this.#worker;
    this.#worker = null;
    await worker?.kill();
    // A checkpoint before the committed segments would be followed by a hole: drop it too (its
    // state is part of what the committing worker held, counted below).
    if (this.#checkpoint) {
      this.#checkpoint = null;
      await this.#removeCheckpoints(null);
    }
    const dropped = this.#fed.filter((f) => f.seq <= through);
    this.#fed = this.#fed.filter((f) => f.seq > through);
    for (const f of dropped) {
      this.#recovery.ledger.dropSegment(f.seq);
      this.#fedAs.delete(f.seq);
      await unlink(join(this.#env.spoolDir, 'segments', f.name)).catch(() => undefined);
    }
    const lost = this.#openAtCommit;
    this.#count('replay_gaps');
    this.#count('flows_lost_replay_gap', lost.flows);
    this.#count('export_sets_lost_replay_gap', lost.exportSets);
    // The next worker never sees those segments: their worker counts are kept here.
    for (const [k, v] of Object.entries(this.#committedWorkerCounts)) this.#workerBase[k] = (this.#workerBase[k] ?? 0) + v;
    this.#committedWorkerCounts = {};
    this.#openAtCommit = { flows: 0, exportSets: 0 };
    this.#gapUnpublished = true;
    this.#env.log({ event: 'replay-gap', run: this.runId, through, segments_dropped: dropped.length, flows_lost: lost.flows, export_sets_lost: lost.exportSets });
  }

  /** Whether a part is due: the interval has passed and the current worker was fed something new since its last part. */
  #cutDue(): boolean {
    const every = this.#env.publishEveryMs ?? 0;
    return every > 0 && this.#fedSinceCut && this.#cursor >= this.#fed.length && this.#env.now() - this.#lastCutAt >= every;
  }

  /**
   * Closes the worker's current part (CUT) and publishes it. False when the worker died or the
   * publication failed (the worker is then stopped: the next attempt replays).
   */
  async #cut(worker: WorkerHandle): Promise<boolean> {
    const through = this.#fed.at(-1)?.seq ?? null;
    if (!(await worker.send(encodeJsonFrame(FrameType.Cut, { through } satisfies CutRequest)))) {
      await this.#crashed(worker);
      return false;
    }
    const part = await worker.waitPart();
    if (!part) {
      await this.#crashed(worker);
      return false;
    }
    this.#lastCutAt = this.#env.now();
    this.#fedSinceCut = false;
    if (part.files.length > 0 && !(await this.#publish(part, false, through))) {
      await this.stop();
      return false;
    }
    // Everything emitted up to the cut is committed (or nothing was): the state after it may
    // replace the segments it came from.
    if (part.checkpoint !== null && through !== null) await this.#adoptCheckpoint(through, part.checkpoint, part);
    return true;
  }

  /**
   * Makes the worker state after segment `through` the run's starting point: a later attempt
   * restores it and is fed only later segments, so every segment up to `through` leaves the run
   * and the spool now (a live run no longer keeps its whole history until it ends). The counts
   * of the worker that wrote it travel inside it (record-processor.ts).
   */
  async #adoptCheckpoint(through: number, digest: string, part: WorkerPart): Promise<void> {
    // Bound to the file as its writer reported it: a later worker (which holds the key too)
    // cannot replace it.
    this.#checkpoint = { through, digest, open: { ...part.open }, counts: { ...part.counts } };
    this.#restoreDeaths = 0;
    const covered = this.#fed.filter((f) => f.seq <= through);
    this.#fed = this.#fed.filter((f) => f.seq > through);
    this.#cursor = this.#fed.length;
    this.#sent = this.#sent.filter((f) => f.seq > through);
    for (const f of covered) {
      this.#recovery.ledger.dropSegment(f.seq);
      this.#fedAs.delete(f.seq);
      await unlink(join(this.#env.spoolDir, 'segments', f.name)).catch(() => undefined);
    }
    this.#count('checkpoints');
    this.#count('segments_released_checkpoint', covered.length);
    await this.#removeCheckpoints(through);
  }

  /**
   * The adopted checkpoint cannot be restored (damaged, unreadable): the run continues after it
   * with an empty state, and what it held is counted as lost, with the counts it carried.
   */
  async #checkpointLost(worker: WorkerHandle): Promise<void> {
    const lost = this.#checkpoint;
    this.#worker = null;
    await worker.kill();
    if (!lost) return;
    this.#checkpoint = null;
    await this.#removeCheckpoints(null);
    this.#count('checkpoints_lost');
    if (this.#committedThrough !== null && this.#committedThrough > lost.through) {
      // Parts were committed after it (without a checkpoint of their own): the segments they
      // cover cannot be replayed without the state before them — a replay gap, which counts
      // what the committing worker held (this checkpoint's state is part of it).
      this.#gapPending = true;
      return;
    }
    this.#count('flows_lost_checkpoint', lost.open.flows);
    this.#count('export_sets_lost_checkpoint', lost.open.exportSets);
    for (const [k, v] of Object.entries(lost.counts)) this.#workerBase[k] = (this.#workerBase[k] ?? 0) + v;
    // A worker that continued from it and committed later parts carried these counts: only
    // what this checkpoint alone carries is added (the committed worker's counts restart).
    this.#committedWorkerCounts = {};
    this.#gapUnpublished = true;
    this.#env.log({ event: 'checkpoint-lost', run: this.runId, through: lost.through, flows_lost: lost.open.flows, export_sets_lost: lost.open.exportSets });
  }

  /** No next segment: decide whether the run is nonetheless complete (or skip a gap). */
  async #completeWithoutFinal(available: readonly SegmentEntry[]): Promise<boolean> {
    const later = available.filter((s) => s.seq > this.#nextSeq).map((s) => s.seq);
    const now = this.#env.now();
    if (later.length) {
      // Dropped by ingest's spool quota (drop-oldest): nothing to wait for.
      const dropped = new Set((await this.#readQuota())?.dropped ?? []);
      if (dropped.has(this.#nextSeq)) {
        while (dropped.has(this.#nextSeq) && this.#nextSeq < Math.min(...later)) this.#nextSeq++;
        this.#gapSince = null;
        return false;
      }
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
    const limit = !this.#readAny ? Math.min(this.#env.idleTimeoutMs, this.#env.gapTimeoutMs) : this.#env.idleTimeoutMs;
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
    if (this.#fed.length === 0 && this.#checkpoint === null && !this.#gapUnpublished) return this.#discard();
    this.#finishing = true;
    if (!(await worker.send(encodeFrame(FrameType.Finish, new Uint8Array(0))))) {
      await this.#crashed(worker);
      return 'pending';
    }
    const code = await worker.waitExit();
    if (code !== 0 || !worker.done) {
      await this.#crashed(worker);
      return 'pending';
    }
    this.#worker = null;
    const done = worker.done;
    const records = (this.#base.records ?? 0) + (this.#workerBase.records ?? 0) + (done.counts.records ?? 0);
    if (this.#nextPart === 1 && records === 0 && !this.#gapUnpublished) return this.#empty();
    if (!(await this.#publish(done, true, null))) return 'pending';
    return this.#published();
  }

  /** The manifest counts: an earlier processor's totals plus ours, and ingest's spool quota report (its own totals). */
  async #manifestCounts(worker: Record<string, number>): Promise<Record<string, number>> {
    const out: Record<string, number> = { ...this.#base };
    for (const part of [this.#counts, this.#recovery.ledger.counts(), this.#workerBase, worker]) {
      for (const [k, v] of Object.entries(part)) out[k] = (out[k] ?? 0) + v;
    }
    const quota = await this.#readQuota();
    if (quota) {
      out.spool_quota_pauses = quota.pauses;
      out.spool_quota_paused_ms = quota.pausedMs;
      out.spool_quota_dropped_segments = quota.droppedSegments;
      out[`spool_quota_policy_${quota.policy.replace('-', '_')}`] = 1;
    }
    // The collector's own report (ingest netflow --listen): what its socket received and lost.
    const collector = await readRunCollector(this.#env.spoolDir, this.runId);
    if (collector) {
      out.collector_datagrams = collector.datagrams;
      out.collector_queue_drops = collector.queueDrops;
      if (collector.kernelDrops !== null) out.collector_kernel_drops = collector.kernelDrops;
      if (collector.unreadAtCloseBytes !== null) out.collector_unread_at_close_bytes = collector.unreadAtCloseBytes;
      if (!collector.final) out.collector_report_not_final = 1;
    }
    return out;
  }

  /** Ingest's spool quota report for this run (schemas/spool.ts `RunQuota`), or null. */
  async #readQuota(): Promise<RunQuota | null> {
    const text = await readFile(join(this.#env.spoolDir, 'segments', runQuotaName(this.runId)), 'utf8').catch(() => null);
    if (text === null) return null;
    try {
      return RunQuota.parse(JSON.parse(text));
    } catch {
      return null;
    }
  }

  /** Tells ingest's spool quota which segments are taken (schemas/spool.ts `RunProgress`). */
  async #writeProgress(through: number): Promise<void> {
    const path = join(this.#env.spoolDir, 'segments', runProgressName(this.runId));
    await writeFile(`${path}.tmp`, JSON.stringify({ through }));
    await rename(`${path}.tmp`, path);
  }

  /** Removes the run's progress and quota files, and its checkpoints, once it is finished. */
  async #removeRunFiles(): Promise<void> {
    for (const name of [runProgressName(this.runId), runQuotaName(this.runId), runCollectorName(this.runId)]) await unlink(join(this.#env.spoolDir, 'segments', name)).catch(() => undefined);
    this.#checkpoint = null;
    await this.#removeCheckpoints(null);
  }

  /**
   * Publishes part `report.part` (final: the run's last). True once it is committed. On failure
   * it is retried later: the journal rolled forward if one was written (files may already be in
   * the archive), else the whole attempt again.
   */
  async #publish(report: WorkerDone | WorkerPart, final: boolean, through: number | null): Promise<boolean> {
    if (report.part !== this.#nextPart) throw new TypeError(`worker staged part ${report.part}, expected ${this.#nextPart}`);
    const stagingDir = partStagingDir(this.#env.archiveDir, this.runId, report.part);
    this.#count('parts_published');
    try {
      await publishPart({
        runId: this.runId,
        part: { number: report.part, final, throughSegment: through },
        dataset: this.#env.dataset,
        archiveDir: this.#env.archiveDir,
        stagingDir,
        done: report,
        counts: await this.#manifestCounts(report.counts),
        policy: this.#env.policy,
        processorVersion: this.#env.processorVersion,
        ...(this.#env.manifestSigner ? { signer: this.#env.manifestSigner } : {}),
      });
    } catch (e) {
      this.#counts.parts_published = (this.#counts.parts_published ?? 1) - 1;
      const code = e instanceof AppError ? e.code : ErrorCode.ArchiveWriteFailed;
      this.#env.log({ event: 'publish-failed', run: this.runId, part: report.part, code });
      this.#retryAt = this.#env.now() + 5_000;
      if (await journalExists(stagingDir)) {
        // Some files may already be in the archive: only rolling the journal forward is safe.
        this.#journaled = { part: report.part, final, through, report };
        return false;
      }
      // Nothing reached the archive: do the whole attempt again later.
      this.#count('publish_retries');
      await rm(stagingDir, { recursive: true, force: true });
      return false;
    }
    this.#committed(report.part, through, report);
    this.#env.log({ event: 'part-published', run: this.runId, part: report.part, final, flows: report.flows, files: report.files.length });
    return true;
  }

  #committed(part: number, through: number | null, report: WorkerDone | WorkerPart): void {
    this.#nextPart = part + 1;
    this.#gapUnpublished = false;
    if (through !== null) {
      this.#committedThrough = through;
      if (report.type === 'part') this.#openAtCommit = { ...report.open };
      this.#committedWorkerCounts = { ...report.counts };
    }
  }

  /** Nothing of this run was readable (e.g. all sealed to a key lost in a restart). */
  async #discard(): Promise<RunStatus> {
    await this.stop();
    await rm(this.#stagingDir, { recursive: true, force: true });
    this.#checkpoint = null;
    await this.#removeCheckpoints(null);
    await removeRunEndMarker(this.#env.spoolDir, this.runId);
    this.#env.log({ event: 'run-discarded', run: this.runId, counts: this.#counts });
    return 'discarded';
  }

  /** The run read no record: nothing is published (no manifest), its segments are removed. */
  async #empty(): Promise<RunStatus> {
    for (const f of this.#fed) await unlink(join(this.#env.spoolDir, 'segments', f.name)).catch(() => undefined);
    await this.#discard();
    await this.#removeRunFiles();
    this.#env.log({ event: 'run-empty', run: this.runId });
    return 'discarded';
  }

  /** Rolls a journaled part forward; 'published' when that was the final part. */
  async #retryJournal(): Promise<RunStatus> {
    const j = this.#journaled!;
    try {
      await completeJournal(partStagingDir(this.#env.archiveDir, this.runId, j.part), this.#env.archiveDir);
      this.#journaled = null;
      this.#count('parts_published');
      this.#committed(j.part, j.through, j.report);
      return j.final ? this.#published() : 'pending';
    } catch (e) {
      this.#env.log({ event: 'publish-failed', run: this.runId, code: e instanceof AppError ? e.code : ErrorCode.ArchiveWriteFailed });
      this.#retryAt = this.#env.now() + 30_000;
      return 'pending';
    }
  }

  async #published(): Promise<RunStatus> {
    for (const f of this.#fed) await unlink(join(this.#env.spoolDir, 'segments', f.name)).catch(() => undefined);
    await removeRunEndMarker(this.#env.spoolDir, this.runId);
    await this.#removeRunFiles();
    this.#env.log({ event: 'run-published', run: this.runId, parts: this.#nextPart - 1, counts: this.#counts });
    return 'published';
  }

  /** Learns from a death of the current worker (run-recovery.ts) and schedules the next attempt. */
  async #crashed(worker: WorkerHandle): Promise<void> {
    this.#worker = null;
    const retryAt = await this.#recovery.afterDeath(worker, this.#sent, this.#finishing);
    if (retryAt !== null) this.#retryAt = retryAt;
  }

  /**
   * After an unexpected error in a step (a bug, an IO error on the spool): stop the worker and
   * try the run again later, backing off. Never quarantines the run's segments.
   */
  async recover(): Promise<RunStatus> {
    await this.stop();
    this.#runErrors++;
    this.#count('run_errors');
    this.#retryAt = this.#env.now() + Math.min(60_000, 1_000 * 2 ** Math.min(6, this.#runErrors - 1));
    return 'pending';
  }

  /** Stops the current worker and any probe (processor shutdown). Nothing is published. */
  async stop(): Promise<void> {
    const worker = this.#worker;
    this.#worker = null;
    await worker?.kill();
    await this.#recovery.stopProbe();
  }
}
