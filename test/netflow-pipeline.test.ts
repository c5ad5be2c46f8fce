/**
 * The NetFlow commands as a user runs them (bin/flowseal.mjs as child processes):
 * `pipeline --netflow-listen` collects until SIGINT and then publishes the run, whose manifest
 * counts every datagram (`export_datagrams`; these test datagrams are IPFIX headers with junk,
 * so each is counted as a drop by reason); `ingest netflow`
 * prints NDJSON progress and a final summary whose counts equal what was sent; and every bad
 * input gets its own code and exit status.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FLOWSEAL_BIN, runFlowseal } from './support/run-flowseal.ts';
import { until } from '../ingest/netflow/netflow-test-helpers.test-util.ts';

async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function sendAll(port: number, n: number): Promise<number> {
  const s = createSocket('udp4');
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const b = Buffer.alloc(100 + i, i & 0xff);
    b.writeUInt16BE(10, 0);
    bytes += b.length;
    await new Promise<void>((res, rej) => s.send(b, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
  }
  s.close();
  return bytes;
}

function ndjsonLines(text: string): Record<string, unknown>[] {
  return text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('pipeline --netflow-listen: collects until SIGINT, then publishes a run counting every datagram', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-nf-pipeline-'));
  try {
    const port = await freePort();
    const archive = join(dir, 'archive');
    const child = spawn(process.execPath, [FLOWSEAL_BIN, 'pipeline', '--netflow-listen', `127.0.0.1:${port}`, '--archive', archive, '--dataset', 'nf', '--spool', join(dir, 'spool')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exit = new Promise<number>((r) => child.on('exit', (c) => r(c ?? 1)));
    try {
      await until('the collector to listen', () => ndjsonLines(stderr).some((l) => l.event === 'listening'), 60_000);
      const n = 40;
      const bytes = await sendAll(port, n);
      await until('the collector to count every datagram', () => ndjsonLines(stderr).some((l) => l.event === 'progress' && l.datagrams === n), 20_000);
      child.kill('SIGINT');
      assert.equal(await exit, 0, stderr.slice(-2000));
      const done = ndjsonLines(stderr).find((l) => l.component === 'ingest' && l.event === 'done')!;
      assert.deepEqual([done.datagrams, done.records, done.datagramBytes, done.queueDrops], [n, n, bytes, 0]);
      const [name] = await readdir(join(archive, 'nf', 'manifests'));
      const m = JSON.parse(await readFile(join(archive, 'nf', 'manifests', name!), 'utf8')).manifest;
      assert.equal(m.counts.records, n);
      assert.equal(m.counts.export_datagrams, n, 'the processor decodes every datagram');
      // The collector's own report reaches the manifest, and leaves the spool with the run.
      assert.deepEqual([m.counts.collector_datagrams, m.counts.collector_queue_drops, m.counts.collector_report_not_final], [n, 0, undefined]);
      assert.deepEqual((await readdir(join(dir, 'spool', 'segments'))).filter((f) => f.endsWith('.collector')), []);
      assert.equal(m.counts.export_flows, 0);
      assert.ok(m.counts.export_drops >= n, 'every one is bad, counted by reason (a datagram, a set or a record each)');
      assert.match(stderr, new RegExp(`run ${m.runId} published: 0 flows \\(${n} records, ${n} export_datagrams, \\d+ export_drops\\)`));
      assert.match(stderr, /stopping the collector; publishing what it collected/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('pipeline --netflow-listen --publish-every --spool-max: the collector seals quiet segments by age and runs under the quota', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-nf-rolling-'));
  try {
    const port = await freePort();
    const archive = join(dir, 'archive');
    const args = ['pipeline', '--netflow-listen', `127.0.0.1:${port}`, '--archive', archive, '--dataset', 'nf', '--publish-every', '400ms', '--spool-max', '64M', '--spool-full', 'drop-oldest'];
    const child = spawn(process.execPath, [FLOWSEAL_BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exit = new Promise<number>((r) => child.on('exit', (c) => r(c ?? 1)));
    try {
      await until('the collector to listen', () => ndjsonLines(stderr).some((l) => l.event === 'listening'), 60_000);
      await sendAll(port, 10);
      await until('the collector to count the first burst', () => ndjsonLines(stderr).some((l) => l.event === 'progress' && l.datagrams === 10), 20_000);
      // A quarter of the interval (100 ms) later the quiet collector's segment is sealed by age.
      await new Promise((r) => setTimeout(r, 600));
      await sendAll(port, 10);
      await until('the collector to count the second burst', () => ndjsonLines(stderr).some((l) => l.event === 'progress' && l.datagrams === 20), 20_000);
      child.kill('SIGINT');
      assert.equal(await exit, 0, stderr.slice(-2000));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const done = ndjsonLines(stderr).find((l) => l.component === 'ingest' && l.event === 'done')!;
    assert.equal(done.records, 20);
    assert.ok((done.segments as number) >= 2, `segments sealed by age: ${JSON.stringify(done)}`);
    assert.deepEqual(done.quota, { pauses: 0, pausedMs: 0, droppedSegments: 0 });
    const names = await readdir(join(archive, 'nf', 'manifests'));
    const last = JSON.parse(await readFile(join(archive, 'nf', 'manifests', names.sort().at(-1)!), 'utf8')).manifest;
    assert.equal(last.counts.records, 20);
    assert.equal(last.counts.spool_quota_dropped_segments ?? 0, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('ingest netflow: NDJSON progress and a final summary equal to what was sent; SIGTERM ends the run cleanly', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-nf-ingest-'));
  try {
    // A processor's key in the spool (ingest refuses to start without one).
    const { generateProcessorKeys } = await import('../sealed-processor/spool/keys.ts');
    const { writePublicKey } = await import('../sealed-processor/spool/key-file.ts');
    await writePublicKey(join(dir, 'spool'), await generateProcessorKeys());
    const port = await freePort();
    const child = spawn(process.execPath, [FLOWSEAL_BIN, 'ingest', 'netflow', '--listen', `127.0.0.1:${port}`, '--spool', join(dir, 'spool'), '--run-id', 'cli', '--progress-interval', '0.05'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exit = new Promise<number>((r) => child.on('exit', (c) => r(c ?? 1)));
    let bytes = 0;
    try {
      await until('the collector to listen', () => ndjsonLines(stderr).some((l) => l.event === 'listening'), 30_000);
      bytes = await sendAll(port, 25);
      await until('progress to count them', () => ndjsonLines(stderr).some((l) => l.event === 'progress' && l.datagrams === 25), 20_000);
      // Progress goes on while nothing arrives (one line per interval, not per change).
      await until('two progress lines', () => ndjsonLines(stderr).filter((l) => l.event === 'progress').length >= 2, 20_000);
      child.kill('SIGTERM');
      assert.equal(await exit, 0, stderr);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    // Every stderr line is NDJSON when stderr is not a terminal.
    for (const line of stderr.split('\n').filter(Boolean)) assert.doesNotThrow(() => JSON.parse(line), line);
    const lines = ndjsonLines(stderr);
    const progress = lines.filter((l) => l.event === 'progress');
    assert.ok(progress.length >= 2, stderr);
    for (let i = 1; i < progress.length; i++) assert.ok((progress[i]!.elapsedMs as number) >= (progress[i - 1]!.elapsedMs as number));
    const done = lines.find((l) => l.event === 'done')!;
    assert.deepEqual([done.datagrams, done.records, done.datagramBytes, done.queueDrops, done.kernelDrops], [25, 25, bytes, 0, 0]);
    assert.ok((done.segments as number) >= 1);
    assert.ok(lines.some((l) => l.event === 'stopping' && l.signal === 'SIGTERM'));
    const marker = JSON.parse(await readFile(join(dir, 'spool', 'segments', 'cli.end'), 'utf8'));
    assert.equal(marker.segments, done.segments);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bad inputs: each names what was wrong, with its own code and exit status 2', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-nf-errors-'));
  try {
    const spool = ['--spool', join(dir, 'spool')];
    const cases: [string[], RegExp][] = [
      [['ingest', 'netflow', '--listen', '300.1.1.1:2055', ...spool], /ERR_LISTEN_ADDRESS_INVALID: --listen: '300\.1\.1\.1:2055' does not start with a valid IPv4 address/],
      [['ingest', 'netflow', '--listen', '::1:2055', ...spool], /ERR_LISTEN_ADDRESS_INVALID: .*put it in brackets/],
      [['ingest', 'netflow', '--listen', '[::1]', ...spool], /ERR_LISTEN_ADDRESS_INVALID: .*no :port after the \]/],
      [['ingest', 'netflow', '--listen', '127.0.0.1:65536', ...spool], /ERR_PORT_INVALID: --listen: port '65536' is not an integer from 0 to 65535/],
      [['ingest', 'netflow', '--pcap', join(dir, 'x.pcap'), '--port', '0', ...spool], /ERR_PORT_INVALID: --port: port '0' is not an integer from 1 to 65535/],
      [['ingest', 'netflow', '--pcap', join(dir, 'missing.pcap'), ...spool], /ERR_INPUT_NOT_FOUND: capture file ".*missing\.pcap" does not exist/],
      [['ingest', 'netflow', '--pcap', dir, ...spool], /ERR_INPUT_NOT_A_FILE: capture path .* is a directory/],
      [['ingest', 'pcap', join(dir, 'missing.pcap'), ...spool], /ERR_INPUT_NOT_FOUND/],
      [['ingest', 'netflow', '--pcap', '-', '--listen', '127.0.0.1:1', ...spool], /ERR_BAD_REQUEST: --listen applies to the live collector/],
      [['ingest', 'pcap', 'x', '--port', '2055', ...spool], /ERR_BAD_REQUEST: --port applies to ingest netflow only/],
      [['ingest', 'netflow', '--progress-interval', 'soon', ...spool], /ERR_BAD_REQUEST: --progress-interval must be a number of seconds/],
      [['pipeline', '--netflow-listen', '127.0.0.1', '--archive', join(dir, 'a')], /ERR_LISTEN_ADDRESS_INVALID: --netflow-listen: '127\.0\.0\.1' has no :port/],
      [['pipeline', '--netflow-pcap', join(dir, 'none.pcap'), '--archive', join(dir, 'a')], /ERR_INPUT_NOT_FOUND/],
      [['pipeline', 'a.pcap', '--netflow-pcap', 'b.pcap', '--archive', join(dir, 'a')], /ERR_BAD_REQUEST: pipeline takes one kind of input/],
    ];
    // In-process through the CLI's own entry point (a child process per case costs seconds).
    const { main } = await import('../bin/cli.ts');
    const write = process.stderr.write.bind(process.stderr);
    for (const [args, want] of cases) {
      let said = '';
      process.stderr.write = ((chunk: string) => ((said += String(chunk)), true)) as typeof process.stderr.write;
      let code: number;
      try {
        code = await main(args);
      } finally {
        process.stderr.write = write;
      }
      assert.equal(code, 2, `${args.join(' ')}: ${said}`);
      assert.match(said, want, args.join(' '));
    }
    // The real command, once: without a processor key it is refused before listening (exit 3, as for packet ingest).
    const nokey = await runFlowseal(['ingest', 'netflow', '--listen', '127.0.0.1:0', ...spool]);
    assert.equal(nokey.code, 3);
    assert.match(nokey.stderr, /ERR_SPOOL_NO_PUBLIC_KEY/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
