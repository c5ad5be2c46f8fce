/**
 * End to end: every bundled real capture goes through `flowseal pipeline` (ingest and the
 * sealed processor as two processes, encrypted spool between them) into an anonymized
 * archive; the API (started for real on 127.0.0.1) answers aggregate queries whose per-
 * conversation packet and byte totals must equal what tshark's `conv,tcp` / `conv,udp`
 * report for the same capture, with tshark's addresses mapped through `flowseal anonymize`
 * under the same policy and key. The mapping's injectivity is checked independently of that
 * command (distinct addresses in the archive = distinct addresses tshark sees), and every
 * manifest's signature is verified over its canonical JSON, with its file list matching the
 * files on disk. Then the leak check (test/support/leak-search.ts, every form): no raw
 * address, MAC or name from the captures appears in any archive file (raw bytes, and every row
 * dumped as text), in the pipeline's or the API server's log lines, in the audit log, or in
 * any API response (every route, errors included).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { DuckDBInstance } from '@duckdb/node-api';
import { DEFAULT_POLICY } from '../schemas/policy.ts';
import { startNodeServer } from '../api/adapters/node.ts';
import { loadOrCreateDevIssuer } from '../api/adapters/dev-issuer-files.ts';
import { compactVerify, importJWK } from 'jose';
import { canonicalJson } from '../schemas/canonical-json.ts';
import { FIXTURES, fixturePath, rawIdentifiers, specialIdentifier } from './support/capture-facts.ts';
import { ipv4Bytes, ipv6Bytes } from './support/leak-search.ts';

/** ff02::1:ffXX:XXXX (solicited-node, RFC 4291) and ff02::2:ffXX:XXXX (node information, RFC 4620). */
function carriesTargetBits(ip: string): boolean {
  if (!ip.includes(':')) return false;
  const b = ipv6Bytes(ip);
  return b[0] === 0xff && b[1] === 0x02 && b.slice(2, 11).every((x) => x === 0) && (b[11] === 1 || b[11] === 2) && b[12] === 0xff;
}

/** The Ethernet group MAC of a multicast group (RFC 2464 33:33 + low 32 bits; RFC 1112 01:00:5e + low 23 bits). */
function groupMacOf(ip: string): string | null {
  const hex = (xs: number[]) => xs.map((x) => x.toString(16).padStart(2, '0')).join(':');
  if (ip.includes(':')) {
    const b = ipv6Bytes(ip);
    return b[0] === 0xff ? hex([0x33, 0x33, ...b.slice(12, 16)]) : null;
  }
  const [a, b1, b2, b3] = ipv4Bytes(ip);
  return a! >= 224 && a! <= 239 ? hex([0x01, 0x00, 0x5e, b1! & 0x7f, b2!, b3!]) : null;
}
import { describeLeaks, findLeaks, leakNeedles, type Haystack } from './support/leak-search.ts';
import { tsharkConversations, tsharkFields, type Conversation } from './support/tshark.ts';
import { skipUnlessTools } from './support/required-tools.ts';
import { runFlowseal } from './support/run-flowseal.ts';

const datasetOf = (file: string) => file.replace(/\.(pcap|pcapng)$/, '').toLowerCase();

describe('pipeline → archive → API, checked against tshark', { skip: skipUnlessTools('tshark') }, () => {
  let dir: string;
  let archive: string;
  let policyPath: string;
  let keyHex: string;
  let server: { url: string; close(): Promise<void> };
  let token: string;
  const logs: string[] = [];
  const serverLogs: string[] = [];
  const responses: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowseal-e2e-'));
    archive = join(dir, 'archive');
    keyHex = randomBytes(32).toString('hex');
    const keyPath = join(dir, 'anon.key');
    await writeFile(keyPath, keyHex, { mode: 0o600 });
    policyPath = join(dir, 'policy.json');
    await writeFile(policyPath, JSON.stringify({ ...DEFAULT_POLICY, keySource: { type: 'file', path: keyPath } }));
    for (const f of FIXTURES) {
      const r = await runFlowseal(['pipeline', fixturePath(f.file), '--archive', archive, '--dataset', datasetOf(f.file), '--policy', policyPath]);
      logs.push(r.stdout, r.stderr);
      assert.equal(r.code, 0, `pipeline failed on ${f.file}: ${r.stderr.slice(-800)}`);
    }
    const issuerDir = join(dir, 'dev-issuer');
    // The suite sends ~25 requests in a burst and compares single conversations: allow that
    // (rate limiting and group-size suppression have their own tests).
    const configPath = join(dir, 'api.json');
    await writeFile(configPath, JSON.stringify({ rateLimit: { perMinute: 600, burst: 100 }, limits: { minGroupSize: 1 } }));
    const log = (level: string) => (message: string, fields?: Record<string, unknown>) => serverLogs.push(JSON.stringify({ level, message, ...fields }));
    server = await startNodeServer({ archiveDir: archive, configPath, port: 0, devIssuerDir: issuerDir, auditLogPath: join(dir, 'audit.ndjson'), logger: { info: log('info'), error: log('error') } });
    token = await (await loadOrCreateDevIssuer(issuerDir)).signToken('e2e', ['datasets:read', 'query', 'records'], 600);
  });

  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function api(path: string, body?: unknown, status = 200): Promise<any> {
    const res = await fetch(`${server.url}${path}`, {
      method: body ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    responses.push(text);
    assert.equal(res.status, status, `${path}: ${text}`);
    return JSON.parse(text);
  }

  async function pseudonyms(addrs: string[]): Promise<Map<string, string>> {
    if (addrs.length === 0) return new Map();
    const r = await runFlowseal(['anonymize', '--policy', policyPath, '--key', keyHex, ...addrs]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, addrs.length);
    const map = new Map(addrs.map((a, i) => [a, lines[i]!.trim()]));
    assert.equal(new Set(map.values()).size, map.size, 'distinct addresses get distinct pseudonyms');
    return map;
  }

  test('every capture became a dataset with a manifest whose signature and file list check out', async () => {
    const body = await api('/v1/datasets');
    const ids = body.datasets.map((d: { id: string }) => d.id).sort();
    assert.deepEqual(ids, FIXTURES.map((f) => datasetOf(f.file)).sort());
    for (const f of FIXTURES) {
      const ds = join(archive, datasetOf(f.file));
      const names = await readdir(join(ds, 'manifests'));
      assert.equal(names.length, 1);
      const m = JSON.parse(await readFile(join(ds, 'manifests', names[0]!), 'utf8'));
      assert.equal(m.manifest.counts.records, f.packets, `${f.file}: every record reached the processor`);
      // The signature covers exactly the canonical manifest: any edit of it breaks the check.
      const { payload, protectedHeader } = await compactVerify(m.jws, await importJWK(m.signer, 'EdDSA'));
      assert.equal(protectedHeader.alg, 'EdDSA');
      assert.equal(new TextDecoder().decode(payload), canonicalJson(m.manifest), `${f.file}: signed payload is the canonical manifest`);
      const forged = { ...m.manifest, flows: m.manifest.flows + 1 };
      assert.notEqual(canonicalJson(forged), new TextDecoder().decode(payload));
      // The manifest lists exactly the Parquet files on disk, with their sizes and row counts.
      const onDisk = (await readdir(ds, { recursive: true })).filter((r) => r.endsWith('.parquet')).sort();
      assert.deepEqual(m.manifest.files.map((x: { path: string }) => x.path).sort(), onDisk);
      for (const file of m.manifest.files as Array<{ path: string; bytes: number; rows: number; sha256: string }>) {
        const bytes = await readFile(join(ds, file.path));
        assert.equal(bytes.length, file.bytes, `${file.path}: size`);
        assert.equal(createHash('sha256').update(bytes).digest('hex'), file.sha256, `${file.path}: hash`);
        const rows = await sql(`SELECT count(*)::INTEGER AS n FROM read_parquet('${join(ds, file.path)}')`);
        assert.equal(rows[0]!.n, file.rows, `${file.path}: rows`);
      }
      assert.equal(m.manifest.flows, m.manifest.files.reduce((n: number, x: { rows: number }) => n + x.rows, 0));
    }
  });

  test('the address mapping is injective on every capture (checked without flowseal anonymize)', async () => {
    for (const f of FIXTURES) {
      // Outer IP header addresses of every packet, as tshark reads them.
      const raw = new Set<string>();
      await tsharkFields(fixturePath(f.file), ['ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst'], (cols) => {
        for (const v of cols) if (v) raw.add(v.toLowerCase());
      });
      const glob = join(archive, datasetOf(f.file), '**', '*.parquet');
      const rows = await sql(`SELECT count(DISTINCT a)::INTEGER AS n FROM (SELECT src_addr AS a FROM read_parquet('${glob}') UNION ALL SELECT dst_addr FROM read_parquet('${glob}'))`);
      // Every raw address is in some flow, so fewer pseudonyms than raw addresses means two
      // addresses were merged; more would mean one address got two pseudonyms.
      assert.equal(rows[0]!.n, raw.size, `${f.file}: ${raw.size} raw addresses, ${rows[0]!.n} pseudonyms`);
    }
  });

  for (const f of FIXTURES) {
    for (const proto of ['tcp', 'udp'] as const) {
      test(`${f.file}: ${proto} flow totals equal tshark conv,${proto}`, async () => {
        const convs: Conversation[] = await tsharkConversations(fixturePath(f.file), proto);
        const map = await pseudonyms([...new Set(convs.flatMap((c) => [c.addrA, c.addrB]))].sort());
        const expected = new Map<string, [number, number, number, number]>();
        for (const c of convs) {
          const k = `${map.get(c.addrA)}|${c.portA}|${map.get(c.addrB)}|${c.portB}`;
          const e = expected.get(k) ?? [0, 0, 0, 0];
          expected.set(k, [e[0] + c.framesAtoB, e[1] + c.framesBtoA, e[2] + c.ipBytesAtoB, e[3] + c.ipBytesBtoA]);
        }
        const ds = await api(`/v1/datasets/${datasetOf(f.file)}`);
        const from = new Date(Math.floor(Date.parse(ds.timeRange.from) / 86_400_000) * 86_400_000).toISOString();
        const to = new Date(Date.parse(from) + 2 * 86_400_000).toISOString();
        const res = await api('/v1/query', {
          dataset: datasetOf(f.file),
          timeRange: { from, to },
          filter: { protocol: proto === 'tcp' ? 6 : 17 },
          groupBy: ['src_addr', 'src_port', 'dst_addr', 'dst_port'],
          metrics: ['packets_fwd', 'packets_rev', 'bytes_fwd', 'bytes_rev'],
          limit: 1000,
        });
        const col = (n: string) => res.columns.findIndex((c: { name: string }) => c.name === n);
        const actual = new Map<string, [number, number, number, number]>();
        for (const row of res.rows) {
          const v = (n: string) => row[col(n)];
          let k = `${v('src_addr')}|${v('src_port')}|${v('dst_addr')}|${v('dst_port')}`;
          let t: [number, number, number, number] = [Number(v('packets_fwd')), Number(v('packets_rev')), Number(v('bytes_fwd')), Number(v('bytes_rev'))];
          if (!expected.has(k)) {
            // tshark's A is the first sender; ours is the initiator: orient like tshark.
            k = `${v('dst_addr')}|${v('dst_port')}|${v('src_addr')}|${v('src_port')}`;
            t = [t[1], t[0], t[3], t[2]];
          }
          const e = actual.get(k) ?? [0, 0, 0, 0];
          actual.set(k, [e[0] + t[0], e[1] + t[1], e[2] + t[2], e[3] + t[3]]);
        }
        assert.deepEqual(actual, expected);
      });
    }
  }

  test('no raw address, MAC or name, in any form, reaches an archive file, a log line, the audit log or an API response', async () => {
    const ids = { ips: new Set<string>(), macs: new Set<string>(), names: new Set<string>() };
    for (const f of FIXTURES) {
      const r = await rawIdentifiers(fixturePath(f.file));
      // What the default policy keeps verbatim by design (multicast groups without identifier
      // bits, broadcast, all-zero/all-one MACs, and the group MACs of kept groups) is not
      // searched for. Solicited-node and node-information groups carry the raw target's low 24
      // bits: they are anonymized (docs/POLICY.md), so their raw form and MAC are searched.
      const kept = r.ips.filter((x) => ['multicast', 'broadcast'].includes(specialIdentifier(x) ?? '') && !carriesTargetBits(x));
      for (const x of r.ips) if (!kept.includes(x)) ids.ips.add(x);
      const keptGroupMacs = new Set(kept.map(groupMacOf).filter((m): m is string => m !== null));
      for (const x of r.macs) if (!['zero-mac', 'broadcast'].includes(specialIdentifier(x) ?? '') && !keptGroupMacs.has(x.toLowerCase())) ids.macs.add(x);
      for (const x of r.names) ids.names.add(x);
    }
    const needles = leakNeedles({ ips: [...ids.ips], macs: [...ids.macs], names: [...ids.names] });
    assert.ok(ids.ips.size >= 10 && ids.macs.size >= 3 && ids.names.size >= 8 && needles.length > 150, 'the fixtures carry identifiers to look for');
    // Every convenience route and an error of each kind, so their responses are searched too.
    const ds = datasetOf(FIXTURES[0]!.file);
    const range = (await api(`/v1/datasets/${ds}`)).timeRange as { from: string; to: string };
    const to = new Date(Date.parse(range.to) + 1000).toISOString();
    const q = `from=${encodeURIComponent(range.from)}&to=${encodeURIComponent(to)}`;
    await api(`/v1/datasets/${ds}/records?${q}&limit=50`);
    await api(`/v1/datasets/${ds}/top?${q}&by=src_addr&n=20`);
    await api(`/v1/datasets/${ds}/top?${q}&by=dst_addr&metric=bytes`);
    await api(`/v1/datasets/${ds}/timeseries?${q}&bucket=1m`);
    await api('/v1/query', { dataset: ds, timeRange: { from: range.from, to }, groupBy: ['src_addr', 'dst_addr', 'src_mac', 'dst_mac', 'http_host'], metrics: ['flows'], limit: 100 });
    await api('/v1/query', { dataset: ds, timeRange: { from: 'yesterday', to }, limit: 5 }, 400);
    await api('/v1/datasets/no-such-dataset', undefined, 404);
    const haystacks: Haystack[] = [];
    for (const rel of await readdir(archive, { recursive: true })) {
      const bytes = await readFile(join(archive, rel)).catch(() => null);
      if (bytes) haystacks.push({ what: `archive/${rel}`, bytes, compressed: rel.endsWith('.parquet') });
    }
    assert.ok(haystacks.some((h) => h.compressed) && haystacks.some((h) => h.what.includes('manifests')));
    const dump = await sql(`SELECT * FROM read_parquet('${join(archive, '**', '*.parquet')}', hive_partitioning = true, union_by_name = true)`);
    assert.ok(dump.length > 20);
    haystacks.push({ what: 'every archived row as text', bytes: JSON.stringify(dump) });
    haystacks.push({ what: 'pipeline logs', bytes: logs.join('\n') });
    // The server's own listen URL (127.0.0.1, the test's configuration) is not trace data.
    haystacks.push({ what: 'API server logs', bytes: serverLogs.join('\n').replaceAll(server.url, '<listen-url>') });
    haystacks.push({ what: 'API responses', bytes: responses.join('\n') });
    // Each audit entry records the API client's own address (the test's fetch, from 127.0.0.1): not trace data.
    const auditLog = (await readFile(join(dir, 'audit.ndjson'), 'utf8')).replaceAll('"clientAddress":"127.0.0.1"', '"clientAddress":"-"');
    haystacks.push({ what: 'audit log', bytes: auditLog });
    assert.ok(responses.length > 15 && serverLogs.length > 0);
    const leaks = findLeaks(haystacks, needles);
    assert.equal(leaks.length, 0, describeLeaks(leaks));
  });

  async function sql(text: string): Promise<Record<string, any>[]> {
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    try {
      return (await c.runAndReadAll(text)).getRowObjectsJson() as Record<string, any>[];
    } finally {
      c.closeSync();
      db.closeSync();
    }
  }
});
