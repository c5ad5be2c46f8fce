/**
 * Property: for random raw MACs, IPv6 prefixes and IPv4 addresses, and every field derived
 * from them (EUI-64 addresses, solicited-node and node-information groups and their MACs,
 * RFC 3306/4489 groups, IPv4-compatible/NAT64/6to4/Teredo embeddings, 234/8 groups and their
 * 01:00:5e MACs, reverse names, address literals), pushed through the real flow anonymizer
 * under several policies, no output field — any column of any row, or the release notes —
 * contains the raw identifier (leak-search.ts, every form) or a run of its bits
 * (derived-bits.ts) that the policy does not declare kept. Under each policy below nothing of
 * these identifiers is declared kept: the address methods are keyed maps and the kept ranges
 * keep only their range part (docs/POLICY.md). Seeded, so it is deterministic.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatIpv4, formatIpv6 } from '../schemas/ip-address.ts';
import { DEFAULT_POLICY, parsePolicy, type Policy } from '../schemas/policy.ts';
import { newRawFlow, type RawFlow } from '../sealed-processor/flows/flow-record.ts';
import { createFlowAnonymizer } from '../sealed-processor/anonymize/flow-anonymizer.ts';
import { describeBitRuns, findBitRuns, identifierHex, rawBitRuns, u64Hex } from './support/derived-bits.ts';
import { describeLeaks, findLeaks, ipv6Bytes, leakNeedles } from './support/leak-search.ts';

const MASTER = Uint8Array.from({ length: 32 }, (_, i) => (i * 53 + 3) & 255);

function policy(columns: Record<string, unknown>, specialRanges: Record<string, string>): Policy {
  return parsePolicy(JSON.stringify({ ...DEFAULT_POLICY, columns: { ...DEFAULT_POLICY.columns, ...columns }, specialRanges }), 'json');
}

const POLICIES: ReadonlyArray<[string, Policy]> = [
  ['default', DEFAULT_POLICY],
  ['kept link-local, ULA and documentation', policy({}, { multicast: 'keep', broadcast: 'keep', linkLocal: 'keep', private: 'keep', documentation: 'keep' })],
  ['everything mapped', policy({}, { multicast: 'map', broadcast: 'map', linkLocal: 'map', loopback: 'map' })],
  ['cryptopan', policy({ src_addr: 'cryptopan', dst_addr: 'cryptopan' }, { multicast: 'keep', broadcast: 'keep' })],
  ['ipcrypt-det', policy({ src_addr: 'ipcrypt-det', dst_addr: 'ipcrypt-det' }, { multicast: 'keep', broadcast: 'keep' })],
];

const hex2 = (x: number) => x.toString(16).padStart(2, '0');
const macText = (hi: number, lo: number) => [hi >>> 16, (hi >>> 8) & 255, hi & 255, lo >>> 16, (lo >>> 8) & 255, lo & 255].map(hex2).join(':');

/** Random raw identifiers: a vendor MAC, a global /64, a public IPv4, a ULA /64. */
const scenario = fc.record({
  oui: fc.integer({ min: 0, max: 0xffffff }).map((x) => x & 0xfcffff & ~0x010000),
  nic: fc.integer({ min: 0x100000, max: 0xeffffe }),
  p0: fc.integer({ min: 0, max: 0x0fffffff }).map((x) => (0x24000000 | x) >>> 0),
  p1: fc.integer({ min: 0x10000000, max: 0xefffffff }),
  v4: fc.integer({ min: 0x0b000000, max: 0xdf000000 }).filter((v) => ![10, 100, 127, 169, 172, 192, 198, 203].includes(v >>> 24)),
  ula: fc.integer({ min: 0, max: 0xffffff }).map((x) => (0xfd000000 | x) >>> 0),
});

type Scenario = { oui: number; nic: number; p0: number; p1: number; v4: number; ula: number };

function build(s: Scenario): { flows: RawFlow[]; ips: string[]; macs: string[] } {
  const iidHi = ((((s.oui ^ 0x020000) << 8) | 0xff) >>> 0);
  const iidLo = ((0xfe << 24) | s.nic) >>> 0;
  const g = Uint32Array.of(s.p0, s.p1, iidHi, iidLo);
  const ll = Uint32Array.of(0xfe800000, 0, iidHi, iidLo);
  const ula = Uint32Array.of(s.ula, 0x00010000, iidHi, iidLo);
  const sn = Uint32Array.of(0xff020000, 0, 1, (0xff000000 | s.nic) >>> 0);
  const ni = Uint32Array.of(0xff020000, 0, 2, (0xff000000 | s.nic) >>> 0);
  const oldNi = Uint32Array.of(0xff050000, 0, 2, ((s.nic << 8) | 0x5a) >>> 0);
  const g3306 = Uint32Array.of(0xff3e0040, s.p0, s.p1, 0x1234);
  const g4489 = Uint32Array.of(0xff3200ff, iidHi, iidLo, 0x1234);
  const nat64 = Uint32Array.of(0x0064ff9b, 0, 0, s.v4);
  const compat = Uint32Array.of(0, 0, 0, s.v4);
  const sixToFour = Uint32Array.of((0x20020000 | (s.v4 >>> 16)) >>> 0, ((s.v4 & 0xffff) << 16) >>> 0, iidHi, iidLo);
  const teredo = Uint32Array.of(0x20010000, s.v4, 0x8000cfc7, ~s.v4 >>> 0);
  const grp4 = ((234 << 24) | (s.v4 >>> 8)) >>> 0;
  const mac: [number, number] = [s.oui, s.nic];
  const snMac: [number, number] = [0x3333ff, s.nic];
  const v4Mac: [number, number] = [0x01005e, grp4 & 0x7fffff];
  const f6 = (src: Uint32Array, dst: Uint32Array, sm?: [number, number], dm?: [number, number], names: Partial<Pick<RawFlow, 'dnsQname' | 'httpHost' | 'tlsSni'>> = {}): RawFlow => {
    const f = newRawFlow();
    f.ipVersion = 6;
    f.src6.set(src);
    f.dst6.set(dst);
    if (sm) [f.srcMacHi, f.srcMacLo] = sm;
    if (dm) [f.dstMacHi, f.dstMacLo] = dm;
    Object.assign(f, names);
    return f;
  };
  const nib = (w: Uint32Array) => [...[...w].map((x) => (x >>> 0).toString(16).padStart(8, '0')).join('')].reverse().join('.');
  const v4Text = formatIpv4(s.v4);
  const f4 = newRawFlow();
  f4.srcV4 = s.v4;
  f4.dstV4 = grp4;
  [f4.srcMacHi, f4.srcMacLo] = mac;
  [f4.dstMacHi, f4.dstMacLo] = v4Mac;
  f4.dnsQname = `${v4Text.split('.').reverse().join('.')}.in-addr.arpa`;
  f4.httpHost = v4Text;
  f4.tlsSni = `${v4Text.split('.').reverse().join('.')}.zen.dnsbl.example`;
  const flows = [
    f6(ll, sn, mac, snMac, { dnsQname: `${nib(g)}.ip6.arpa`, httpHost: `[${formatIpv6(g)}]` }),
    f6(Uint32Array.of(0, 0, 0, 0), sn, mac, snMac),
    f6(ll, ni, mac, [0x3333ff, s.nic]),
    f6(ll, oldNi, mac, [0x333300 | (oldNi[3] >>> 24), oldNi[3] & 0xffffff]),
    f6(g, g3306, mac, [0x333300, 0x001234], { dnsQname: `${nib(g).slice(32)}.ip6.arpa` }),
    f6(ll, g4489, mac, [0x333300, 0x001234]),
    f6(ula, nat64, mac, [s.nic, s.oui]),
    f6(compat, sixToFour),
    f6(teredo, g, undefined, mac),
    f4,
  ];
  const ips = [g, ll, ula, sn, ni, oldNi, g3306, g4489, nat64, compat, sixToFour, teredo].map((w) => formatIpv6(w));
  ips.push(v4Text, formatIpv4(grp4));
  return { flows, ips, macs: [macText(...mac), macText(...snMac), macText(...v4Mac), macText(s.nic, s.oui), macText(0x333300 | (oldNi[3] >>> 24), oldNi[3] & 0xffffff)] };
}

for (const [name, pol] of POLICIES) {
  const keepsUnicast = pol.specialRanges?.linkLocal === 'keep';
  test(`property (${name}): no raw identifier, whole or as a run of its bits, in any output field or the release notes`, () => {
    const anon = createFlowAnonymizer(pol, MASTER);
    let rows = 0;
    const seen = { ips: new Set<string>(), macs: new Set<string>() };
    fc.assert(fc.property(scenario, (s) => {
      const { flows, ips, macs } = build(s);
      for (const x of ips) seen.ips.add(x);
      for (const x of macs) seen.macs.add(x);
      const out = flows.map((f) => anon.anonymizeFlow(f));
      rows += out.length;
      const json = JSON.stringify(out, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
      // The high half of an address whose /64 the policy keeps (multicast scope, fe80::, the
      // ULA /64 when kept; 64:ff9b:: and ::ffff: of embedded IPv4) is declared kept: no needle.
      const keptHigh = new Set(['0', '28428538856079360']);
      for (const ip of ips) {
        if (ip.startsWith('ff') || (keepsUnicast && (ip.startsWith('fe80') || ip.startsWith('fd')))) {
          const hi = BigInt(`0x${Buffer.from(ipv6Bytes(ip).slice(0, 8)).toString('hex')}`);
          keptHigh.add(hi.toString());
          keptHigh.add(BigInt.asIntN(64, hi).toString());
        }
      }
      const needles = leakNeedles({ ips, macs, names: [] }).filter((n) => n.form !== 'ipv6-integer-halves' || !keptHigh.has(n.text ?? ''));
      const leaks = findLeaks([{ what: 'rows', bytes: json }], needles);
      assert.equal(leaks.length, 0, describeLeaks(leaks));
      const runs = rawBitRuns({ ips, macs });
      const outputs = out.map((r, i) => ({
        what: `flow ${i}`,
        hex: [...identifierHex(JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? undefined : v))), ...u64Hex([r.src_addr_hi, r.src_addr_lo, r.dst_addr_hi, r.dst_addr_lo].map((v) => (v === null ? null : String(v))))],
      }));
      const found = findBitRuns(outputs, runs);
      assert.equal(found.length, 0, describeBitRuns(found));
      // The solicited-node MAC is rebuilt from the group, never the NIC map of the raw suffix.
      const hostNic = String(out[0].src_mac).slice(9);
      assert.notEqual(String(out[0].dst_mac).slice(9), hostNic, 'a raw↔mapped NIC pair');
      for (const r of out) for (const v of [r.dns_qname, r.tls_sni, r.http_host]) if (v !== null) assert.ok(!/(^|\.)\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\.zen\./.test(String(v)));
    }), { seed: 6_061_206, numRuns: 120 });
    assert.ok(rows >= 1000);
    const notes = JSON.stringify(anon.releaseNotes());
    const all = { ips: [...seen.ips], macs: [...seen.macs], names: [] };
    assert.equal(findLeaks([{ what: 'release notes', bytes: notes }], leakNeedles(all)).length, 0, 'release notes hold no raw identifier');
    assert.equal(findBitRuns([{ what: 'release notes', hex: identifierHex(notes) }], rawBitRuns(all)).length, 0);
    assert.ok(notes.includes('derivedIdentifiers'));
  });
}
