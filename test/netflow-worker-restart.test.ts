/**
 * The template store across a worker restart (sealed-processor/worker/flow-producers.ts): a
 * NetFlow v9 run whose datagrams each fill their own spool segment, and whose worker dies hard
 * (exit without a word) at the last datagram. softflowd's export fixture has the data of its
 * second exporter session in datagram 2 and that session's templates in datagram 1, so the rows
 * of datagram 2 reach the archive only if the restarted worker knows templates it learnt before
 * the death. The supervisor replays the run from its first segment, which rebuilds the store;
 * the dying datagram is convicted as poison and skipped. The archive must hold exactly what the
 * decoder makes of every other datagram: nothing lost, nothing twice, no held set expired.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeExportDatagram } from '../sealed-processor/flow-export/export-datagram.ts';
import { readExportPcap } from '../sealed-processor/flow-export/export-builders.test-util.ts';
import { TemplateStore } from '../sealed-processor/flow-export/template-store.ts';
import { archiveTotals } from './support/archive-facts.ts';
import { FLOWSEAL_BIN, runFlowseal } from './support/run-flowseal.ts';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'netflow', 'v9.pcap');

test('a worker death mid-run: the replayed worker rebuilds the template store, the archive holds every other datagram exactly once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-nf-restart-'));
  try {
    const datagrams = readExportPcap(readFileSync(FIXTURE));
    assert.equal(datagrams.length, 4, 'the fixture this test was written against');
    const last = datagrams.length - 1;
    // What the decoder makes of every datagram but the poisoned one (in order, one store).
    const store = new TemplateStore();
    let flows = 0;
    let packets = 0;
    const perDatagram: number[] = [];
    for (let i = 0; i < last; i++) {
      perDatagram[i] = decodeExportDatagram(datagrams[i]!.payload, datagrams[i]!.exporter, datagrams[i]!.timeUs, store, (f) => {
        flows++;
        packets += f.packetsFwd + f.packetsRev;
      });
    }
    // Datagram 2 carries data records only: they decode with datagram 1's templates, not alone.
    assert.ok(perDatagram[2]! > 0);
    const d2 = datagrams[2]!;
    assert.equal(decodeExportDatagram(d2.payload, d2.exporter, d2.timeUs, new TemplateStore(), () => undefined), 0);
    const spool = join(dir, 'spool');
    const archive = join(dir, 'archive');
    const child = spawn(process.execPath, [FLOWSEAL_BIN, 'process', '--spool', spool, '--archive', archive, '--dataset', 'd', '--until-run', 'nfr'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, NODE_ENV: 'test', FLOWSEAL_FAULT: `exit:${last}:0` },
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exit = new Promise<number>((r) => child.on('exit', (c) => r(c ?? 1)));
    try {
      for (let i = 0; i < 400 && !existsSync(join(spool, 'processor-key.json')); i++) await new Promise((r) => setTimeout(r, 50));
      const ing = await runFlowseal(['ingest', 'netflow', '--pcap', FIXTURE, '--spool', spool, '--run-id', 'nfr', '--segment-bytes', '512', '--quiet']);
      assert.equal(ing.code, 0, ing.stderr);
      assert.match(ing.stderr, /"segments":4/, 'one segment per datagram');
      assert.equal(await exit, 0, stderr.slice(-3000));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const m = JSON.parse(await readFile(join(archive, 'd', 'manifests', 'nfr.json'), 'utf8')).manifest;
    assert.ok(m.counts.worker_restarts >= 1, JSON.stringify(m.counts));
    assert.equal(m.counts.poison_records, 1);
    assert.equal(m.counts.export_datagrams, last);
    assert.equal(m.counts.export_drops, 0, JSON.stringify(m.counts));
    assert.equal(m.flows, flows);
    const t = await archiveTotals(archive, 'd');
    assert.equal(t.flows, flows);
    assert.equal(t.packets, packets);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
