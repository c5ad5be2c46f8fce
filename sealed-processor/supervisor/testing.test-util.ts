/**
 * Test helper: the real supervisor on a fresh spool with fast timeouts, and a wait for its
 * public key that fails loudly. Used by the supervisor-level tests that hand it hostile or
 * rearranged spools.
 */
import { readdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { createManifestCatalog } from '../../api/engine/manifest-catalog.ts';
import { ethernet, ipv4, text, udp } from '../decode/testing/packet-builders.ts';
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

/** One UDP packet 192.0.2.1:`port` → 198.51.100.1:9999 over Ethernet, carrying `label`: a flow of its own per port. */
export function udpPacket(port: number, label: string): Uint8Array {
  return ethernet({ dst: '02:00:00:00:00:01', src: '02:00:00:00:00:02', etherType: 0x0800 }, ipv4({ src: '192.0.2.1', dst: '198.51.100.1', protocol: 17 }, udp({ sport: port, dport: 9999 }, text(label))));
}

/** Polls `cond` every 20 ms; throws naming `what` if it does not hold within `ms`. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Source ports of every committed flow row of dataset `d`, sorted (a port twice: a duplicate). */
export async function committedPorts(archive: string): Promise<number[]> {
  const catalog = await createManifestCatalog({ root: await realpath(archive), pinnedKeys: null }).build();
  const files = catalog.datasets.get('d')?.files ?? [];
  if (files.length === 0) return [];
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const r = await c.runAndReadAll(`SELECT src_port::INTEGER FROM read_parquet([${files.map((f) => `'${f}'`).join(', ')}]) ORDER BY 1`);
  const rows = (r.getRows() as Array<[number]>).map(([p]) => p);
  c.closeSync();
  db.closeSync();
  return rows;
}

/** Manifest file names of dataset `d`, sorted. */
export const manifestNames = async (archive: string): Promise<string[]> => (await readdir(join(archive, 'd', 'manifests')).catch(() => [] as string[])).sort();

/** Sealed segment files in the spool. */
export const spoolSegments = async (spool: string): Promise<string[]> => (await readdir(join(spool, 'segments')).catch(() => [] as string[])).filter((n) => n.endsWith('.seg'));
