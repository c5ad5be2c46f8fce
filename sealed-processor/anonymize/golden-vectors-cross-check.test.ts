/**
 * Keeps golden/vectors.json from being merely self-referential: recomputes stored values
 * independently (node:crypto HKDF, HMAC and SHA-256; the time-offset and name formulas from
 * their documentation), and shows that the stored subkeys are the ones production uses, by
 * rebuilding the stored pseudonyms from them through the lower layers (address anonymizer,
 * internal-network and MAC permutations) instead of the flow anonymizer.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac, hkdfSync } from 'node:crypto';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { parseAddress } from '../../schemas/ip-address.ts';
import type { AddressSpec, NameSpec, Policy } from '../../schemas/policy.ts';
import { newRawFlow } from '../flows/flow-record.ts';
import { createAddressAnonymizer } from './address-anonymizer.ts';
import { classifyAddressName, renderAddressName } from './address-names.ts';
import { createDerivedAddressMaps } from './derived-addresses.ts';
import { createFlowAnonymizer } from './flow-anonymizer.ts';
import { readGoldenFile, readPolicyFixtures, sortedKeysJson } from './golden/golden-files.ts';
import { GOLDEN_MASTER_KEY_HEX, POLICY_CASES } from './golden/golden-vectors.ts';
import { InternalNetworks } from './internal-networks.ts';
import { WidePermutation } from './wide-permutation.ts';
import { keyIdOf } from './key.ts';
import { createMacMapper, formatMac, parseMac } from './mac.ts';
import { forbiddenTargets, rangeActions } from '../../schemas/policy-ranges.ts';
import { SmallPermutation } from './small-permutation.ts';

const stored = await readGoldenFile();
if (stored === null) throw new Error('golden/vectors.json is missing');
const golden = stored;
const fixtures = await readPolicyFixtures();
const ks = golden.vectors.keySchedule as {
  masterKey: string; keyId: string; flowAnonymizerKeyId: string;
  subkeys: Record<string, { from: string; bytes: number; hex: string }>;
  timeShiftOffsetUs: Record<string, number>;
};
const hashes = golden.vectors.policyHashes as Record<string, { hash: string; publishable: string }>;
type Pseudonyms = {
  addresses?: Record<string, string | null>; macs?: Record<string, string | null>;
  sidePairs?: Record<string, { dst_addr: string | null; dst_mac: string | null }>;
  names?: Record<string, Record<string, string | null>>; times?: Array<{ in: [number, number]; out: [number, number] }>;
  internalTargets?: string[];
};
const pseudonyms = golden.vectors.pseudonyms as Record<string, Pseudonyms>;
const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const MASTER = hex(GOLDEN_MASTER_KEY_HEX);
const subkey = (label: string): Uint8Array => {
  const s = ks.subkeys[label];
  assert.ok(s !== undefined, `no stored subkey ${label}`);
  return hex(s.hex);
};
const derivedMaps = () => createDerivedAddressMaps(subkey('flowseal/v1/multicast/suffix'), subkey('flowseal/v1/iid/address'), subkey('flowseal/v1/iid/mapped'));
const policyOf = (name: string): Policy => {
  const c = POLICY_CASES.find((p) => p.name === name);
  assert.ok(c !== undefined, name);
  return c.build(fixtures);
};

test('every stored subkey is HKDF-SHA256(ikm, no salt, info = label) by node:crypto', () => {
  assert.equal(ks.masterKey, GOLDEN_MASTER_KEY_HEX);
  for (const [label, s] of Object.entries(ks.subkeys)) {
    const ikm = s.from === 'master' ? MASTER : subkey(s.from);
    const k = Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), Buffer.from(label, 'utf8'), s.bytes));
    assert.equal(k.toString('hex'), s.hex, label);
  }
});

test('key id: first 16 bytes of HKDF(master, "flowseal/v1/key-id"), as keyIdOf and the flow anonymizer publish it', () => {
  const k = Buffer.from(hkdfSync('sha256', MASTER, Buffer.alloc(0), Buffer.from('flowseal/v1/key-id'), 16)).toString('hex');
  assert.equal(ks.keyId, k);
  assert.equal(ks.flowAnonymizerKeyId, k);
  assert.equal(keyIdOf(MASTER), k);
});

test('time shift: offset = (1 + (first 6 bytes, big-endian) mod (maxDays·86400)) s, and outputs are input minus it', () => {
  const x = Buffer.from(subkey('flowseal/v1/time/shift')).readUIntBE(0, 6);
  for (const [days, off] of Object.entries(ks.timeShiftOffsetUs)) assert.equal(off, (1 + (x % (Number(days) * 86400))) * 1e6, days);
  for (const [name, days] of [['time-shift', '365'], ['time-shift-30d', '30']] as const) {
    const off = ks.timeShiftOffsetUs[days];
    for (const t of pseudonyms[name].times ?? []) assert.deepEqual(t.out, [t.in[0] - off, t.in[1] - off], name);
  }
});

test('names: every hashed label is the last 8 bytes of HMAC-SHA256(name key, lowercase label); kept tails are listed suffixes', () => {
  const key = subkey('flowseal/v1/name/label');
  const mac = (label: string): string => createHmac('sha256', key).update(label, 'utf8').digest().subarray(24).toString('hex');
  let hashed = 0;
  for (const name of ['default', 'campus']) {
    const columns = policyOf(name).columns as Record<string, NameSpec | undefined>;
    for (const [input, outs] of Object.entries(pseudonyms[name].names ?? {})) {
      for (const [col, out] of Object.entries(outs)) {
        const spec = columns[col];
        const labels = input.replace(/\.$/, '').toLowerCase().split('.');
        if (spec === undefined || labels.some((l) => l.length === 0 || l.length > 63)) { assert.equal(out, null, `${name} ${col} ${input}`); continue; }
        if (classifyAddressName(labels) !== null) continue; // rendered from the address: next test
        const got = (out ?? '').split('.');
        assert.equal(got.length, labels.length, `${name} ${col} ${input}`);
        let kept = 0;
        while (kept < labels.length && got[labels.length - 1 - kept] === labels[labels.length - 1 - kept]) kept++;
        const tail = labels.slice(labels.length - kept).join('.');
        assert.ok(kept === 0 || (spec.keepSuffixes ?? []).includes(tail), `${name} ${col} ${input}: kept ${tail}`);
        for (let i = 0; i < labels.length - kept; i++, hashed++) assert.equal(got[i], mac(labels[i]), `${name} ${col} ${input} label ${i}`);
      }
    }
  }
  assert.ok(hashed > 100);
});

test('names that are addresses: rebuilt from the stored address subkey and name key below the flow anonymizer', () => {
  const key = subkey('flowseal/v1/name/label');
  const mac = (label: string): string => createHmac('sha256', key).update(label, 'utf8').digest().subarray(24).toString('hex');
  let rebuilt = 0;
  let dropped = 0;
  for (const name of ['default', 'campus']) {
    const policy = policyOf(name);
    const columns = policy.columns as Record<string, NameSpec | AddressSpec | undefined>;
    const spec = columns.dst_addr as AddressSpec;
    const nets = policy.internalNetworks ?? [];
    const internal = nets.length === 0 ? null : new InternalNetworks(nets, subkey('flowseal/v1/internal/address'), {
      poolV4: policy.internalTarget, poolV6: policy.internalTargetV6, avoid: forbiddenTargets(rangeActions(policy.specialRanges)),
    });
    const a = createAddressAnonymizer(spec, subkey(`flowseal/v1/${spec.method}/address`), policy.specialRanges, internal, { random: () => new Uint8Array(0), derived: derivedMaps() });
    for (const [input, outs] of Object.entries(pseudonyms[name].names ?? {})) {
      const labels = input.replace(/\.$/, '').toLowerCase().split('.');
      const an = labels.some((l) => l.length === 0 || l.length > 63) ? null : classifyAddressName(labels);
      if (an === null) continue;
      for (const [col, out] of Object.entries(outs)) {
        const ns = columns[col] as NameSpec | undefined;
        if (ns === undefined) { assert.equal(out, null); continue; }
        const keep = (ns.keepSuffixes ?? []).map((x) => x.split('.')).sort((x, y) => y.length - x.length);
        const parts = {
          hashLabel: mac,
          mapLabels: (ls: readonly string[]) => {
            const k = keep.find((sfx) => sfx.length <= ls.length && sfx.every((l, i) => ls[ls.length - sfx.length + i] === l))?.length ?? 0;
            return ls.map((l, i) => (i >= ls.length - k ? l : mac(l))).join('.');
          },
        };
        const anon = an.kind === 'unmappable' ? null : an.kind === 'literal-v4' || an.kind === 'reverse-v4' ? a.mapV4(an.v4) : a.mapV6(an.v6);
        const expected = renderAddressName(an, anon, parts);
        assert.equal(out, expected, `${name} ${col} ${input}`);
        if (expected === null) dropped++; else rebuilt++;
      }
    }
  }
  assert.ok(rebuilt >= 20 && dropped >= 6, `${rebuilt} rebuilt, ${dropped} dropped`);
});

test('policy hashes: SHA-256 of the sorted-keys JSON of the published policy, recomputed from the raw files', () => {
  const normalized = (doc: Record<string, unknown>): Record<string, unknown> => ({
    ...doc,
    columns: Object.fromEntries(Object.entries(doc.columns as Record<string, unknown>).map(([k, v]) => [k, typeof v === 'string' ? { method: v } : v])),
    keySource: { type: (doc.keySource as { type: string }).type },
  });
  const strict = normalized(JSON.parse(fixtures['test/fixtures/policies/strict.json']) as Record<string, unknown>);
  const compat = normalized(parseYaml(fixtures['test/fixtures/policies/cryptopan-compat.yaml']) as Record<string, unknown>);
  for (const [path, doc] of [['test/fixtures/policies/strict.json', strict], ['test/fixtures/policies/cryptopan-compat.yaml', compat]] as const) {
    assert.equal(sortedKeysJson(doc), hashes[path].publishable, path);
    assert.equal(createHash('sha256').update(sortedKeysJson(doc)).digest('hex'), hashes[path].hash, path);
  }
  for (const [path, h] of Object.entries(hashes)) assert.equal(createHash('sha256').update(h.publishable).digest('hex'), h.hash, path);
  assert.equal((golden.vectors.pseudonyms.default as { policyHash: string }).policyHash, hashes.DEFAULT_POLICY.hash);
});

test('addresses: the stored method and internal subkeys rebuild every stored address pseudonym below the flow anonymizer', () => {
  const fixed = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => 0xa0 + i);
  let checked = 0;
  for (const [name, p] of Object.entries(pseudonyms)) {
    if (p.addresses === undefined) continue;
    const policy = policyOf(name);
    const spec = (policy.columns as Record<string, AddressSpec>).src_addr;
    const keyed = ks.subkeys[`flowseal/v1/${spec.method}/address`];
    const nets = policy.internalNetworks ?? [];
    const internal = nets.length === 0 ? null : new InternalNetworks(nets, subkey('flowseal/v1/internal/address'), {
      poolV4: policy.internalTarget, poolV6: policy.internalTargetV6, avoid: forbiddenTargets(rangeActions(policy.specialRanges)),
    });
    const a = createAddressAnonymizer(spec, keyed === undefined ? new Uint8Array(0) : hex(keyed.hex), policy.specialRanges, internal, { random: fixed, derived: derivedMaps() });
    for (const [input, out] of Object.entries(p.addresses)) {
      const x = parseAddress(input);
      assert.ok(x !== null);
      const o = x.version === 4 ? a.mapV4(x.v4) : a.mapV6(x.v6);
      assert.equal(o?.text ?? null, out, `${name} ${input}`);
      checked++;
    }
  }
  assert.ok(checked > 300);
});

test('internal networks: the stored subnet/host subkeys rebuild campus pseudonyms by hand (IPv4 and IPv6)', () => {
  const campus = pseudonyms.campus;
  assert.deepEqual(campus.internalTargets, ['240.0.0.0/8', '198.18.0.0/16', 'fec0::/48']);
  // 10.1.2.3 in 10.0.0.0/8 (network 0, subnets /24): subnet 0x0102, host 3, target 240.0.0.0/8.
  const sub = new SmallPermutation(subkey('flowseal/v1/internal/subnet'), 16, 0).permute(0x0102);
  const gw = (v: number): boolean => v === 0 || v === 255 || v === 1;
  const host = new SmallPermutation(subkey('flowseal/v1/internal/host'), 8, 0).permute(3, gw, 0x0102);
  assert.equal(campus.addresses?.['10.1.2.3'], `240.${sub >>> 8}.${sub & 255}.${host}`);
  assert.equal(campus.addresses?.['10.1.2.1'], `240.${sub >>> 8}.${sub & 255}.1`, 'gateway kept');
  // fd12:3456:789a:10::abcd in fd12:3456:789a::/48 (network 2, subnets /64): subnet 0x10, host 0xabcd, target fec0::/48.
  const s6 = new Uint32Array(2);
  new WidePermutation(subkey('flowseal/v1/internal6/subnet/2'), 16).permute(0, 0x10, s6);
  const h6 = new Uint32Array(2);
  const keep6 = (hi: number, lo: number): boolean => (hi === 0 && (lo === 0 || lo === 1)) || (hi === 0xffffffff && lo === 0xffffffff);
  new WidePermutation(subkey('flowseal/v1/internal6/host/2'), 64).permute(0, 0xabcd, h6, keep6, 0, 0x10);
  const words = [0xfec00000, s6[1] & 0xffff, h6[0], h6[1]];
  const text = parseAddress(String(campus.addresses?.['fd12:3456:789a:10::abcd']));
  assert.ok(text !== null && text.version === 6);
  assert.deepEqual([...text.v6], words);
});

test('MACs: the stored MAC subkeys rebuild every stored MAC pseudonym; I/G bit, zeros and broadcast kept', () => {
  const m = createMacMapper(subkey('flowseal/v1/mac/address'));
  const g = createMacMapper(subkey('flowseal/v1/mac/group'));
  let unicast = 0;
  for (const [input, out] of Object.entries(pseudonyms.default.macs ?? {})) {
    const p = parseMac(input);
    assert.ok(p !== null && out !== null);
    assert.equal(parseInt(out.slice(0, 2), 16) & 1, parseInt(input.slice(0, 2), 16) & 1, `${input}: I/G bit`);
    if ((p.hi & 0x010000) === 0) {
      assert.equal(formatMac(m.mapOui(p.hi), m.mapNic(p.lo)), out, input);
      unicast++;
    } else if (input.startsWith('33:33:')) {
      assert.equal(out, '33:33:00:00:00:00', `${input}: an IPv6-group MAC without its group is zeroed`);
    } else if (input.startsWith('01:00:5e:')) {
      assert.equal(out, '01:00:5e:00:00:00', `${input}: an IPv4-group MAC without its group is zeroed`);
    } else if (input !== 'ff:ff:ff:ff:ff:ff') {
      assert.equal(formatMac(g.mapOui(p.hi), g.mapNic(p.lo)), out, `${input}: the group-MAC map, never the unicast one`);
      assert.notEqual(formatMac(m.mapOui(p.hi), m.mapNic(p.lo)), out);
    }
  }
  assert.ok(unicast >= 5);
  assert.equal(pseudonyms.default.macs?.['ff:ff:ff:ff:ff:ff'], 'ff:ff:ff:ff:ff:ff');
  assert.equal(pseudonyms.default.macs?.['00:00:00:00:00:00'], '00:00:00:00:00:00');
});

test('group MACs of IP groups are the low bits of the stored address pseudonym of their side', () => {
  let derived = 0;
  for (const name of ['default', 'kept-unicast', 'map-multicast']) {
    for (const [pair, out] of Object.entries(pseudonyms[name].sidePairs ?? {})) {
      const [addr, mac] = pair.split(' ');
      const y = parseAddress(String(out.dst_addr));
      assert.ok(y !== null && out.dst_mac !== null, pair);
      const low32 = y.version === 4 ? y.v4 : y.v6[3];
      const raw = parseAddress(addr);
      assert.ok(raw !== null);
      const rawLow = raw.version === 4 ? raw.v4 : raw.v6[3];
      const hexMac = out.dst_mac.replace(/:/g, '');
      if (mac.startsWith('33:33:') && raw.version === 6 && (rawLow >>> 0) === parseInt(mac.slice(6).replace(/:/g, ''), 16)) {
        assert.equal(hexMac, `3333${(low32 >>> 0).toString(16).padStart(8, '0')}`, `${name} ${pair}`);
        derived++;
      } else if (mac.startsWith('01:00:5e:') && raw.version === 4 && (rawLow & 0x7fffff) === parseInt(mac.slice(9).replace(/:/g, ''), 16)) {
        assert.equal(hexMac, `01005e${(low32 & 0x7fffff).toString(16).padStart(6, '0')}`, `${name} ${pair}`);
        derived++;
      }
    }
  }
  assert.ok(derived >= 15, `${derived} derived MACs checked`);
});

test('src and dst share the address subkey; the u64 halves are the 128-bit value of the stored text', () => {
  for (const name of ['default', 'default-cryptopan', 'campus']) {
    const anon = createFlowAnonymizer(policyOf(name), MASTER);
    for (const [input, out] of Object.entries(pseudonyms[name].addresses ?? {})) {
      const x = parseAddress(input);
      const y = parseAddress(String(out));
      assert.ok(x !== null && y !== null);
      const f = newRawFlow();
      f.ipVersion = x.version;
      // dst only: src stays at 0.0.0.0 / :: so the dst value cannot come from the src cache.
      if (x.version === 4) f.dstV4 = x.v4; else f.dst6.set(x.v6);
      const row = anon.anonymizeFlow(f);
      assert.equal(row.dst_addr, out, `${name} dst ${input}`);
      const w = y.version === 4 ? [0, 0, 0xffff, y.v4] : [...y.v6];
      assert.equal(row.dst_addr_hi, (BigInt(w[0]) << 32n) | BigInt(w[1]), `${name} hi ${input}`);
      assert.equal(row.dst_addr_lo, (BigInt(w[2]) << 32n) | BigInt(w[3]), `${name} lo ${input}`);
    }
  }
});
