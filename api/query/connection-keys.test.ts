import { test } from 'node:test';
import assert from 'node:assert/strict';
import { identifiesConnections } from './connection-keys.ts';
import { QueryRequest } from '../../schemas/query.ts';

const groupBy = (g: unknown[]) => QueryRequest.parse({ dataset: 'lab', timeRange: { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' }, groupBy: g }).groupBy!;

test('both exact addresses plus a port identify single connections', () => {
  for (const g of [
    ['src_addr', 'dst_addr', 'src_port'],
    ['dst_port', 'dst_addr', 'src_addr'],
    ['src_addr', 'src_port', 'dst_addr', 'dst_port', 'protocol'],
    [{ timeBucket: '1m' }, { column: 'src_addr', prefixV4: 32 }, 'dst_addr', 'src_port', 'dst_port'],
    [{ column: 'src_addr', prefixV6: 128 }, { column: 'dst_addr', prefixV4: 32 }, 'dst_port'],
  ]) {
    assert.equal(identifiesConnections(groupBy(g)), true, JSON.stringify(g));
  }
});

test('a prefix coarser than a host, a missing address or no port is an aggregate', () => {
  for (const g of [
    [],
    ['src_addr', 'dst_addr'],
    ['src_addr', 'src_port', 'dst_port'],
    [{ column: 'src_addr', prefixV4: 24 }, 'dst_addr', 'src_port', 'dst_port'],
    [{ column: 'src_addr', prefixV4: 31, prefixV6: 127 }, { column: 'dst_addr', prefixV4: 32 }, 'src_port'],
    ['src_addr', 'dst_addr', 'protocol', { timeBucket: '1m' }],
  ]) {
    assert.equal(identifiesConnections(groupBy(g)), false, JSON.stringify(g));
  }
});
