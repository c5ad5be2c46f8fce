/**
 * Progress of a running ingest (packets or flow-export datagrams): every interval, a status
 * line rewritten in place on a terminal, or one NDJSON `progress` line otherwise; a louder
 * line whenever drops grew; and the end of the status line before the final summary.
 *
 * Owns: rates (per second, over the last interval), formatting, and keeping log lines from
 * tangling with the status line. Costs nothing per record: it reads counters the ingest
 * loop keeps anyway, on a timer. Never: prints anything but counts, rates and sizes.
 */

/** Counters sampled at each tick (cumulative since the start). */
export interface ProgressCounters {
  /** Packets read (packet ingest) or datagrams received (flow export). */
  units: number;
  /** Records handed to the spool writer. */
  records: number;
  /** Input bytes (capture bytes read, or datagram payload bytes received). */
  bytes: number;
  /** Units lost before the spool (queue overflow, kernel receive-buffer drops); 0 where nothing can drop. */
  drops: number;
  /** More counters, reported as they are (e.g. `queued`, `skipped`). */
  extra?: Record<string, number>;
}

export interface ProgressOptions {
  /** Milliseconds between reports; 0 turns periodic reports off (the final summary stays). */
  intervalMs: number;
  /** True: rewrite one status line in place (stderr is a terminal). False: NDJSON lines. */
  tty: boolean;
  /** Where the lines go (stderr). */
  write: (text: string) => void;
}

/** Default interval: once a second. */
export const DEFAULT_PROGRESS_INTERVAL_MS = 1000;

const NONE: ProgressOptions = { intervalMs: 0, tty: false, write: () => undefined };

function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** Reports progress for one run; `unit` names the counted thing (`packets`, `datagrams`). */
export class ProgressReporter {
  readonly #opts: ProgressOptions;
  readonly #unit: string;
  readonly #label: string;
  readonly #sample: () => ProgressCounters;
  readonly #now: () => number;
  #timer: ReturnType<typeof setInterval> | null = null;
  #startedAt = 0;
  #last = { at: 0, units: 0, records: 0, bytes: 0, drops: 0 };
  #lineShown = false;

  constructor(label: string, unit: string, sample: () => ProgressCounters, opts: ProgressOptions | undefined, now: () => number = Date.now) {
    this.#opts = opts ?? NONE;
    this.#label = label;
    this.#unit = unit;
    this.#sample = sample;
    this.#now = now;
  }

  /** Starts the timer (unref'd: it never keeps the process alive). */
  start(): void {
    this.#startedAt = this.#now();
    this.#last = { at: this.#startedAt, units: 0, records: 0, bytes: 0, drops: 0 };
    if (this.#opts.intervalMs > 0) {
      this.#timer = setInterval(() => this.tick(), this.#opts.intervalMs);
      this.#timer.unref();
    }
  }

  /** One report now (the timer calls this; tests may too). */
  tick(): void {
    const c = this.#sample();
    const at = this.#now();
    const dt = Math.max(1, at - this.#last.at) / 1000;
    const rate = (n: number, prev: number) => Math.round((n - prev) / dt);
    const newDrops = c.drops - this.#last.drops;
    const perSec = { units: rate(c.units, this.#last.units), records: rate(c.records, this.#last.records), bytes: rate(c.bytes, this.#last.bytes) };
    this.#last = { at, units: c.units, records: c.records, bytes: c.bytes, drops: c.drops };
    const elapsedMs = at - this.#startedAt;
    if (this.#opts.tty) {
      if (newDrops > 0) this.line(`${this.#label}: WARNING: ${count(newDrops)} ${this.#unit} dropped in the last ${dt.toFixed(1)} s (${count(c.drops)} in all)`);
      const extra = Object.entries(c.extra ?? {}).map(([k, v]) => ` · ${k} ${count(v)}`).join('');
      const text =
        `${this.#label}: ${count(c.units)} ${this.#unit} (${count(perSec.units)}/s) · ${count(c.records)} records (${count(perSec.records)}/s) · ` +
        `${size(c.bytes)} · ${c.drops > 0 ? 'DROPPED' : 'drops'} ${count(c.drops)}${extra} · ${(elapsedMs / 1000).toFixed(0)} s`;
      this.#opts.write(`\r${text}\x1b[K`);
      this.#lineShown = true;
      return;
    }
    if (newDrops > 0) this.#ndjson({ event: 'drops', [this.#unit]: newDrops, total: c.drops, overMs: Math.round(dt * 1000) });
    this.#ndjson({
      event: 'progress',
      elapsedMs,
      [this.#unit]: c.units,
      [`${this.#unit}PerSec`]: perSec.units,
      records: c.records,
      recordsPerSec: perSec.records,
      bytes: c.bytes,
      bytesPerSec: perSec.bytes,
      drops: c.drops,
      ...(c.extra ?? {}),
    });
  }

  /** Writes a whole line (a log line), first ending the status line on a terminal. */
  line(text: string): void {
    this.#eraseStatusLine();
    this.#opts.write(`${text}\n`);
  }

  /** Wraps a log sink so its lines do not land in the middle of the status line. */
  wrapLog(log: (obj: object) => void): (obj: object) => void {
    return (obj) => {
      this.#eraseStatusLine();
      log(obj);
    };
  }

  /**
   * Stops the timer; on a terminal that showed a status line, redraws it one last time and
   * ends it (it stays on screen above the final summary).
   */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    if (!this.#lineShown) return;
    this.tick();
    this.#opts.write('\n');
    this.#lineShown = false;
  }

  /** Clears the status line (the next tick draws it again below whatever was written). */
  #eraseStatusLine(): void {
    if (!this.#lineShown) return;
    this.#opts.write('\r\x1b[K');
    this.#lineShown = false;
  }

  #ndjson(obj: object): void {
    this.#opts.write(`${JSON.stringify({ component: 'ingest', ...obj })}\n`);
  }
}
