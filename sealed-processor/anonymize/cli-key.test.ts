import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError } from '../../schemas/errors.ts';
import { runAnonymizeCommand, runPolicyCheckCommand } from './cli.ts';
import { formatIpv6, parseAddress, parsePrefix } from '../../schemas/ip-address.ts';
import { deriveSubkey, generateMasterKey, keyIdOf, parseKeyArg, resolveMasterKey } from './key.ts';

function io(files: Record<string, string | Uint8Array> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out, err,
    io: {
      stdout: (s: string) => out.push(s),
      stderr: (s: string) => err.push(s),
      readFile: async (p: string) => {
        const f = files[p];
        if (f === undefined) throw new Error('ENOENT');
        return f;
      },
    },
  };
}

const PFX_KEY = '2b7e151628aed2a6abf7158809cf4f3ca9f5ba40db214c3798f2e1c23456789a';

test('anonymize: one result per input, in order; key from @file', async () => {
  const t = io({ k: `${PFX_KEY}\n` });
  assert.equal(await runAnonymizeCommand(['--method', 'ipcrypt-pfx', '--key', '@k', '10.0.0.47', '2001:db8::7234:d8f1:3c6e:9a52'], t.io), 0);
  assert.deepEqual(t.out, ['19.214.210.244', '7cec:702c:1243:f70:a3ef:c8e:95c1:cd0d']);
  const c = io();
  const cpKey = '15221780338da4cf80130a5b16499078d8988f8379796527625747d2d2a842202'.slice(0, 64);
  assert.equal(await runAnonymizeCommand(['--method', 'cryptopan', '--key', cpKey, '128.11.68.132'], c.io), 0);
  assert.equal(c.out.length, 1);
});

test('anonymize: errors are exit 2 and never echo the input or key', async () => {
  const t = io();
  assert.equal(await runAnonymizeCommand(['--method', 'ipcrypt-det', '--key', 'abcd', '10.1.2.3'], t.io), 2);
  assert.equal(await runAnonymizeCommand(['--method', 'ipcrypt-pfx', '--key', PFX_KEY, 'not-an-ip'], t.io), 2);
  assert.ok(t.err.every((l) => !l.includes('not-an-ip') && !l.includes(PFX_KEY) && !l.includes('10.1.2.3')));
  assert.equal(t.out.length, 0);
  const h = io();
  assert.equal(await runAnonymizeCommand(['--help'], h.io), 0);
  assert.match(h.out[0], /--method/);
});

test('anonymize --policy applies special ranges, MACs and names with the master key', async () => {
  const policy = JSON.stringify({ version: 1, columns: { time_start: 'keep', time_end: 'keep', src_addr: 'ipcrypt-pfx', src_mac: 'mac' } });
  const t = io({ 'p.json': new TextEncoder().encode(policy) });
  const master = '11'.repeat(32);
  assert.equal(await runAnonymizeCommand(['--policy', 'p.json', '--key', master, '224.0.0.1', '8.8.8.8', '00:11:22:33:44:55', 'example.com'], t.io), 0);
  assert.equal(t.out[0], '224.0.0.1');
  assert.notEqual(t.out[1], '8.8.8.8');
  assert.match(t.out[2], /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  assert.equal(t.out[3], 'null', 'dns_qname not listed → dropped');
});

test('policy check: ok + hash, or issues with exit 2', async () => {
  const t = io({ 'good.yaml': 'version: 1\ncolumns:\n  time_start: keep\n  time_end: keep\n  src_addr: keep\n', 'bad.json': '{"version":1,"columns":{"src_addr":"x"}}' });
  assert.equal(await runPolicyCheckCommand(['good.yaml'], t.io), 0);
  assert.match(t.out[0], /^ok [0-9a-f]{64}$/);
  assert.equal(await runPolicyCheckCommand(['bad.json'], t.io), 2);
  assert.match(t.err.join('\n'), /columns\.src_addr\.method/);
});

test('keys: HKDF domain separation, key id, parsing and sources', async () => {
  const m = generateMasterKey();
  assert.equal(m.length, 32);
  assert.notDeepEqual(deriveSubkey(m, 'flowseal/v1/a', 32), deriveSubkey(m, 'flowseal/v1/b', 32));
  assert.match(keyIdOf(m), /^[0-9a-f]{32}$/);
  assert.notEqual(keyIdOf(m), keyIdOf(generateMasterKey()));
  assert.equal((await parseKeyArg('0x' + 'ab'.repeat(16), async () => '')).length, 16);
  assert.equal((await parseKeyArg('@raw', async () => new Uint8Array(32).fill(200))).length, 32);
  await assert.rejects(parseKeyArg('zz', async () => ''), AppError);
  const hexKey = 'cd'.repeat(32);
  assert.deepEqual(await resolveMasterKey({ type: 'env', name: 'K' }, { getEnv: () => hexKey }), new Uint8Array(32).fill(0xcd));
  assert.deepEqual(await resolveMasterKey({ type: 'stdin' }, { readStdin: async () => `${hexKey}\n` }), new Uint8Array(32).fill(0xcd));
  await assert.rejects(resolveMasterKey({ type: 'env', name: 'K' }, { getEnv: () => undefined }), AppError);
  await assert.rejects(resolveMasterKey({ type: 'file', path: 'x' }, { readFile: async () => 'abcd' }), AppError);
});

test('address text: RFC 5952 output, parsing edge cases', () => {
  const f = (s: string): string => {
    const p = parseAddress(s);
    assert.ok(p && p.version === 6, s);
    return formatIpv6(p.v6);
  };
  assert.equal(f('2001:0DB8:0000:0000:0001:0000:0000:0001'), '2001:db8::1:0:0:1');
  assert.equal(f('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
  assert.equal(f('::'), '::');
  assert.equal(f('::ffff:192.0.2.1'), '::ffff:192.0.2.1');
  assert.equal(f('1::'), '1::');
  assert.equal(parseAddress('1:2:3:4:5:6:7:8:9'), null);
  assert.equal(parseAddress('1::2::3'), null);
  assert.equal(parseAddress('01.2.3.4'), null);
  assert.equal(parseAddress('256.1.1.1'), null);
  const p = parsePrefix('10.1.2.3/8');
  assert.ok(p && p.version === 4 && p.v4 === 0x0a000000 && p.length === 8);
});
