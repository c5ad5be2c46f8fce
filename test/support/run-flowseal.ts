/**
 * Test helper: runs the real `flowseal` command (bin/flowseal.mjs) as a child process and
 * collects its output. Used by the end-to-end suites so they exercise exactly what a user runs.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const FLOWSEAL_BIN = fileURLToPath(new URL('../../bin/flowseal.mjs', import.meta.url));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `flowseal ...args`; `input` is written to stdin (then closed). Never rejects on exit code. */
export function runFlowseal(args: string[], opts: { input?: Uint8Array; env?: Record<string, string>; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FLOWSEAL_BIN, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? undefined);
  });
}
