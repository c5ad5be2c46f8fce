/**
 * TEST-ONLY fault injection for the worker: makes chosen records behave like parser bugs, so
 * the crash-recovery tests can plant genuinely poisonous records in a real capture.
 *
 * Owns: parsing `FLOWSEAL_FAULT`, honoured only when `NODE_ENV=test` as well (both must be set
 * on purpose; either alone does nothing). Forms:
 * - `<mode>:<seq>:<index>`: the record at that position (`*` matches any segment or record);
 * - `marker`: every record whose bytes contain `FLOWSEAL-POISON-<MODE>` (e.g. in a UDP
 *   payload), wherever it lands in the spool — poison by content, like a real parser bug.
 * Modes: `throw` (a parser exception), `exit` (exit code 137 without a word), `abort`
 * (SIGABRT, like a native crash), `hang` (blocks forever without burning CPU), `oom` (fills
 * the V8 heap until V8 aborts; run the worker with a small `--max-old-space-size`), `kill`
 * (SIGKILL to itself: what the kernel OOM killer does to a worker that a record makes huge).
 * `FLOWSEAL_FAULT_CHECKPOINT=write` (also only with NODE_ENV=test) makes every checkpoint write
 * fail, as a full disk would: the supervisor then keeps a run's segments and replays it from its
 * first segment (supervisor/run.ts), the path the replay-gap tests exercise.
 * Never: does anything unless both variables are set; reads or reports record content.
 */

export type FaultMode = 'throw' | 'exit' | 'abort' | 'hang' | 'oom' | 'kill';
const MODES: readonly FaultMode[] = ['throw', 'exit', 'abort', 'hang', 'oom', 'kill'];

/** Called before each record the worker processes; may not return. */
export type FaultHook = (seq: number, index: number, data: Uint8Array) => void;

const MARKERS = MODES.map((mode) => ({ mode, bytes: Buffer.from(`FLOWSEAL-POISON-${mode.toUpperCase()}`, 'latin1') }));

/** The hook named by the environment, or null (always null unless NODE_ENV=test). */
export function faultHookFromEnv(env: NodeJS.ProcessEnv = process.env): FaultHook | null {
  const spec = env.NODE_ENV === 'test' ? env.FLOWSEAL_FAULT : undefined;
  if (!spec) return null;
  if (spec === 'marker') {
    return (_seq, _index, data) => {
      const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      for (const m of MARKERS) if (buf.includes(m.bytes)) fail(m.mode);
    };
  }
  const m = /^(throw|exit|abort|hang|oom|kill):(\d+|\*):(\d+|\*)$/.exec(spec);
  if (!m) return null;
  const num = (x: string) => (x === '*' ? -1 : Number(x));
  const mode = m[1] as FaultMode;
  const seq = num(m[2]!);
  const index = num(m[3]!);
  return (s, i) => {
    if ((seq < 0 || seq === s) && (index < 0 || index === i)) fail(mode);
  };
}

/** Whether checkpoint writes are to fail (test only, see the file comment). */
export function checkpointWriteFails(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NODE_ENV === 'test' && env.FLOWSEAL_FAULT_CHECKPOINT === 'write';
}

function fail(mode: FaultMode): void {
  switch (mode) {
    case 'throw':
      throw new Error('injected parser fault');
    case 'exit':
      process.exit(137);
      break;
    case 'abort':
      // The signal a native crash ends with (process.abort() would also dump a stack trace).
      process.kill(process.pid, 'SIGABRT');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      break;
    case 'hang':
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      break;
    case 'kill':
      process.kill(process.pid, 'SIGKILL');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      break;
    case 'oom': {
      const hog: number[][] = [];
      for (;;) hog.push(new Array<number>(1 << 16).fill(hog.length));
    }
  }
}
