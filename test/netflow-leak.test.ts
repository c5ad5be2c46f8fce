/**
 * No raw address of router export reaches the archive: `flowseal pipeline --netflow-pcap` on every
 * softflowd export fixture, then every raw address the export carries — data-plane source and
 * destination, next hop, BGP next hop and the exporter itself, taken from the decoder's own
 * output — is searched in every form test/support/leak-search.ts knows, in the archive's files
 * (Parquet bytes and manifests), in every archived row as text, and in the pipeline's log
 * lines. Multicast and broadcast groups, which the default policy keeps by design, are not
 * searched (as in test/e2e-pipeline.test.ts). The control: under a keep-everything policy the
 * same search finds the exporter and every data-plane address.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { readExportPcap } from '../sealed-processor/flow-export/export-builders.test-util.ts';
import { decodeExportDatagram } from '../sealed-processor/flow-export/export-datagram.ts';
import { TemplateStore } from '../sealed-processor/flow-export/template-store.ts';
import { formatIpv4, formatIpv6 } from '../schemas/ip-address.ts';
import { EXPORT_FIXTURE_CASES } from './support/nfcapd-oracle.ts';
import { specialIdentifier } from './support/capture-facts.ts';
import { describeLeaks, findLeaks, leakNeedles, type Haystack } from './support/leak-search.ts';
import { runFlowseal } from './support/run-flowseal.ts';
import { DEFAULT_POLICY } from '../schemas/policy.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'netflow');

/** Every raw address the decoder reads from the fixture's datagrams (and their exporters). */
function rawAddresses(file: string): Set<string> {
  const out = new Set<string>();
  const store = new TemplateStore();
  const addr = (version: number, v4: number, v6: Uint32Array): void => {
    if (version === 4) out.add(formatIpv4(v4 >>> 0));
    else if (version === 6) out.add(formatIpv6(v6));
  };
  for (const d of readExportPcap(readFileSync(file))) {
    const e = d.exporter.address;
    out.add(e.slice(0, 12).every((b, i) => b === (i < 10 ? 0 : 0xff)) ? `${e[12]}.${e[13]}.${e[14]}.${e[15]}` : formatIpv6(new Uint32Array([0, 4, 8, 12].map((i) => ((e[i]! << 24) | (e[i + 1]! << 16) | (e[i + 2]! << 8) | e[i + 3]!) >>> 0))));
    decodeExportDatagram(d.payload, d.exporter, d.timeUs, store, (f) => {
      addr(f.ipVersion, f.srcV4, f.src6);
      addr(f.ipVersion, f.dstV4, f.dst6);
      addr(f.nextHopVersion, f.nextHopV4, f.nextHop6);
      addr(f.bgpNextHopVersion, f.bgpNextHopV4, f.bgpNextHop6);
    });
  }
  return out;
}

async function rowsAsText(archive: string): Promise<string> {
  const instance = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  const conn = await instance.connect();
  try {
    const rows = (await conn.runAndReadAll(`SELECT * FROM read_parquet('${join(archive, '**', '*.parquet').replaceAll("'", "''")}', hive_partitioning = true)`)).getRows();
    assert.ok(rows.length > 0, 'the archive has rows');
    return JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

async function searchRun(fixture: string, dir: string, policy?: string): Promise<{ ips: string[]; leaks: ReturnType<typeof findLeaks> }> {
  const ips = [...rawAddresses(fixture)].filter((ip) => !['multicast', 'broadcast'].includes(specialIdentifier(ip) ?? ''));
  assert.ok(ips.length >= 3 && ips.includes('127.0.0.1'), `the export carries addresses to look for: ${ips.length}`);
  const archive = join(dir, 'archive');
  const run = await runFlowseal(['pipeline', '--netflow-pcap', fixture, '--archive', archive, '--dataset', 'nf', '--spool', join(dir, 'spool'), ...(policy ? ['--policy', policy] : [])]);
  assert.equal(run.code, 0, run.stderr.slice(-3000));
  const haystacks: Haystack[] = [];
  for (const rel of await readdir(archive, { recursive: true })) {
    const bytes = await readFile(join(archive, rel)).catch(() => null);
    if (bytes) haystacks.push({ what: `archive/${rel}`, bytes, compressed: rel.endsWith('.parquet') });
  }
  assert.ok(haystacks.some((h) => h.compressed) && haystacks.some((h) => h.what.includes('manifests')));
  haystacks.push({ what: 'every archived row as text', bytes: await rowsAsText(archive) });
  haystacks.push({ what: 'pipeline logs', bytes: `${run.stdout}\n${run.stderr}` });
  return { ips, leaks: findLeaks(haystacks, leakNeedles({ ips, macs: [], names: [] })) };
}

test('control: under a keep-everything policy the search finds the exporter and every data-plane address', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-nf-keep-'));
  try {
    const policy = join(dir, 'keep.json');
    await writeFile(policy, JSON.stringify({ version: 1, description: 'keeps every field', columns: Object.fromEntries(Object.keys(DEFAULT_POLICY.columns).map((c) => [c, 'keep'])) }));
    const { ips, leaks } = await searchRun(join(FIXTURES, 'ipfix.pcap'), dir, policy);
    const found = new Set(leaks.map((l) => l.identifier));
    for (const ip of ips) assert.ok(found.has(ip), `${ip} kept verbatim but not found`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

for (const [name] of EXPORT_FIXTURE_CASES) {
  test(`pipeline --netflow-pcap ${name}: no raw data-plane, next-hop or exporter address reaches the archive or the logs`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flowseal-nf-leak-'));
    try {
      const { leaks } = await searchRun(join(FIXTURES, name), dir);
      assert.equal(leaks.length, 0, describeLeaks(leaks));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
