/**
 * Golden vectors of flowseal's own anonymization domain: what a fixed master key turns into
 * through the production code — the HKDF key schedule (labels, lengths, subkeys, key id), the
 * published policy hash of each example policy, and the pseudonyms of a fixed set of
 * addresses, MACs, names, times, ports and sizes under several policies, computed by the same
 * flow anonymizer the worker runs. Published primitive vectors (Crypto-PAn, ipcrypt-pfx) live
 * beside their primitives; this pins flowseal's derivations and composition on top of them.
 *
 * Any change to these values changes every pseudonym (or key id, or policy hash) an archive
 * or a federation partner already holds: golden-vectors.test.ts compares this computation
 * with golden/vectors.json and demands a CHANGELOG.md entry for each domain version.
 *
 * Owns: the choice of inputs and the shape of the vectors. Pure: the fixture policy texts are
 * passed in, no IO, no clock. Test tooling only; production code never imports it.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { canonicalJson } from '../../../schemas/canonical-json.ts';
import { parseAddress } from '../../../schemas/ip-address.ts';
import { DEFAULT_POLICY, parsePolicy, policyHash, publishablePolicy, type Policy } from '../../../schemas/policy.ts';
import { newRawFlow, type AnonValue, type RawFlow } from '../../flows/flow-record.ts';
import { METHOD_KEY_BYTES } from '../address-methods.ts';
import { fromHex, toHex } from '../aes-block.ts';
import { runPolicyCheckCommand } from '../cli.ts';
import { createFlowAnonymizer } from '../flow-anonymizer.ts';
import { deriveSubkey, keyIdOf } from '../key.ts';
import { parseMac } from '../mac.ts';
import { timeShiftOffsetUs } from '../scalars.ts';

/** The fixed anonymization (master) key of every vector. Public test data, never a real key. */
export const GOLDEN_MASTER_KEY_HEX = 'f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff';

/** Example policy files whose `flowseal policy check` hash is pinned (repo-relative paths). */
export const GOLDEN_POLICY_FILES = [
  'test/fixtures/policies/campus.yaml',
  'test/fixtures/policies/cryptopan-compat.yaml',
  'test/fixtures/policies/strict.json',
] as const;

/** One HKDF-SHA256 subkey: info = label, IKM = the master key or another subkey (`from`). */
export interface SubkeySpec {
  readonly label: string;
  /** 'master', or the label of the subkey used as IKM. */
  readonly from: string;
  readonly bytes: number;
  /** What the processor uses it for (documentation only: not part of the hashed vectors). */
  readonly use: string;
}

const ADDRESS_KEYED = ['ipcrypt-pfx', 'cryptopan', 'ipcrypt-det', 'ipcrypt-nd', 'ipcrypt-ndx'] as const;
const INTERNAL = 'flowseal/v1/internal/address';

/** Every subkey the processor derives (flow-anonymizer.ts, internal-networks.ts, key.ts). */
export const KEY_SCHEDULE: readonly SubkeySpec[] = [
  { label: 'flowseal/v1/key-id', from: 'master', bytes: 16, use: 'key id: the public fingerprint of the master key is the hex of these bytes' },
  ...ADDRESS_KEYED.map((m) => ({
    label: `flowseal/v1/${m}/address`, from: 'master', bytes: METHOD_KEY_BYTES[m],
    use: `src_addr and dst_addr under method ${m} (one key for both, so pseudonyms line up)`,
  })),
  { label: INTERNAL, from: 'master', bytes: 32, use: 'internal networks: IKM of the subnet and host permutation keys below' },
  { label: 'flowseal/v1/internal/subnet', from: INTERNAL, bytes: 16, use: 'IPv4 internal networks: subnet-number permutation (tweak = network index)' },
  { label: 'flowseal/v1/internal/host', from: INTERNAL, bytes: 16, use: 'IPv4 internal networks: host permutation (tweak = network index, second tweak = subnet)' },
  ...[0, 1, 2].flatMap((i) => [
    { label: `flowseal/v1/internal6/subnet/${i}`, from: INTERNAL, bytes: 16, use: `IPv6 internal network at policy index ${i}: subnet permutation` },
    { label: `flowseal/v1/internal6/host/${i}`, from: INTERNAL, bytes: 16, use: `IPv6 internal network at policy index ${i}: interface-identifier permutation (tweak = subnet)` },
  ]),
  { label: 'flowseal/v1/mac/address', from: 'master', bytes: 32, use: 'src_mac and dst_mac: bytes 0-15 key the OUI (vendor) half, bytes 16-31 the NIC half' },
  { label: 'flowseal/v1/name/label', from: 'master', bytes: 32, use: 'dns_qname, tls_sni, http_host: HMAC-SHA256 key of every label' },
  { label: 'flowseal/v1/time/shift', from: 'master', bytes: 8, use: 'time shift: the secret offset comes from the first 6 bytes' },
  { label: 'flowseal/v1/multicast/suffix', from: 'master', bytes: 16, use: 'kept solicited-node and node-information groups: 24-bit suffix permutation (derived-addresses.ts)' },
  { label: 'flowseal/v1/iid/address', from: 'master', bytes: 16, use: 'kept IPv6 unicast ranges: 64-bit interface-identifier permutation (derived-addresses.ts)' },
  { label: 'flowseal/v1/iid/mapped', from: 'master', bytes: 16, use: 'IPv6 unicast under ipcrypt-pfx / Crypto-PAn: 64-bit interface-identifier permutation tweaked by the raw /64 (address-anonymizer.ts)' },
  { label: 'flowseal/v1/mac/group', from: 'master', bytes: 32, use: 'group MACs not derived from an IP group: bytes 0-15 key the OUI half, bytes 16-31 the NIC half (group-macs.ts)' },
];

/** maxDays values whose time-shift offset is pinned (365 is the policy default). */
const SHIFT_DAYS = [365, 30] as const;

export const ADDRESSES = [
  // IPv4 public; 8.8.8.8/8.8.4.4 share 21 bits, 128.11.68.132/129.118.74.4 are the Crypto-PAn paper's.
  '1.1.1.1', '8.8.8.8', '8.8.4.4', '93.184.216.34', '128.11.68.132', '129.118.74.4',
  // IPv4 private (campus internal 10/8 with network, gateway, broadcast hosts; 172.16/16 with an explicit target).
  '10.1.2.0', '10.1.2.1', '10.1.2.3', '10.1.2.255', '10.200.0.77', '172.16.5.6', '172.20.1.1', '192.168.1.10',
  // IPv4 special ranges.
  '0.0.0.0', '100.64.1.2', '127.0.0.1', '169.254.10.20', '224.0.0.251', '239.255.255.250', '255.255.255.255',
  '192.0.2.1', '198.51.100.7', '203.0.113.9',
  // Inside campus internal targets (real inputs there are redirected).
  '240.0.0.5', '198.18.0.1',
  // IPv6 public.
  '2606:4700:4700::1111', '2001:4860:4860::8888', '2a00:1450:4001:82b::200e',
  // IPv6 ULA: campus internal fd12:3456:789a::/48 (gateway, plain host, EUI-64), and another ULA.
  'fd12:3456:789a:10::1', 'fd12:3456:789a:10::abcd', 'fd12:3456:789a:11:211:22ff:fe33:4455', 'fd00::1',
  // IPv6 special ranges: unspecified, loopback, link-local, multicast (all-nodes, mDNS, solicited-node, site), documentation.
  '::', '::1', 'fe80::1', 'fe80::211:22ff:fe33:4455', 'ff02::1', 'ff02::fb', 'ff02::1:ff33:4455', 'ff05::1:3',
  '2001:db8::1', '3fff::1',
  // IPv4-mapped (public, campus internal, loopback) and the default IPv6 internal pool.
  '::ffff:8.8.8.8', '::ffff:10.1.2.3', '::ffff:127.0.0.1', 'fec0::1',
  // Derived identifiers (docs/POLICY.md): IPv4 embedded in IPv6 (compatible, NAT64, 6to4, Teredo),
  // multicast groups embedding unicast bits (node information, RFC 3306 prefix, RFC 3956
  // embedded RP, RFC 4489 link-scoped IID, SSM without one, RFC 6034 234/8), kept-range IIDs.
  '::8.8.8.8', '::10.1.2.3', '64:ff9b::8.8.8.8', '64:ff9b::10.1.2.3', '2002:808:808::1', '2002:808:808:1:211:22ff:fe33:4455',
  '2001:0:4136:e378:8000:63bf:3fff:fdd2',
  'ff02::2:ff12:3456', 'ff3e:30:2606:4700:4700::1234', 'ff7e:140:2606:4700:4700::1234', 'ff32:ff:211:22ff:fe33:4455:0:1234',
  'ff3e::8000:1', '234.8.8.8', '234.10.1.2', 'fd12:3456:789a:10:211:22ff:fe33:4455', 'fe80::',
  // Domain 0.2.0 review: old-form node-information groups (any scope), a solicited-node layout
  // outside ff02, EUI-64 neighbours in one mapped /64 (interface ids permuted per /64), the
  // RFC 8215 NAT64 /48.
  'ff02::2:1234:5678', 'ff05::2:1234:5678', 'ff05::1:ff33:4455',
  '2a00:1450:4001:82b:211:22ff:fe33:4455', '2a00:1450:4001:82b:211:22ff:fe33:4456', '2a00:1450:4001:82c:211:22ff:fe33:4455',
  '64:ff9b:1:c633:64:100::',
] as const;

/** A short list for the randomized methods (their tweak is fixed below). */
const TOKEN_ADDRESSES = ['8.8.8.8', '10.1.2.3', '224.0.0.251', '2606:4700:4700::1111', 'ff02::fb', '::ffff:8.8.8.8'] as const;

export const MACS = [
  '00:11:22:33:44:55', '00:11:22:aa:bb:cc', 'a4:83:e7:12:34:56', // unicast, one OUI twice
  '01:00:5e:00:00:fb', '33:33:00:00:00:01', '33:33:ff:33:44:55', '01:80:c2:00:00:0e', // multicast
  '02:42:ac:11:00:02', '06:00:00:00:00:01', // locally administered
  'ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00',
] as const;

export const NAMES = [
  'www.example.com', 'WWW.Example.COM.', 'mail.google.com', 'static.assets.cdn.example.net',
  'a.b.c.d.example.co.uk', 'www.cs.ox.ac.uk', 'cdn.example.io', '_dmarc.example.org',
  '4.3.2.1.in-addr.arpa', '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
  'xn--bcher-kva.example', 'printer.local', 'localhost', 'api.eu-west-1.amazonaws.com',
  'a..b', `${'x'.repeat(64)}.com`, // invalid: empty label, label over 63
  // Names that are or spell addresses (address-names.ts): literals, zone cuts, DNS-SD under a
  // reverse zone, and unmappable ones (DNSBL, a fifth octet, RFC 2317 label).
  '8.8.8.8', '[2606:4700:4700::1111]', '2.1.in-addr.arpa', '8.b.d.0.1.0.0.2.ip6.arpa', 'b._dns-sd._udp.0.1.10.in-addr.arpa',
  '4.3.2.1.zen.spamhaus.org', '5.4.3.2.1.in-addr.arpa', '1.0-25.2.0.192.in-addr.arpa',
  // Domain 0.2.0 review: literals with a port, in-addr not as the suffix, octet runs, one numeric label.
  '10.1.2.3:443', '[2606:4700:4700::1111]:443', '3.2.1.in-addr.arpa.corp.example.com', '2.1.0.0.pool.ntp.org', '3.pool.ntp.org',
] as const;

/** [time_start, time_end] in µs since the epoch. */
const TIMES: ReadonlyArray<readonly [number, number]> = [
  [1_700_000_000_123_456, 1_700_000_001_000_000],
  [1_767_225_599_999_999, 1_767_225_600_000_001],
  [1_796_083_200_500_000, 1_796_083_260_499_999],
];

const PORTS = [0, 22, 53, 80, 443, 1023, 1024, 8080, 49151, 49152, 51234, 65535] as const;
const SIZES = [0, 1, 2, 3, 1500, 64_000, 2 ** 40 + 1] as const;

/**
 * Flows whose MAC derives from the address on the same side (group-macs.ts): [address, MAC]
 * sent as dst_addr + dst_mac (and src_addr + src_mac for the unicast control).
 */
const SIDE_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['ff02::1:ff33:4455', '33:33:ff:33:44:55'], ['ff02::1', '33:33:00:00:00:01'], ['ff02::fb', '33:33:00:00:00:fb'],
  ['224.0.0.251', '01:00:5e:00:00:fb'], ['234.8.8.8', '01:00:5e:08:08:08'], ['239.255.255.250', '01:00:5e:7f:ff:fa'],
  ['ff02::1:ff33:4455', '33:33:ff:00:00:01'], // a MAC that is not this group's: zeroed
  ['8.8.8.8', '03:bf:08:08:08:08'], ['fe80::211:22ff:fe33:4455', '00:11:22:33:44:55'],
  ['ff02::2:1234:5678', '33:33:12:34:56:78'], // old-form node-information group: the MAC follows the rewritten group
];

type Section = 'addresses' | 'tokenAddresses' | 'macs' | 'names' | 'times' | 'ports' | 'sizes' | 'sidePairs';

interface PolicyCase {
  readonly name: string;
  /** Where the policy comes from (documentation only). */
  readonly source: string;
  readonly build: (fixtures: Readonly<Record<string, string>>) => Policy;
  readonly sections: readonly Section[];
  readonly fixedRandom?: true;
}

function fixture(fixtures: Readonly<Record<string, string>>, path: string): Policy {
  const text = fixtures[path];
  if (text === undefined) throw new TypeError(`fixture ${path} not supplied`);
  return parsePolicy(text, path.endsWith('.json') ? 'json' : 'yaml');
}

function withColumns(base: Policy, columns: Record<string, unknown>): Policy {
  return parsePolicy(JSON.stringify({ ...base, columns: { ...base.columns, ...columns } }), 'json');
}

const FIXED_TWEAK = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => 0xa0 + i);

const [CAMPUS, CRYPTOPAN_COMPAT, STRICT] = GOLDEN_POLICY_FILES;

/** The policies the pseudonyms run under, and which inputs each one pins. */
export const POLICY_CASES: readonly PolicyCase[] = [
  { name: 'default', source: 'DEFAULT_POLICY', build: () => DEFAULT_POLICY, sections: ['addresses', 'macs', 'names', 'sidePairs'] },
  {
    name: 'kept-unicast', source: 'DEFAULT_POLICY with specialRanges: multicast, broadcast, linkLocal, private, documentation: keep',
    build: () => parsePolicy(JSON.stringify({ ...DEFAULT_POLICY, specialRanges: { multicast: 'keep', broadcast: 'keep', linkLocal: 'keep', private: 'keep', documentation: 'keep' } }), 'json'),
    sections: ['addresses', 'names', 'sidePairs'],
  },
  { name: 'map-multicast', source: 'DEFAULT_POLICY with specialRanges: multicast: map', build: () => parsePolicy(JSON.stringify({ ...DEFAULT_POLICY, specialRanges: { multicast: 'map', broadcast: 'keep' } }), 'json'), sections: ['sidePairs'] },
  { name: 'dst-keep', source: 'DEFAULT_POLICY with dst_addr: keep (src and dst specs differ: address names dropped)', build: () => withColumns(DEFAULT_POLICY, { dst_addr: 'keep' }), sections: ['names'] },
  {
    name: 'truncate-8-64', source: 'DEFAULT_POLICY with src_addr, dst_addr: { truncate, prefixV4: 8, prefixV6: 64 }',
    build: () => withColumns(DEFAULT_POLICY, { src_addr: { method: 'truncate', prefixV4: 8, prefixV6: 64 }, dst_addr: { method: 'truncate', prefixV4: 8, prefixV6: 64 } }), sections: ['addresses'],
  },
  { name: 'default-cryptopan', source: 'DEFAULT_POLICY with src_addr, dst_addr: cryptopan', build: () => withColumns(DEFAULT_POLICY, { src_addr: 'cryptopan', dst_addr: 'cryptopan' }), sections: ['addresses'] },
  { name: 'default-ipcrypt-det', source: 'DEFAULT_POLICY with src_addr, dst_addr: ipcrypt-det', build: () => withColumns(DEFAULT_POLICY, { src_addr: 'ipcrypt-det', dst_addr: 'ipcrypt-det' }), sections: ['addresses'] },
  { name: 'default-ipcrypt-nd', source: 'DEFAULT_POLICY with src_addr, dst_addr: ipcrypt-nd; random tweak fixed to a0 a1 a2 ...', build: () => withColumns(DEFAULT_POLICY, { src_addr: 'ipcrypt-nd', dst_addr: 'ipcrypt-nd' }), sections: ['tokenAddresses'], fixedRandom: true },
  { name: 'default-ipcrypt-ndx', source: 'DEFAULT_POLICY with src_addr, dst_addr: ipcrypt-ndx; random tweak fixed to a0 a1 a2 ...', build: () => withColumns(DEFAULT_POLICY, { src_addr: 'ipcrypt-ndx', dst_addr: 'ipcrypt-ndx' }), sections: ['tokenAddresses'], fixedRandom: true },
  { name: 'campus', source: CAMPUS, build: (f) => fixture(f, CAMPUS), sections: ['addresses', 'names', 'ports'] },
  { name: 'campus-cryptopan', source: `${CAMPUS} with src_addr, dst_addr: cryptopan`, build: (f) => withColumns(fixture(f, CAMPUS), { src_addr: 'cryptopan', dst_addr: 'cryptopan' }), sections: ['addresses'] },
  { name: 'cryptopan-compat', source: CRYPTOPAN_COMPAT, build: (f) => fixture(f, CRYPTOPAN_COMPAT), sections: ['addresses'] },
  { name: 'strict', source: STRICT, build: (f) => fixture(f, STRICT), sections: ['addresses', 'times', 'ports', 'sizes'] },
  { name: 'time-shift', source: 'DEFAULT_POLICY with time_start, time_end: shift (maxDays default 365)', build: () => withColumns(DEFAULT_POLICY, { time_start: 'shift', time_end: 'shift' }), sections: ['times'] },
  { name: 'time-shift-30d', source: 'DEFAULT_POLICY with time_start, time_end: { shift, maxDays: 30 }', build: () => withColumns(DEFAULT_POLICY, { time_start: { method: 'shift', maxDays: 30 }, time_end: { method: 'shift', maxDays: 30 } }), sections: ['times'] },
  { name: 'ports-bin', source: 'DEFAULT_POLICY with src_port: { bin, keepWellKnown: false }, dst_port: bin', build: () => withColumns(DEFAULT_POLICY, { src_port: { method: 'bin', keepWellKnown: false }, dst_port: 'bin' }), sections: ['ports'] },
];

/** JSON form of one anonymized column value (u64 columns as decimal strings). */
function jsonValue(v: AnonValue): string | number | null {
  return typeof v === 'bigint' ? v.toString() : (v as string | number | null);
}

function addressFlow(text: string): RawFlow {
  const a = parseAddress(text);
  if (a === null) throw new TypeError(`golden input is not an address: ${text}`);
  const f = newRawFlow();
  f.ipVersion = a.version;
  if (a.version === 4) { f.srcV4 = a.v4; f.dstV4 = a.v4; } else { f.src6.set(a.v6); f.dst6.set(a.v6); }
  return f;
}

function pseudonymsOf(c: PolicyCase, policy: Policy, master: Uint8Array): Record<string, unknown> {
  const anon = createFlowAnonymizer(policy, master, c.fixedRandom ? { random: FIXED_TWEAK } : {});
  const run = (fill: (f: RawFlow) => void): ReturnType<typeof anon.anonymizeFlow> => {
    const f = newRawFlow();
    fill(f);
    return anon.anonymizeFlow(f);
  };
  const out: Record<string, unknown> = { policyHash: anon.policyHash };
  for (const s of c.sections) {
    switch (s) {
      case 'addresses':
      case 'tokenAddresses':
        out.addresses = Object.fromEntries((s === 'addresses' ? ADDRESSES : TOKEN_ADDRESSES).map((a) => [a, jsonValue(anon.anonymizeFlow(addressFlow(a)).src_addr)]));
        break;
      case 'macs':
        out.macs = Object.fromEntries(MACS.map((m) => {
          const p = parseMac(m);
          if (p === null) throw new TypeError(`golden input is not a MAC: ${m}`);
          return [m, jsonValue(run((f) => { f.srcMacHi = p.hi; f.srcMacLo = p.lo; }).src_mac)];
        }));
        break;
      case 'names':
        out.names = Object.fromEntries(NAMES.map((n) => {
          const r = run((f) => { f.dnsQname = n; f.tlsSni = n; f.httpHost = n; });
          return [n, { dns_qname: jsonValue(r.dns_qname), tls_sni: jsonValue(r.tls_sni), http_host: jsonValue(r.http_host) }];
        }));
        break;
      case 'times':
        out.times = TIMES.map(([s0, e0]) => {
          const r = run((f) => { f.timeStartUs = s0; f.timeEndUs = e0; });
          return { in: [s0, e0], out: [jsonValue(r.time_start), jsonValue(r.time_end)] };
        });
        break;
      case 'ports':
        out.ports = Object.fromEntries(PORTS.map((p) => {
          const r = run((f) => { f.srcPort = p; f.dstPort = p; });
          return [String(p), { src_port: jsonValue(r.src_port), dst_port: jsonValue(r.dst_port) }];
        }));
        break;
      case 'sidePairs':
        out.sidePairs = Object.fromEntries(SIDE_PAIRS.map(([addr, mac]) => {
          const m = parseMac(mac);
          if (m === null) throw new TypeError(`golden input is not a MAC: ${mac}`);
          const f = addressFlow(addr);
          f.dstMacHi = m.hi; f.dstMacLo = m.lo;
          const r = anon.anonymizeFlow(f);
          return [`${addr} ${mac}`, { dst_addr: jsonValue(r.dst_addr), dst_mac: jsonValue(r.dst_mac) }];
        }));
        break;
      case 'sizes':
        out.sizes = Object.fromEntries(SIZES.map((v) => {
          const r = run((f) => { f.packetsFwd = v; f.bytesFwd = v; f.packetsRev = v; f.bytesRev = v; });
          return [String(v), [r.packets_fwd, r.bytes_fwd, r.packets_rev, r.bytes_rev].map(jsonValue)];
        }));
        break;
    }
  }
  if (policy.internalNetworks !== undefined) {
    const topo = anon.releaseNotes().internalTopology as Array<{ target: string }>;
    out.internalTargets = topo.map((t) => t.target);
  }
  return out;
}

function keySchedule(master: Uint8Array): Record<string, unknown> {
  const keys = new Map<string, Uint8Array>([['master', master]]);
  const subkeys: Record<string, { from: string; bytes: number; hex: string }> = {};
  for (const s of KEY_SCHEDULE) {
    const ikm = keys.get(s.from);
    if (ikm === undefined) throw new TypeError(`subkey ${s.label} derives from ${s.from}, not derived before it`);
    const k = deriveSubkey(ikm, s.label, s.bytes);
    keys.set(s.label, k);
    subkeys[s.label] = { from: s.from, bytes: s.bytes, hex: toHex(k) };
  }
  const shift = keys.get('flowseal/v1/time/shift') as Uint8Array;
  return {
    masterKey: GOLDEN_MASTER_KEY_HEX,
    kdf: 'HKDF-SHA256, no salt, info = UTF-8 label',
    subkeys,
    keyId: keyIdOf(master),
    flowAnonymizerKeyId: createFlowAnonymizer(DEFAULT_POLICY, master).keyId,
    timeShiftOffsetUs: Object.fromEntries(SHIFT_DAYS.map((d) => [String(d), timeShiftOffsetUs(shift, d)])),
  };
}

async function policyHashes(fixtures: Readonly<Record<string, string>>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {
    DEFAULT_POLICY: { hash: policyHash(DEFAULT_POLICY), publishable: canonicalJson(publishablePolicy(DEFAULT_POLICY)) },
  };
  for (const path of GOLDEN_POLICY_FILES) {
    // Exactly what `flowseal policy check <file>` prints ("ok <hash>").
    const lines: string[] = [];
    const code = await runPolicyCheckCommand([path], {
      stdout: (s) => lines.push(s),
      stderr: (s) => lines.push(s),
      readFile: async (p) => { const t = fixtures[p]; if (t === undefined) throw new Error('no such fixture'); return t; },
    });
    const m = /^ok ([0-9a-f]{64})$/.exec(lines.join('\n'));
    if (code !== 0 || m === null) throw new TypeError(`policy check of ${path} failed: ${lines.join('; ')}`);
    out[path] = { hash: m[1], publishable: canonicalJson(publishablePolicy(fixture(fixtures, path))) };
  }
  return out;
}

/** The vectors (everything the domain fingerprint covers). */
export interface GoldenVectors {
  keySchedule: Record<string, unknown>;
  policyHashes: Record<string, unknown>;
  pseudonyms: Record<string, Record<string, unknown>>;
}

/**
 * Computes every vector from the live code.
 * @param fixtures text of each GOLDEN_POLICY_FILES path.
 */
export async function computeGoldenVectors(fixtures: Readonly<Record<string, string>>): Promise<GoldenVectors> {
  const master = fromHex(GOLDEN_MASTER_KEY_HEX) as Uint8Array;
  const pseudonyms: Record<string, Record<string, unknown>> = {};
  for (const c of POLICY_CASES) pseudonyms[c.name] = pseudonymsOf(c, c.build(fixtures), master);
  return { keySchedule: keySchedule(master), policyHashes: await policyHashes(fixtures), pseudonyms };
}

/** Domain fingerprint: hex SHA-256 of the canonical JSON (sorted keys) of the vectors. */
export function vectorsSha256(vectors: unknown): string {
  return toHex(sha256(new TextEncoder().encode(canonicalJson(vectors))));
}

/** Documentation that travels with the file but is not hashed: subkey uses, policy sources. */
export function goldenNotes(): Record<string, unknown> {
  return {
    subkeys: Object.fromEntries(KEY_SCHEDULE.map((s) => [s.label, s.use])),
    policies: Object.fromEntries(POLICY_CASES.map((c) => [c.name, c.source])),
    inputs: 'addresses go in as src and dst of one flow (src_addr recorded), MACs as src_mac, names as dns_qname, tls_sni and http_host at once, side pairs as dst_addr + dst_mac of one flow',
  };
}

/**
 * Differences between two vector trees as `path: stored → live` lines (at most `max`).
 */
export function diffVectors(stored: unknown, live: unknown, max = 40): string[] {
  const a = flatten(stored);
  const b = flatten(live);
  const out: string[] = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    if (a.get(k) === b.get(k)) continue;
    out.push(`${k}: ${a.get(k) ?? '(absent)'} → ${b.get(k) ?? '(absent)'}`);
  }
  if (out.length > max) return [...out.slice(0, max), `… and ${out.length - max} more`];
  return out;
}

function flatten(v: unknown, path = '', out = new Map<string, string>()): Map<string, string> {
  if (v !== null && typeof v === 'object') {
    const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v as Record<string, unknown>);
    if (entries.length === 0) out.set(path, JSON.stringify(v));
    for (const [k, x] of entries) flatten(x, path === '' ? k : `${path}.${k}`, out);
  } else {
    out.set(path, JSON.stringify(v));
  }
  return out;
}
