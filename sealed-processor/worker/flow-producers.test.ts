import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newExportedFlow, SHARED_RAW_FLOW_FIELDS } from '../flow-export/exported-flow.ts';
import { newRawFlow } from '../flows/flow-record.ts';
import { copySharedFields } from './flow-producers.ts';

test('copySharedFields copies every field ExportedFlow shares with RawFlow', () => {
  const f = newExportedFlow() as unknown as Record<string, unknown>;
  let n = 1000;
  for (const k of SHARED_RAW_FLOW_FIELDS) {
    const v = f[k];
    if (v instanceof Uint32Array) v.set([n++, n++, n++, n++]);
    else f[k] = n++;
  }
  const r = newRawFlow();
  copySharedFields(f as never, r);
  for (const k of SHARED_RAW_FLOW_FIELDS) assert.deepEqual((r as unknown as Record<string, unknown>)[k], f[k], k);
  // Copied, not shared: the decoder reuses its arrays.
  assert.notEqual(r.src6, f.src6);
});
