/**
 * Key custody of the real `flowseal process`: the anonymization master key, loaded from a key
 * file named by the policy, is handed to each worker over its stdin pipe and nowhere else. While
 * a worker is alive, the test walks /proc for every descendant of the processor and checks that
 * the key (lower hex, upper hex, base64, base64url) is in no process's environment or command
 * line, the processor's own included, and not in its log. Linux only (/proc).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_POLICY } from '../schemas/policy.ts';
import { fixturePath } from './support/capture-facts.ts';
import { FLOWSEAL_BIN } from './support/run-flowseal.ts';

const RUN_ID = 'custody';

/** Polls `cond` every 25 ms; throws naming `what` if it does not hold within `ms` (generous: a loaded machine starts Node slowly). */
async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Parent pid of every live process, from /proc/<pid>/stat (comm may hold spaces and parens). */
async function parentPids(): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => null);
    if (stat === null) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(Number(name), Number(fields[1]));
  }
  return out;
}

/** Every descendant of `root` (children, grandchildren, ...), not `root` itself. */
async function descendants(root: number): Promise<number[]> {
  const ppid = await parentPids();
  const found: number[] = [];
  const queue = [root];
  while (queue.length) {
    const parent = queue.shift()!;
    for (const [pid, pp] of ppid) {
      if (pp === parent && !found.includes(pid)) {
        found.push(pid);
        queue.push(pid);
      }
    }
  }
  return found;
}

async function cmdline(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
}

function kill(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

test('the anonymization key is in no environment or command line of the processor or its workers', { timeout: 30_000, skip: process.platform === 'linux' ? false : 'reads /proc (Linux only)' }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-custody-'));
  const spool = join(dir, 'spool');
  const archive = join(dir, 'archive');
  const key = randomBytes(32);
  const keyPath = join(dir, 'anon.key');
  await writeFile(keyPath, key.toString('hex'), { mode: 0o600 });
  const policyPath = join(dir, 'policy.json');
  await writeFile(policyPath, JSON.stringify({ ...DEFAULT_POLICY, keySource: { type: 'file', path: keyPath } }));
  const needles = [key.toString('hex'), key.toString('hex').toUpperCase(), key.toString('base64'), key.toString('base64url')];

  const processor = spawn(
    process.execPath,
    [FLOWSEAL_BIN, 'process', '--spool', spool, '--archive', archive, '--dataset', 'd', '--policy', policyPath, '--until-run', RUN_ID],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_ENV: 'test' } },
  );
  let log = '';
  processor.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  const processorExit = new Promise<number>((r) => processor.on('exit', (c, s) => r(c ?? (s ? 128 : 1))));
  let ingest: ChildProcess | null = null;
  try {
    await waitFor('the processor public key', () => existsSync(join(spool, 'processor-key.json')));
    // A live capture on stdin, kept open: the run stays open and its worker stays alive.
    ingest = spawn(process.execPath, [FLOWSEAL_BIN, 'ingest', 'pcap', '-', '--spool', spool, '--run-id', RUN_ID, '--segment-bytes', '2000'], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let ingestLog = '';
    ingest.stderr!.on('data', (b: Buffer) => (ingestLog += b.toString()));
    const ingestExit = new Promise<number>((r) => ingest!.on('exit', (c, s) => r(c ?? (s ? 128 : 1))));
    const capture = await readFile(fixturePath('http-lo.pcap'));
    const half = Math.floor(capture.length / 2);
    ingest.stdin!.write(capture.subarray(0, half));

    let workers: number[] = [];
    await waitFor(`a worker under processor ${processor.pid} (processor log: ${log.slice(-400)})`, async () => {
      const pids = await descendants(processor.pid!);
      workers = [];
      for (const pid of pids) if ((await cmdline(pid)).includes('worker-main.ts')) workers.push(pid);
      return workers.length > 0;
    });

    const pids = [processor.pid!, ...(await descendants(processor.pid!))];
    assert.ok(pids.includes(workers[0]!), 'the worker is still alive while its environment is read');
    let checked = 0;
    for (const pid of pids) {
      const environ = await readFile(`/proc/${pid}/environ`).catch(() => null);
      const args = await readFile(`/proc/${pid}/cmdline`).catch(() => null);
      if (environ === null || args === null) continue; // exited between the walk and the read
      checked++;
      for (const needle of needles) {
        assert.ok(!environ.includes(needle), `pid ${pid} (${await cmdline(pid)}): key in its environment`);
        assert.ok(!args.includes(needle), `pid ${pid} (${await cmdline(pid)}): key on its command line`);
      }
    }
    assert.ok(checked >= 2, `read the processor and at least one worker (read ${checked} of ${pids.length})`);

    ingest.stdin!.end(capture.subarray(half));
    assert.equal(await ingestExit, 0, ingestLog);
    assert.equal(await processorExit, 0, log);
    assert.ok(existsSync(join(archive, 'd', 'manifests', `${RUN_ID}.json`)), 'the run was published with the key');
    for (const needle of needles) assert.ok(!log.includes(needle), 'key in the processor log');
  } finally {
    if (ingest) kill(ingest);
    kill(processor);
    await processorExit;
    await rm(dir, { recursive: true, force: true });
  }
});
