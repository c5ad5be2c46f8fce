/**
 * The leak search has teeth: two real captures go through `flowseal pipeline` under a
 * keep-everything policy (addresses, MACs, names, ports and times kept verbatim), and the same
 * search the privacy tests use (test/support/leak-search.ts, with the needles rawIdentifiers
 * reads from the captures) must find every flow address, MAC and name in the output — in the
 * rows as text, in the archive's integer halves and in API responses — in each form that such
 * an output holds. If this test fails, the leak tests could be passing because the search is
 * blind, not because nothing leaks.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { DEFAULT_POLICY } from '../schemas/policy.ts';
import { startNodeServer } from '../api/adapters/node.ts';
import { loadOrCreateDevIssuer } from '../api/adapters/dev-issuer-files.ts';
import { fixturePath, rawIdentifiers } from './support/capture-facts.ts';
import { findLeaks, leakNeedles, type Haystack, type LeakForm } from './support/leak-search.ts';
import { tsharkFields } from './support/tshark.ts';
import { skipUnlessTools } from './support/required-tools.ts';
import { runFlowseal } from './support/run-flowseal.ts';

/** Loopback HTTP over IPv4 and IPv6 with Host names; DNS over a veth with MACs and EUI-64 link-local addresses. */
const CAPTURES = ['http-lo.pcap', 'dns-ns.pcapng'] as const;
const datasetOf = (file: string) => `keep-${file.replace(/\.(pcap|pcapng)$/, '')}`;

describe('the leak search finds every form a keep-everything output holds', { skip: skipUnlessTools('tshark') }, () => {
  let dir: string;
  let archive: string;
  let server: { url: string; close(): Promise<void> };
  const responses: string[] = [];
  const haystacks: Haystack[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowseal-keep-'));
    archive = join(dir, 'archive');
    const columns = Object.fromEntries(Object.keys(DEFAULT_POLICY.columns).map((c) => [c, 'keep']));
    const policyPath = join(dir, 'keep-everything.json');
    await writeFile(policyPath, JSON.stringify({ version: 1, description: 'keeps every field', columns }));
    for (const f of CAPTURES) {
      const r = await runFlowseal(['pipeline', fixturePath(f), '--archive', archive, '--dataset', datasetOf(f), '--policy', policyPath]);
      assert.equal(r.code, 0, `pipeline failed on ${f}: ${r.stderr.slice(-800)}`);
    }
    const configPath = join(dir, 'api.json');
    await writeFile(configPath, JSON.stringify({ limits: { minGroupSize: 1 } }));
    const quiet = { info: () => undefined, error: () => undefined };
    server = await startNodeServer({ archiveDir: archive, configPath, port: 0, devIssuerDir: join(dir, 'issuer'), auditLogPath: join(dir, 'audit.ndjson'), logger: quiet });
    const token = await (await loadOrCreateDevIssuer(join(dir, 'issuer'))).signToken('proof', ['datasets:read', 'query', 'records'], 600);
    for (const f of CAPTURES) {
      const get = async (path: string) => {
        const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
        const text = await res.text();
        assert.equal(res.status, 200, text);
        responses.push(text);
        return JSON.parse(text);
      };
      const range = (await get(`/v1/datasets/${datasetOf(f)}`)).timeRange as { from: string; to: string };
      const q = `from=${encodeURIComponent(range.from)}&to=${encodeURIComponent(new Date(Date.parse(range.to) + 1000).toISOString())}`;
      await get(`/v1/datasets/${datasetOf(f)}/records?${q}&limit=100`);
    }
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const rows = (await c.runAndReadAll(`SELECT * FROM read_parquet('${join(archive, '**', '*.parquet')}', hive_partitioning = true, union_by_name = true)`)).getRowObjectsJson();
    c.closeSync();
    db.closeSync();
    haystacks.push({ what: 'rows as text', bytes: JSON.stringify(rows) });
    haystacks.push({ what: 'API responses', bytes: responses.join('\n') });
    for (const rel of await readdir(archive, { recursive: true })) {
      const bytes = await readFile(join(archive, rel)).catch(() => null);
      if (bytes) haystacks.push({ what: `archive/${rel}`, bytes, compressed: rel.endsWith('.parquet') });
    }
  });

  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function identifiers() {
    const ids = { ips: new Set<string>(), macs: new Set<string>(), names: new Set<string>(), flowAddrs: new Set<string>(), flowMacs: new Set<string>() };
    for (const f of CAPTURES) {
      const r = await rawIdentifiers(fixturePath(f));
      r.ips.forEach((x) => ids.ips.add(x));
      r.macs.forEach((x) => ids.macs.add(x));
      r.names.forEach((x) => ids.names.add(x));
      await tsharkFields(fixturePath(f), ['ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst'], (cols) => cols.forEach((v) => v && ids.flowAddrs.add(v)));
      // MACs of IP packets (ARP's broadcast destination never reaches a flow).
      await tsharkFields(fixturePath(f), ['eth.src', 'eth.dst'], (cols) => cols.forEach((v) => v && ids.flowMacs.add(v.toLowerCase())), { filter: 'ip or ipv6' });
    }
    return ids;
  }

  test('every flow address, MAC and name of the captures is found', async () => {
    const ids = await identifiers();
    const leaks = findLeaks(haystacks, leakNeedles({ ips: [...ids.ips], macs: [...ids.macs], names: [...ids.names] }));
    const hit = new Set(leaks.map((l) => l.identifier));
    assert.ok(ids.flowAddrs.size >= 6);
    for (const a of ids.flowAddrs) assert.ok(hit.has(a), `flow address ${a} is found`);
    const flowMacs = [...ids.flowMacs].filter((m) => m !== '00:00:00:00:00:00');
    assert.ok(flowMacs.length >= 2);
    for (const m of flowMacs) assert.ok(hit.has(m) || [...hit].some((h) => h.startsWith(`${m} (in `)), `MAC ${m} is found`);
    for (const n of ['www.example.test', 'www6.example.test']) assert.ok(hit.has(n), `HTTP host ${n} is found`);
  });

  test('each form the output holds is found where it is', async () => {
    const ids = await identifiers();
    const leaks = findLeaks(haystacks, leakNeedles({ ips: [...ids.ips], macs: [...ids.macs], names: [...ids.names] }));
    const formsIn = (what: string) => new Set(leaks.filter((l) => l.what === what).map((l) => l.form));
    const expect: Array<[string, LeakForm[]]> = [
      ['rows as text', ['ipv4-dotted', 'ipv4-archive-integer', 'ipv6-text', 'ipv6-integer-halves', 'mac-colon', 'mac-eui64', 'name', 'name-label']],
      ['API responses', ['ipv4-dotted', 'ipv6-text', 'mac-colon', 'mac-eui64', 'name', 'name-label']],
    ];
    for (const [what, forms] of expect) {
      const got = formsIn(what);
      for (const form of forms) assert.ok(got.has(form), `${form} found in ${what} (found: ${[...got].join(', ')})`);
    }
  });
});
