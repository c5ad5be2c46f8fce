import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { AddressAnonymizer, createAddressAnonymizer } from './address-anonymizer.ts';
import type { AddressSpec, SpecialRanges } from '../../schemas/policy.ts';
import { createAddressMethod } from './address-methods.ts';
import { InternalNetworks } from './internal-networks.ts';
import { formatIpv4, parseAddress } from '../../schemas/ip-address.ts';
import { v4 } from './test-helpers.test-util.ts';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
const rnd = (n: number): Uint8Array => new Uint8Array(n).fill(9);

function anon(ranges: SpecialRanges | undefined, nets: InternalNetworks | null = null, spec: AddressSpec = { method: 'ipcrypt-pfx' }): AddressAnonymizer {
  return createAddressAnonymizer(spec, spec.method === 'ipcrypt-det' ? KEY.subarray(0, 16) : KEY, ranges, nets, { random: rnd });
}

test('special ranges: default keeps multicast and broadcast, maps the rest; policy overrides', () => {
  const a = anon(undefined);
  assert.equal(a.mapV4(v4('224.0.0.251'))?.text, '224.0.0.251');
  assert.equal(a.mapV4(v4('255.255.255.255'))?.text, '255.255.255.255');
  assert.notEqual(a.mapV4(v4('10.1.2.3'))?.text, '10.1.2.3');
  const b = anon({ loopback: 'keep', private: 'black-marker', multicast: 'map' });
  assert.equal(b.mapV4(v4('127.0.0.1'))?.text, '127.0.0.1');
  assert.equal(b.mapV4(v4('192.168.1.1'))?.text, '0.0.0.0');
  assert.notEqual(b.mapV4(v4('224.0.0.251'))?.text, '224.0.0.251');
  const p = parseAddress('ff02::fb');
  assert.ok(p && p.version === 6);
  assert.equal(a.mapV6(p.v6)?.text, 'ff02::fb');
  assert.equal(a.stats.byKind.multicast, 2);
});

test('address parts: IPv4 as ::ffff:x halves; IPv6 halves; nd tokens have none', () => {
  const a = new AddressAnonymizer(createAddressMethod({ method: 'keep' }, new Uint8Array(0), { random: rnd }), undefined, null);
  const o = a.mapV4(v4('192.0.2.1'));
  assert.equal(o?.hi, 0n);
  assert.equal(o?.lo, 0xffffc0000201n);
  const p = parseAddress('2001:db8::1');
  assert.ok(p && p.version === 6);
  const o6 = a.mapV6(p.v6);
  assert.equal(o6?.text, '2001:db8::1');
  assert.equal(o6?.hi, 0x20010db800000000n);
  assert.equal(o6?.lo, 1n);
  const nd = new AddressAnonymizer(createAddressMethod({ method: 'ipcrypt-nd' }, KEY.subarray(0, 16), { random: rnd }), undefined, null);
  const t = nd.mapV4(v4('192.0.2.1'));
  assert.match(String(t?.text), /^0909090909090909[0-9a-f]{32}$/);
  assert.equal(t?.hi, null);
});

test('internal networks keep subnet membership and host structure inside the target', () => {
  const nets = new InternalNetworks([{ prefix: '10.0.0.0/8', subnetPrefix: 24, preserveGateway: true }], KEY);
  const a = anon(undefined, nets);
  const out = (ip: string): number => {
    const r = a.mapV4(v4(ip));
    const p = parseAddress(String(r?.text));
    assert.ok(p && p.version === 4);
    return p.v4;
  };
  const x = out('10.1.2.3');
  const y = out('10.1.2.77');
  const z = out('10.9.9.3');
  assert.equal(x >>> 24, 240, 'in the default target 240.0.0.0/8');
  assert.equal(x >>> 8, y >>> 8, 'same subnet stays together');
  assert.notEqual(x >>> 8, z >>> 8, 'different subnets stay apart');
  assert.equal(out('10.1.2.1') & 255, 1, 'gateway kept');
  assert.equal(out('10.1.2.255') & 255, 255, 'subnet broadcast kept');
  assert.equal(out('10.1.2.0') & 255, 0, 'network kept');
  assert.equal(out('10.1.2.255') >>> 8, x >>> 8);
  // Injective within the network.
  const seen = new Set<number>();
  for (let h = 0; h < 256; h++) seen.add(out(`10.1.2.${h}`));
  assert.equal(seen.size, 256);
  assert.equal(a.stats.internal > 0, true);
});

test('no external address lands in an internal target; real inputs inside the target are redirected injectively', () => {
  const nets = new InternalNetworks([{ prefix: '10.0.0.0/8', target: '77.0.0.0/8' }], KEY);
  const a = anon({ private: 'map' }, nets);
  const out = (x: number): number => {
    const p = parseAddress(String(a.mapV4(x >>> 0)?.text));
    assert.ok(p && p.version === 4);
    return p.v4;
  };
  // The target's own real addresses (77/8) are mapped as if they were 10/8 externally, i.e.
  // into the image no other input uses: never into 77/8, never onto another output.
  const seen = new Map<number, number>();
  fc.assert(fc.property(fc.nat({ max: 0xffffff }), fc.nat({ max: 0xffffffff }), (low, any) => {
    for (const x of [((77 << 24) | low) >>> 0, ((10 << 24) | low) >>> 0, any >>> 0]) {
      const y = out(x);
      const internal = x >>> 24 === 10;
      assert.equal(y >>> 24 === 77, internal, 'only internal addresses land in the target');
      const prev = seen.get(y);
      assert.ok(prev === undefined || prev === x, 'injective');
      seen.set(y, x);
    }
  }), { numRuns: 300 });
  assert.ok(a.stats.redirected > 0);
  assert.equal(formatIpv4(out(v4('10.1.2.3')) & 0xff000000), '77.0.0.0');
});

test('an address method built without the policy reserved outputs is refused', () => {
  const bare = createAddressMethod({ method: 'ipcrypt-pfx' }, KEY, { random: rnd });
  assert.throws(() => new AddressAnonymizer(bare, undefined, null), TypeError);
});
