/**
 * The spool quota on the capture side (the sealed design's ring buffer): before a new segment
 * is started, the spool's sealed bytes plus one full segment must fit `maxBytes`. When they do
 * not, the policy acts — `pause`: wait (backpressure: the writer's promises do not settle, so
 * the capture is not read further) until the processor has freed room; `drop-oldest`: delete
 * this run's oldest segment the processor has not taken yet (schemas/spool.ts `RunProgress`;
 * the one it takes next is spared, it may be reading it), and pause only when there is none.
 * Every pause and drop is counted, written to the run quota file (`RunQuota`, which the
 * processor records in the manifest) and reported through `log`.
 * Owns: that decision and that file. Never: reads segment contents; touches other runs' segments.
 */
import { readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSegmentFileName, QUOTA_DROPPED_LIST_MAX, RunProgress, runProgressName, runQuotaName, type RunQuota, type SpoolFullPolicy } from '../../schemas/spool.ts';

export interface SpoolQuotaOptions {
  /** Most bytes of sealed segments (all runs, temp files included) the spool may hold. */
  maxBytes: number;
  policy: SpoolFullPolicy;
  /** Diagnostics: counts only. */
  log?: (event: Record<string, unknown>) => void;
  /** How often a pause looks again, ms (default 100). */
  pollMs?: number;
  now?: () => number;
}

export class SpoolQuota {
  readonly #dir: string;
  readonly #runId: string;
  readonly #opts: SpoolQuotaOptions;
  readonly #state: RunQuota;

  constructor(segmentsDir: string, runId: string, opts: SpoolQuotaOptions) {
    this.#dir = segmentsDir;
    this.#runId = runId;
    this.#opts = opts;
    this.#state = { policy: opts.policy, pauses: 0, pausedMs: 0, droppedSegments: 0, dropped: [] };
  }

  /** The counters so far (copy). */
  get counts(): RunQuota {
    return { ...this.#state, dropped: [...this.#state.dropped] };
  }

  /** Waits (or drops) until `segmentBytes` more fit under the quota. */
  async makeRoom(segmentBytes: number): Promise<void> {
    const now = this.#opts.now ?? Date.now;
    let pausedAt: number | null = null;
    for (;;) {
      const used = await this.#usedBytes();
      if (used + segmentBytes <= this.#opts.maxBytes) break;
      if (this.#opts.policy === 'drop-oldest' && (await this.#dropOldest())) continue;
      if (pausedAt === null) {
        pausedAt = now();
        this.#state.pauses++;
        this.#opts.log?.({ event: 'spool-full', action: 'pause', run: this.#runId, usedBytes: used, maxBytes: this.#opts.maxBytes });
        await this.#save();
      }
      await new Promise((r) => setTimeout(r, this.#opts.pollMs ?? 100));
    }
    if (pausedAt !== null) {
      this.#state.pausedMs += Math.max(0, now() - pausedAt);
      this.#opts.log?.({ event: 'spool-resumed', run: this.#runId, pausedMs: this.#state.pausedMs });
      await this.#save();
    }
  }

  async #usedBytes(): Promise<number> {
    let total = 0;
    for (const name of await readdir(this.#dir).catch(() => [] as string[])) {
      if (!name.endsWith('.seg') && !name.endsWith('.seg.tmp')) continue;
      total += await stat(join(this.#dir, name)).then((s) => s.size, () => 0);
    }
    return total;
  }

  /** Deletes this run's oldest unprocessed segment but the next one the processor takes; false if there is none. */
  async #dropOldest(): Promise<boolean> {
    const progress = await readFile(join(this.#dir, runProgressName(this.#runId)), 'utf8')
      .then((t) => RunProgress.parse(JSON.parse(t)).through, () => -1)
      .catch(() => -1);
    const mine = (await readdir(this.#dir).catch(() => [] as string[]))
      .map((n) => ({ n, p: parseSegmentFileName(n) }))
      .filter((x) => x.p?.runId === this.#runId && x.p.seq > progress + 1)
      .sort((a, b) => a.p!.seq - b.p!.seq);
    const victim = mine[0];
    if (!victim) return false;
    await unlink(join(this.#dir, victim.n)).catch(() => undefined);
    this.#state.droppedSegments++;
    if (this.#state.dropped.length < QUOTA_DROPPED_LIST_MAX) this.#state.dropped.push(victim.p!.seq);
    this.#opts.log?.({ event: 'spool-full', action: 'drop-oldest', run: this.#runId, seq: victim.p!.seq, droppedSegments: this.#state.droppedSegments });
    await this.#save();
    return true;
  }

  async #save(): Promise<void> {
    const path = join(this.#dir, runQuotaName(this.#runId));
    await writeFile(`${path}.tmp`, JSON.stringify(this.#state));
    await rename(`${path}.tmp`, path);
  }
}
