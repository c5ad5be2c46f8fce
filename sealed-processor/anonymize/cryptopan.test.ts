import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { cryptoPanBitV4, cryptoPanKey, cryptoPanV4, cryptoPanV6 } from './cryptopan.ts';
import { formatAddressWords, formatIpv4 } from '../../schemas/ip-address.ts';
import { PrefixCacheV4 } from './prefix-cache.ts';
import { referenceCommonPrefix128, referenceCommonPrefix32, v4, words } from './test-helpers.test-util.ts';

// The key of the Crypto-PAn reference distribution's sample (sample_trace_raw.dat →
// sample_trace_sanitized.dat), as used by the Go port's tests.
const KEY = new Uint8Array([21, 34, 23, 141, 51, 164, 207, 128, 19, 10, 91, 22, 73, 144, 125, 16, 216, 152, 143, 131, 121, 121, 101, 39, 98, 87, 76, 45, 42, 132, 34, 2]);

const SAMPLE = `128.11.68.132 135.242.180.132|129.118.74.4 134.136.186.123|130.132.252.244 133.68.164.234
141.223.7.43 141.167.8.160|141.233.145.108 141.129.237.235|152.163.225.39 151.140.114.167
156.29.3.236 147.225.12.42|165.247.96.84 162.9.99.234|166.107.77.190 160.132.178.185
192.102.249.13 252.138.62.131|192.215.32.125 252.43.47.189|192.233.80.103 252.25.108.8
192.41.57.43 252.222.221.184|193.150.244.223 253.169.52.216|195.205.63.100 255.186.223.5
198.200.171.101 249.199.68.213|198.26.132.101 249.36.123.202|198.36.213.5 249.7.21.132
198.51.77.238 249.18.186.254|199.217.79.101 248.38.184.213|202.49.198.20 245.206.7.234
203.12.160.252 244.248.163.4|204.184.162.189 243.192.77.90|204.202.136.230 243.178.4.198
204.29.20.4 243.33.20.123|205.178.38.67 242.108.198.51|205.188.147.153 242.96.16.101
205.188.248.25 242.96.88.27|205.245.121.43 242.21.121.163|207.105.49.5 241.118.205.138
207.135.65.238 241.202.129.222|207.155.9.214 241.220.250.22|207.188.7.45 241.255.249.220
207.25.71.27 241.33.119.156|207.33.151.131 241.1.233.131|208.147.89.59 227.237.98.191
208.234.120.210 227.154.67.17|208.28.185.184 227.39.94.90|208.52.56.122 227.8.63.165
209.12.231.7 226.243.167.8|209.238.72.3 226.6.119.243|209.246.74.109 226.22.124.76
209.68.60.238 226.184.220.233|209.85.249.6 226.170.70.6|212.120.124.31 228.135.163.231
212.146.8.236 228.19.4.234|212.186.227.154 228.59.98.98|212.204.172.118 228.71.195.169
212.206.130.201 228.69.242.193|216.148.237.145 235.84.194.111|216.157.30.252 235.89.31.26
216.184.159.48 235.96.225.78|216.227.10.221 235.28.253.36|216.254.18.172 235.7.16.162
216.32.132.250 235.192.139.38|216.35.217.178 235.195.157.81|24.0.250.221 100.15.198.226
24.13.62.231 100.2.192.247|24.14.213.138 100.1.42.141|24.5.0.80 100.9.15.210
24.7.198.88 100.10.6.25|24.94.26.44 100.88.228.35|38.15.67.68 64.3.66.187
4.3.88.225 124.60.155.63|63.14.55.111 95.9.215.7|63.195.241.44 95.179.238.44
63.97.7.140 95.97.9.123|64.14.118.196 0.255.183.58|64.34.154.117 0.221.154.117
64.39.15.238 0.219.7.41`
  .split(/[|\n]/)
  .map((p) => p.trim().split(' ') as [string, string]);

// IPv6 vectors of the Go port (Yawning/cryptopan), same key.
const V6: Array<[string, string]> = [
  ['::1', '78ff:f001:9fc0:20df:8380:b1f1:704:ed'],
  ['::2', '78ff:f001:9fc0:20df:8380:b1f1:704:ef'],
  ['::ffff', '78ff:f001:9fc0:20df:8380:b1f1:704:f838'],
  ['2001:db8::1', '4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1e'],
  ['2001:db8::2', '4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1c'],
];

test('Crypto-PAn is bit-exact with the reference sample (all 70 address pairs)', () => {
  assert.equal(SAMPLE.length, 70);
  const k = cryptoPanKey(KEY);
  const cache = new PrefixCacheV4((l, p) => cryptoPanBitV4(k, l, p));
  for (const [raw, sanitized] of SAMPLE) {
    assert.equal(formatIpv4(cryptoPanV4(k, v4(raw))), sanitized, raw);
    assert.equal(formatIpv4(cache.map(v4(raw))), sanitized, raw);
  }
});

test('Crypto-PAn IPv6 matches the Go port vectors; IPv4-mapped takes the IPv4 path', () => {
  const k = cryptoPanKey(KEY);
  const out = new Uint32Array(4);
  for (const [raw, expected] of V6) {
    cryptoPanV6(k, words(raw), out);
    assert.equal(formatAddressWords(out), expected, raw);
  }
  cryptoPanV6(k, words('::ffff:128.11.68.132'), out);
  assert.equal(formatAddressWords(out), '135.242.180.132');
  // Resuming after a cached /64 output prefix gives the same answer.
  const full = new Uint32Array(4);
  cryptoPanV6(k, words('2001:db8::1'), full);
  const resumed = new Uint32Array([full[0], full[1], 0xdead, 0xbeef]);
  cryptoPanV6(k, words('2001:db8::1'), resumed, 64);
  assert.deepEqual([...resumed], [...full]);
});

test('property: Crypto-PAn preserves prefixes (IPv4 and IPv6)', () => {
  const k = cryptoPanKey(KEY);
  // Random pairs (mostly short shared prefixes) and pairs sharing exactly k leading bits.
  fc.assert(fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), (a, b) => {
    assert.equal(referenceCommonPrefix32(cryptoPanV4(k, a), cryptoPanV4(k, b)), referenceCommonPrefix32(a, b));
  }), { numRuns: 100 });
  fc.assert(fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 32 }), (a, r, n) => {
    const b = n === 32 ? a : ((a & ~(0xffffffff >>> n)) | ((~a & (0x80000000 >>> n)) >>> 0) | (r & (0x7fffffff >>> n))) >>> 0;
    assert.equal(referenceCommonPrefix32(a, b), n, 'the pair shares exactly n bits');
    assert.equal(referenceCommonPrefix32(cryptoPanV4(k, a), cryptoPanV4(k, b)), n);
  }), { numRuns: 200 });
  const w = fc.nat({ max: 0xffffffff });
  fc.assert(fc.property(fc.tuple(w, w, w, w), fc.nat({ max: 127 }), fc.nat({ max: 0xffffffff }), (t, k2, r) => {
    const a = Uint32Array.from(t);
    a[0] = (a[0] | 0x20000000) >>> 0;
    const b = Uint32Array.from(a);
    const wi = k2 >>> 5, m = (1 << (31 - (k2 & 31))) >>> 0;
    b[wi] = (b[wi] ^ m) >>> 0;
    if (wi < 3) b[3] = r >>> 0;
    const ea = new Uint32Array(4), eb = new Uint32Array(4);
    cryptoPanV6(k, a, ea);
    cryptoPanV6(k, b, eb);
    assert.equal(referenceCommonPrefix128(a, b), k2, 'the pair shares exactly k2 bits');
    assert.equal(referenceCommonPrefix128(ea, eb), k2);
  }), { numRuns: 40 });
});
