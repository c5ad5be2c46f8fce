/**
 * End to end: every bundled real capture goes through `flowseal pipeline` (ingest and the
 * sealed processor as two processes, encrypted spool between them) into an anonymized
 * archive; the API (started for real on 127.0.0.1) answers aggregate queries whose per-
 * conversation packet and byte totals must equal what tshark's `conv,tcp` / `conv,udp`
 * report for the same capture, with tshark's addresses mapped through `flowseal anonymize`
 * under the same policy and key. Then the leak check: no raw address, MAC or name from the
 * captures appears in any archive file (raw bytes, and every row dumped as text), in any log
 * line of the pipeline, or in any API response.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DuckDBInstance } from '@duckdb/node-api';
import { DEFAULT_POLICY } from '../schemas/policy.ts';
import { startNodeServer } from '../api/adapters/node.ts';
import { loadOrCreateDevIssuer } from '../api/adapters/dev-issuer-files.ts';
import { FIXTURES, fixturePath, identifierNeedles, rawIdentifiers, specialIdentifier } from './support/capture-facts.ts';
import { tsharkConversations, type Conversation } from './support/tshark.ts';
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
    server = await startNodeServer({ archiveDir: archive, configPath, port: 0, devIssuerDir: issuerDir, auditLogPath: join(dir, 'audit.ndjson'), logger: { info: () => undefined, warn: () => undefined, error: () => undefined } as never });
    token = await (await loadOrCreateDevIssuer(issuerDir)).signToken('e2e', ['datasets:read', 'query', 'records'], 600);
  });

  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function api(path: string, body?: unknown): Promise<any> {
    const res = await fetch(`${server.url}${path}`, {
      method: body ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    responses.push(text);
    assert.equal(res.status, 200, `${path}: ${text}`);
    return JSON.parse(text);
  }

  async function pseudonyms(addrs: string[]): Promise<Map<string, string>> {
    if (addrs.length === 0) return new Map();
    const r = await runFlowseal(['anonymize', '--policy', policyPath, '--key', keyHex, ...addrs]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, addrs.length);
    return new Map(addrs.map((a, i) => [a, lines[i]!.trim()]));
  }

  test('every capture became a dataset with a signed manifest', async () => {
    const body = await api('/v1/datasets');
    const ids = body.datasets.map((d: { id: string }) => d.id).sort();
    assert.deepEqual(ids, FIXTURES.map((f) => datasetOf(f.file)).sort());
    for (const f of FIXTURES) {
      const names = await readdir(join(archive, datasetOf(f.file), 'manifests'));
      assert.equal(names.length, 1);
      const m = JSON.parse(await readFile(join(archive, datasetOf(f.file), 'manifests', names[0]!), 'utf8'));
      assert.match(m.jws, /^[\w-]+\.[\w-]+\.[\w-]+$/);
      assert.equal(m.manifest.counts.records, f.packets, `${f.file}: every record reached the processor`);
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

  test('no raw address, MAC or name reaches an archive file, a log line or an API response', async () => {
    const needles = { text: new Set<string>(), binary: [] as Uint8Array[] };
    for (const f of FIXTURES) {
      const ids = await rawIdentifiers(fixturePath(f.file));
      // What the policy keeps by design (multicast, broadcast, all-zero/all-one MACs) is not a leak.
      const keptIp = (v: string) => ['multicast', 'broadcast'].includes(specialIdentifier(v) ?? '');
      const keptMac = (v: string) => ['zero-mac', 'broadcast'].includes(specialIdentifier(v) ?? '');
      const n = identifierNeedles({ ips: ids.ips.filter((x) => !keptIp(x)), macs: ids.macs.filter((x) => !keptMac(x)), names: ids.names });
      // Short decimal renderings (e.g. a MAC half of 1) match any number: too weak to search for.
      for (const t of n.text) if (!/^\d{1,6}$/.test(t)) needles.text.add(t.toLowerCase());
      needles.binary.push(...n.binary.filter((b) => b.length >= 4));
    }
    assert.ok(needles.text.size > 20, 'the fixtures carry identifiers to look for');
    const haystacks: { what: string; bytes: Buffer }[] = [];
    for (const rel of await readdir(archive, { recursive: true })) {
      const p = join(archive, rel);
      const bytes = await readFile(p).catch(() => null);
      if (bytes) haystacks.push({ what: `archive/${rel}`, bytes });
    }
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const dump = await c.runAndReadAll(`SELECT * FROM read_parquet('${join(archive, '**', '*.parquet')}', hive_partitioning = true, union_by_name = true)`);
    haystacks.push({ what: 'every archived row as text', bytes: Buffer.from(JSON.stringify(dump.getRowObjectsJson())) });
    haystacks.push({ what: 'pipeline logs', bytes: Buffer.from(logs.join('\n')) });
    haystacks.push({ what: 'API responses', bytes: Buffer.from(responses.join('\n')) });
    haystacks.push({ what: 'audit log', bytes: await readFile(join(dir, 'audit.ndjson')) });
    assert.ok(haystacks.length > 10);
    for (const h of haystacks) {
      const lower = h.bytes.toString('latin1').toLowerCase();
      for (const t of needles.text) {
        // A dotted/colon form must stand alone (10.0.0.1 inside 110.0.0.12 is another address).
        const re = new RegExp(`(^|[^0-9a-f.:])${t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^0-9a-f.:])`);
        assert.ok(!re.test(lower), `${h.what} contains a raw identifier (${t.length} chars)`);
      }
      for (const b of needles.binary) {
        // Parquet pages are zstd-compressed: any 4 bytes turn up there by chance (~1 in 1000
        // runs), and a raw value stored in a column would not be visible in them anyway. The
        // decoded rows (dumped as text above, integer halves included) are what is checked for
        // 4-byte forms; longer needles (MACs, IPv6) are still searched in the raw files.
        if (b.length < 6 && h.what.endsWith('.parquet')) continue;
        const at = h.bytes.indexOf(b);
        assert.equal(at, -1, `${h.what} contains a raw identifier in binary form (${Buffer.from(b).toString('hex')} at ${at})`);
      }
    }
  });
});
