/**
 * Test helper: an outside killer for the sealed processor's workers, driven by a seeded PRNG,
 * and the flow rows of a published run (read with DuckDB from the Parquet files its manifest
 * lists).
 *
 * The killer behaves like the kernel OOM killer or an operator: it SIGKILLs worker processes at
 * moments of its choosing, knowing nothing about records or the processor's state. It finds
 * them the way an operator would, in /proc: children of this test process (which runs the
 * supervisor) whose command line runs worker-main.ts. It never signals anything else.
 */
import { readFile } from 'node:fs/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { committedFiles } from './archive-facts.ts';

/** mulberry32: a small, fast, seedable PRNG (uniform in [0, 1)). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface KillPlan {
  /** Kills to deliver (fewer if the run publishes first). */
  kills: number;
  /** Chance that a kill follows the previous one within 0.15 s (it then hits the restarted worker). */
  burstChance: number;
  /** A lone kill lands uniformly in [0, lifeMs) after the worker was started. */
  lifeMs: number;
}

export interface KillReport {
  delivered: number;
  /** Kills that came within 150 ms of the previous one. */
  bursts: number;
  /** What was done, for the failure message: ms after start (or `b` + gap for a burst kill). */
  trace: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** True when `pid` is alive and our own child (never signal anything else). */
async function ourChild(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (!stat) return false;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[0] !== 'Z' && Number(fields[1]) === process.pid;
}

const workers = new Set<number>();

/** Our live child processes that run the worker, oldest first. */
async function workerChildren(): Promise<number[]> {
  const text = await readFile(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').catch(() => '');
  const out: number[] = [];
  for (const pid of text.split(' ').filter(Boolean).map(Number)) {
    // Not cached when negative: between fork and exec a child still shows our command line.
    if (!workers.has(pid) && (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).includes('worker-main.ts')) workers.add(pid);
    if (workers.has(pid)) out.push(pid);
  }
  return out;
}

/**
 * Kills worker processes per `plan` until `plan.kills` were delivered or `finished()` is true.
 * Only one processor may run in this test process meanwhile.
 */
export async function killWorkers(rng: () => number, plan: KillPlan, finished: () => boolean): Promise<KillReport> {
  const report: KillReport = { delivered: 0, bursts: 0, trace: [] };
  const seen = new Map<number, number>();
  const killed = new Set<number>();
  let lastKill = -Infinity;
  while (report.delivered < plan.kills && !finished()) {
    for (const pid of await workerChildren()) if (!seen.has(pid)) seen.set(pid, Date.now());
    const target = [...seen.keys()].reverse().find((p) => !killed.has(p));
    if (target === undefined || !(await ourChild(target))) {
      if (target !== undefined) killed.add(target);
      await sleep(5);
      continue;
    }
    const burst = report.delivered > 0 && rng() < plan.burstChance;
    const at = burst ? lastKill + 20 + rng() * 130 : seen.get(target)! + rng() * plan.lifeMs;
    await sleep(at - Date.now());
    killed.add(target);
    if (finished() || !(await ourChild(target))) continue;
    process.kill(target, 'SIGKILL');
    const now = Date.now();
    if (now - lastKill <= 150) report.bursts++;
    report.trace.push(burst ? `b${now - lastKill}` : `${now - seen.get(target)!}`);
    lastKill = now;
    report.delivered++;
  }
  return report;
}

/** Every flow row of run `run` (all columns), as canonical JSON strings, sorted. */
export async function runFlowRows(archive: string, dataset: string, run: string): Promise<string[]> {
  const files = await committedFiles(archive, dataset, run);
  if (files.length === 0) return [];
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const list = files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ');
    const r = await c.runAndReadAll(`SELECT * FROM read_parquet([${list}])`);
    const names = r.columnNames();
    return r
      .getRows()
      .map((row) => JSON.stringify(Object.fromEntries(row.map((v, i) => [names[i], typeof v === 'bigint' ? v.toString() : v === null ? null : String(v)]))))
      .sort();
  } finally {
    c.closeSync();
    db.closeSync();
  }
}
