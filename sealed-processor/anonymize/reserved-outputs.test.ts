import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { AddressSpec, SpecialRanges } from '../../schemas/policy.ts';
import { createAddressAnonymizer, type AddressAnonymizer } from './address-anonymizer.ts';
import { createAddressMethod } from './address-methods.ts';
import { createDerivedAddressMaps } from './derived-addresses.ts';
import { cryptoPanBitV4, cryptoPanKey } from './cryptopan.ts';
import { InternalNetworks } from './internal-networks.ts';
import { parseAddress, parsePrefix } from '../../schemas/ip-address.ts';
import { pfxBitV4, pfxKey } from './ipcrypt-pfx.ts';
import type { PrefixBitV4 } from './prefix-cache.ts';
import { pinnedLevelsV4, pinnedNodesV4 } from './reserved-outputs.ts';
import { commonPrefix128, commonPrefix32, inPrefix4, inPrefix6 } from '../../schemas/policy-ranges.ts';
import { RANGE_PREFIXES, RangeKind, SPECIAL_RANGE_KINDS, classifyV4, classifyV6 } from '../../schemas/special-ranges.ts';
import { referenceCommonPrefix128, referenceCommonPrefix32, v4 } from './test-helpers.test-util.ts';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 255);
const rnd = (n: number): Uint8Array => new Uint8Array(n).fill(3);
const SEED = { seed: 20261122 };
const DERIVED = createDerivedAddressMaps(KEY.subarray(0, 16), KEY.subarray(8, 24), KEY.subarray(16, 32));
/** Every special kind kept. */
const KEEP_ALL = Object.fromEntries(SPECIAL_RANGE_KINDS.map((k) => [k, 'keep'])) as SpecialRanges;

function anon(spec: AddressSpec, ranges: SpecialRanges | undefined, nets: InternalNetworks | null = null): AddressAnonymizer {
  return createAddressAnonymizer(spec, spec.method === 'ipcrypt-det' ? KEY.subarray(0, 16) : KEY, ranges, nets, { random: rnd, derived: DERIVED });
}

/** Output of an anonymizer as four words (IPv4 as ::ffff:a.b.c.d). */
function outWords(a: AddressAnonymizer, input: Uint32Array): Uint32Array {
  const r = input[0] === 0 && input[1] === 0 && input[2] === 0xffff ? a.mapV4(input[3]) : a.mapV6(input);
  const p = parseAddress(String(r?.text));
  assert.ok(p, 'an address');
  return p.version === 4 ? Uint32Array.of(0, 0, 0xffff, p.v4) : p.v6;
}

/** The input a bare prefix-preserving IPv4 map sends to `y` (bit by bit inversion). */
function invertV4(bit: PrefixBitV4, y: number): number {
  let x = 0;
  for (let level = 0; level < 32; level++) x = x * 2 + (((y >>> (31 - level)) & 1) ^ bit(level, x));
  return x >>> 0;
}

const word = fc.nat({ max: 0xffffffff });
const publicV4 = word.filter((a) => classifyV4(a) === RangeKind.Public);
const publicV6 = fc.tuple(word, word, word, word).map((t) => Uint32Array.from(t)).filter((w) => classifyV6(w) === RangeKind.Public);

/** `a` with bit `k` (0 = most significant) flipped and every bit after it taken from `r`. */
function shareExactly32(a: number, k: number, r: number): number {
  if (k === 32) return a;
  const low = k === 31 ? 0 : 0xffffffff >>> (k + 1);
  return (((a ^ (0x80000000 >>> k)) & ~low) | (r & low)) >>> 0;
}

function shareExactly128(a: Uint32Array, k: number, r: Uint32Array): Uint32Array {
  const b = Uint32Array.from(a);
  if (k === 128) return b;
  const wi = k >>> 5;
  b[wi] = shareExactly32(a[wi]!, k & 31, r[wi]!);
  for (let i = wi + 1; i < 4; i++) b[i] = r[i]!;
  return b;
}

test('the reference common-prefix helpers (tests only) count bits as written by hand', () => {
  assert.equal(referenceCommonPrefix32(0, 0), 32);
  assert.equal(referenceCommonPrefix32(0xffffffff, 0xffffffff), 32);
  assert.equal(referenceCommonPrefix32(0, 0x80000000), 0);
  assert.equal(referenceCommonPrefix32(0x7fffffff, 0xffffffff), 0);
  assert.equal(referenceCommonPrefix32(0, 1), 31);
  assert.equal(referenceCommonPrefix32(0x12345678, 0x12345679), 31);
  assert.equal(referenceCommonPrefix32(v4('10.1.2.3'), v4('10.1.3.3')), 23);
  assert.equal(referenceCommonPrefix32(v4('192.168.0.0'), v4('192.169.0.0')), 15);
  assert.equal(referenceCommonPrefix128([0, 0, 0, 0], [0, 0, 0, 0]), 128);
  assert.equal(referenceCommonPrefix128([0, 0, 0, 0], [0, 0, 0, 1]), 127);
  assert.equal(referenceCommonPrefix128([0x80000000, 0, 0, 0], [0, 0, 0, 0]), 0);
  assert.equal(referenceCommonPrefix128([5, 0xffffffff, 0, 0], [5, 0x7fffffff, 0, 0]), 32);
  assert.equal(referenceCommonPrefix128([5, 6, 0x10000, 0], [5, 6, 0, 0]), 79);
  assert.throws(() => referenceCommonPrefix32(-1, 0), TypeError, 'a signed word is a bug in the test');
  assert.throws(() => referenceCommonPrefix128([0, 0, 0], [0, 0, 0]), TypeError);
});

test('production commonPrefix32/commonPrefix128 agree with the reference for every shared-prefix length', () => {
  const word = fc.nat({ max: 0xffffffff });
  const quad = fc.tuple(word, word, word, word).map((t) => Uint32Array.from(t));
  fc.assert(fc.property(word, word, fc.nat({ max: 32 }), (a, r, k) => {
    const b = shareExactly32(a, k, r);
    assert.equal(referenceCommonPrefix32(a, b), k);
    assert.equal(commonPrefix32(a, b), k, `${a} ${b}`);
    assert.equal(commonPrefix32(b, a), k);
    assert.equal(commonPrefix32(a, r), referenceCommonPrefix32(a, r));
  }), { ...SEED, numRuns: 2000 });
  fc.assert(fc.property(quad, quad, fc.nat({ max: 128 }), (a, r, k) => {
    const b = shareExactly128(a, k, r);
    assert.equal(referenceCommonPrefix128(a, b), k);
    assert.equal(commonPrefix128(a, b), k, `${a.join(':')} ${b.join(':')}`);
    assert.equal(commonPrefix128(b, a), k);
    assert.equal(commonPrefix128([...a], [...b]), k, 'plain number arrays too');
    assert.equal(commonPrefix128(a, r), referenceCommonPrefix128(a, r));
  }), { ...SEED, numRuns: 2000 });
  // Every length once, with the sign bit set and clear on both sides of the first difference.
  for (let k = 0; k <= 32; k++) {
    for (const a of [0, 0xffffffff, 0x80000001, 0x7ffffffe]) assert.equal(commonPrefix32(a, shareExactly32(a, k, 0x5a5a5a5a)), k, `k=${k} a=${a}`);
  }
  for (let k = 0; k <= 128; k++) {
    for (const a of [Uint32Array.of(0, 0, 0, 0), Uint32Array.of(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff), Uint32Array.of(0x80000000, 1, 0x80000000, 1)]) {
      assert.equal(commonPrefix128(a, shareExactly128(a, k, Uint32Array.of(0xa5a5a5a5, 0x5a5a5a5a, 0xa5a5a5a5, 0x5a5a5a5a))), k, `k=${k}`);
    }
  }
});

test('RANGE_PREFIXES lists exactly what the classifiers recognize', () => {
  const inKind = (kind: string, a: number): boolean => RANGE_PREFIXES[kind as 'private'].v4.some((t) => {
    const p = parsePrefix(t);
    return p !== null && p.version === 4 && inPrefix4({ value: p.v4, length: p.length }, a);
  });
  const inKind6 = (kind: string, w: Uint32Array): boolean => RANGE_PREFIXES[kind as 'private'].v6.some((t) => {
    const p = parsePrefix(t);
    return p !== null && p.version === 6 && inPrefix6({ words: p.v6, length: p.length }, w);
  });
  // Random addresses plus addresses drawn inside (and just around) every listed prefix.
  const near4 = SPECIAL_RANGE_KINDS.flatMap((k) => RANGE_PREFIXES[k].v4).map((t) => (parsePrefix(t) as { v4: number }).v4);
  const near6 = SPECIAL_RANGE_KINDS.flatMap((k) => RANGE_PREFIXES[k].v6).map((t) => (parsePrefix(t) as { v6: Uint32Array }).v6);
  fc.assert(fc.property(word, fc.constantFrom(...near4), fc.nat({ max: 0xffff }), (r, base, low) => {
    for (const a of [r >>> 0, (base + low) >>> 0, (base - 1 - low) >>> 0]) {
      const k = classifyV4(a);
      for (const kind of SPECIAL_RANGE_KINDS) assert.equal(inKind(kind, a), k === kind, `${kind} ${a}`);
    }
  }), { ...SEED, numRuns: 2000 });
  fc.assert(fc.property(fc.tuple(word, word, word, word), fc.constantFrom(...near6), fc.nat({ max: 0xffff }), (r, base, low) => {
    const around = Uint32Array.from(base);
    around[3] = (around[3] + low) >>> 0;
    const below = Uint32Array.from(base);
    below[0] = (below[0] - 1 - low) >>> 0;
    for (const w of [Uint32Array.from(r), around, below]) {
      const k = classifyV6(w);
      for (const kind of SPECIAL_RANGE_KINDS) assert.equal(inKind6(kind, w), k === kind, kind);
    }
  }), { ...SEED, numRuns: 2000 });
});

test('pinning: the nodes above a reserved prefix are a leading run of levels', () => {
  const res = [{ value: v4('224.0.0.0'), length: 4 }, { value: 0xffffffff, length: 32 }];
  const nodes = pinnedNodesV4(res);
  fc.assert(fc.property(word, (a) => {
    const p = pinnedLevelsV4(res, a >>> 0);
    for (let level = 0; level < 32; level++) {
      const pinned = nodes.has(2 ** level + (level === 0 ? 0 : a >>> (32 - level)));
      assert.equal(pinned, level < p, `level ${level}`);
    }
  }), { ...SEED, numRuns: 500 });
});

test('the bare map sends some unicast inputs into kept ranges; the policy map never does (IPv4, default ranges)', () => {
  for (const [method, bit] of [
    ['ipcrypt-pfx', ((k) => (l: number, p: number) => pfxBitV4(k, l, p))(pfxKey(KEY))],
    ['cryptopan', ((k) => (l: number, p: number) => cryptoPanBitV4(k, l, p))(cryptoPanKey(KEY))],
  ] as const) {
    const a = anon({ method }, undefined);
    let witnesses = 0;
    for (const target of ['224.0.0.1', '237.1.2.3', '239.255.255.250', '255.255.255.255']) {
      const x = invertV4(bit, v4(target));
      if (classifyV4(x) !== RangeKind.Public && classifyV4(x) !== RangeKind.Loopback) continue;
      witnesses++;
      const y = outWords(a, Uint32Array.of(0, 0, 0xffff, x))[3];
      const k = classifyV4(y);
      assert.ok(k !== RangeKind.Multicast && k !== RangeKind.Broadcast, `${method}: a mapped unicast address landed in a kept range`);
    }
    assert.ok(witnesses > 0, 'the test found inputs the bare map sends into 224/4 or onto the broadcast address');
  }
});

for (const method of ['ipcrypt-pfx', 'cryptopan'] as const) {
  test(`property (${method}): with every special range kept, mapped addresses stay public, prefix preservation is exact (IPv6: up to /64), injective (IPv4 and IPv6)`, () => {
    const a = anon({ method }, KEEP_ALL);
    const d = anon({ method }, undefined);
    const seen = new Map<string, string>();
    const check = (x: Uint32Array, y: Uint32Array): void => {
      const ox = outWords(a, x);
      const oy = outWords(a, y);
      const family = x[2] === 0xffff && x[0] === 0 && x[1] === 0;
      assert.equal(family, ox[2] === 0xffff && ox[0] === 0 && ox[1] === 0, 'stays in its family');
      assert.equal(family ? classifyV4(ox[3]) : classifyV6(ox), RangeKind.Public, 'never in a kept range');
      // IPv6 interface ids are permuted per /64 (address-anonymizer.ts): exact up to /64.
      const cap = family ? 128 : 64;
      assert.equal(Math.min(referenceCommonPrefix128(ox, oy), cap), Math.min(referenceCommonPrefix128(x, y), cap), 'prefix preserving');
      // Default policy: multicast and broadcast (and ::ffff:0:0/96 for IPv6) are avoided too.
      const dx = outWords(d, x);
      const k = family ? classifyV4(dx[3]) : classifyV6(dx);
      assert.ok(k !== RangeKind.Multicast && k !== RangeKind.Broadcast && (family || k !== RangeKind.Ipv4Mapped));
      const prev = seen.get(ox.join(':'));
      assert.ok(prev === undefined || prev === x.join(':'), 'injective');
      seen.set(ox.join(':'), x.join(':'));
    };
    fc.assert(fc.property(publicV4, fc.nat({ max: 31 }), publicV4, (x, k, r) => {
      const y = shareExactly32(x, k, r);
      fc.pre(classifyV4(y) === RangeKind.Public);
      assert.equal(referenceCommonPrefix32(x, y), k);
      check(Uint32Array.of(0, 0, 0xffff, x), Uint32Array.of(0, 0, 0xffff, y));
    }), { ...SEED, numRuns: 3000 });
    fc.assert(fc.property(publicV6, publicV6, (x, y) => check(x, y)), { ...SEED, numRuns: 400 });
    // IPv6 pairs sharing exactly k bits (random pairs rarely share more than a few).
    fc.assert(fc.property(publicV6, fc.nat({ max: 127 }), publicV6, (x, k, r) => {
      const y = shareExactly128(x, k, r);
      fc.pre(classifyV6(y) === RangeKind.Public);
      assert.equal(referenceCommonPrefix128(x, y), k);
      check(x, y);
    }), { ...SEED, numRuns: 800 });
    // Inputs next to ::ffff:0:0/96 stay out of it (that space holds the IPv4 results), except
    // IPv4-compatible ::a.b.c.d, which is an IPv4 host and maps as one (derived-addresses.ts).
    fc.assert(fc.property(word, word, (lo, w2) => {
      const x = Uint32Array.of(0, 0, (w2 >>> 0) === 0xffff ? 0xfffe : w2 >>> 0, lo >>> 0);
      fc.pre(classifyV6(x) === RangeKind.Public && x[2] !== 0);
      const o = outWords(d, x);
      assert.ok(!(o[0] === 0 && o[1] === 0 && o[2] === 0xffff));
    }), { ...SEED, numRuns: 300 });
  });
}

test('ipcrypt-det cycle-walks out of kept ranges: the bare cipher lands there, the policy map never does', () => {
  const bare = createAddressMethod({ method: 'ipcrypt-det' }, KEY.subarray(0, 16), { random: rnd });
  const a = anon({ method: 'ipcrypt-det' }, KEEP_ALL);
  const w = new Uint32Array(4);
  let bareHits = 0;
  const seen = new Map<string, string>();
  fc.assert(fc.property(fc.oneof(publicV4.map((x) => Uint32Array.of(0, 0, 0xffff, x)), publicV6), (x) => {
    if (x[2] === 0xffff && x[0] === 0 && x[1] === 0) bare.mapV4(x[3], w);
    else bare.mapV6(x, w);
    if (classifyV6(w) !== RangeKind.Public) bareHits++;
    const o = outWords(a, x);
    const k = o[0] === 0 && o[1] === 0 && o[2] === 0xffff ? classifyV4(o[3]) : classifyV6(o);
    assert.equal(k, RangeKind.Public);
    const prev = seen.get(o.join(':'));
    assert.ok(prev === undefined || prev === x.join(':'), 'injective');
    seen.set(o.join(':'), x.join(':'));
  }), { ...SEED, numRuns: 4000 });
  assert.ok(bareHits > 0, 'the sample is large enough to show the problem');
});

test('black-marked ranges: no mapped address ever looks black-marked (0.0.0.0 is reserved)', () => {
  let checked = 0;
  for (let t = 0; t < 16 && checked < 3; t++) {
    const key = KEY.map((b) => b ^ t);
    const k = pfxKey(key);
    const x = invertV4((l, p) => pfxBitV4(k, l, p), 0);
    if (classifyV4(x) !== RangeKind.Public) continue;
    checked++;
    const bm = createAddressAnonymizer({ method: 'ipcrypt-pfx' }, key, { private: 'black-marker', multicast: 'map', broadcast: 'map' }, null, { random: rnd });
    assert.notEqual(String(bm.mapV4(x)?.text), '0.0.0.0');
    const mapAll = Object.fromEntries(SPECIAL_RANGE_KINDS.map((r) => [r, 'map'])) as SpecialRanges;
    const plain = createAddressAnonymizer({ method: 'ipcrypt-pfx' }, key, mapAll, null, { random: rnd });
    assert.equal(String(plain.mapV4(x)?.text), '0.0.0.0', 'without a black-marked range, nothing is reserved there');
  }
  assert.ok(checked > 0);
});

test('IPv6 internal targets are never reached by external addresses (pinned), and target inputs are redirected', () => {
  const nets = new InternalNetworks([{ prefix: '2400::/8', target: '4000::/8' }], KEY);
  for (const method of ['ipcrypt-pfx', 'ipcrypt-det'] as const) {
    const a = anon({ method }, undefined, nets);
    const seen = new Map<string, string>();
    fc.assert(fc.property(publicV6, (r) => {
      const internal = Uint32Array.from(r);
      internal[0] = (0x24000000 | (r[0] & 0xffffff)) >>> 0;
      const inTarget = Uint32Array.from(r);
      inTarget[0] = (0x40000000 | (r[0] & 0xffffff)) >>> 0;
      for (const x of [r, internal, inTarget]) {
        const o = outWords(a, x);
        assert.equal(o[0] >>> 24 === 0x40, x[0] >>> 24 === 0x24, 'only internal addresses land in the target');
        const prev = seen.get(o.join(':'));
        assert.ok(prev === undefined || prev === x.join(':'), 'injective');
        seen.set(o.join(':'), x.join(':'));
      }
    }), { ...SEED, numRuns: 700 });
    assert.ok(a.stats.redirected > 0 && a.stats.internal > 0);
  }
});
