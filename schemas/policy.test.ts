import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError, ErrorCode } from './errors.ts';
import { DEFAULT_POLICY, Policy, parsePolicy, policyHash, publishablePolicy } from './policy.ts';

/** The two required time columns, as a JSON fragment. */
const T = '"time_start":"keep","time_end":"keep"';

function issuesOf(fn: () => unknown): Array<{ path: string; message: string }> {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof AppError);
    assert.equal(e.code, ErrorCode.PolicyInvalid);
    return e.details?.issues as Array<{ path: string; message: string }>;
  }
  assert.fail('expected PolicyInvalid');
}

test('parses JSON and YAML to the same policy and hash; shorthand equals the long form', () => {
  const j = parsePolicy(`{"version":1,"columns":{${T},"src_addr":"ipcrypt-pfx","protocol":{"method":"keep"}}}`);
  const y = parsePolicy('version: 1\ncolumns:\n  time_start: keep\n  time_end: { method: keep }\n  protocol: keep\n  src_addr:\n    method: ipcrypt-pfx\n');
  assert.deepEqual(j, y);
  assert.equal(policyHash(j), policyHash(y));
  assert.match(policyHash(j), /^[0-9a-f]{64}$/);
  assert.notEqual(policyHash(j), policyHash(DEFAULT_POLICY));
});

test('DEFAULT_POLICY is valid and maps addresses with ipcrypt-pfx', () => {
  assert.equal(Policy.parse(DEFAULT_POLICY).columns.src_addr?.method, 'ipcrypt-pfx');
  assert.equal(DEFAULT_POLICY.specialRanges?.multicast, 'keep');
});

test('clear validation errors with paths', () => {
  const a = issuesOf(() => parsePolicy(`{"version":1,"columns":{${T},"src_addr":"rot13"}}`));
  assert.equal(a[0].path, 'columns.src_addr.method');
  const b = issuesOf(() => parsePolicy(`{"version":1,"columns":{${T},"src_mac":"ipcrypt-pfx"}}`));
  assert.equal(b[0].path, 'columns.src_mac.method');
  const c = issuesOf(() => parsePolicy(`{"version":1,"columns":{${T},"src_addr_hi":"keep"}}`));
  assert.match(c[0].message, /Unrecognized key/);
  const d = issuesOf(() => parsePolicy('{"version":2,"columns":{}}'));
  assert.equal(d[0].path, 'version');
  const e = issuesOf(() => parsePolicy(`{"version":1,"columns":{${T}},"internalNetworks":[{"prefix":"10.0.0.0/8","target":"77.0.0.0/16"},{"prefix":"10.1.0.0/16"}]}`));
  assert.deepEqual(e.map((i) => i.path).sort(), ['internalNetworks.0.target', 'internalNetworks.1.prefix']);
  const f = issuesOf(() => parsePolicy(`{"version":1,"columns":{${T}},"keySource":{"type":"env"}}`));
  assert.equal(f[0].path, 'keySource.name');
  assert.throws(() => parsePolicy('{"version":1,'), (err: unknown) => err instanceof AppError && /not valid JSON/.test(err.message));
  assert.throws(() => parsePolicy('version: [1', 'yaml'), (err: unknown) => err instanceof AppError && err.code === ErrorCode.PolicyInvalid);
});

test('example policies in test/fixtures/policies parse (and invalid.json does not)', async () => {
  const { readFile } = await import('node:fs/promises');
  const dir = new URL('../test/fixtures/policies/', import.meta.url);
  for (const f of ['campus.yaml', 'strict.json', 'cryptopan-compat.yaml']) {
    const p = parsePolicy(await readFile(new URL(f, dir), 'utf8'));
    assert.equal(p.version, 1, f);
  }
  const bad = await readFile(new URL('invalid.json', dir), 'utf8');
  const all = issuesOf(() => parsePolicy(bad)).map((i) => i.path);
  for (const p of ['columns.src_addr.method', 'columns.src_mac.method', 'keySource.name']) assert.ok(all.includes(p), p);
});

test('time_start and time_end are required (the archive partitions by them)', () => {
  const a = issuesOf(() => parsePolicy('{"version":1,"columns":{"src_addr":"keep","time_end":"shift"}}'));
  assert.deepEqual(a.map((i) => i.path), ['columns.time_start']);
  assert.match(a[0].message, /required.*partitions/);
  const b = issuesOf(() => parsePolicy('{"version":1,"columns":{"time_start":"keep","time_end":"drop"}}'));
  assert.deepEqual(b.map((i) => i.path), ['columns.time_end']);
  assert.equal(parsePolicy('{"version":1,"columns":{"time_start":"coarsen","time_end":"shift"}}').version, 1);
});

test('internal networks: IPv6 accepted with its rules; targets and ranges checked against the policy', () => {
  const ok = parsePolicy(`{"version":1,"columns":{${T}},"internalNetworks":[{"prefix":"2001:db8:1234::/48"},{"prefix":"2001:db8:99::/48","target":"fec0:1::/48","subnetPrefix":80}],"internalTargetV6":"fec0::/10"}`);
  assert.equal(ok.internalNetworks?.length, 2);
  const paths = (json: string) => issuesOf(() => parsePolicy(`{"version":1,"columns":{${T}},${json}}`)).map((i) => `${i.path}: ${i.message}`);
  assert.match(paths('"internalNetworks":[{"prefix":"2001:db8::/32","target":"10.0.0.0/8"}]')[0], /^internalNetworks\.0\.target: .*same address family/);
  assert.match(paths('"internalNetworks":[{"prefix":"2001:db8::/32","subnetPrefix":120}]')[0], /^internalNetworks\.0\.subnetPrefix: .*64 bits/);
  assert.match(paths('"internalNetworks":[{"prefix":"2001:db8::/48","subnetPrefix":40}]')[0], /^internalNetworks\.0\.subnetPrefix: .*shorter/);
  assert.match(paths('"internalNetworks":[{"prefix":"10.0.0.0/8","subnetPrefix":33}]')[0], /^internalNetworks\.0\.subnetPrefix: .*at most 32/);
  // Straddling a kept range, and targets inside kept ranges or the IPv4 space.
  assert.match(paths('"internalNetworks":[{"prefix":"192.168.0.0/15"}],"specialRanges":{"private":"keep"}')[0], /^internalNetworks\.0\.prefix: straddles/);
  assert.match(paths('"internalNetworks":[{"prefix":"10.0.0.0/8","target":"224.0.0.0/8"}]')[0], /^internalNetworks\.0\.target: overlaps a special range/);
  assert.match(paths('"internalNetworks":[{"prefix":"2001:db8::/48","target":"ff05::/48"}]')[0], /^internalNetworks\.0\.target: overlaps/);
  assert.match(paths('"internalNetworks":[{"prefix":"::/64"}]')[0], /^internalNetworks\.0\.prefix: straddles/);
  assert.match(paths('"internalNetworks":[{"prefix":"2001:db8::/48"},{"prefix":"2001:db8::/56"}]')[0], /^internalNetworks\.1\.prefix: overlaps internalNetworks\.0\.prefix/);
  // Inside a kept range it is inert (never reached), so its target may be anything.
  assert.equal(parsePolicy(`{"version":1,"columns":{${T}},"internalNetworks":[{"prefix":"192.0.2.0/24","target":"224.0.0.0/24"}],"specialRanges":{"documentation":"keep"}}`).version, 1);
});

test('the published policy hash does not depend on internal prefixes or the key location', () => {
  const base = { ...DEFAULT_POLICY, internalNetworks: [{ prefix: '10.137.0.0/16' }] };
  const a = Policy.parse(base);
  const b = Policy.parse({ ...base, internalNetworks: [{ prefix: '10.200.0.0/16' }] });
  const c = Policy.parse({ ...base, internalNetworks: [{ prefix: '10.137.0.0/17' }] });
  assert.equal(policyHash(a), policyHash(b), 'a brute-forceable hash would reveal the prefix');
  assert.notEqual(policyHash(a), policyHash(c), 'the prefix length is public and counts');
  const k1 = Policy.parse({ ...DEFAULT_POLICY, keySource: { type: 'file', path: '/secret/one' } });
  const k2 = Policy.parse({ ...DEFAULT_POLICY, keySource: { type: 'file', path: '/other/two' } });
  assert.equal(policyHash(k1), policyHash(k2));
  assert.doesNotMatch(JSON.stringify(publishablePolicy(a)), /10\.137/);
});

test('tunnels: inner (default, absent) or outer; anything else is refused; the choice is in the hash', () => {
  assert.equal(DEFAULT_POLICY.tunnels, undefined);
  const outer = Policy.parse({ ...DEFAULT_POLICY, tunnels: 'outer' });
  assert.equal(outer.tunnels, 'outer');
  assert.notEqual(policyHash(outer), policyHash(DEFAULT_POLICY));
  assert.throws(() => parsePolicy(JSON.stringify({ ...DEFAULT_POLICY, tunnels: 'both' })), (e: unknown) => e instanceof AppError && e.code === ErrorCode.PolicyInvalid);
  for (const c of ['tunnel_type', 'tunnel_src_addr', 'tunnel_dst_addr'] as const) assert.ok(DEFAULT_POLICY.columns[c], `default policy lists ${c}`);
});
