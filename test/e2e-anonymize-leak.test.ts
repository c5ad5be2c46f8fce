/**
 * End to end, the worst case for leaks: every bundled real capture goes through `flowseal
 * pipeline` with a policy that maps everything it can — every special address range mapped
 * (loopback, link-local, multicast, broadcast… nothing kept), MACs mapped, names hashed with
 * no suffix kept, ports binned, times shifted — and then no raw address, MAC or name from the
 * captures (text, decimal or binary form) may appear in any file of the archive, in the rows
 * dumped as text by DuckDB, in the pipeline's output, or in a manifest's release notes, which
 * must hold no secret either. The Parquet key/value metadata carries the policy hash that
 * `flowseal policy check` prints. Skipped when tshark (the oracle for raw identifiers) is
 * missing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DuckDBInstance } from '@duckdb/node-api';
import { DEFAULT_POLICY } from '../schemas/policy.ts';
import { SPECIAL_RANGE_KINDS } from '../schemas/special-ranges.ts';
import { FIXTURES, fixturePath, rawIdentifiers, specialIdentifier } from './support/capture-facts.ts';
import { describeLeaks, findLeaks, leakNeedles, type Haystack } from './support/leak-search.ts';
import { epochTextToUs, tsharkFields } from './support/tshark.ts';
import { skipUnlessTools } from './support/required-tools.ts';
import { runFlowseal } from './support/run-flowseal.ts';

const datasetOf = (file: string) => `leak-${file.replace(/\.(pcap|pcapng)$/, '').toLowerCase()}`;

describe('a map-everything policy leaks nothing through the whole pipeline', { skip: skipUnlessTools('tshark') }, () => {
  let dir: string;
  let archive: string;
  let policyPath: string;
  let keyPath: string;
  let keyHex: string;
  const logs: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowseal-leak-'));
    archive = join(dir, 'archive');
    keyHex = randomBytes(32).toString('hex');
    keyPath = join(dir, 'anon.key');
    await writeFile(keyPath, keyHex, { mode: 0o600 });
    policyPath = join(dir, 'map-everything.json');
    const columns = {
      ...DEFAULT_POLICY.columns,
      time_start: { method: 'shift' },
      time_end: { method: 'shift' },
      src_addr: 'ipcrypt-pfx',
      dst_addr: 'ipcrypt-pfx',
      src_port: { method: 'bin', keepWellKnown: true },
      dst_port: { method: 'bin', keepWellKnown: true },
      src_mac: 'mac',
      dst_mac: 'mac',
      dns_qname: 'name',
      tls_sni: 'name',
      http_host: 'name',
    };
    const specialRanges = Object.fromEntries(SPECIAL_RANGE_KINDS.map((k) => [k, 'map']));
    await writeFile(policyPath, JSON.stringify({ version: 1, description: 'leak check: map everything', columns, specialRanges, keySource: { type: 'file', path: keyPath } }));
    for (const f of FIXTURES) {
      const r = await runFlowseal(['pipeline', fixturePath(f.file), '--archive', archive, '--dataset', datasetOf(f.file), '--policy', policyPath]);
      logs.push(r.stdout, r.stderr);
      assert.equal(r.code, 0, `pipeline failed on ${f.file}: ${r.stderr.slice(-800)}`);
    }
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function query(sql: string): Promise<Record<string, unknown>[]> {
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const r = await c.runAndReadAll(sql);
    return r.getRowObjectsJson() as Record<string, unknown>[];
  }

  const glob = () => join(archive, '**', '*.parquet');

  async function manifests(): Promise<Array<{ manifest: Record<string, unknown> }>> {
    const out = [];
    for (const f of FIXTURES) {
      const mdir = join(archive, datasetOf(f.file), 'manifests');
      for (const n of await readdir(mdir)) out.push(JSON.parse(await readFile(join(mdir, n), 'utf8')));
    }
    return out;
  }

  test('the archive is really anonymized the way the policy says (so the leak check has teeth)', async () => {
    const rows = await query(`SELECT * FROM read_parquet('${glob()}', hive_partitioning = true, union_by_name = true)`);
    assert.ok(rows.length >= 20, 'flows were written');
    const names = rows.flatMap((r) => [r.dns_qname, r.tls_sni, r.http_host]).filter((v): v is string => typeof v === 'string');
    assert.ok(names.length > 5, 'names were seen');
    // An address literal (Host: 127.0.0.1) is rendered from its anonymized address
    // (docs/POLICY.md, derived identifiers); every other name has every label hashed.
    const literal = (n: string) => /^\d{1,3}(\.\d{1,3}){3}$|^\[[0-9a-f:.]+\]$/.test(n);
    assert.ok(names.some(literal), 'the Host: 127.0.0.1 literal was seen');
    for (const n of names.filter((x) => !literal(x))) assert.match(n, /^[0-9a-f]{16}(\.[0-9a-f]{16})*$/, 'every label hashed, no suffix kept');
    assert.ok(rows.some((r) => typeof r.src_mac === 'string'), 'MACs were seen');
    for (const r of rows) {
      assert.ok(Number(r.src_port) < 1024 || [1024, 49152].includes(Number(r.src_port)), 'ports binned');
    }
    // Times shifted: every archived flow starts before the capture's first packet.
    let firstUs = Infinity;
    for (const f of FIXTURES) {
      await tsharkFields(fixturePath(f.file), ['frame.time_epoch'], ([t]) => { if (t) firstUs = Math.min(firstUs, epochTextToUs(t)); });
    }
    const latest = await query(`SELECT epoch_us(max(time_end))::BIGINT AS t FROM read_parquet('${glob()}')`);
    assert.ok(Number(latest[0].t) < firstUs, 'time shifted back by the secret offset');
  });

  test('no raw address, MAC or name in any archive file, the rows as text, the logs or the release notes', async () => {
    const ids = { ips: new Set<string>(), macs: new Set<string>(), names: new Set<string>() };
    let specials = 0;
    for (const f of FIXTURES) {
      const r = await rawIdentifiers(fixturePath(f.file));
      // Everything is mapped, so only what identifies nobody is left out: the unspecified
      // addresses (0.0.0.0, ::) and the all-zero / broadcast MACs (fixed points of the MAC map).
      for (const x of r.ips) {
        if (specialIdentifier(x) === 'unspecified') continue;
        if (specialIdentifier(x) !== null) specials++;
        ids.ips.add(x);
      }
      for (const x of r.macs) if (!['zero-mac', 'broadcast'].includes(specialIdentifier(x) ?? '')) ids.macs.add(x);
      for (const x of r.names) ids.names.add(x);
    }
    assert.ok(specials > 0, 'special addresses (loopback, multicast, link-local…) are among the needles: this policy maps them');
    const needles = leakNeedles({ ips: [...ids.ips], macs: [...ids.macs], names: [...ids.names] });
    assert.ok(ids.ips.size >= 15 && ids.macs.size >= 5 && ids.names.size >= 8 && needles.length > 200, 'the fixtures carry identifiers to look for');
    const haystacks: Haystack[] = [];
    for (const rel of await readdir(archive, { recursive: true })) {
      const bytes = await readFile(join(archive, rel)).catch(() => null);
      if (bytes) haystacks.push({ what: `archive/${rel}`, bytes, compressed: rel.endsWith('.parquet') });
    }
    assert.ok(haystacks.some((h) => h.compressed) && haystacks.some((h) => h.what.includes('manifests')));
    const rows = await query(`SELECT * FROM read_parquet('${glob()}', hive_partitioning = true, union_by_name = true)`);
    haystacks.push({ what: 'every archived row as text', bytes: JSON.stringify(rows) });
    haystacks.push({ what: 'pipeline output', bytes: logs.join('\n') });
    const notes = (await manifests()).map((m) => m.manifest.releaseNotes);
    haystacks.push({ what: 'release notes', bytes: JSON.stringify(notes) });
    const leaks = findLeaks(haystacks, needles);
    assert.equal(leaks.length, 0, describeLeaks(leaks));
  });

  test('release notes hold no secret, and the policy hash of `flowseal policy check` is in every Parquet file and manifest', async () => {
    const check = await runFlowseal(['policy', 'check', policyPath]);
    assert.equal(check.code, 0, check.stderr);
    const hash = /^ok ([0-9a-f]{64})$/m.exec(check.stdout)?.[1];
    assert.ok(hash, check.stdout);
    const kv = await query(`SELECT DISTINCT decode(key) AS k, decode(value) AS v, file_name AS f FROM parquet_kv_metadata('${glob()}') WHERE decode(key) = 'flowseal.policy_hash'`);
    const files = await query(`SELECT DISTINCT file_name AS f FROM parquet_metadata('${glob()}')`);
    assert.equal(kv.length, files.length, 'every Parquet file carries the policy hash');
    for (const r of kv) assert.equal(r.v, hash);
    const keyBytes = Buffer.from(keyHex, 'hex');
    for (const { manifest } of await manifests()) {
      assert.equal(manifest.policyHash, hash);
      const notes = JSON.stringify(manifest.releaseNotes);
      assert.ok(notes.includes(hash), 'release notes name the policy by its hash');
      for (const secret of [keyHex, keyHex.toUpperCase(), keyBytes.toString('base64'), keyBytes.toString('base64url'), keyPath, 'anon.key']) {
        assert.ok(!notes.includes(secret), 'no key material or key location in the release notes');
      }
      const rn = manifest.releaseNotes as { keyId?: string; policy?: { keySource?: unknown } };
      assert.match(String(rn.keyId), /^[0-9a-f]{32}$/);
      assert.deepEqual(rn.policy?.keySource, { type: 'file' });
    }
    // The key file, the manifest files and the archive hold no raw key either.
    for (const rel of await readdir(archive, { recursive: true })) {
      const bytes = await readFile(join(archive, rel)).catch(() => null);
      if (!bytes) continue;
      assert.equal(bytes.indexOf(keyBytes), -1, `archive/${rel} holds the key bytes`);
      assert.ok(!bytes.toString('latin1').toLowerCase().includes(keyHex), `archive/${rel} holds the key text`);
    }
  });
});
