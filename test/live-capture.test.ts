/**
 * The live path a user types: `tcpdump -i lo -U -w - | flowseal pipeline - ...`, with real
 * HTTP connections made on loopback while the capture runs. Needs tcpdump and the right to
 * capture (root in CI, where .ci/setup-system.sh installs tcpdump); skips otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { FLOWSEAL_BIN } from './support/run-flowseal.ts';
import { archiveTotals } from './support/archive-facts.ts';

const tcpdump = spawnSync('sh', ['-c', 'command -v tcpdump'], { encoding: 'utf8' }).stdout.trim();
const canCapture = tcpdump !== '' && process.getuid?.() === 0;

function get(port: number): Promise<number> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => ok(res.statusCode ?? 0));
    });
    req.on('error', fail);
    req.end();
  });
}

test('tcpdump -w - | flowseal pipeline - archives the live connections', { skip: canCapture ? false : 'needs tcpdump and root (CI has both)' }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-live-'));
  const server = createServer((_req, res) => res.end('x'.repeat(5000)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const capture = spawn(tcpdump, ['-i', 'lo', '--immediate-mode', '-U', '-n', '-w', '-', `tcp port ${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let capErr = '';
    capture.stderr.on('data', (b: Buffer) => (capErr += b.toString()));
    const spool = join(dir, 'spool');
    const pipeline = spawn(process.execPath, [FLOWSEAL_BIN, 'pipeline', '-', '--archive', join(dir, 'archive'), '--dataset', 'live', '--spool', spool], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let pipeErr = '';
    pipeline.stderr.on('data', (b: Buffer) => (pipeErr += b.toString()));
    capture.stdout.pipe(pipeline.stdin);
    const pipelineExit = new Promise<number>((r) => pipeline.on('exit', (c) => r(c ?? 1)));
    // tcpdump says "listening on lo" once the capture is armed.
    const deadline = Date.now() + 30_000;
    // The pipeline must have its signal handling armed (it is, once the processor key exists).
    while (!capErr.includes('listening on') || !existsSync(join(spool, 'processor-key.json'))) {
      if (Date.now() > deadline) throw new Error(`tcpdump did not start: ${capErr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const connections = 4;
    for (let i = 0; i < connections; i++) assert.equal(await get(port), 200);
    await new Promise((r) => setTimeout(r, 300));
    // What Ctrl-C in a terminal does to the foreground pipeline: SIGINT to both processes.
    capture.kill('SIGINT');
    pipeline.kill('SIGINT');
    assert.equal(await pipelineExit, 0, pipeErr.slice(-1500));
    const t = await archiveTotals(join(dir, 'archive'), 'live');
    assert.equal(t.flows, connections, `one flow per TCP connection\n${pipeErr.slice(-3000)}\n${capErr}`);
    assert.ok(t.packets >= connections * 7, `every connection's packets were captured (${t.packets})`);
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
