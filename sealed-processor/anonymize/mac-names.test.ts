import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createMacMapper, formatMac, parseMac } from './mac.ts';
import { createNameMapper } from './names.ts';
import { SmallPermutation } from './small-permutation.ts';

const KEY32 = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);

test('small permutation is a bijection of the domain minus excluded values', () => {
  for (const bits of [1, 2, 3, 8, 11]) {
    const p = new SmallPermutation(KEY32.subarray(0, 16), bits, 5);
    const n = 2 ** bits;
    const excluded = (v: number): boolean => v === 0 || v === n - 1;
    const seen = new Set<number>();
    for (let x = 0; x < n; x++) {
      if (excluded(x)) continue;
      const y = p.permute(x, excluded);
      assert.ok(y >= 0 && y < n && !excluded(y));
      seen.add(y);
    }
    assert.equal(seen.size, Math.max(0, n - 2));
  }
});

test('MAC: I/G bit kept, all-zeros/all-ones unchanged, never produced otherwise, bijective on a sample', () => {
  const m = createMacMapper(KEY32);
  assert.equal(m.mapOui(0), 0);
  assert.equal(m.mapNic(0), 0);
  assert.equal(m.mapOui(0xffffff), 0xffffff);
  assert.equal(m.mapNic(0xffffff), 0xffffff);
  fc.assert(fc.property(fc.nat({ max: 0xffffff }), fc.nat({ max: 0xffffff }), (hi, lo) => {
    const oh = m.mapOui(hi);
    const ol = m.mapNic(lo);
    assert.equal(oh & 0x010000, hi & 0x010000, 'I/G bit');
    const allZero = hi === 0 && lo === 0;
    const allOne = hi === 0xffffff && lo === 0xffffff;
    if (!allZero) assert.ok(!(oh === 0 && ol === 0));
    if (!allOne) assert.ok(!(oh === 0xffffff && ol === 0xffffff));
  }), { numRuns: 300 });
  const outs = new Set<number>();
  for (let i = 1; i <= 2000; i++) outs.add(m.mapNic((i * 7919) & 0xffffff));
  assert.equal(outs.size, 2000);
  const vendor = m.mapOui(0x001122);
  assert.notEqual(vendor, 0x001122);
  assert.equal(m.mapOui(0x001122), vendor, 'deterministic');
});

test('MAC text round trip', () => {
  assert.deepEqual(parseMac('00:11:22:33:44:55'), { hi: 0x001122, lo: 0x334455 });
  assert.deepEqual(parseMac('0011.2233.4455'), { hi: 0x001122, lo: 0x334455 });
  assert.equal(parseMac('00:11:22:33:44'), null);
  assert.equal(formatMac(0x0a0b0c, 0x00ff01), '0a:0b:0c:00:ff:01');
});

test('names: per-label HMAC (last 8 bytes, hex), case-insensitive, suffix keep-list', () => {
  const n = createNameMapper(KEY32, ['com', 'ac.uk']);
  const a = n.map('www.Example.COM') as string;
  assert.match(a, /^[0-9a-f]{16}\.[0-9a-f]{16}\.com$/);
  assert.equal(n.map('WWW.example.com.'), a);
  const b = n.map('mail.example.com') as string;
  assert.equal(a.split('.')[1], b.split('.')[1], 'same label, same pseudonym');
  assert.notEqual(a.split('.')[0], b.split('.')[0]);
  assert.match(n.map('cs.ox.ac.uk') as string, /^[0-9a-f]{16}\.[0-9a-f]{16}\.ac\.uk$/);
  assert.match(n.map('example.uk') as string, /^[0-9a-f]{16}\.[0-9a-f]{16}$/);
  const other = createNameMapper(new Uint8Array(32), ['com']);
  assert.notEqual(other.map('www.example.com'), a, 'keyed');
});

test('names: a kept suffix matches whole labels only; a label ending in it is hashed like any other', () => {
  const n = createNameMapper(KEY32, ['com', 'ac.uk']);
  // None of these ends in the whole labels `com` or `ac`+`uk` (`uk` alone is not kept).
  for (const name of ['a.telecom', 'shop.notcom', 'x.bac.uk', 'y.zac.uk', 'mail.com.evil']) {
    const labels = (n.map(name) as string).split('.');
    assert.equal(labels.length, name.split('.').length, name);
    for (const l of labels) assert.match(l, /^[0-9a-f]{16}$/, `${name}: every label hashed`);
  }
  assert.match(n.map('a.b.ac.uk') as string, /^[0-9a-f]{16}\.[0-9a-f]{16}\.ac\.uk$/);
});

test('names: hostile input is refused', () => {
  const n = createNameMapper(KEY32);
  assert.equal(n.map('a'.repeat(64) + '.com'), null);
  assert.equal(n.map(Array(128).fill('a').join('.')), null);
  assert.equal(n.map(`${'abcdefg.'.repeat(32)}com`), null); // 259 chars
  assert.equal(n.map('a..b'), null);
  assert.equal(n.map(''), null);
  assert.notEqual(n.map(Array(127).fill('a').join('.')), null);
});
