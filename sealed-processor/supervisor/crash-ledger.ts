/**
 * What worker deaths have taught one run: which records are poison, which segments are fed
 * carefully, which records must be tried alone. Pure rules, no IO, no clock.
 *
 * Owns the evidence rule — a record is skipped only once it has been shown to kill the worker
 * on its own, deterministically:
 * - A `crash` (worker-death.ts) located at a record — the worker reported the exception there,
 *   or the record was the one in flight in careful mode — makes it a suspect. A second located
 *   crash at the same record, this time in careful mode (a fresh worker, nothing else in
 *   flight), makes it poison. A careful replay that gets past a suspect clears it.
 * - `killed` (outside signal, e.g. SIGKILL), `oom` and `timeout` deaths are no evidence. Located
 *   at the same record `STALLS_BEFORE_ISOLATION` times, the record is isolated: fed alone to
 *   fresh probe workers. It is poison only if it crashes a probe twice, or makes probes run out
 *   of memory or hang twice (it does so on its own); a probe that completes clears it, and a
 *   probe killed from outside proves nothing either way (the count starts over). So a kill from
 *   outside never marks a record, however many there are or how close together.
 * - To bound the work all the same: after `MAX_INCONCLUSIVE_ROUNDS` such rounds (each: the
 *   record in flight at two careful deaths, then a probe of it alone killed too) the segment
 *   cannot be processed at all. It is quarantined (ERR_PROCESSOR_SEGMENT_UNPROCESSABLE) — no
 *   record is marked — and the rest of the run goes on. Random outside kills practically never
 *   get there: they would have to strike six times while that one record was in flight.
 * - A death located only at a segment (normal mode, no report) makes the segment careful, so
 *   the next death there is located at its record. Deaths during start-up or FINISH say nothing
 *   about any record.
 * A segment with more than `MAX_POISON_PER_SEGMENT` poison records is hostile: it is
 * quarantined (ERR_PROCESSOR_SEGMENT_POISONED) and the rest of the run goes on — this, with the
 * per-record caps, bounds the attempts a hostile spool can cost.
 * Never: blames a record for a death it was not in flight at, or drops anything silently:
 * every verdict is counted (`counts()`).
 */
import { DeathCause } from './worker-death.ts';

/** Located non-evidence deaths at one record before it is tried alone. */
export const STALLS_BEFORE_ISOLATION = 2;
/** Poison records one segment may hold before it is quarantined as hostile. */
export const MAX_POISON_PER_SEGMENT = 16;
/** Isolation rounds ending in a probe killed from outside, at one record, before its segment is given up. */
export const MAX_INCONCLUSIVE_ROUNDS = 2;

/** Where a worker was when it died. */
export type DeathSite =
  | { kind: 'none' }
  | { kind: 'finish' }
  | { kind: 'segment'; seq: number }
  /** `careful`: the segment was fed record by record, so only this record was in flight. */
  | { kind: 'record'; seq: number; index: number; careful: boolean };

/** What one death or probe taught; the run acts on it. */
export type Lesson =
  | { kind: 'nothing' }
  | { kind: 'careful'; seq: number }
  | { kind: 'suspect'; seq: number; index: number }
  | { kind: 'cleared'; seq: number; index: number }
  | { kind: 'isolate'; seq: number; index: number }
  | { kind: 'poison'; seq: number; index: number; cause: DeathCause }
  /** 'poisoned': too many poison records; 'unprocessable': workers keep dying there without evidence. */
  | { kind: 'quarantine'; seq: number; reason: 'poisoned' | 'unprocessable' };

/** What a record alone in a fresh worker did. 'gone': its segment could not be read any more. */
export type ProbeOutcome = 'ok' | 'gone' | DeathCause;

interface RecordFile {
  /** Located crashes since it was last cleared. */
  crashes: number;
  /** Located non-evidence deaths since it was last cleared or probed. */
  stalls: number;
  /** Probes that ran out of memory or hung. */
  alone: number;
  /** Isolation rounds that ended with the probe killed from outside. */
  rounds: number;
}

export class CrashLedger {
  readonly #poison = new Map<number, Map<number, DeathCause>>();
  readonly #careful = new Set<number>();
  readonly #files = new Map<string, RecordFile>();
  readonly #isolate: Array<{ seq: number; index: number }> = [];
  readonly #counts: Record<string, number> = {};

  #count(key: string): void {
    this.#counts[key] = (this.#counts[key] ?? 0) + 1;
  }

  #file(seq: number, index: number): RecordFile {
    const key = `${seq}:${index}`;
    let f = this.#files.get(key);
    if (!f) this.#files.set(key, (f = { crashes: 0, stalls: 0, alone: 0, rounds: 0 }));
    return f;
  }

  /** Indexes of the known poison records of segment `seq`. */
  poisonOf(seq: number): Set<number> {
    return new Set(this.#poison.get(seq)?.keys() ?? []);
  }

  isCareful(seq: number): boolean {
    return this.#careful.has(seq);
  }

  /** The next record to try alone, if any (removed from the queue). */
  nextIsolation(): { seq: number; index: number } | null {
    return this.#isolate.shift() ?? null;
  }

  /**
   * A worker got past records of `seq` up to `index` (inclusive; Infinity: the whole segment):
   * suspicion there was not reproduced and is dropped.
   */
  passed(seq: number, index: number): Lesson[] {
    const out: Lesson[] = [];
    for (const [key, f] of this.#files) {
      const [s, i] = key.split(':').map(Number) as [number, number];
      if (s !== seq || i > index || (f.crashes === 0 && f.stalls === 0)) continue;
      if (f.crashes > 0) this.#count('crash_suspects_cleared');
      this.#files.delete(key);
      out.push({ kind: 'cleared', seq: s, index: i });
    }
    return out;
  }

  /** Learns from one worker death at `site`. */
  died(cause: DeathCause, site: DeathSite): Lesson {
    if (cause === DeathCause.Stopped || cause === DeathCause.Failed) return { kind: 'nothing' };
    if (site.kind === 'segment' || (site.kind === 'record' && !site.careful && cause !== DeathCause.Crash)) {
      if (this.#careful.has(site.seq)) return { kind: 'nothing' };
      this.#careful.add(site.seq);
      return { kind: 'careful', seq: site.seq };
    }
    if (site.kind !== 'record') return { kind: 'nothing' };
    const { seq, index } = site;
    if (this.#poison.get(seq)?.has(index)) return { kind: 'nothing' };
    this.#careful.add(seq);
    const f = this.#file(seq, index);
    if (cause === DeathCause.Crash) {
      f.crashes++;
      if (f.crashes >= 2 && site.careful) return this.#markPoison(seq, index, cause);
      return { kind: 'suspect', seq, index };
    }
    f.stalls++;
    if (f.stalls < STALLS_BEFORE_ISOLATION) return { kind: 'nothing' };
    f.stalls = 0;
    return this.#queueIsolation(seq, index);
  }

  /** Learns from a probe of record `index` of `seq` alone in a fresh worker. */
  probed(seq: number, index: number, outcome: ProbeOutcome): Lesson {
    this.#count('isolation_probes');
    this.#count(`isolation_probes_${outcome}`);
    const f = this.#file(seq, index);
    switch (outcome) {
      case DeathCause.Crash:
        f.crashes++;
        return f.crashes >= 2 ? this.#markPoison(seq, index, outcome) : this.#queueIsolation(seq, index);
      case DeathCause.Oom:
      case DeathCause.Timeout:
        f.alone++;
        return f.alone >= 2 ? this.#markPoison(seq, index, outcome) : this.#queueIsolation(seq, index);
      case 'ok':
        if (f.crashes > 0) this.#count('crash_suspects_cleared');
        this.#files.delete(`${seq}:${index}`);
        return { kind: 'cleared', seq, index };
      default:
        // Killed from outside, the archive unwritable, the processor stopping: proves nothing.
        f.stalls = 0;
        f.alone = 0;
        if (outcome === DeathCause.Killed && ++f.rounds >= MAX_INCONCLUSIVE_ROUNDS) return { kind: 'quarantine', seq, reason: 'unprocessable' };
        return { kind: 'nothing' };
    }
  }

  #queueIsolation(seq: number, index: number): Lesson {
    this.#isolate.push({ seq, index });
    return { kind: 'isolate', seq, index };
  }

  #markPoison(seq: number, index: number, cause: DeathCause): Lesson {
    const set = this.#poison.get(seq) ?? new Map<number, DeathCause>();
    set.set(index, cause);
    this.#poison.set(seq, set);
    this.#files.delete(`${seq}:${index}`);
    this.#count('poison_records');
    this.#count(`poison_records_${cause}`);
    if (set.size > MAX_POISON_PER_SEGMENT) return { kind: 'quarantine', seq, reason: 'poisoned' };
    return { kind: 'poison', seq, index, cause };
  }

  /** Forgets a quarantined segment (its records are no longer part of the run). */
  dropSegment(seq: number): void {
    this.#careful.delete(seq);
    for (const key of [...this.#files.keys()]) if (key.startsWith(`${seq}:`)) this.#files.delete(key);
    for (let i = this.#isolate.length - 1; i >= 0; i--) if (this.#isolate[i]!.seq === seq) this.#isolate.splice(i, 1);
  }

  /** Verdict counters for the manifest (poison_records[_<cause>], isolation_probes[_<outcome>], crash_suspects_cleared). */
  counts(): Record<string, number> {
    return { ...this.#counts };
  }
}
