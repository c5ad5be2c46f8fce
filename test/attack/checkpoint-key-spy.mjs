// Test-only stand-in for a worker compromised by a poison record (test/attack/checkpoint-attacks.test.ts).
// Loaded into every worker with `FLOWSEAL_WORKER_NODE_ARGS=--import <this file>`: it sees the
// config frame the worker parses and writes the run's checkpoint key, run id and staging
// directory to $CKATK_SPY_FILE — exactly what code running inside a worker holds. The test then
// plays the compromised worker: it seals a crafted checkpoint with that key. Nothing else is
// changed in the worker.
import { appendFileSync } from 'node:fs';

const out = process.env.CKATK_SPY_FILE;
if (out) {
  const parse = JSON.parse;
  JSON.parse = function (text, reviver) {
    const v = parse.call(JSON, text, reviver);
    if (v && typeof v === 'object' && typeof v.checkpointKeyHex === 'string' && typeof v.runId === 'string') {
      appendFileSync(out, `${JSON.stringify({ pid: process.pid, runId: v.runId, stagingDir: v.stagingDir, key: v.checkpointKeyHex, restoreThrough: v.restoreThrough ?? null })}\n`);
    }
    return v;
  };
}
