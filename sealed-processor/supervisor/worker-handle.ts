/**
 * One worker process as the supervisor sees it: spawn, framed writes with backpressure, the
 * events it reported (ready, acks, poison record, per-segment completion, result, failure code),
 * a stall watchdog, and why it died.
 *
 * Owns: the child process, and the facts its death is classified from (worker-death.ts): exit
 * code and signal, whether the supervisor killed it and why, the tail of its stderr (forwarded
 * unchanged to the processor's stderr). The watchdog runs only while the supervisor waits on the
 * worker (a write to drain, an ack, the exit after FINISH): no sign of life for `stallMs` (or
 * `startupMs` before the worker reported ready) and the worker is killed, cause `timeout`.
 * Never: sends the spool key (the worker gets plaintext records and the anonymization config
 * only); kills anything but its own child.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { WorkerEvent } from '../worker/protocol.ts';
import { classifyDeath, DeathCause } from './worker-death.ts';

const RUN_TS = fileURLToPath(new URL('../../bin/run-ts.mjs', import.meta.url));
const WORKER_MAIN = fileURLToPath(new URL('../worker/worker-main.ts', import.meta.url));
const STDERR_TAIL_BYTES = 4096;

export type WorkerDone = Extract<WorkerEvent, { type: 'done' }>;
export type WorkerPart = Extract<WorkerEvent, { type: 'part' }>;

export interface WorkerHandleOptions {
  /** Extra environment (merged over the supervisor's). `FLOWSEAL_WORKER_NODE_ARGS` in it (or in the supervisor's environment) adds Node flags, e.g. `--cpu-prof`. */
  env: Record<string, string>;
  /** No sign of life for this long while the supervisor waits on the worker: it hangs. Default 120 s. */
  stallMs?: number;
  /** The same before the worker reported ready (start-up and config). Default 60 s. */
  startupMs?: number;
}

export interface WorkerDeath {
  cause: DeathCause;
  code: number | null;
  signal: string | null;
  lifetimeMs: number;
}

export class WorkerHandle {
  readonly child: ChildProcess;
  readonly exited: Promise<number>;
  readonly startedAt = Date.now();
  ready = false;
  lastAck: { seq: number; index: number } | null = null;
  poison: { seq: number; index: number } | null = null;
  done: WorkerDone | null = null;
  /** Error code of a worker-level failure the worker reported before exiting (e.g. disk full). */
  failedCode: string | null = null;
  /** Segments the worker has fully processed, in order. */
  readonly segmentsDone: number[] = [];
  /** The record sent on its own and not yet acknowledged (careful mode): nothing else is in flight. */
  inFlight: { seq: number; index: number } | null = null;

  readonly #stallMs: number;
  readonly #startupMs: number;
  #killedBy: 'supervisor' | 'timeout' | null = null;
  #code: number | null = null;
  #signal: string | null = null;
  #stderrTail = '';
  #lastSign = Date.now();
  #waiting = 0;
  #watchdog: NodeJS.Timeout | null = null;
  #ackWaiter: { seq: number; index: number; resolve: (ok: boolean) => void } | null = null;
  #part: WorkerPart | null = null;
  #readyWaiter: ((ok: boolean) => void) | null = null;
  #partWaiter: ((p: WorkerPart | null) => void) | null = null;

  constructor(opts: WorkerHandleOptions) {
    this.#stallMs = opts.stallMs ?? 120_000;
    this.#startupMs = opts.startupMs ?? 60_000;
    const env = { ...process.env, ...opts.env };
    const nodeArgs = (env.FLOWSEAL_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
    this.child = spawn(process.execPath, [...nodeArgs, RUN_TS, WORKER_MAIN], { stdio: ['pipe', 'pipe', 'pipe'], env });
    // 'close', not 'exit': only then are the worker's last stdout lines (poison, done) read.
    this.exited = new Promise((res) =>
      this.child.on('close', (code, sig) => {
        this.#code = code;
        this.#signal = sig;
        this.#disarm();
        this.#ackWaiter?.resolve(false);
        this.#ackWaiter = null;
        this.#partWaiter?.(null);
        this.#partWaiter = null;
        this.#readyWaiter?.(false);
        this.#readyWaiter = null;
        res(code ?? (sig ? 128 : 1));
      }),
    );
    this.child.stdin!.on('error', () => undefined);
    this.child.stderr!.on('data', (b: Buffer) => {
      process.stderr.write(b);
      this.#stderrTail = (this.#stderrTail + b.toString('latin1')).slice(-STDERR_TAIL_BYTES);
    });
    const rl = createInterface({ input: this.child.stdout! });
    rl.on('line', (line) => this.#onLine(line));
  }

  #onLine(line: string): void {
    let ev: WorkerEvent;
    try {
      ev = JSON.parse(line) as WorkerEvent;
    } catch {
      return;
    }
    this.#lastSign = Date.now();
    if (ev.type === 'ready') {
      this.ready = true;
      this.#readyWaiter?.(true);
      this.#readyWaiter = null;
      // From now on the (shorter) stall limit applies to a wait already under way.
      if (this.#waiting > 0) {
        this.#disarm();
        this.#arm(this.#stallMs);
      }
    } else if (ev.type === 'ack') {
      this.lastAck = { seq: ev.seq, index: ev.index };
      const w = this.#ackWaiter;
      if (w && ev.seq === w.seq && ev.index >= w.index) {
        this.#ackWaiter = null;
        w.resolve(true);
      }
    } else if (ev.type === 'poison') this.poison = { seq: ev.seq, index: ev.index };
    else if (ev.type === 'done') this.done = ev;
    else if (ev.type === 'part') {
      if (this.#partWaiter) {
        this.#partWaiter(ev);
        this.#partWaiter = null;
      } else this.#part = ev;
    }
    else if (ev.type === 'segment-done') this.segmentsDone.push(ev.seq);
    else if (ev.type === 'failed') this.failedCode = ev.code;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Writes a frame; resolves when the pipe can take more, or false if the worker is gone.
   * Listeners are removed as soon as either happens: a listener left on a long-lived promise
   * (e.g. `exited.then`) would keep every frame ever sent reachable through its closure.
   */
  send(frame: Uint8Array): Promise<boolean> {
    const stdin = this.child.stdin!;
    if (stdin.destroyed || !this.alive) return Promise.resolve(false);
    if (stdin.write(frame)) return Promise.resolve(true);
    return this.#watched(
      new Promise((res) => {
        const done = (ok: boolean): void => {
          stdin.off('drain', onDrain);
          stdin.off('close', onGone);
          stdin.off('error', onGone);
          res(ok);
        };
        const onDrain = (): void => {
          this.#lastSign = Date.now();
          done(true);
        };
        const onGone = (): void => done(false);
        stdin.on('drain', onDrain);
        stdin.on('close', onGone);
        stdin.on('error', onGone);
      }),
    );
  }

  /**
   * Careful mode: sends record `index` of segment `seq` as its own frame and waits until the
   * worker acknowledges it (its rows staged) before anything else is sent, so a death in
   * between is pinned to exactly this record (`inFlight`). False if the worker died first.
   */
  async sendRecord(seq: number, index: number, frame: Uint8Array): Promise<boolean> {
    this.inFlight = { seq, index };
    const acked = new Promise<boolean>((resolve) => {
      if (!this.alive) resolve(false);
      else this.#ackWaiter = { seq, index, resolve };
    });
    if (!(await this.send(frame))) return false;
    if (!(await this.#watched(acked))) return false;
    this.inFlight = null;
    return true;
  }

  /** Waits, under the watchdog, until the worker reported ready (config taken, checkpoint restored); false if it died first. */
  waitReady(): Promise<boolean> {
    if (this.ready) return Promise.resolve(true);
    if (!this.alive) return Promise.resolve(false);
    return this.#watched(new Promise((res) => (this.#readyWaiter = res)));
  }

  /** Waits, under the watchdog, for the answer to a CUT: the part the worker closed, or null if it died first. */
  waitPart(): Promise<WorkerPart | null> {
    const got = this.#part;
    if (got) {
      this.#part = null;
      return Promise.resolve(got);
    }
    if (!this.alive) return Promise.resolve(null);
    return this.#watched(new Promise((res) => (this.#partWaiter = res)));
  }

  /** Waits for the exit after FINISH, under the watchdog (flushing and writing Parquet are signs of life only at the end). */
  waitExit(): Promise<number> {
    return this.#watched(this.exited);
  }

  /** Kills the worker (if alive) and waits for it. `as`: 'timeout' when it is killed for hanging. */
  async kill(as: 'supervisor' | 'timeout' = 'supervisor'): Promise<void> {
    if (this.alive) {
      this.#killedBy ??= as;
      this.child.kill('SIGKILL');
    }
    await this.exited;
  }

  /** Why the worker died (call once `exited` resolved). */
  death(): WorkerDeath {
    return {
      cause: classifyDeath({
        code: this.#code,
        signal: this.#signal,
        killedBy: this.#killedBy,
        reportedPoison: this.poison !== null,
        failedCode: this.failedCode,
        stderrTail: this.#stderrTail,
      }),
      code: this.#code,
      signal: this.#signal,
      lifetimeMs: Date.now() - this.startedAt,
    };
  }

  /** Runs `p` under the stall watchdog. */
  async #watched<T>(p: Promise<T>): Promise<T> {
    if (this.#waiting++ === 0) {
      // A worker idle because it had no work is not stalled: the window starts now.
      this.#lastSign = Date.now();
      this.#arm(this.ready ? this.#stallMs : this.#startupMs);
    }
    try {
      return await p;
    } finally {
      if (--this.#waiting === 0) this.#disarm();
    }
  }

  #arm(ms: number): void {
    this.#watchdog = setTimeout(() => {
      this.#watchdog = null;
      if (this.#waiting === 0 || !this.alive) return;
      const limit = this.ready ? this.#stallMs : this.#startupMs;
      const quiet = Date.now() - this.#lastSign;
      if (quiet < limit) return this.#arm(limit - quiet);
      this.#killedBy ??= 'timeout';
      this.child.kill('SIGKILL');
    }, ms);
  }

  #disarm(): void {
    if (this.#watchdog) clearTimeout(this.#watchdog);
    this.#watchdog = null;
  }
}
