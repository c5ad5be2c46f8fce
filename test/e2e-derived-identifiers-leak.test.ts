/**
 * End to end, the default policy over a capture of IPv6 neighbour discovery and every other
 * field derived from another identifier (test/fixtures/derived/ipv6-nd.pcap, made
 * by make-nd-capture.py beside it: solicited-node and node-information groups with their 33:33 MACs,
 * EUI-64 addresses, RFC 3306/4489 groups, NAT64/6to4/Teredo, a 234/8 group, reverse names, a
 * DNSBL name, address literals in Host). `flowseal pipeline` runs on it; then no raw
 * identifier the default policy does not declare kept — whole (leak-search.ts, every form) or
 * as a run of its bits copied into another field (derived-bits.ts) — may appear in any column
 * of any row, the Parquet key/value metadata, any archive file or the release notes; no group
 * MAC may share a mapped half with a unicast MAC; no name label may be the hash of an octet or
 * a nibble. What the default policy declares kept: multicast groups (scope, group id) except
 * their derived bits, and so the IP-group MACs of groups that carry none. tshark is the oracle
 * for the raw identifiers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hkdfSync, createHmac } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { DEFAULT_POLICY } from '../schemas/policy.ts';
import { fixturePath, rawIdentifiers, specialIdentifier } from './support/capture-facts.ts';
import { describeBitRuns, findBitRuns, identifierHex, rawBitRuns, u64Hex } from './support/derived-bits.ts';
import { describeLeaks, findLeaks, ipv6Bytes, leakNeedles, type Haystack } from './support/leak-search.ts';
import { skipUnlessTools } from './support/required-tools.ts';
import { runFlowseal } from './support/run-flowseal.ts';

const CAPTURE = 'derived/ipv6-nd.pcap';
/** A fixed key (test data), so chance matches of short bit runs cannot differ between runs. */
const KEY_HEX = '6d2b3c4f8a1e0d9c7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa';

/** Multicast groups whose bits the default policy keeps as they are (no derived field). */
function keptGroup(ip: string): boolean {
  if (!ip.includes(':')) return specialIdentifier(ip) === 'multicast' && !ip.startsWith('234.');
  const b = ipv6Bytes(ip);
  if (b[0] !== 0xff) return false;
  const h = Buffer.from(b).toString('hex');
  if (/^ff020{18}0[12]ff/.test(h)) return false; // solicited-node, node information
  return ((b[1]! >> 4) & 0x2) === 0; // no P flag: no embedded prefix or IID
}

/** An IP-group MAC whose group bits come from a group the policy keeps whole (or from its group id). */
function keptGroupMac(mac: string, keptLow: Set<string>): boolean {
  const h = mac.replace(/:/g, '');
  return (h.startsWith('3333') || h.startsWith('01005e')) && keptLow.has(h.startsWith('3333') ? h.slice(4) : h.slice(6));
}

describe('the default policy leaks no derived identifier bits (IPv6 neighbour discovery and friends)', { skip: skipUnlessTools('tshark') }, () => {
  let dir: string;
  let archive: string;
  let rows: Record<string, unknown>[] = [];
  let kv: Record<string, unknown>[] = [];
  let notes: Record<string, unknown> = {};
  const logs: string[] = [];

  async function query(sql: string): Promise<Record<string, unknown>[]> {
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const r = (await c.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
    c.closeSync();
    db.closeSync();
    return r;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowseal-derived-'));
    archive = join(dir, 'archive');
    const keyPath = join(dir, 'anon.key');
    await writeFile(keyPath, KEY_HEX, { mode: 0o600 });
    const policyPath = join(dir, 'default.json');
    await writeFile(policyPath, JSON.stringify({ ...DEFAULT_POLICY, keySource: { type: 'file', path: keyPath } }));
    const r = await runFlowseal(['pipeline', fixturePath(CAPTURE), '--archive', archive, '--dataset', 'nd', '--policy', policyPath]);
    logs.push(r.stdout, r.stderr);
    assert.equal(r.code, 0, r.stderr.slice(-800));
    const glob = join(archive, '**', '*.parquet');
    rows = await query(`SELECT * FROM read_parquet('${glob}', hive_partitioning = true)`);
    kv = await query(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata('${glob}')`);
    const mdir = join(archive, 'nd', 'manifests');
    const [m] = await readdir(mdir);
    notes = (JSON.parse(await readFile(join(mdir, m!), 'utf8')) as { manifest: { releaseNotes: Record<string, unknown> } }).manifest.releaseNotes;
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('the archive holds each derived case, anonymized the way docs/POLICY.md says (so the search has something to find)', () => {
    assert.equal(rows.length, 21);
    const col = (c: string) => rows.map((r) => r[c]).filter((v): v is string => typeof v === 'string');
    const groups = col('dst_addr').filter((a) => /^ff02::[12]:ff/.test(a));
    assert.equal(groups.length, 3, 'two solicited-node groups and a node-information group, still such groups');
    for (const r of rows.filter((x) => /^ff02::[12]:ff/.test(String(x.dst_addr)))) {
      const low = ipv6Bytes(String(r.dst_addr)).slice(13);
      assert.equal(r.dst_mac, `33:33:ff:${Buffer.from(low).toString('hex').match(/../g)!.join(':')}`, 'the group MAC is the anonymized group\'s');
    }
    assert.ok(col('dst_addr').some((a) => a.startsWith('64:ff9b::')), 'NAT64 keeps its prefix');
    assert.ok(col('dst_addr').some((a) => /^ff3e:40:/.test(a)) && col('dst_addr').some((a) => /^ff32:ff:/.test(a)));
    assert.ok(col('dst_addr').some((a) => a.startsWith('234.')));
    const names = col('dns_qname');
    assert.equal(names.filter((n) => n.endsWith('.in-addr.arpa')).length, 1);
    assert.equal(names.filter((n) => n.endsWith('.ip6.arpa')).length, 2);
    assert.ok(col('http_host').some((h) => h.startsWith('[')) && col('http_host').some((h) => /^\d+\.\d+\.\d+\.\d+$/.test(h)), 'address literals stay literals');
    const d = notes.derivedIdentifiers as { addresses: Record<string, number>; groupMacs: Record<string, number>; names: Record<string, number> };
    assert.deepEqual(d.names, { mapped: 5, dropped: 1 }, 'the DNSBL name is dropped and counted');
    assert.ok(d.addresses.solicitedNodeGroup === 2 && d.addresses.nodeInformationGroup === 1 && d.addresses.nat64 === 1);
    assert.ok(d.groupMacs.derived >= 9 && d.groupMacs.unmatched === 0);
  });

  test('no raw identifier, whole or as a run of its bits, in any column, the Parquet metadata, any archive file or the release notes', async () => {
    const raw = await rawIdentifiers(fixturePath(CAPTURE));
    const keptLow = new Set<string>();
    const ips = raw.ips.filter((ip) => {
      if (specialIdentifier(ip) === 'unspecified') return false;
      if (!keptGroup(ip)) return true;
      const h = ip.includes(':') ? Buffer.from(ipv6Bytes(ip)).toString('hex') : ip.split('.').map((x) => Number(x).toString(16).padStart(2, '0')).join('');
      keptLow.add(ip.includes(':') ? h.slice(24) : (parseInt(h.slice(2), 16) & 0x7fffff).toString(16).padStart(6, '0'));
      return false;
    });
    // The group id of a kept RFC 3306/4489 group is kept too, and with it the low 32 bits its MAC carries.
    for (const ip of raw.ips) if (ip.includes(':') && ipv6Bytes(ip)[0] === 0xff && ((ipv6Bytes(ip)[1]! >> 4) & 2)) keptLow.add(Buffer.from(ipv6Bytes(ip)).toString('hex').slice(24));
    const macs = raw.macs.filter((m) => !['zero-mac', 'broadcast'].includes(specialIdentifier(m) ?? '') && !keptGroupMac(m, keptLow));
    assert.ok(ips.length >= 14 && macs.length >= 7, `needles: ${ips.length} addresses, ${macs.length} MACs`);
    assert.ok(ips.some((ip) => ip.startsWith('ff02::1:ff')) && macs.some((m) => m.startsWith('33:33:ff:')), 'the solicited-node groups and their MACs are searched for');
    const text = JSON.stringify(rows);
    const haystacks: Haystack[] = [
      { what: 'every row as text', bytes: text },
      { what: 'Parquet key/value metadata', bytes: JSON.stringify(kv) },
      { what: 'release notes', bytes: JSON.stringify(notes) },
      { what: 'pipeline output', bytes: logs.join('\n') },
    ];
    for (const rel of await readdir(archive, { recursive: true })) {
      const bytes = await readFile(join(archive, rel)).catch(() => null);
      if (bytes) haystacks.push({ what: `archive/${rel}`, bytes, compressed: rel.endsWith('.parquet') });
    }
    // The high 64 bits of a NAT64 address and of a kept group are the well-known prefix
    // (64:ff9b::, ff02::), declared kept: their integer form is no needle.
    const keptHigh = new Set(ips.filter((ip) => ip.startsWith('64:ff9b:') || ip.startsWith('ff'))
      .flatMap((ip) => { const hi = BigInt(`0x${Buffer.from(ipv6Bytes(ip).slice(0, 8)).toString('hex')}`); return [hi.toString(), BigInt.asIntN(64, hi).toString()]; }));
    const needles = leakNeedles({ ips, macs, names: raw.names.filter((n) => !/(in-addr|ip6)\.arpa$/.test(n)) })
      .filter((n) => !(n.form === 'ipv6-integer-halves' && keptHigh.has(n.text ?? '')));
    const leaks = findLeaks(haystacks, needles);
    assert.equal(leaks.length, 0, describeLeaks(leaks));
    const runs = rawBitRuns({ ips, macs });
    assert.ok(runs.some((r) => r.field === 'group-suffix') && runs.some((r) => r.field === 'iid') && runs.some((r) => r.field === 'embedded-ipv4'));
    const outputs = rows.map((r, i) => ({
      what: `row ${i}`,
      hex: [...identifierHex(JSON.stringify(r)), ...u64Hex([r.src_addr_hi, r.src_addr_lo, r.dst_addr_hi, r.dst_addr_lo])],
    }));
    outputs.push({ what: 'metadata and release notes', hex: identifierHex(JSON.stringify([kv, notes])) });
    const found = findBitRuns(outputs, runs);
    assert.equal(found.length, 0, describeBitRuns(found));
  });

  test('no group MAC shares a mapped half with a unicast MAC, and no name label is the hash of an octet or a nibble', () => {
    const macs = rows.flatMap((r) => [r.src_mac, r.dst_mac]).filter((m): m is string => typeof m === 'string');
    const isGroup = (m: string) => parseInt(m.slice(0, 2), 16) & 1;
    const unicastNic = new Set(macs.filter((m) => !isGroup(m)).map((m) => m.slice(9)));
    const unicastOui = new Set(macs.filter((m) => !isGroup(m)).map((m) => m.slice(0, 8)));
    for (const m of macs.filter(isGroup)) {
      assert.ok(!unicastNic.has(m.slice(9)), `${m}: its NIC half is a unicast MAC's (a raw↔mapped pair of that NIC half)`);
      const sibling = (parseInt(m.slice(0, 2), 16) & 0xfe).toString(16).padStart(2, '0') + m.slice(2, 8);
      assert.ok(!unicastOui.has(sibling), `${m}: its OUI is a unicast vendor's with the I/G bit set`);
    }
    const nameKey = Buffer.from(hkdfSync('sha256', Buffer.from(KEY_HEX, 'hex'), Buffer.alloc(0), Buffer.from('flowseal/v1/name/label'), 32));
    const hash = (l: string) => createHmac('sha256', nameKey).update(l).digest().subarray(24).toString('hex');
    const small = new Set([...Array.from({ length: 256 }, (_, i) => hash(String(i))), ...'abcdef'.split('').map(hash)]);
    const labels = rows.flatMap((r) => [r.dns_qname, r.tls_sni, r.http_host]).filter((n): n is string => typeof n === 'string').flatMap((n) => n.split('.'));
    assert.ok(labels.length > 60);
    for (const l of labels) assert.ok(!small.has(l), `label ${l} is the hash of an octet or a nibble: decodable by known plaintext`);
  });
});
