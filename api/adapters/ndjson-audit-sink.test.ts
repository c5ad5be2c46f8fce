/**
 * The NDJSON audit sink under a burst: every line lands, whole and in call order, each write
 * resolves only once its line is in the file, and concurrent writes share appends instead of
 * queueing one append each. A failed append rejects exactly the writes it carried.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, readFile, rm } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openNdjsonAuditSink } from './ndjson-audit-sink.ts';
import type { AuditEntry } from '../ports.ts';

const entry = (i: number): AuditEntry => ({
  time: new Date(0).toISOString(), requestId: `r${i}`, clientAddress: '127.0.0.1', subject: 's', issuer: 'i', method: 'POST', path: '/v1/query',
  status: 503, dataset: 'lab', query: { pad: 'x'.repeat(i % 50 === 0 ? 300_000 : 100) }, rows: null, errorCode: 'ERR_OVERLOADED', errorReason: null, durationMs: 1,
});

test('a burst of 200 writes (some over 1 MB together): all lines, in order, each resolved after its line is written, in a handful of appends', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowseal-audit-sink-'));
  try {
    const path = join(dir, 'audit.ndjson');
    let appends = 0;
    const sink = await openNdjsonAuditSink(path, { append: (p, text) => (appends++, appendFile(p, text, { mode: 0o600 })) });
    const seenAtResolve: number[] = [];
    await Promise.all(Array.from({ length: 200 }, (_, i) => sink.write(entry(i)).then(async () => {
      if (i % 10 !== 0) return;
      const lines = (await readFile(path, 'utf8')).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as AuditEntry).requestId);
      if (!lines.includes(`r${i}`)) seenAtResolve.push(i);
    })));
    const ids = (await readFile(path, 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as AuditEntry).requestId);
    assert.deepEqual(ids, Array.from({ length: 200 }, (_, i) => `r${i}`));
    assert.deepEqual(seenAtResolve, [], 'no write resolved before its line was in the file');
    assert.ok(appends <= 10, `200 concurrent writes took ${appends} appends`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a failed append rejects the writes it carried; later writes go through again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowseal-audit-sink-'));
  try {
    const path = join(dir, 'audit.ndjson');
    const sink = await openNdjsonAuditSink(path);
    await sink.write(entry(1));
    await rm(path);
    await mkdir(path); // the log became a directory: appends fail with EISDIR
    const results = await Promise.allSettled([sink.write(entry(2)), sink.write(entry(3))]);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
    await rm(path, { recursive: true });
    await sink.write(entry(4));
    assert.deepEqual((await readFile(path, 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as AuditEntry).requestId), ['r4']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
