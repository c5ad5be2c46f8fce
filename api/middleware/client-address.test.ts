/**
 * Choosing the client address: the socket peer unless it is a trusted proxy, then the
 * right-most `X-Forwarded-For` hop that is not; normalised text; the per-address bucket key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressBucketKey, normalizeAddress, parseTrustedProxies, resolveClientAddress } from './client-address.ts';

const TRUSTED = parseTrustedProxies(['10.0.0.0/8', '2001:db8:ffff::/48', '192.0.2.7']);

test('without a trusted peer the socket address is the client, whatever X-Forwarded-For says', () => {
  assert.equal(resolveClientAddress('198.51.100.9', undefined, TRUSTED), '198.51.100.9');
  assert.equal(resolveClientAddress('198.51.100.9', '203.0.113.1', TRUSTED), '198.51.100.9', 'an untrusted peer cannot choose its address');
  assert.equal(resolveClientAddress('10.1.2.3', '203.0.113.1', []), '10.1.2.3', 'no proxies configured: the header is ignored');
  assert.equal(resolveClientAddress(undefined, '203.0.113.1', TRUSTED), null);
  assert.equal(resolveClientAddress('not-an-address', undefined, TRUSTED), null);
});

test('behind trusted proxies: the right-most hop that is not a trusted proxy', () => {
  assert.equal(resolveClientAddress('10.0.0.1', '203.0.113.1', TRUSTED), '203.0.113.1');
  assert.equal(resolveClientAddress('10.0.0.1', '1.1.1.1, 203.0.113.1, 10.9.9.9', TRUSTED), '203.0.113.1', 'left of the first untrusted hop is the client\'s own text');
  assert.equal(resolveClientAddress('192.0.2.7', '203.0.113.1,192.0.2.7', TRUSTED), '203.0.113.1');
  assert.equal(resolveClientAddress('10.0.0.1', '10.0.0.2, 10.0.0.3', TRUSTED), '10.0.0.2', 'all hops trusted: the left-most');
  assert.equal(resolveClientAddress('10.0.0.1', 'garbage, 10.0.0.3', TRUSTED), '10.0.0.3', 'a malformed hop ends the walk at the last trusted one');
  assert.equal(resolveClientAddress('10.0.0.1', '', TRUSTED), '10.0.0.1');
  assert.equal(resolveClientAddress('2001:db8:ffff::5', '[2001:db8::42]:443', TRUSTED), '2001:db8::42');
  assert.equal(resolveClientAddress('::ffff:10.0.0.1', '203.0.113.1:5555', TRUSTED), '203.0.113.1', 'a dual-stack socket sees IPv4 peers IPv4-mapped');
});

test('normalised text: RFC 5952, IPv4-mapped as IPv4, zone and port dropped', () => {
  assert.equal(normalizeAddress('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(normalizeAddress('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(normalizeAddress('fe80::1%eth0'), 'fe80::1');
  assert.equal(normalizeAddress('[::1]'), '::1');
  assert.equal(normalizeAddress('127.0.0.1:8080'), '127.0.0.1');
  assert.equal(normalizeAddress('010.0.0.1'), null);
  assert.equal(normalizeAddress('example.org'), null);
});

test('bucket key: the IPv4 address, or the /64 of an IPv6 address', () => {
  assert.equal(addressBucketKey('203.0.113.1'), 'ip|203.0.113.1');
  assert.equal(addressBucketKey('2001:db8:1:2:aaaa::1'), addressBucketKey('2001:db8:1:2:bbbb::2'));
  assert.equal(addressBucketKey('2001:db8:1:2::1'), 'ip|2001:db8:1:2::/64');
  assert.notEqual(addressBucketKey('2001:db8:1:3::1'), addressBucketKey('2001:db8:1:2::1'));
});

test('trusted proxies: bad entries are a TypeError (the config schema refuses them first)', () => {
  assert.throws(() => parseTrustedProxies(['10.0.0.0/33']), TypeError);
});
