/**
 * Test helper: the real supervisor on a fresh spool with fast timeouts, and a wait for its
 * public key that fails loudly. Used by the supervisor-level tests that hand it hostile or
 * rearranged spools.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_POLICY } from '../../schemas/policy.ts';
import { runSupervisor, type SupervisorOptions } from '../supervisor.ts';

export interface TestSupervisor {
  readonly spool: string;
  readonly archive: string;
  /** Every event the supervisor logged, in order. */
  readonly logs: Array<Record<string, unknown>>;
  /** The supervisor's exit code, once every run in `untilRuns` is done. */
  readonly done: Promise<number>;
}

/**
 * Starts the supervisor over `<root>/spool` into `<root>/archive` (dataset `d`) and waits for its
 * key. `overrides` replace any option (e.g. the master key, so two processors pseudonymize alike).
 */
export async function startTestSupervisor(root: string, untilRuns: string[], overrides: Partial<SupervisorOptions> = {}): Promise<TestSupervisor> {
  const spool = join(root, 'spool');
  const archive = join(root, 'archive');
  const logs: Array<Record<string, unknown>> = [];
  const done = runSupervisor({
    spoolDir: spool,
    archiveDir: archive,
    dataset: 'd',
    policy: DEFAULT_POLICY,
    masterKey: crypto.getRandomValues(new Uint8Array(32)),
    processorVersion: 'flowseal-processor/test',
    untilRuns,
    log: (e) => void logs.push(e),
    pollMs: 20,
    gapTimeoutMs: 300,
    idleTimeoutMs: 60_000,
    ...overrides,
  });
  const deadline = Date.now() + 30_000;
  while (!(await readdir(spool).catch(() => [] as string[])).includes('processor-key.json')) {
    if (Date.now() > deadline) throw new Error('the supervisor never published its key');
    await new Promise((r) => setTimeout(r, 20));
  }
  return { spool, archive, logs, done };
}
