import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { AppError } from '../../schemas/errors.ts';
import { createAddressAnonymizer } from './address-anonymizer.ts';
import { depositBits128, extractBits128, stepPrefix128 } from './internal-net-v6.ts';
import { InternalNetworks } from './internal-networks.ts';
import { formatIpv4, formatIpv6, parseAddress } from '../../schemas/ip-address.ts';
import { WidePermutation } from './wide-permutation.ts';
import { bitString128, bitString32, referenceCommonPrefix128, referenceCommonPrefix32, v4, words } from './test-helpers.test-util.ts';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 53 + 7) & 255);
const SEED = { seed: 424242 };
const word = fc.nat({ max: 0xffffffff });

test('wide permutation: a bijection of the domain minus excluded values, for small and 64-bit widths', () => {
  for (const bits of [1, 2, 5, 8, 11]) {
    const p = new WidePermutation(KEY.subarray(0, 16), bits);
    const size = 2 ** bits;
    const excluded = (hi: number, lo: number): boolean => hi === 0 && (lo === 0 || lo === size - 1);
    const seen = new Set<number>();
    const out = new Uint32Array(2);
    for (let x = 1; x < size - 1; x++) {
      p.permute(0, x, out, excluded, 0, 7);
      assert.equal(out[0], 0);
      assert.ok(out[1] < size && !excluded(0, out[1]), `bits ${bits}`);
      seen.add(out[1]);
    }
    assert.equal(seen.size, Math.max(0, size - 2), `bits ${bits}: bijective`);
  }
  const p64 = new WidePermutation(KEY.subarray(16), 64);
  const p40 = new WidePermutation(KEY.subarray(16), 40);
  const out = new Uint32Array(2);
  const seen = new Map<string, string>();
  fc.assert(fc.property(word, word, word, (hi, lo, t) => {
    p64.permute(hi, lo, out, undefined, t, 1);
    const k = `${t}/${out[0]}:${out[1]}`;
    const prev = seen.get(k);
    assert.ok(prev === undefined || prev === `${hi}:${lo}`, 'injective');
    seen.set(k, `${hi}:${lo}`);
    p40.permute(hi & 0xff, lo, out);
    assert.ok(out[0] < 256, 'stays in a 40-bit domain');
  }), { ...SEED, numRuns: 400 });
});

test('128-bit helpers: extract/deposit round trip, prefix stepping', () => {
  fc.assert(fc.property(fc.tuple(word, word, word, word), fc.nat({ max: 127 }), fc.nat({ max: 64 }), (t, start, n0) => {
    const n = Math.min(n0, 128 - start);
    const w = Uint32Array.from(t);
    const v = new Uint32Array(2);
    extractBits128(w, start, n, v);
    const copy = Uint32Array.from(w);
    depositBits128(copy, start, n, v[0], v[1]);
    assert.deepEqual(copy, w);
    const z = new Uint32Array(4);
    depositBits128(z, start, n, v[0], v[1]);
    assert.ok(referenceCommonPrefix128(z, new Uint32Array(4)) >= start, 'touches nothing before start');
  }), { ...SEED, numRuns: 300 });
  assert.equal(formatIpv6(stepPrefix128(words('fec0::'), 47) as Uint32Array), 'fec0:0:1::');
  assert.equal(formatIpv6(stepPrefix128(words('fec0:0:ffff:ffff::'), 63) as Uint32Array), 'fec0:1::');
  assert.equal(stepPrefix128(words('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), 127), null);
});

test('IPv6 internal networks keep subnet membership and host structure inside the target (default pool fec0::/10)', () => {
  const nets = new InternalNetworks([
    { prefix: '2001:db8:1234::/48', preserveGateway: true },
    { prefix: '2001:db8:77::/48', subnetPrefix: 80 },
  ], KEY, { avoid: { v4: [], v6: [] } });
  const a = createAddressAnonymizer({ method: 'ipcrypt-pfx' }, KEY, undefined, nets, { random: (n) => new Uint8Array(n) });
  const out = (ip: string): Uint32Array => {
    const p = parseAddress(String(a.mapV6(words(ip))?.text));
    assert.ok(p && p.version === 6);
    return p.v6;
  };
  const x = out('2001:db8:1234:5:aaaa:bbbb:cccc:dddd');
  const y = out('2001:db8:1234:5::77');
  const z = out('2001:db8:1234:6:aaaa:bbbb:cccc:dddd');
  assert.deepEqual([x[0], x[1] >>> 16], [0xfec00000, 0], 'first free /48 of fec0::/10');
  assert.ok(referenceCommonPrefix128(x, y) >= 64, 'same /64 stays together');
  assert.equal(referenceCommonPrefix128(x, z) >= 48 && referenceCommonPrefix128(x, z) < 64, true, 'different subnets stay apart, same network');
  assert.equal(formatIpv6(out('2001:db8:1234:5::')).endsWith('::'), true, 'subnet-router anycast (host 0) kept');
  assert.match(formatIpv6(out('2001:db8:1234:5::1')), /::1$/, 'gateway ::1 kept');
  assert.match(formatIpv6(out('2001:db8:1234:5:ffff:ffff:ffff:ffff')), /:ffff:ffff:ffff:ffff$/, 'all-ones host kept');
  const second = out('2001:db8:77:1::1');
  assert.deepEqual([second[0], second[1] >>> 16], [0xfec00000, 1], 'second network gets the next /48');
  assert.doesNotMatch(formatIpv6(second), /::1$/, 'no gateway rule there');
  // Injective within and across subnets; EUI-64 identifiers (which embed MACs) are permuted away.
  const seen = new Map<string, string>();
  fc.assert(fc.property(fc.nat({ max: 3 }), word, word, (sub, hi, lo) => {
    const input = `2001:db8:1234:${sub}:${(hi >>> 16).toString(16)}:${(hi & 0xffff).toString(16)}:${(lo >>> 16).toString(16)}:${(lo & 0xffff).toString(16)}`;
    const o = out(input);
    assert.equal(o[0] >>> 0, 0xfec00000);
    assert.equal(o[1] >>> 16, 0);
    const k = o.join(':');
    const prev = seen.get(k);
    assert.ok(prev === undefined || prev === formatIpv6(words(input)), 'injective');
    seen.set(k, formatIpv6(words(input)));
  }), { ...SEED, numRuns: 400 });
  const eui = out('2001:db8:1234:5:211:22ff:fe33:4455');
  assert.doesNotMatch(formatIpv6(eui), /22ff:fe33/);
  const notes = JSON.stringify(nets.summary());
  assert.ok(!notes.includes('2001:db8'), 'summary shows targets only');
  assert.match(notes, /fec0::\/48/);
});

test('IPv6 pool allocation skips taken and avoided blocks and reports a full pool', () => {
  const nets = new InternalNetworks([
    { prefix: '2001:db8:1::/48', target: 'fec0::/48' },
    { prefix: '2001:db8:2::/48' },
    { prefix: '2001:db8:3::/48' },
  ], KEY, { avoid: { v4: [], v6: [{ words: words('fec0:0:2::'), length: 47 }] } });
  assert.deepEqual(nets.summary().map((s) => s.target), ['fec0::/48', 'fec0:0:1::/48', 'fec0:0:4::/48']);
  assert.throws(
    () => new InternalNetworks([{ prefix: '2001:db8::/32' }, { prefix: '2001:db9::/32' }], KEY, { poolV6: 'fec0::/32' }),
    (e: unknown) => e instanceof AppError && /no room/.test(e.message),
  );
});

/** Bit string `bits` keeping its first `k` bits, bit `k` flipped, later bits from `r`. */
function shareExactly(bits: string, k: number, r: string): string {
  if (k === bits.length) return bits;
  return bits.slice(0, k) + (bits[k] === '0' ? '1' : '0') + r.slice(k + 1);
}

function fromBits32(b: string): number {
  return parseInt(b, 2);
}

function fromBits128(b: string): Uint32Array {
  return Uint32Array.from([0, 1, 2, 3], (i) => parseInt(b.slice(32 * i, 32 * i + 32), 2));
}

test('property: internal-network remap preserves the network and subnet prefixes (IPv4 and IPv6), measured independently', () => {
  const nets = new InternalNetworks([
    { prefix: '10.0.0.0/8', subnetPrefix: 20, target: '77.0.0.0/8' },
    { prefix: '192.168.0.0/16' },
    { prefix: '2001:db8:1234::/48' },
    { prefix: '2001:db8:77::/48', subnetPrefix: 80 },
  ], KEY, { avoid: { v4: [], v6: [] } });
  const a = createAddressAnonymizer({ method: 'ipcrypt-pfx' }, KEY, undefined, nets, { random: (n) => new Uint8Array(n) });
  const out4 = (x: number): number => {
    const p = parseAddress(String(a.mapV4(x)?.text));
    assert.ok(p && p.version === 4);
    return p.v4;
  };
  const out6 = (x: Uint32Array): Uint32Array => {
    const p = parseAddress(String(a.mapV6(x)?.text));
    assert.ok(p && p.version === 6);
    return p.v6;
  };
  // [network, length, subnet prefix, target]: the target the policy names (77/8), or the first
  // free block of the pool (240.0.0.0/4, fec0::/10) in policy order.
  const v4nets = [['10.0.0.0', 8, 20, '77.0.0.0'], ['192.168.0.0', 16, 24, '240.0.0.0']] as const;
  const v6nets = [['2001:db8:1234::', 48, 64, 'fec0::'], ['2001:db8:77::', 48, 80, 'fec0:0:1::']] as const;
  const word = fc.nat({ max: 0xffffffff });
  fc.assert(fc.property(fc.nat({ max: v4nets.length - 1 }), word, word, fc.nat({ max: 32 }), (ni, r1, r2, k0) => {
    const [net, len, sub, target] = v4nets[ni]!;
    const k = len + (k0 % (33 - len));
    const xb = bitString32(v4(net)).slice(0, len) + bitString32(r1).slice(len);
    const yb = shareExactly(xb, k, bitString32(r2));
    const x = fromBits32(xb);
    const y = fromBits32(yb);
    assert.equal(referenceCommonPrefix32(x, y), k);
    const ox = out4(x);
    const oy = out4(y);
    assert.equal(bitString32(ox).slice(0, len), bitString32(v4(target)).slice(0, len), `${formatIpv4(ox)} inside ${target}/${len}`);
    assert.ok(referenceCommonPrefix32(ox, oy) >= len, 'same network stays together');
    assert.equal(referenceCommonPrefix32(ox, oy) >= sub, k >= sub, 'same subnet iff same subnet before');
    assert.equal(ox === oy, x === y, 'injective');
  }), { ...SEED, numRuns: 600 });
  const quad = fc.tuple(word, word, word, word).map((t) => bitString128(t));
  fc.assert(fc.property(fc.nat({ max: v6nets.length - 1 }), quad, quad, fc.nat({ max: 128 }), (ni, r1, r2, k0) => {
    const [net, len, sub, target] = v6nets[ni]!;
    const k = len + (k0 % (129 - len));
    const xb = bitString128(words(net)).slice(0, len) + r1.slice(len);
    const yb = shareExactly(xb, k, r2);
    const x = fromBits128(xb);
    const y = fromBits128(yb);
    assert.equal(referenceCommonPrefix128(x, y), k);
    const ox = out6(x);
    const oy = out6(y);
    assert.equal(bitString128(ox).slice(0, len), bitString128(words(target)).slice(0, len), `${formatIpv6(ox)} inside ${target}/${len}`);
    assert.ok(referenceCommonPrefix128(ox, oy) >= len, 'same network stays together');
    assert.equal(referenceCommonPrefix128(ox, oy) >= sub, k >= sub, 'same subnet iff same subnet before');
    assert.equal(referenceCommonPrefix128(ox, oy) === 128, k === 128, 'injective');
  }), { ...SEED, numRuns: 600 });
});
