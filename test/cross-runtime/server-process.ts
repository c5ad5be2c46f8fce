/**
 * Starts an API server as a child process and waits until it prints its URL: a JSON log line
 * with a `url` field (`flowseal serve`, api/adapters/bun.ts, api/adapters/deno.ts) or, for
 * `wrangler dev`, its "Ready on http://..." line. Stops it with SIGTERM (SIGKILL after a grace
 * period) and reports the exit code, so tests can check a clean shutdown.
 *
 * Owns: child process lifecycle for the cross-runtime tests. Never: leaves a child running —
 * every start has a deadline, and a failed start kills the child it spawned.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const REPO_ROOT = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');

export interface ServerProcess {
  readonly url: string;
  /** Process id of the spawned command (for /proc readings such as memory). */
  readonly pid: number;
  /** stdout + stderr so far (for failure messages). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs` (default 5 000); resolves with the exit code (null if killed by a signal). */
  stop(graceMs?: number): Promise<number | null>;
}

export interface StartOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: Record<string, string>;
  /** Milliseconds to wait for the URL. Default 30 000. */
  readonly timeoutMs?: number;
}

/** The URL announced by one output line, or null. */
export function urlFromLine(line: string): string | null {
  const trimmed = line.trim();
  if (trimmed.startsWith('{')) {
    try {
      const parsed = JSON.parse(trimmed) as { url?: unknown };
      if (typeof parsed.url === 'string') return parsed.url.replace(/\/$/, '');
    } catch {
      return null;
    }
  }
  const ready = /Ready on (http:\/\/[^\s]+)/.exec(trimmed.replace(/\x1b\[[0-9;]*m/g, ''));
  return ready ? ready[1].replace(/\/$/, '') : null;
}

/** A binary from node_modules/.bin, or null when the devDependency is not installed. */
export function localBin(name: string): string | null {
  const path = join(REPO_ROOT, 'node_modules', '.bin', name);
  return existsSync(path) ? path : null;
}

/** A TCP port free on 127.0.0.1 right now (for tools that cannot take port 0). */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => ok(port));
    });
  });
}

function waitExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((ok) => child.once('exit', (code) => ok(code)));
}

/**
 * Spawns the server and resolves once it announces its URL.
 * @throws Error (with the child's output) when it exits or stays silent past the deadline.
 */
export async function startServer(options: StartOptions): Promise<ServerProcess> {
  const child = spawn(options.command, [...options.args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group, so stopping also reaches grandchildren (wrangler → workerd).
    detached: true,
  });
  const signal = (sig: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, sig);
    } catch {
      // already gone
    }
  };
  let out = '';
  let pending = '';
  child.stdout?.on('data', (c: Buffer) => void (out += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => void (out += c.toString('utf8')));
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => finish(new Error(`no URL within ${options.timeoutMs ?? 30_000} ms`)), options.timeoutMs ?? 30_000);
    function finish(err: Error | null, found?: string): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      if (err) {
        signal('SIGKILL');
        fail(new Error(`${options.command} ${options.args.join(' ')}: ${err.message}\n--- output ---\n${out.slice(-4000)}`));
      } else ok(found ?? '');
    }
    function onData(chunk: Buffer): void {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const found = urlFromLine(line);
        if (found) return finish(null, found);
      }
    }
    function onExit(code: number | null): void {
      finish(new Error(`exited early with code ${code}`));
    }
    child.stdout?.on('data', onData);
    child.on('exit', onExit);
    child.on('error', (err) => finish(err));
  });
  return {
    url,
    pid: child.pid as number,
    output: () => out,
    async stop(graceMs = 5_000) {
      const exited = waitExit(child);
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
