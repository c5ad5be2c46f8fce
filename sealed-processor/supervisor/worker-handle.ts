/**
 * One worker process as the supervisor sees it: spawn, framed writes with backpressure, and
 * the events it reported (acks, poison record, per-segment completion, result, failure code).
 *
 * Owns: the child process. Never: sends the spool key (the worker gets plaintext records and
 * the anonymization config only).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { WorkerEvent } from '../worker/protocol.ts';

const RUN_TS = fileURLToPath(new URL('../../bin/run-ts.mjs', import.meta.url));
const WORKER_MAIN = fileURLToPath(new URL('../worker/worker-main.ts', import.meta.url));

export type WorkerDone = Extract<WorkerEvent, { type: 'done' }>;

export class WorkerHandle {
  readonly child: ChildProcess;
  readonly exited: Promise<number>;
  lastAck: { seq: number; index: number } | null = null;
  poison: { seq: number; index: number } | null = null;
  done: WorkerDone | null = null;
  /** Error code of a run-level failure the worker reported before exiting (e.g. disk full). */
  failedCode: string | null = null;
  /** Segments the worker has fully processed, in order. */
  readonly segmentsDone: number[] = [];

  readonly #stallMs: number;

  /**
   * @param stallMs a write the worker does not take within this long means it hangs (a parser
   *   in an endless loop): it is killed, and the supervisor treats that as an unexplained death.
   */
  constructor(env: Record<string, string>, stallMs = 120_000) {
    this.#stallMs = stallMs;
    // FLOWSEAL_WORKER_NODE_ARGS: extra Node flags for the worker (profiling, e.g. --cpu-prof).
    const nodeArgs = (process.env.FLOWSEAL_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
    this.child = spawn(process.execPath, [...nodeArgs, RUN_TS, WORKER_MAIN], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    });
    // 'close', not 'exit': only then are the worker's last stdout lines (poison, done) read.
    this.exited = new Promise((res) => this.child.on('close', (code, sig) => res(code ?? (sig ? 128 : 1))));
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
      else if (ev.type === 'failed') this.failedCode = ev.code;
    });
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
    return new Promise((res) => {
      const stall = setTimeout(() => {
        if (this.alive) this.child.kill('SIGKILL');
      }, this.#stallMs);
      const done = (ok: boolean): void => {
        clearTimeout(stall);
        stdin.off('drain', onDrain);
        stdin.off('close', onGone);
        stdin.off('error', onGone);
        res(ok);
      };
      const onDrain = (): void => done(true);
      const onGone = (): void => done(false);
      stdin.on('drain', onDrain);
      stdin.on('close', onGone);
      stdin.on('error', onGone);
    });
  }

  async kill(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }
}
