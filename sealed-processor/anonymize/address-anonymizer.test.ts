import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { AddressAnonymizer } from './address-anonymizer.ts';
import { createAddressMethod } from './address-methods.ts';
import { InternalNetworks } from './internal-networks.ts';
import { formatIpv4, parseAddress } from './ip-address.ts';
import { v4 } from './test-helpers.test-util.ts';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
const rnd = (n: number): Uint8Array => new Uint8Array(n).fill(9);

function pfx(): ReturnType<typeof createAddressMethod> {
  return createAddressMethod({ method: 'ipcrypt-pfx' }, KEY, { random: rnd });
}

test('special ranges: default keeps multicast and broadcast, maps the rest; policy overrides', () => {
  const a = new AddressAnonymizer(pfx(), undefined, null);
  assert.equal(a.mapV4(v4('224.0.0.251'))?.text, '224.0.0.251');
  assert.equal(a.mapV4(v4('255.255.255.255'))?.text, '255.255.255.255');
  assert.notEqual(a.mapV4(v4('10.1.2.3'))?.text, '10.1.2.3');
  const b = new AddressAnonymizer(pfx(), { loopback: 'keep', private: 'black-marker', multicast: 'map' }, null);
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
  const nets = new InternalNetworks([{ prefix: '10.0.0.0/8', subnetPrefix: 24, preserveGateway: true }], undefined, KEY);
  const a = new AddressAnonymizer(pfx(), undefined, nets);
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

test('no external address lands in an internal target (swap with the internal image)', () => {
  const nets = new InternalNetworks([{ prefix: '10.0.0.0/8', target: '77.0.0.0/8' }], undefined, KEY);
  const a = new AddressAnonymizer(pfx(), { private: 'map' }, nets);
  const plain = createAddressMethod({ method: 'ipcrypt-pfx' }, KEY, { random: rnd });
  // Find external inputs whose plain pfx image is inside 77/8: the preimage /8.
  const w = new Uint32Array(4);
  let pre = -1;
  for (let o = 1; o < 256 && pre < 0; o++) {
    if (o === 10) continue;
    plain.mapV4((o << 24) >>> 0, w);
    if (w[3] >>> 24 === 77) pre = o;
  }
  assert.ok(pre > 0);
  plain.mapV4(v4('10.0.0.0'), w);
  const imageOf10 = w[3] >>> 24;
  fc.assert(fc.property(fc.nat({ max: 0xffffff }), fc.nat({ max: 0xffffffff }), (low, any) => {
    const r = a.mapV4(((pre << 24) | low) >>> 0);
    const p = parseAddress(String(r?.text));
    assert.ok(p && p.version === 4);
    assert.equal(p.v4 >>> 24, imageOf10, 'moved into the image the internal network gave up');
    const q = parseAddress(String(a.mapV4(any >>> 0)?.text));
    assert.ok(q && q.version === 4);
    if ((any >>> 24) !== 10) assert.notEqual(q.v4 >>> 24, 77);
  }), { numRuns: 200 });
  assert.equal(formatIpv4(0), '0.0.0.0');
});
