/**
 * `flowseal pipeline` tells how much of a capture became flows: on a capture where more than
 * 1 % of the packets were not turned into flows it prints the reasons by link type on stderr
 * and exits 0, or 4 (EXIT_INCOMPLETE) with `--strict`; a capture fully turned into flows
 * passes `--strict`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT_INCOMPLETE } from '../bin/coverage-summary.ts';
import { LINKS_DIR } from './support/link-captures.ts';
import { runFlowseal } from './support/run-flowseal.ts';

test('pipeline: the not-turned-into-flows summary on stderr, and --strict exits 4', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-strict-'));
  try {
    const plain = await runFlowseal(['pipeline', join(LINKS_DIR, 'ppi.pcap'), '--archive', join(dir, 'a1')]);
    assert.equal(plain.code, 0, plain.stderr.slice(-2000));
    assert.match(plain.stderr, /1 of 14 packets \(7\.1 %\) were not turned into flows/);
    assert.match(plain.stderr, /Ppi: 1 UnsupportedEncapsulation/);
    const strict = await runFlowseal(['pipeline', '--strict', join(LINKS_DIR, 'ppi.pcap'), '--archive', join(dir, 'a2')]);
    assert.equal(strict.code, EXIT_INCOMPLETE, strict.stderr.slice(-2000));
    const whole = await runFlowseal(['pipeline', '--strict', join(LINKS_DIR, 'vxlan.pcap'), '--archive', join(dir, 'a3')]);
    assert.equal(whole.code, 0, whole.stderr.slice(-2000));
    assert.doesNotMatch(whole.stderr, /not turned into flows/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
