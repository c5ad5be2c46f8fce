/**
 * No raw tunnel endpoint (nor inner address) reaches the archive: `flowseal pipeline --pcap` on
 * every tunnel capture of test/fixtures/links/ (GRE, ERSPAN, IP-in-IP/6in4, VXLAN, Geneve),
 * then every raw address those packets carry — inner source and destination and the outer
 * tunnel endpoints, taken from the decoder's own output — is searched in every form
 * test/support/leak-search.ts knows, in the archive's files (Parquet bytes and manifests), in
 * every archived row as text, and in the pipeline's log lines. The control: under a
 * keep-everything policy the same search finds each of them, so the tunnel columns are filled
 * end to end (tunnel_type included).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { formatIpv4, formatIpv6 } from '../schemas/ip-address.ts';
import { DEFAULT_POLICY } from '../schemas/policy.ts';
import { LINK_CAPTURES, LINKS_DIR, flowsealFlows } from './support/link-captures.ts';
import { describeLeaks, findLeaks, leakNeedles, type Haystack } from './support/leak-search.ts';
import { runFlowseal } from './support/run-flowseal.ts';

const FIXTURE_OUTER = ['192.0.2.1', '192.0.2.2', '192.0.2.10', '192.0.2.20', '2001:db8:ffff::1', '2001:db8:ffff::2'];
const TUNNEL_FILES = LINK_CAPTURES.filter((c) => c.tunnel !== undefined).map((c) => c.file);

/** Inner and tunnel-endpoint addresses of every flow the decoder makes from `file`. */
function rawAddresses(file: string): { inner: Set<string>; endpoints: Set<string> } {
  const inner = new Set<string>();
  const endpoints = new Set<string>();
  for (const { raw: f } of flowsealFlows(file).flows) {
    const text = (version: number, v4: number, v6: Uint32Array) => (version === 4 ? formatIpv4(v4 >>> 0) : formatIpv6(v6));
    inner.add(text(f.ipVersion, f.srcV4, f.src6));
    inner.add(text(f.ipVersion, f.dstV4, f.dst6));
    if (f.tunnelVersion !== 0) {
      endpoints.add(text(f.tunnelVersion, f.tunnelSrcV4, f.tunnelSrc6));
      endpoints.add(text(f.tunnelVersion, f.tunnelDstV4, f.tunnelDst6));
    }
  }
  return { inner, endpoints };
}

async function archivedRows(archive: string): Promise<{ text: string; tunnelTypes: string[] }> {
  const instance = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  const conn = await instance.connect();
  try {
    const glob = join(archive, '**', '*.parquet').replaceAll("'", "''");
    const rows = (await conn.runAndReadAll(`SELECT * FROM read_parquet('${glob}', hive_partitioning = true)`)).getRows();
    assert.ok(rows.length > 0, 'the archive has rows');
    const types = (await conn.runAndReadAll(`SELECT DISTINCT tunnel_type FROM read_parquet('${glob}', hive_partitioning = true) WHERE tunnel_type IS NOT NULL ORDER BY 1`)).getRows().map((r) => String(r[0]));
    return { text: JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)), tunnelTypes: types };
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

async function searchRun(file: string, dir: string, policy?: string) {
  const { inner, endpoints } = rawAddresses(file);
  assert.ok(endpoints.size >= 2, `${file}: tunnel endpoints to look for`);
  // Outer addresses of the fixtures (README.md there) that no flow records (a flow keeps the
  // tunnel of its first tunnelled packet) must not appear either.
  const ips = [...new Set([...inner, ...endpoints, ...(policy ? [] : FIXTURE_OUTER)])];
  const archive = join(dir, 'archive');
  const run = await runFlowseal(['pipeline', join(LINKS_DIR, file), '--archive', archive, '--dataset', 'links', '--spool', join(dir, 'spool'), ...(policy ? ['--policy', policy] : [])]);
  assert.equal(run.code, 0, run.stderr.slice(-3000));
  const haystacks: Haystack[] = [];
  for (const rel of await readdir(archive, { recursive: true })) {
    const bytes = await readFile(join(archive, rel)).catch(() => null);
    if (bytes) haystacks.push({ what: `archive/${rel}`, bytes, compressed: rel.endsWith('.parquet') });
  }
  const rows = await archivedRows(archive);
  haystacks.push({ what: 'every archived row as text', bytes: rows.text });
  haystacks.push({ what: 'pipeline logs', bytes: `${run.stdout}\n${run.stderr}` });
  return { ips, endpoints, tunnelTypes: rows.tunnelTypes, leaks: findLeaks(haystacks, leakNeedles({ ips, macs: [], names: [] })) };
}

test('control: under a keep-everything policy the search finds every tunnel endpoint and inner address', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-tunnel-keep-'));
  try {
    const policy = join(dir, 'keep.json');
    await writeFile(policy, JSON.stringify({ version: 1, description: 'keeps every field', columns: Object.fromEntries(Object.keys(DEFAULT_POLICY.columns).map((c) => [c, 'keep'])) }));
    const { ips, endpoints, tunnelTypes, leaks } = await searchRun('gre.pcap', dir, policy);
    const found = new Set(leaks.map((l) => l.identifier));
    for (const ip of ips) assert.ok(found.has(ip), `${ip} kept verbatim but not found`);
    assert.ok(endpoints.has('192.0.2.1') && endpoints.has('192.0.2.2'), [...endpoints].join(' '));
    assert.deepEqual(tunnelTypes, ['gre']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

for (const file of TUNNEL_FILES) {
  test(`pipeline --pcap ${file}: no raw tunnel endpoint or inner address reaches the archive or the logs`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flowseal-tunnel-leak-'));
    try {
      const { leaks, tunnelTypes } = await searchRun(file, dir);
      assert.equal(leaks.length, 0, describeLeaks(leaks));
      assert.equal(tunnelTypes.length >= 1, true, 'tunnel_type is kept by the default policy');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
