/**
 * The worker's fault injection is inert unless a test turns it on deliberately: both
 * NODE_ENV=test and FLOWSEAL_FAULT must be set, and a malformed spec does nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { faultHookFromEnv } from './test-faults.ts';

const bytes = (s: string) => new TextEncoder().encode(s);

test('without NODE_ENV=test, or with a malformed spec, there is no hook', () => {
  assert.equal(faultHookFromEnv({ FLOWSEAL_FAULT: 'marker' }), null);
  assert.equal(faultHookFromEnv({ NODE_ENV: 'production', FLOWSEAL_FAULT: 'throw:*:*' }), null);
  assert.equal(faultHookFromEnv({ NODE_ENV: 'test' }), null);
  assert.equal(faultHookFromEnv({ NODE_ENV: 'test', FLOWSEAL_FAULT: 'throw:1' }), null);
  assert.equal(faultHookFromEnv({ NODE_ENV: 'test', FLOWSEAL_FAULT: 'explode:*:*' }), null);
});

test('a marker in a record makes it poisonous wherever it is; other records pass', () => {
  const hook = faultHookFromEnv({ NODE_ENV: 'test', FLOWSEAL_FAULT: 'marker' })!;
  hook(0, 0, bytes('an ordinary packet'));
  hook(3, 9, bytes('FLOWSEAL-POISON-throw (wrong case)'));
  assert.throws(() => hook(7, 2, bytes('..FLOWSEAL-POISON-THROW..')), /injected parser fault/);
});

test('a position spec hits exactly that position', () => {
  const hook = faultHookFromEnv({ NODE_ENV: 'test', FLOWSEAL_FAULT: 'throw:1:3' })!;
  hook(1, 2, bytes('x'));
  hook(0, 3, bytes('x'));
  assert.throws(() => hook(1, 3, bytes('x')), /injected parser fault/);
});
