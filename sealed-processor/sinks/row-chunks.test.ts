import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DuckDBInstance } from '@duckdb/node-api';
import { FLOW_COLUMNS, type FlowColumnName } from '../../schemas/columns.ts';
import { asAnon, type AnonFlowRow, type AnonValue } from '../flows/flow-record.ts';
import { RowChunks } from './row-chunks.ts';

function emptyRow(): Record<FlowColumnName, AnonValue> {
  return Object.fromEntries(FLOW_COLUMNS.map((c) => [c.name, null])) as Record<FlowColumnName, AnonValue>;
}

/** Every kind, NULLs in a pattern that changes per row, values at the edges of each range. */
function rowAt(i: number): AnonFlowRow {
  const r = emptyRow();
  const ts = [0, -1, -1_000_001, 1_700_000_000_123_456, 2 ** 53 - 1, -(2 ** 53)][i % 6]!;
  r.time_start = asAnon(i % 7 === 3 ? BigInt(ts) : ts);
  r.time_end = i % 5 === 0 ? null : asAnon(ts + 1);
  r.ip_version = asAnon(i % 2 === 0 ? 4 : 6);
  r.protocol = asAnon(i % 256);
  r.src_addr = asAnon(['', 'a', '10.0.0.1', '123456789012', '1234567890123', '2001:db8::1:2:3:4', 'é€😀', `x${i}`][i % 8]!);
  r.src_addr_hi = i % 3 === 0 ? null : asAnon(i % 2 === 0 ? 2n ** 64n - 1n : BigInt(i));
  r.src_addr_lo = asAnon(i % 4 === 1 ? 2 ** 64 - 2 ** 11 : i % 4 === 2 ? 2 ** 53 + 2 : i);
  r.src_port = asAnon(65535 - (i % 65536));
  r.icmp_type = i % 9 === 0 ? asAnon(255) : null;
  r.observation_domain = asAnon(0xffffffff - i);
  r.packets_fwd = asAnon(BigInt(i) * 1_000_000_007n);
  r.end_reason = i % 11 === 0 ? null : asAnon('fin');
  // Constant over whole chunks (a constant vector), short and long.
  r.record_source = asAnon('netflow9');
  r.tls_sni = i < 2048 ? asAnon('a-name-longer-than-twelve.example') : i < 4096 ? null : asAnon(`n${i % 3}`);
  r.dst_addr = i < 2048 ? asAnon('é') : asAnon(`${i}.${i}`);
  return r as AnonFlowRow;
}

test('RowChunks: every kind, NULLs and edge values round-trip through DuckDB across several chunks', async () => {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run(`CREATE TABLE flows (${FLOW_COLUMNS.map((x) => `"${x.name}" ${x.duckdbType}`).join(', ')})`);
  const appender = await c.createAppender('flows');
  const chunks = new RowChunks(() => appender);
  const n = 2048 * 2 + 77;
  for (let i = 0; i < n; i++) chunks.append(rowAt(i));
  chunks.flush();
  appender.flushSync();
  const cols = ['time_start', 'time_end', 'ip_version', 'protocol', 'src_addr', 'src_addr_hi', 'src_addr_lo', 'src_port', 'icmp_type', 'observation_domain', 'packets_fwd', 'end_reason', 'dst_addr', 'tls_sni', 'record_source'] as const;
  const res = await c.runAndReadAll(`SELECT ${cols.map((x) => (x.startsWith('time') ? `epoch_us("${x}")` : `"${x}"`)).join(', ')} FROM flows`);
  const rows = res.getRows();
  assert.equal(rows.length, n);
  const wide = (name: string) => name.startsWith('time') || name.endsWith('_hi') || name.endsWith('_lo') || name === 'packets_fwd';
  for (let i = 0; i < n; i++) {
    const want = rowAt(i) as Record<string, unknown>;
    const got = rows[i]!;
    cols.forEach((name, k) => {
      const w = want[name];
      const g = got[k];
      assert.deepEqual(g, w === null ? null : wide(name) ? BigInt(w as number | bigint) : w, `row ${i} column ${name}`);
    });
  }
  c.closeSync();
  db.closeSync();
});

test('RowChunks: a value its column cannot hold throws and keeps nothing of the row', async () => {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run(`CREATE TABLE flows (${FLOW_COLUMNS.map((x) => `"${x.name}" ${x.duckdbType}`).join(', ')})`);
  const appender = await c.createAppender('flows');
  const chunks = new RowChunks(() => appender);
  const bad: [FlowColumnName, AnonValue][] = [
    ['protocol', asAnon(256)], ['protocol', asAnon(-1)], ['protocol', asAnon(1.5)], ['src_port', asAnon(65536)],
    ['observation_domain', asAnon(2 ** 32)], ['packets_fwd', asAnon(2 ** 64)], ['packets_fwd', asAnon(-1n)],
    ['packets_fwd', asAnon(2n ** 64n)], ['bytes_fwd', asAnon(0.5)], ['time_start', asAnon(1.5)], ['time_start', asAnon(2n ** 63n)],
    ['src_addr', asAnon(5)], ['protocol', asAnon('6')],
  ];
  for (const [name, v] of bad) {
    const r = rowAt(1) as Record<string, AnonValue>;
    r[name] = v;
    assert.throws(() => chunks.append(r as AnonFlowRow), (e: unknown) => e instanceof RangeError || e instanceof TypeError, `${name} = ${String(v)}`);
    assert.equal(chunks.buffered, 0);
  }
  chunks.append(rowAt(2));
  chunks.flush();
  appender.flushSync();
  const res = await c.runAndReadAll('SELECT count(*)::INTEGER, min(protocol)::INTEGER FROM flows');
  assert.deepEqual(res.getRows(), [[1, 2]]);
  c.closeSync();
  db.closeSync();
});
