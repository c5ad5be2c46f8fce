import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createAddressMethod } from './address-methods.ts';
import { formatAddressWords, formatIpv4 } from '../../schemas/ip-address.ts';
import { ipcryptPfxV4, ipcryptPfxV6, pfxBitV4, pfxKey } from './ipcrypt-pfx.ts';
import { PrefixCacheV4 } from './prefix-cache.ts';
import { hex, referenceCommonPrefix128, referenceCommonPrefix32, words } from './test-helpers.test-util.ts';

const K1 = '0123456789abcdeffedcba98765432101032547698badcfeefcdab8967452301';
const K2 = '2b7e151628aed2a6abf7158809cf4f3ca9f5ba40db214c3798f2e1c23456789a';

// draft-denis-ipcrypt Appendix A.2 (A.2.1 basic, A.2.2 prefix-preserving); also the
// reference implementation's test_vectors.json, which has the same pfx vectors.
const VECTORS: Array<[string, string, string]> = [
  [K1, '0.0.0.0', '151.82.155.134'],
  [K1, '255.255.255.255', '94.185.169.89'],
  [K1, '192.0.2.1', '100.115.72.131'],
  [K1, '2001:db8::1', 'c180:5dd4:2587:3524:30ab:fa65:6ab6:f88'],
  [K2, '10.0.0.47', '19.214.210.244'],
  [K2, '10.0.0.129', '19.214.210.80'],
  [K2, '10.0.0.234', '19.214.210.30'],
  [K2, '172.16.5.193', '210.78.229.136'],
  [K2, '172.16.97.42', '210.78.179.241'],
  [K2, '172.16.248.177', '210.78.121.215'],
  [K2, '2001:db8::a5c9:4e2f:bb91:5a7d', '7cec:702c:1243:f70:1956:125:b9bd:1aba'],
  [K2, '2001:db8::7234:d8f1:3c6e:9a52', '7cec:702c:1243:f70:a3ef:c8e:95c1:cd0d'],
  [K2, '2001:db8::f1e0:937b:26d4:8c1a', '7cec:702c:1243:f70:443c:c8e:6a62:b64d'],
  [K2, '2001:db8:3a5c:0:e7d1:4b9f:2c8a:f673', '7cec:702c:3503:bef:e616:96bd:be33:a9b9'],
  [K2, '2001:db8:9f27:0:b4e2:7a3d:5f91:c8e6', '7cec:702c:a504:b74e:194a:3d90:b047:2d1a'],
  [K2, '2001:db8:d8b4:0:193c:a5e7:8b2f:46d1', '7cec:702c:f840:aa67:1b8:e84f:ac9d:77fb'],
];

test('ipcrypt-pfx reproduces every draft test vector (raw and via the 16-byte path)', () => {
  for (const [k, input, expected] of VECTORS) {
    const key = pfxKey(hex(k));
    const w = words(input);
    const out = new Uint32Array(4);
    ipcryptPfxV6(key, w, out);
    assert.equal(formatAddressWords(out), expected, input);
    if (!input.includes(':')) assert.equal(formatIpv4(ipcryptPfxV4(key, w[3])), expected, input);
  }
});

test('ipcrypt-pfx cached paths (IPv4 prefix tree, IPv6 /64 resume) equal the raw map', () => {
  for (const [k, input, expected] of VECTORS) {
    const m = createAddressMethod({ method: 'ipcrypt-pfx' }, hex(k), { random: () => new Uint8Array(0) });
    const out = new Uint32Array(4);
    const w = words(input);
    for (let i = 0; i < 2; i++) {
      if (input.includes(':')) m.mapV6(w, out);
      else m.mapV4(w[3], out);
      assert.equal(formatAddressWords(out), expected, input);
    }
  }
  const key = pfxKey(hex(K2));
  const cache = new PrefixCacheV4((l, p) => pfxBitV4(key, l, p), 4);
  fc.assert(fc.property(fc.array(fc.nat({ max: 0xffffffff }), { minLength: 1, maxLength: 30 }), (addrs) => {
    for (const a of [...addrs, ...addrs.map((x) => (x ^ 1) >>> 0)]) assert.equal(cache.map(a), ipcryptPfxV4(key, a));
  }), { numRuns: 30 });
});

test('rejects keys of the wrong size or with equal halves', () => {
  assert.throws(() => pfxKey(new Uint8Array(16)), TypeError);
  assert.throws(() => pfxKey(new Uint8Array(32)), TypeError);
});

test('property: IPv4 prefix preservation (k shared leading bits in ⇔ k out) and injectivity', () => {
  const key = pfxKey(hex(K1));
  fc.assert(fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 32 }), (a, r, k) => {
    // b shares exactly k leading bits with a (if k < 32).
    const b = k === 32 ? a : ((a & ~(0xffffffff >>> k)) | ((~a & (0x80000000 >>> k)) >>> 0) | (r & (0x7fffffff >>> k))) >>> 0;
    assert.equal(referenceCommonPrefix32(a, b), k, 'the pair shares exactly k bits');
    const ea = ipcryptPfxV4(key, a);
    const eb = ipcryptPfxV4(key, b);
    assert.equal(referenceCommonPrefix32(ea, eb), k);
  }), { numRuns: 200 });
  const seen = new Map<number, number>();
  for (let i = 0; i < 3000; i++) {
    const a = (Math.imul(i, 0x9e3779b1) ^ (i << 7)) >>> 0;
    const e = ipcryptPfxV4(key, a);
    const prev = seen.get(e);
    assert.ok(prev === undefined || prev === a, 'collision');
    seen.set(e, a);
  }
});

test('property: IPv6 prefix preservation; IPv4 and IPv6 outputs stay in their own family', () => {
  const key = pfxKey(hex(K2));
  const word = fc.nat({ max: 0xffffffff });
  fc.assert(fc.property(fc.tuple(word, word, word, word), fc.tuple(word, word, word, word), fc.nat({ max: 127 }), (a, r, k) => {
    const wa = Uint32Array.from(a);
    if (wa[0] === 0 && wa[1] === 0) wa[0] = 1; // keep it out of ::ffff:0:0/96
    const wb = Uint32Array.from(wa);
    for (let bit = k; bit < 128; bit++) {
      const wi = bit >>> 5, m = (1 << (31 - (bit & 31))) >>> 0;
      const v = bit === k ? !(wa[wi] & m) : ((r[wi] & m) !== 0);
      wb[wi] = v ? (wb[wi] | m) >>> 0 : (wb[wi] & ~m) >>> 0;
    }
    const ea = new Uint32Array(4), eb = new Uint32Array(4);
    ipcryptPfxV6(key, wa, ea);
    ipcryptPfxV6(key, wb, eb);
    assert.equal(referenceCommonPrefix128(wa, wb), k, 'the pair shares exactly k bits');
    assert.equal(referenceCommonPrefix128(ea, eb), k);
  }), { numRuns: 60 });
  // ::ffff:a.b.c.d maps to the IPv4 result; a non-mapped IPv6 input does not.
  const out = new Uint32Array(4);
  ipcryptPfxV6(key, words('::ffff:10.0.0.47'), out);
  assert.equal(formatAddressWords(out), '19.214.210.244');
  ipcryptPfxV6(key, words('::a00:2f'), out);
  assert.ok(formatAddressWords(out).includes(':'));
});
