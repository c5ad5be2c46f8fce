import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FLOW_COLUMNS } from '../../schemas/columns.ts';
import { COLUMN_SOURCES, columnSource } from './column-sources.ts';

test('the column-source table has exactly the columns of schemas/columns.ts, each of its class', () => {
  assert.deepEqual(Object.keys(COLUMN_SOURCES).sort(), FLOW_COLUMNS.map((c) => c.name).sort());
  for (const c of FLOW_COLUMNS) assert.equal(columnSource(c.name).cls, c.anonClass, c.name);
});
