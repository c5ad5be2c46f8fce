/**
 * Derived identifiers (docs/POLICY.md): fields whose bits come from another identifier are
 * mapped from the anonymized source or dropped, never kept raw, and never give a raw↔mapped
 * pair that decodes another field. Each test names the case it pins; the whole-output
 * property over random identifiers is test/derived-identifiers-property.test.ts.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { AppError } from '../../schemas/errors.ts';
import { formatIpv4, formatIpv6, parseAddress } from '../../schemas/ip-address.ts';
import { DEFAULT_POLICY, parsePolicy, type Policy } from '../../schemas/policy.ts';
import { newRawFlow, type AnonFlowRow, type RawFlow } from '../flows/flow-record.ts';
import { createFlowAnonymizer } from './flow-anonymizer.ts';
import { deriveSubkey } from './key.ts';
import { words } from './test-helpers.test-util.ts';

const MASTER = Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + 7) & 255);
const SEED = { seed: 6_000_001 };

function withRanges(specialRanges: Record<string, string>, columns: Record<string, unknown> = {}): Policy {
  return parsePolicy(JSON.stringify({ ...DEFAULT_POLICY, columns: { ...DEFAULT_POLICY.columns, ...columns }, specialRanges }), 'json');
}

/** One IPv6 flow src → dst with optional MACs (24-bit halves). */
function flow6(src: ArrayLike<number>, dst: ArrayLike<number>, srcMac?: [number, number], dstMac?: [number, number]): RawFlow {
  const f = newRawFlow();
  f.ipVersion = 6;
  f.protocol = 58;
  f.src6.set(src);
  f.dst6.set(dst);
  if (srcMac) [f.srcMacHi, f.srcMacLo] = srcMac;
  if (dstMac) [f.dstMacHi, f.dstMacLo] = dstMac;
  return f;
}

function flow4(src: number, dst: number, dstMac?: [number, number]): RawFlow {
  const f = newRawFlow();
  f.protocol = 17;
  f.srcV4 = src;
  f.dstV4 = dst;
  if (dstMac) [f.dstMacHi, f.dstMacLo] = dstMac;
  return f;
}

/** The 128-bit value of an address column (from its u64 halves) as four words. */
function outWords(row: AnonFlowRow, col: 'src_addr' | 'dst_addr'): Uint32Array {
  const hi = row[`${col}_hi`] as unknown as bigint;
  const lo = row[`${col}_lo`] as unknown as bigint;
  return Uint32Array.of(Number(hi >> 32n), Number(hi & 0xffffffffn), Number(lo >> 32n), Number(lo & 0xffffffffn));
}

function macHalves(text: unknown): [number, number] {
  const h = String(text).replace(/:/g, '');
  return [parseInt(h.slice(0, 6), 16), parseInt(h.slice(6), 16)];
}

/** EUI-64 interface id of a MAC (RFC 4291 appendix A) as two words. */
function eui64(oui: number, nic: number): [number, number] {
  const o = oui ^ 0x020000;
  return [((o << 8) | 0xff) >>> 0, ((0xfe << 24) | nic) >>> 0];
}

const unicastOui = fc.nat({ max: 0xffffff }).map((x) => x & ~0x010000);
const nic24 = fc.integer({ min: 1, max: 0xfffffe });
const globalPrefix = fc.tuple(fc.nat({ max: 0x1fffffff }), fc.nat({ max: 0xffffffff })).map(([a, b]) => [(0x20000000 | a) >>> 0, b >>> 0] as const)
  .filter(([a]) => a >>> 16 !== 0x2002 && a >>> 16 !== 0x2001 && a !== 0x20010db8);

test('solicited-node groups: the raw 24-bit suffix is replaced, one target one group, and its MAC follows the group, not the NIC map', () => {
  const anon = createFlowAnonymizer(DEFAULT_POLICY, MASTER);
  const suffixes = new Map<number, number>();
  fc.assert(fc.property(unicastOui, nic24, globalPrefix, (oui, nic, [p0, p1]) => {
    const [i0, i1] = eui64(oui, nic);
    const host = Uint32Array.of(p0, p1, i0, i1);
    const group = Uint32Array.of(0xff020000, 0, 1, (0xff000000 | nic) >>> 0);
    const row = anon.anonymizeFlow(flow6(host, group, [oui, nic], [0x3333ff, nic]));
    const g = outWords(row, 'dst_addr');
    assert.deepEqual([g[0], g[1], g[2], g[3] >>> 24], [0xff020000, 0, 1, 0xff], 'still a solicited-node group (kept multicast)');
    const suffix = g[3] & 0xffffff;
    assert.notEqual(suffix, nic, 'the raw suffix (= the host MAC NIC half) is gone');
    const [mhi, mlo] = macHalves(row.dst_mac);
    assert.equal(mhi, 0x3333ff, 'an IPv6 group MAC');
    assert.equal(mlo, suffix, 'the MAC is rebuilt from the anonymized group, not from the raw one');
    const [, hostNic] = macHalves(row.src_mac);
    assert.notEqual(mlo, hostNic, 'no raw↔mapped NIC pair: the group MAC is not the unicast NIC map of the raw suffix');
    assert.notEqual(outWords(row, 'src_addr')[3] & 0xffffff, nic, 'the host address itself is mapped');
    const prev = suffixes.get(nic);
    assert.ok(prev === undefined || prev === suffix, 'deterministic');
    suffixes.set(nic, suffix);
  }), { ...SEED, numRuns: 300 });
  const seen = new Set(suffixes.values());
  assert.equal(seen.size, suffixes.size, 'injective on the sample');
  const notes = anon.releaseNotes() as { derivedIdentifiers: { addresses: Record<string, number>; groupMacs: Record<string, number> } };
  assert.ok(suffixes.size > 100);
  assert.equal(notes.derivedIdentifiers.addresses.solicitedNodeGroup, suffixes.size, 'counted once per distinct group');
  assert.equal(notes.derivedIdentifiers.groupMacs.derived, 300, 'counted per flow');
});

test('node-information groups ff02::2:ffXX:XXXX: the name-hash suffix is replaced like a solicited-node suffix', () => {
  const anon = createFlowAnonymizer(DEFAULT_POLICY, MASTER);
  const row = anon.anonymizeFlow(flow6(words('fe80::1'), words('ff02::2:ffab:cdef')));
  const g = outWords(row, 'dst_addr');
  assert.deepEqual([g[0], g[1], g[2], g[3] >>> 24], [0xff020000, 0, 2, 0xff]);
  assert.notEqual(g[3] & 0xffffff, 0xabcdef);
  const sn = anon.anonymizeFlow(flow6(words('fe80::1'), words('ff02::1:ffab:cdef')));
  assert.equal(outWords(sn, 'dst_addr')[3], g[3], 'one suffix map for both, so their MACs (33:33:ff:…) agree');
});

test('old-form node-information groups ff02::2:XXXX:XXXX (32-bit name hash) are rewritten whole, any scope; the group MAC follows', () => {
  const anon = createFlowAnonymizer(DEFAULT_POLICY, MASTER);
  const seen = new Map<number, number>();
  fc.assert(fc.property(fc.nat({ max: 0xffffffff }).filter((x) => x >>> 24 !== 0xff), fc.constantFrom(0xff020000, 0xff050000, 0xff120000, 0xff0e0000), (low, w0) => {
    const row = anon.anonymizeFlow(flow6(words('fe80::21b:21ff:feaa:bbcc'), Uint32Array.of(w0, 0, 2, low), undefined, [0x333300 | (low >>> 24), low & 0xffffff]));
    const g = outWords(row, 'dst_addr');
    assert.deepEqual([g[0], g[1], g[2]], [w0, 0, 2], 'still the node-information group of its scope');
    assert.notEqual(g[3], low >>> 0, 'the raw MD5 word is gone');
    assert.notEqual(g[3] >>> 24, 0xff, 'stays in the old form');
    assert.equal(row.dst_mac, [0x33, 0x33, g[3] >>> 24, (g[3] >>> 16) & 255, (g[3] >>> 8) & 255, g[3] & 255].map((b) => b.toString(16).padStart(2, '0')).join(':'), 'the MAC follows the group');
    const prev = seen.get(low >>> 0);
    assert.ok(prev === undefined || prev === g[3], 'one group, one pseudonym across scopes');
    seen.set(low >>> 0, g[3]);
  }), { ...SEED, numRuns: 300 });
  assert.equal(new Set(seen.values()).size, seen.size, 'injective on the sample');
  const sn = outWords(anon.anonymizeFlow(flow6(words('fe80::1'), words('ff05::1:ffaa:bbcc'))), 'dst_addr');
  assert.notEqual(sn[3] & 0xffffff, 0xaabbcc, 'a solicited-node layout in another scope is rewritten too');
});

test('mapped IPv6 (ipcrypt-pfx, Crypto-PAn): prefix preservation stops at /64; interface ids of one /64 share no MAC bits, and do not link across /64s', () => {
  for (const method of ['ipcrypt-pfx', 'cryptopan']) {
    const anon = createFlowAnonymizer(withRanges({ multicast: 'keep', broadcast: 'keep' }, { src_addr: method, dst_addr: method }), MASTER);
    const a = outWords(anon.anonymizeFlow(flow6(words('2001:470:1:2:21b:21ff:feaa:bbcc'), words('2001:4860::1'))), 'src_addr');
    const b = outWords(anon.anonymizeFlow(flow6(words('2001:470:1:2:21b:21ff:feaa:bbcd'), words('2001:4860::1'))), 'src_addr');
    const c = outWords(anon.anonymizeFlow(flow6(words('2001:470:1:3:21b:21ff:feaa:bbcc'), words('2001:4860::1'))), 'src_addr');
    assert.deepEqual([a[0], a[1]], [b[0], b[1]], `${method}: one /64, one output /64`);
    assert.deepEqual([a[0], a[1] >>> 1], [c[0], c[1] >>> 1], `${method}: prefix preserved up to /63`);
    assert.notDeepEqual([a[2], a[3]], [c[2], c[3]], `${method}: the same device in another /64 gets another interface id`);
    let shared = 0;
    fc.assert(fc.property(unicastOui, nic24, globalPrefix, fc.nat({ max: 23 }), (oui, nic, [p0, p1], bit) => {
      const [i0, i1] = eui64(oui, nic);
      const x = anon.anonymizeFlow(flow6(Uint32Array.of(p0, p1, i0, i1), words('2001:4860::1')));
      const y = anon.anonymizeFlow(flow6(Uint32Array.of(p0, p1, i0, (i1 ^ (1 << bit)) >>> 0), words('2001:4860::1')));
      const ox = outWords(x, 'src_addr');
      const oy = outWords(y, 'src_addr');
      assert.deepEqual([ox[0], ox[1]], [oy[0], oy[1]]);
      const cp = Math.clz32(ox[2] ^ oy[2]);
      if (cp >= 16) shared++;
    }), { ...SEED, numRuns: 300 });
    assert.ok(shared < 30, `${method}: interface ids differing in one NIC bit share ≥16 output bits ${shared}/300 times (a prefix-preserving IID would always)`);
    const z = outWords(anon.anonymizeFlow(flow6(words('2001:470:1:2::'), words('2001:4860::1'))), 'src_addr');
    assert.deepEqual([z[2], z[3]], [0, 0], 'IID 0 (subnet-router anycast) stays 0');
  }
});

test('group MACs never go through the unicast OUI/NIC maps: a known group MAC pairs nothing of a unicast MAC', () => {
  const anon = createFlowAnonymizer(DEFAULT_POLICY, MASTER);
  fc.assert(fc.property(nic24, fc.constantFrom(0x0180c2, 0x01000c, 0x03bf0a, 0x091234), (nic, groupOui) => {
    const f = flow6(words('2001:4860::1'), words('2001:4860::2'), [groupOui & ~0x010000, nic], [groupOui, nic]);
    const row = anon.anonymizeFlow(f);
    const [uo, un] = macHalves(row.src_mac);
    const [go, gn] = macHalves(row.dst_mac);
    assert.equal(go & 0x010000, 0x010000, 'I/G bit kept');
    assert.notEqual(gn, un, 'same raw NIC half, unrelated mapped halves');
    assert.notEqual(go & ~0x010000, uo, 'the OUI sibling (I/G cleared) maps elsewhere');
    assert.notEqual(gn, nic);
  }), { ...SEED, numRuns: 200 });
  const b = anon.anonymizeFlow(flow6(words('fe80::1'), words('ff02::1'), undefined, [0xffffff, 0xffffff]));
  assert.equal(b.dst_mac, 'ff:ff:ff:ff:ff:ff');
});

test('IP-group MACs follow the anonymized group of their side; without it their group bits are zeroed and counted', () => {
  const anon = createFlowAnonymizer(withRanges({ multicast: 'map', broadcast: 'keep' }), MASTER);
  const r6 = anon.anonymizeFlow(flow6(words('fe80::1'), words('ff02::fb'), undefined, [0x333300, 0x0000fb]));
  const low = outWords(r6, 'dst_addr')[3];
  assert.notEqual(r6.dst_addr, 'ff02::fb', 'this policy maps multicast');
  assert.equal(r6.dst_mac, `33:33:${[24, 16, 8, 0].map((s) => ((low >>> s) & 255).toString(16).padStart(2, '0')).join(':')}`);
  const g4 = parseAddress('239.255.255.250');
  assert.ok(g4 && g4.version === 4);
  const r4 = anon.anonymizeFlow(flow4(0x08080808, g4.v4, [0x01005e, 0x7ffffa]));
  const a4 = parseAddress(String(r4.dst_addr));
  assert.ok(a4 && a4.version === 4);
  assert.equal(r4.dst_mac, `01:00:5e:${[16, 8, 0].map((s) => (((a4.v4 & 0x7fffff) >>> s) & 255).toString(16).padStart(2, '0')).join(':')}`);
  // A group MAC that is not its flow's group (or whose address column is dropped): zeroed.
  const odd = anon.anonymizeFlow(flow6(words('fe80::1'), words('ff02::1'), undefined, [0x3333ff, 0x123456]));
  assert.equal(odd.dst_mac, '33:33:00:00:00:00');
  const noAddr = createFlowAnonymizer(parsePolicy(JSON.stringify({ ...DEFAULT_POLICY, columns: { ...DEFAULT_POLICY.columns, dst_addr: 'drop' } }), 'json'), MASTER);
  assert.equal(noAddr.anonymizeFlow(flow4(1, g4.v4, [0x01005e, 0x7ffffa])).dst_mac, '01:00:5e:00:00:00');
  assert.equal((anon.releaseNotes() as { derivedIdentifiers: { groupMacs: Record<string, number> } }).derivedIdentifiers.groupMacs.unmatched, 1);
});

test('kept IPv6 unicast ranges keep the /64 and replace the interface id (EUI-64 MACs included); IID 0 stays, one IID one pseudonym', () => {
  const anon = createFlowAnonymizer(withRanges({ multicast: 'keep', broadcast: 'keep', linkLocal: 'keep', private: 'keep' }), MASTER);
  fc.assert(fc.property(unicastOui, nic24, (oui, nic) => {
    const [i0, i1] = eui64(oui, nic);
    const ll = anon.anonymizeFlow(flow6(Uint32Array.of(0xfe800000, 0, i0, i1), Uint32Array.of(0xfd123456, 0x789a0010, i0, i1)));
    const a = outWords(ll, 'src_addr');
    const b = outWords(ll, 'dst_addr');
    assert.deepEqual([a[0], a[1]], [0xfe800000, 0], 'link-local /64 kept');
    assert.deepEqual([b[0], b[1]], [0xfd123456, 0x789a0010], 'ULA /64 kept');
    assert.ok(a[2] !== i0 || a[3] !== i1);
    assert.notEqual(a[3] & 0xffffff, nic, 'no raw NIC half in the IID');
    assert.notEqual(a[2] >>> 8, oui ^ 0x020000, 'no raw OUI in the IID');
    assert.deepEqual([a[2], a[3]], [b[2], b[3]], 'the same IID gets the same pseudonym in every kept prefix');
  }), { ...SEED, numRuns: 200 });
  assert.equal(anon.anonymizeFlow(flow6(words('fe80::'), words('fe80::'))).src_addr, 'fe80::');
  // RFC 4489 link-scoped groups carry the link-local IID: it follows the kept fe80::IID.
  const r = anon.anonymizeFlow(flow6(words('fe80::211:22ff:fe33:4455'), words('ff32:ff:211:22ff:fe33:4455:0:1234')));
  const ll = outWords(r, 'src_addr');
  const grp = outWords(r, 'dst_addr');
  assert.deepEqual([grp[0], grp[1], grp[2], grp[3]], [0xff3200ff, ll[2], ll[3], 0x1234]);
});

test('a keep *method* keeps everything verbatim (the policy declared it)', () => {
  const keep = createFlowAnonymizer(parsePolicy(JSON.stringify({ ...DEFAULT_POLICY, columns: { ...DEFAULT_POLICY.columns, src_addr: 'keep', dst_addr: 'keep' } }), 'json'), MASTER);
  const r = keep.anonymizeFlow(flow6(words('64:ff9b::808:808'), words('ff02::1:ff33:4455')));
  assert.equal(r.src_addr, '64:ff9b::808:808');
  assert.equal(r.dst_addr, 'ff02::1:ff33:4455');
});

test('IPv4 embedded in IPv6: compatible and NAT64 follow the IPv4 map; 6to4/Teredo are mapped whole, truncated no further than prefixV4', () => {
  const anon = createFlowAnonymizer(DEFAULT_POLICY, MASTER);
  fc.assert(fc.property(fc.nat({ max: 0xffffffff }).filter((v) => v >>> 24 !== 0 && v >>> 24 < 224), (v) => {
    const four = anon.anonymizeFlow(flow4(v >>> 0, 0x01010101)).src_addr;
    const compat = anon.anonymizeFlow(flow6(Uint32Array.of(0, 0, 0, v), words('2001:4860::1')));
    assert.equal(compat.src_addr, four, '::a.b.c.d is the IPv4 host a.b.c.d');
    const nat = anon.anonymizeFlow(flow6(Uint32Array.of(0x0064ff9b, 0, 0, v), words('2001:4860::1')));
    const p = parseAddress(String(four));
    assert.ok(p && p.version === 4);
    assert.equal(nat.src_addr, formatIpv6(Uint32Array.of(0x0064ff9b, 0, 0, p.v4)), 'NAT64 keeps its prefix around the IPv4 pseudonym');
  }), { ...SEED, numRuns: 200 });
  // Nothing else lands in 64:ff9b::/96: an input sharing k < 96 bits with it keeps sharing exactly k.
  fc.assert(fc.property(fc.nat({ max: 95 }), fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })), (k, r) => {
    const base = Uint32Array.of(0x0064ff9b, 0, 0, 0);
    const x = Uint32Array.from(base);
    const wi = k >>> 5;
    const bit = 0x80000000 >>> (k & 31);
    const low = (k & 31) === 31 ? 0 : 0xffffffff >>> ((k & 31) + 1);
    x[wi] = (((base[wi] ^ bit) & ~low) | (r[wi] & low)) >>> 0;
    for (let i = wi + 1; i < 4; i++) x[i] = r[i] >>> 0;
    fc.pre(!(x[0] === 0 && x[1] === 0) && x[0] >>> 24 !== 0xff && x[0] >>> 25 !== 0x7e && x[0] >>> 22 !== 0x3fa);
    const o = outWords(anon.anonymizeFlow(flow6(x, words('2001:4860::1'))), 'src_addr');
    let cp = 0;
    while (cp < 128 && ((o[cp >>> 5] ^ base[cp >>> 5]) & (0x80000000 >>> (cp & 31))) === 0) cp++;
    assert.equal(cp, k, `shares ${k} bits with 64:ff9b::/96`);
  }), { ...SEED, numRuns: 400 });
  const strict = createFlowAnonymizer(parsePolicy(JSON.stringify({ ...DEFAULT_POLICY, columns: { ...DEFAULT_POLICY.columns, src_addr: { method: 'truncate', prefixV4: 16, prefixV6: 48 } } }), 'json'), MASTER);
  assert.equal(strict.anonymizeFlow(flow6(words('2002:c633:6401:1::1'), words('::1'))).src_addr, '2002:c633::', '6to4 /48 keeps 16 bits of the router IPv4, as prefixV4 does');
  assert.equal(strict.anonymizeFlow(flow6(words('2001:0:c633:6401::1'), words('::1'))).src_addr, '2001:0:c633::', 'Teredo server IPv4 truncated to /16');
  assert.equal(strict.anonymizeFlow(flow6(words('64:ff9b::c633:6401'), words('::1'))).src_addr, '64:ff9b::c633:0');
  assert.equal(strict.anonymizeFlow(flow4(0xc6336401, 1)).src_addr, '198.51.0.0');
  const t8 = createFlowAnonymizer(parsePolicy(JSON.stringify({ ...DEFAULT_POLICY, columns: { ...DEFAULT_POLICY.columns, src_addr: { method: 'truncate', prefixV4: 8, prefixV6: 64 } } }), 'json'), MASTER);
  assert.equal(t8.anonymizeFlow(flow6(words('64:ff9b:1:c633:64:100::'), words('::1'))).src_addr, '64:ff9b:1:c600::', 'RFC 8215 64:ff9b:1::/48 (RFC 6052 /48 layout): 8 IPv4 bits, not 16');
  const t8all = createFlowAnonymizer(parsePolicy(JSON.stringify({ ...DEFAULT_POLICY, columns: { ...DEFAULT_POLICY.columns, src_addr: { method: 'truncate', prefixV4: 8, prefixV6: 128 } } }), 'json'), MASTER);
  assert.equal(t8all.anonymizeFlow(flow6(words('64:ff9b:1:c633:64:1:0:5'), words('::1'))).src_addr, '64:ff9b:1:c600:0:1:0:5', 'the bits past the IPv4 address are the truncation length\'s business');
});

test('an IPv6 internal network overlapping 64:ff9b::/96 is refused (NAT64 results live there)', () => {
  assert.throws(() => parsePolicy(JSON.stringify({ ...DEFAULT_POLICY, internalNetworks: [{ prefix: '64:ff9b::/96' }] }), 'json'),
    (e: unknown) => e instanceof AppError && /64:ff9b::\/96/.test(e.message));
});

test('embedded-address multicast groups: the unicast prefix (RFC 3306/3956) and 234/8 prefix (RFC 6034) follow the unicast map', () => {
  const anon = createFlowAnonymizer(DEFAULT_POLICY, MASTER);
  const net = anon.anonymizeFlow(flow6(words('2606:4700:4700::1'), words('ff3e:30:2606:4700:4700::1234')));
  const host = outWords(net, 'src_addr');
  const grp = outWords(net, 'dst_addr');
  assert.equal(grp[0], 0xff3e0030, 'flags, scope and plen kept');
  assert.deepEqual([grp[1], grp[2] & 0xffff0000], [host[0], host[1] & 0xffff0000], 'the /48 is the anonymized /48 of its network');
  assert.deepEqual([grp[2] & 0xffff, grp[3]], [0, 0x1234], 'zero past plen, group id kept');
  assert.notEqual(grp[1], 0x26064700);
  const rp = outWords(anon.anonymizeFlow(flow6(words('::1'), words('ff7e:140:2606:4700:4700::1234'))), 'dst_addr');
  assert.deepEqual([rp[0], rp[1], rp[2]], [0xff7e0140, host[0], host[1]], 'embedded RP: RIID nibble kept, /64 mapped');
  const r4 = anon.anonymizeFlow(flow4(0x08080801, 0xea080808));
  const a = parseAddress(String(r4.src_addr));
  const g = parseAddress(String(r4.dst_addr));
  assert.ok(a && a.version === 4 && g && g.version === 4);
  assert.equal(g.v4 >>> 24, 234);
  assert.equal(g.v4 & 0xffffff, a.v4 >>> 8, '234.a.b.c carries the anonymized /24 of a.b.c');
  assert.equal(anon.anonymizeFlow(flow4(1, 0xe00000fb)).dst_addr, '224.0.0.251', 'other kept groups unchanged');
});

test('reverse names and address literals are rendered from the anonymized address; no output label is the hash of a raw octet or nibble', () => {
  const anon = createFlowAnonymizer(DEFAULT_POLICY, MASTER);
  const nameKey = deriveSubkey(MASTER, 'flowseal/v1/name/label', 32);
  const hash = (l: string): string => createHmac('sha256', nameKey).update(l).digest().subarray(24).toString('hex');
  const smallLabels = new Set([...Array.from({ length: 256 }, (_, i) => hash(String(i))), ...'0123456789abcdef'.split('').map(hash)]);
  const named = (qname: string, host: string): AnonFlowRow => {
    const f = flow4(0x0a000001, 0x0a000002);
    f.dnsQname = qname;
    f.httpHost = host;
    return anon.anonymizeFlow(f);
  };
  fc.assert(fc.property(fc.nat({ max: 0xffffffff }), fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })), (v, [p0, p1]) => {
    const four = String(anon.anonymizeFlow(flow4(1, v >>> 0)).dst_addr);
    const octets = formatIpv4(v >>> 0).split('.');
    const r = named(`${[...octets].reverse().join('.')}.in-addr.arpa`, formatIpv4(v >>> 0));
    const p = parseAddress(four);
    assert.ok(p !== null);
    if (p.version === 4) assert.equal(r.dns_qname, `${formatIpv4(p.v4).split('.').reverse().join('.')}.in-addr.arpa`);
    assert.equal(r.http_host, four.includes(':') ? `[${four}]` : four);
    const w = Uint32Array.of((0x20000000 | (p0 & 0x1fffffff)) >>> 0, p1, 0x12345678, v);
    fc.pre(w[0] >>> 16 !== 0x2002 && w[0] >>> 16 !== 0x2001);
    const six = anon.anonymizeFlow(flow6(words('::1'), w));
    const nib = [...w].map((x) => (x >>> 0).toString(16).padStart(8, '0')).join('');
    const r6 = named(`${[...nib].reverse().join('.')}.ip6.arpa`, `[${formatIpv6(w)}]`);
    const o = outWords(six, 'dst_addr');
    const onib = [...o].map((x) => (x >>> 0).toString(16).padStart(8, '0')).join('');
    assert.equal(r6.dns_qname, `${[...onib].reverse().join('.')}.ip6.arpa`);
    assert.equal(r6.http_host, `[${six.dst_addr}]`);
    const zone = named(`${[...nib.slice(0, 12)].reverse().join('.')}.ip6.arpa`, 'x.example.com');
    assert.equal(zone.dns_qname, `${[...onib.slice(0, 12)].reverse().join('.')}.ip6.arpa`, 'a /48 zone is the anonymized /48');
    for (const out of [r.dns_qname, r.http_host, r6.dns_qname, zone.dns_qname]) {
      for (const label of String(out).split('.')) assert.ok(!smallLabels.has(label), `${out}: a hashed octet/nibble label is decodable by known plaintext`);
    }
  }), { ...SEED, numRuns: 150 });
  const before = (anon.releaseNotes() as { derivedIdentifiers: { names: { dropped: number } } }).derivedIdentifiers.names.dropped;
  for (const n of ['4.3.2.1.zen.spamhaus.org', '5.4.3.2.1.in-addr.arpa', '1.0-25.2.0.192.in-addr.arpa', '1.2.3.4.nip.io']) {
    assert.equal(named(n, 'x.example.com').dns_qname, null, `${n}: spells an address in an unknown order: dropped`);
  }
  const dnsSd = String(named('b._dns-sd._udp.0.1.10.in-addr.arpa', 'x.example.com').dns_qname).split('.');
  assert.deepEqual(dnsSd.slice(0, 3), [hash('b'), hash('_dns-sd'), hash('_udp')]);
  assert.deepEqual(dnsSd.slice(-2), ['in-addr', 'arpa']);
  assert.equal((anon.releaseNotes() as { derivedIdentifiers: { names: { dropped: number } } }).derivedIdentifiers.names.dropped, before + 4);
  assert.match(String(named('www.example.com', 'a.b.c.d.example.com').dns_qname), /^[0-9a-f]{16}\.[0-9a-f]{16}\.com$/, 'ordinary names unchanged');
  // With tokens for addresses there is no address to render: dropped, counted.
  const nd = createFlowAnonymizer(parsePolicy(JSON.stringify({ ...DEFAULT_POLICY, columns: { ...DEFAULT_POLICY.columns, src_addr: 'ipcrypt-nd', dst_addr: 'ipcrypt-nd' } }), 'json'), MASTER);
  const f = flow4(1, 2);
  f.dnsQname = '4.3.2.1.in-addr.arpa';
  assert.equal(nd.anonymizeFlow(f).dns_qname, null);
});

test('address-spelling names: a port, a non-suffix in-addr/ip6 label, a run of ≥ 2 octet or nibble labels are never hashed label by label', () => {
  const anon = createFlowAnonymizer(DEFAULT_POLICY, MASTER);
  const nameKey = deriveSubkey(MASTER, 'flowseal/v1/name/label', 32);
  const hash = (l: string): string => createHmac('sha256', nameKey).update(l).digest().subarray(24).toString('hex');
  const named = (n: string): AnonFlowRow => {
    const f = flow4(0x0a000001, 0x0a000002);
    f.dnsQname = n;
    f.tlsSni = n;
    return anon.anonymizeFlow(f);
  };
  const notes = (): number => (anon.releaseNotes() as { derivedIdentifiers: { names: { dropped: number } } }).derivedIdentifiers.names.dropped;
  const four = String(anon.anonymizeFlow(flow4(1, 0x0a010203)).dst_addr);
  assert.equal(named('10.1.2.3:443').tls_sni, `${four}:443`, 'a literal with a port is the anonymized literal with its port');
  const six = String(anon.anonymizeFlow(flow6(words('::1'), words('2001:4860::8888'))).dst_addr);
  assert.equal(named('[2001:4860::8888]:8443').tls_sni, `[${six}]:8443`);
  const before = notes();
  const spelled = ['3.2.1.in-addr.arpa.corp.example.com', '8.b.d.0.1.0.0.2.ip6.arpa.example.com', 'x.in-addr.example', '2.1.0.0.pool.ntp.org',
    '10.001.example.com', '1.2.example.com', 'a.b.example.com', '10.1.2:443', '4.3.2.1.zen.example:80', 'c.d._tcp.0.10.in-addr.arpa'];
  for (const n of spelled) {
    const r = named(n);
    assert.equal(r.dns_qname, null, `${n}: spells address bits, dropped`);
    assert.equal(r.tls_sni, null, n);
  }
  assert.equal(notes(), before + 2 * spelled.length, 'each dropped name counted');
  const pool = String(named('3.pool.ntp.org').dns_qname).split('.');
  assert.deepEqual(pool, [hash('3'), hash('pool'), hash('ntp'), 'org'], 'one numeric label among ordinary ones: hashed as before');
});

test('names are rendered only when src_addr and dst_addr share one spec: a kept dst never reveals a hidden src through a name', () => {
  const anon = createFlowAnonymizer(parsePolicy(JSON.stringify({ ...DEFAULT_POLICY, columns: { ...DEFAULT_POLICY.columns, dst_addr: 'keep' } }), 'json'), MASTER);
  const f = flow4(0x0a010203, 0xc0000235);
  f.dnsQname = '3.2.1.10.in-addr.arpa';
  f.httpHost = '10.1.2.3';
  const r = anon.anonymizeFlow(f);
  assert.notEqual(r.src_addr, '10.1.2.3', 'src is hidden');
  assert.equal(r.dns_qname, null, 'the reverse name of the hidden src is not rendered with the kept dst spec');
  assert.equal(r.http_host, null);
  assert.equal((anon.releaseNotes() as { derivedIdentifiers: { names: { dropped: number } } }).derivedIdentifiers.names.dropped, 2);
  const trunc = createFlowAnonymizer(parsePolicy(JSON.stringify({ ...DEFAULT_POLICY, columns: { ...DEFAULT_POLICY.columns, src_addr: 'black-marker', dst_addr: { method: 'truncate', prefixV4: 8 } } }), 'json'), MASTER);
  assert.equal(trunc.anonymizeFlow(f).dns_qname, null, 'black-marked src, truncated dst: dropped');
});
