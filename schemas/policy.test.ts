import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError, ErrorCode } from './errors.ts';
import { DEFAULT_POLICY, Policy, parsePolicy, policyHash } from './policy.ts';

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
  const j = parsePolicy('{"version":1,"columns":{"src_addr":"ipcrypt-pfx","protocol":{"method":"keep"}}}');
  const y = parsePolicy('version: 1\ncolumns:\n  protocol: keep\n  src_addr:\n    method: ipcrypt-pfx\n');
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
  const a = issuesOf(() => parsePolicy('{"version":1,"columns":{"src_addr":"rot13"}}'));
  assert.equal(a[0].path, 'columns.src_addr.method');
  const b = issuesOf(() => parsePolicy('{"version":1,"columns":{"src_mac":"ipcrypt-pfx"}}'));
  assert.equal(b[0].path, 'columns.src_mac.method');
  const c = issuesOf(() => parsePolicy('{"version":1,"columns":{"src_addr_hi":"keep"}}'));
  assert.match(c[0].message, /Unrecognized key/);
  const d = issuesOf(() => parsePolicy('{"version":2,"columns":{}}'));
  assert.equal(d[0].path, 'version');
  const e = issuesOf(() => parsePolicy('{"version":1,"columns":{},"internalNetworks":[{"prefix":"10.0.0.0/8","target":"77.0.0.0/16"},{"prefix":"10.1.0.0/16"}]}'));
  assert.deepEqual(e.map((i) => i.path).sort(), ['internalNetworks.0.target', 'internalNetworks.1.prefix']);
  const f = issuesOf(() => parsePolicy('{"version":1,"columns":{},"keySource":{"type":"env"}}'));
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
