import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatIpv6, formatNetwork, parseAddress, parseCidr } from './cidr.ts';

test('parses IPv4 strictly into the IPv4-mapped space', () => {
  assert.deepEqual(parseAddress('10.1.2.3'), { version: 4, hi: 0n, lo: 0xffff_0a01_0203n });
  for (const bad of ['10.1.2', '10.1.2.3.4', '010.1.2.3', '256.1.1.1', '1.2.3.-1', '', '1.2.3.4 ', "1.2.3.4'"]) assert.equal(parseAddress(bad), null, bad);
});

test('parses IPv6 forms and rejects malformed ones', () => {
  assert.deepEqual(parseAddress('::'), { version: 6, hi: 0n, lo: 0n });
  assert.deepEqual(parseAddress('2001:db8::1'), { version: 6, hi: 0x2001_0db8_0000_0000n, lo: 1n });
  assert.deepEqual(parseAddress('::ffff:1.2.3.4'), { version: 6, hi: 0n, lo: 0xffff_0102_0304n });
  for (const bad of ['1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', '1:2:3:4:5:6:7::8', 'fe80::1%eth0']) assert.equal(parseAddress(bad), null, bad);
});

test('CIDR ranges: IPv4 /n spans 2^(32-n) mapped addresses; IPv6 splits across halves', () => {
  const v4 = parseCidr('10.1.2.3/16')!;
  assert.equal(v4.version, 4);
  assert.equal(v4.loMin, 0xffff_0a01_0000n);
  assert.equal(v4.loMax, 0xffff_0a01_ffffn);
  const v6 = parseCidr('2001:db8::/32')!;
  assert.equal(v6.hiMin, 0x2001_0db8_0000_0000n);
  assert.equal(v6.hiMax, 0x2001_0db8_ffff_ffffn);
  const v6long = parseCidr('2001:db8::8/125')!;
  assert.equal(v6long.hiMin, v6long.hiMax);
  assert.equal(v6long.loMin, 8n);
  assert.equal(v6long.loMax, 15n);
  assert.equal(parseCidr('::ffff:10.0.0.0/104')!.version, 4);
  for (const bad of ['10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/08', '10.0.0.0/8/8']) assert.equal(parseCidr(bad), null, bad);
});

test('property: an IPv4 address is inside its own /n and the range matches bit arithmetic', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 32 }), (ip, n) => {
    const text = [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.');
    const r = parseCidr(`${text}/${n}`)!;
    const lo = 0xffff_0000_0000n + BigInt(ip);
    assert.ok(r.loMin <= lo && lo <= r.loMax);
    assert.equal(r.loMax - r.loMin + 1n, 1n << BigInt(32 - n));
    const base = n === 0 ? 0 : (ip >>> (32 - n)) * 2 ** (32 - n);
    assert.equal(r.loMin, 0xffff_0000_0000n + BigInt(base));
  }));
});

test('property: RFC 5952 formatting round-trips through the parser', () => {
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.boolean(), (hi, lo, zeros) => {
    const h = zeros ? hi & 0xffff_0000_0000_ffffn : hi;
    const text = formatIpv6(h, lo);
    assert.deepEqual(parseAddress(text), { version: 6, hi: h, lo });
    assert.ok(!text.includes(':::'));
  }));
  assert.equal(formatIpv6(0x2001_0db8_0000_0000n, 1n), '2001:db8::1');
  assert.equal(formatIpv6(0x2001_0db8_0000_0001n, 0x0000_0000_0001_0001n), '2001:db8:0:1::1:1');
  assert.equal(formatNetwork(4, 0n, 0xffff_0a01_0000n, 16), '10.1.0.0/16');
});
