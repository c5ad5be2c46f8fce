/**
 * The per-flow anonymizer the worker calls: compiles a policy and a master key into one
 * function per column of schemas/columns.ts and applies them to each RawFlow, returning an
 * AnonFlowRow of branded values (unlisted columns and `drop` give NULL).
 *
 * Subkeys (HKDF-SHA256 of the master key, key.ts): `flowseal/v1/<method>/address` for the
 * address method (shared by src and dst so pseudonyms line up), `flowseal/v1/internal/
 * address`, `flowseal/v1/mac/address`, `flowseal/v1/name/label` (shared by all name
 * columns), `flowseal/v1/time/shift`, and for derived identifiers (docs/POLICY.md)
 * `flowseal/v1/multicast/suffix`, `flowseal/v1/iid/address` and `flowseal/v1/iid/mapped` (derived-addresses.ts),
 * `flowseal/v1/mac/group` (group-macs.ts).
 *
 * Derived identifiers across columns: a group MAC is rebuilt from the anonymized address of
 * its side of the flow (group-macs.ts); a name that is or spells an address is rendered from
 * the anonymized address when src_addr and dst_addr share one address spec, and is dropped
 * otherwise: the name may spell either side, so rendering it with one side's spec could show
 * what the other side's stricter spec hides (address-names.ts). What could not be derived is NULL or zeroed, and counted in
 * the release notes (`derivedIdentifiers`).
 *
 * Owns: the RawFlow → AnonFlowRow step, counters, release notes. Never logs or returns a raw
 * address/MAC/name (except where the policy says keep), never holds the master key beyond
 * construction (only subkeys), no IO, no clock.
 */
import type { AnonFlowRow, AnonValue, RawFlow } from '../flows/flow-record.ts';
import { asAnon } from '../flows/flow-record.ts';
import { AnonClass, FLOW_COLUMNS, type FlowColumnName } from '../../schemas/columns.ts';
import {
  policyHash as hashPolicy, publishablePolicy,
  type AddressSpec, type MacSpec, type NameSpec, type Policy, type PortSpec, type SizeSpec, type TimeSpec,
} from '../../schemas/policy.ts';
import { createAddressAnonymizer, type AddressAnonymizer, type AddressOut } from './address-anonymizer.ts';
import { classifyAddressName, renderAddressName } from './address-names.ts';
import { DERIVED_FIELDS, DERIVED_SUBKEYS, createDerivedAddressMaps, type DerivedField } from './derived-addresses.ts';
import { GROUP_MAC_SUBKEY, GroupMacOutcome, IG_BIT, mapGroupMac, type GroupMacResult, type SideAddress } from './group-macs.ts';
import { METHOD_KEY_BYTES } from './address-methods.ts';
import { InternalNetworks } from './internal-networks.ts';
import { forbiddenTargets, rangeActions } from '../../schemas/policy-ranges.ts';
import { deriveSubkey, keyIdOf } from './key.ts';
import { createMacMapper, formatMac } from './mac.ts';
import { createNameMapper } from './names.ts';
import { binPort, coarsenTime, log2Bucket, timeShiftOffsetUs } from './scalars.ts';

/** Counters (never values). */
export interface FlowAnonymizerStats {
  flows: number;
  invalidNames: number;
  addressCacheHits: number;
  addressCacheMisses: number;
  internalAddresses: number;
  /** Real inputs inside an internal target, redirected (reserved-outputs.ts). */
  redirectedAddresses: number;
  addressesByRange: Record<string, number>;
  /** Distinct addresses whose derived identifier bits were replaced, by field (derived-addresses.ts). */
  derivedAddresses: Record<DerivedField, number>;
  /** Group MACs by rule (group-macs.ts). */
  groupMacs: Record<GroupMacOutcome, number>;
  /** Names that are or spell an address: rendered from the anonymized address, or dropped (NULL). */
  addressNames: { mapped: number; dropped: number };
}

export interface FlowAnonymizer {
  anonymizeFlow(raw: RawFlow): AnonFlowRow;
  /** Public key id of the master key (key.ts keyIdOf). */
  readonly keyId: string;
  /** Canonical policy hash (schemas/policy.ts). */
  readonly policyHash: string;
  /** What a data release may say about this run: no secrets, no raw addresses. */
  releaseNotes(): Record<string, unknown>;
  stats(): FlowAnonymizerStats;
}

export interface FlowAnonymizerOptions {
  /** Randomness for ipcrypt-nd/ndx tweaks (default: Web Crypto). */
  random?: (n: number) => Uint8Array;
}

type Op = (raw: RawFlow) => AnonValue;
const NULL_OP: Op = () => null;

/**
 * Builds the anonymizer.
 * @param masterKey 32-byte master key (only subkeys are kept).
 * @throws AppError(PolicyInvalid) for unusable internal-network settings.
 */
export function createFlowAnonymizer(policy: Policy, masterKey: Uint8Array, opts: FlowAnonymizerOptions = {}): FlowAnonymizer {
  const random = opts.random ?? ((n: number) => globalThis.crypto.getRandomValues(new Uint8Array(n)));
  const counters = { flows: 0, invalidNames: 0 };
  const groupMacs: Record<GroupMacOutcome, number> = { derived: 0, unmatched: 0, mapped: 0, broadcast: 0 };
  const addressNames = { mapped: 0, dropped: 0 };
  const columns = policy.columns as Record<string, unknown>;
  const internal = (policy.internalNetworks ?? []).length > 0
    ? new InternalNetworks(policy.internalNetworks ?? [], deriveSubkey(masterKey, 'flowseal/v1/internal/address', 32), {
      poolV4: policy.internalTarget,
      poolV6: policy.internalTargetV6,
      avoid: forbiddenTargets(rangeActions(policy.specialRanges)),
    })
    : null;
  const derived = createDerivedAddressMaps(
    deriveSubkey(masterKey, DERIVED_SUBKEYS.groupSuffix.label, DERIVED_SUBKEYS.groupSuffix.bytes),
    deriveSubkey(masterKey, DERIVED_SUBKEYS.interfaceId.label, DERIVED_SUBKEYS.interfaceId.bytes),
    deriveSubkey(masterKey, DERIVED_SUBKEYS.mappedInterfaceId.label, DERIVED_SUBKEYS.mappedInterfaceId.bytes),
  );
  const addressAnons = new Map<string, AddressAnonymizer>();
  const addressFor = (spec: AddressSpec): AddressAnonymizer => {
    const k = JSON.stringify(spec);
    let a = addressAnons.get(k);
    if (a === undefined) {
      const len = METHOD_KEY_BYTES[spec.method];
      const key = len > 0 ? deriveSubkey(masterKey, `flowseal/v1/${spec.method}/address`, len) : new Uint8Array(0);
      a = createAddressAnonymizer(spec, key, policy.specialRanges, internal, { random, derived });
      addressAnons.set(k, a);
    }
    return a;
  };
  let macMapper: ReturnType<typeof createMacMapper> | null = null;
  let groupMacMapper: ReturnType<typeof createMacMapper> | null = null;
  const nameKey = deriveSubkey(masterKey, 'flowseal/v1/name/label', 32);
  const shiftUs = timeShiftOffsetUs(deriveSubkey(masterKey, 'flowseal/v1/time/shift', 8), 365);
  const dropped: string[] = [];

  // Address columns: one op computing the AddressOut, parts reading it back.
  const addrOut: Record<string, AddressOut | null> = { src_addr: null, dst_addr: null };
  const addrOps: Record<string, (raw: RawFlow) => void> = {};
  for (const [col, v4f, v6f] of [['src_addr', 'srcV4', 'src6'], ['dst_addr', 'dstV4', 'dst6']] as const) {
    const spec = columns[col] as AddressSpec | undefined;
    if (spec === undefined || spec.method === 'drop') {
      addrOps[col] = () => { addrOut[col] = null; };
      continue;
    }
    const a = addressFor(spec);
    addrOps[col] = (raw) => { addrOut[col] = raw.ipVersion === 4 ? a.mapV4(raw[v4f]) : a.mapV6(raw[v6f]); };
  }

  // Names that are addresses are rendered only when src_addr and dst_addr have one spec (a name
  // may spell either side's address, so either column's spec could be the weaker one);
  // otherwise, or when that spec yields no address, they are dropped and counted.
  const srcSpec = columns.src_addr as AddressSpec | undefined;
  const dstSpec = columns.dst_addr as AddressSpec | undefined;
  const nameAddress = srcSpec !== undefined && dstSpec !== undefined && JSON.stringify(srcSpec) === JSON.stringify(dstSpec)
    && !['drop', 'ipcrypt-nd', 'ipcrypt-ndx'].includes(srcSpec.method) ? addressFor(srcSpec) : null;

  const ops = {} as Record<FlowColumnName, Op>;
  for (const c of FLOW_COLUMNS) {
    const name = c.name as FlowColumnName;
    if (c.anonClass === AnonClass.AddressPart) {
      const from = c.derivedFrom as 'src_addr' | 'dst_addr';
      const hi = name.endsWith('_hi');
      ops[name] = () => { const o = addrOut[from]; return o === null ? null : hi ? o.hi : o.lo; };
      continue;
    }
    const spec = columns[name] as { method: string } | undefined;
    if (spec === undefined || spec.method === 'drop') {
      dropped.push(name);
      ops[name] = NULL_OP;
      continue;
    }
    ops[name] = compileColumn(name, c.anonClass, spec);
  }

  function compileColumn(name: FlowColumnName, cls: string, spec: { method: string }): Op {
    switch (cls) {
      case AnonClass.Address:
        return () => addrOut[name]?.text ?? null;
      case AnonClass.Time: {
        const t = spec as TimeSpec;
        const get = name === 'time_start' ? (r: RawFlow) => r.timeStartUs : (r: RawFlow) => r.timeEndUs;
        if (t.method === 'shift') {
          const off = t.maxDays === undefined ? shiftUs : timeShiftOffsetUs(deriveSubkey(masterKey, 'flowseal/v1/time/shift', 8), t.maxDays);
          return (r) => asAnon(get(r) - off);
        }
        if (t.method === 'coarsen') {
          const p = t.precisionUs ?? 1_000_000;
          return (r) => asAnon(coarsenTime(get(r), p));
        }
        return (r) => asAnon(get(r));
      }
      case AnonClass.Port: {
        const p = spec as PortSpec;
        const get = name === 'src_port' ? (r: RawFlow) => r.srcPort : (r: RawFlow) => r.dstPort;
        if (p.method === 'bin') {
          const kw = p.keepWellKnown ?? true;
          return (r) => asAnon(binPort(get(r), kw));
        }
        if (p.method === 'black-marker') return () => asAnon(0);
        return (r) => asAnon(get(r));
      }
      case AnonClass.Size: {
        const s = spec as SizeSpec;
        const get = sizeGetter(name);
        return s.method === 'bin' ? (r) => asAnon(BigInt(log2Bucket(get(r)))) : (r) => asAnon(BigInt(get(r)));
      }
      case AnonClass.Mac: {
        const m = spec as MacSpec;
        const src = name === 'src_mac';
        const hiOf = src ? (r: RawFlow) => r.srcMacHi : (r: RawFlow) => r.dstMacHi;
        const loOf = src ? (r: RawFlow) => r.srcMacLo : (r: RawFlow) => r.dstMacLo;
        if (m.method === 'black-marker') return (r) => (hiOf(r) < 0 ? null : asAnon('00:00:00:00:00:00'));
        if (m.method === 'keep') return (r) => (hiOf(r) < 0 ? null : asAnon(formatMac(hiOf(r), loOf(r))));
        macMapper ??= createMacMapper(deriveSubkey(masterKey, 'flowseal/v1/mac/address', 32));
        groupMacMapper ??= createMacMapper(deriveSubkey(masterKey, GROUP_MAC_SUBKEY.label, GROUP_MAC_SUBKEY.bytes));
        const mm = macMapper;
        const gm = groupMacMapper;
        const side = src ? 'src_addr' : 'dst_addr';
        const rawLow32 = src
          ? (r: RawFlow) => (r.ipVersion === 4 ? r.srcV4 : r.src6[3])
          : (r: RawFlow) => (r.ipVersion === 4 ? r.dstV4 : r.dst6[3]);
        const g: GroupMacResult = { hi: 0, lo: 0, outcome: GroupMacOutcome.Mapped };
        return (r) => {
          const hi = hiOf(r);
          const lo = loOf(r);
          if (hi < 0 || lo < 0) return null;
          if ((hi & IG_BIT) === 0) return asAnon(formatMac(mm.mapOui(hi), mm.mapNic(lo)));
          const a = addrOut[side];
          const s: SideAddress | null = a === null ? null : { version: r.ipVersion, rawLow32: rawLow32(r) >>> 0, anonLo: a.lo };
          mapGroupMac(hi, lo, s, gm, g);
          groupMacs[g.outcome]++;
          return asAnon(formatMac(g.hi, g.lo));
        };
      }
      case AnonClass.Name: {
        const n = spec as NameSpec;
        const get = name === 'dns_qname' ? (r: RawFlow) => r.dnsQname : name === 'tls_sni' ? (r: RawFlow) => r.tlsSni : (r: RawFlow) => r.httpHost;
        if (n.method === 'keep') return (r) => { const v = get(r); return v === null ? null : asAnon(v); };
        const nm = createNameMapper(nameKey, n.keepSuffixes ?? []);
        return (r) => {
          const v = get(r);
          if (v === null) return null;
          const labels = nm.labelsOf(v);
          if (labels === null) { counters.invalidNames++; return null; }
          const an = classifyAddressName(labels);
          if (an === null) return asAnon(nm.mapLabels(labels));
          let anon: AddressOut | null = null;
          if (nameAddress !== null && an.kind !== 'unmappable') {
            anon = an.kind === 'literal-v4' || an.kind === 'reverse-v4' ? nameAddress.mapV4(an.v4) : nameAddress.mapV6(an.v6);
          }
          const out = renderAddressName(an, anon, nm);
          if (out === null) { addressNames.dropped++; return null; }
          addressNames.mapped++;
          return asAnon(out);
        };
      }
      default:
        return plainOp(name);
    }
  }

  const actions = rangeActions(policy.specialRanges);
  const hash = hashPolicy(policy);
  const keyId = keyIdOf(masterKey);
  const addrStats = (): AddressAnonymizer[] => [...addressAnons.values()];
  const derivedCounts = () => {
    const addresses = Object.fromEntries(DERIVED_FIELDS.map((k) => [k, 0])) as Record<DerivedField, number>;
    for (const a of addrStats()) for (const k of DERIVED_FIELDS) addresses[k] += a.stats.derived[k];
    return { addresses, groupMacs: { ...groupMacs }, names: { ...addressNames } };
  };
  const o = ops;
  const aSrc = addrOps.src_addr;
  const aDst = addrOps.dst_addr;

  return {
    keyId,
    policyHash: hash,
    anonymizeFlow(raw: RawFlow): AnonFlowRow {
      counters.flows++;
      aSrc(raw);
      aDst(raw);
      return {
        time_start: o.time_start(raw), time_end: o.time_end(raw), ip_version: o.ip_version(raw), protocol: o.protocol(raw),
        src_addr: o.src_addr(raw), src_addr_hi: o.src_addr_hi(raw), src_addr_lo: o.src_addr_lo(raw),
        dst_addr: o.dst_addr(raw), dst_addr_hi: o.dst_addr_hi(raw), dst_addr_lo: o.dst_addr_lo(raw),
        src_port: o.src_port(raw), dst_port: o.dst_port(raw), icmp_type: o.icmp_type(raw), icmp_code: o.icmp_code(raw),
        vlan_id: o.vlan_id(raw), src_mac: o.src_mac(raw), dst_mac: o.dst_mac(raw),
        packets_fwd: o.packets_fwd(raw), bytes_fwd: o.bytes_fwd(raw), packets_rev: o.packets_rev(raw), bytes_rev: o.bytes_rev(raw),
        tcp_flags_fwd: o.tcp_flags_fwd(raw), tcp_flags_rev: o.tcp_flags_rev(raw), end_reason: o.end_reason(raw),
        dns_qname: o.dns_qname(raw), tls_sni: o.tls_sni(raw), http_host: o.http_host(raw),
      };
    },
    releaseNotes(): Record<string, unknown> {
      return {
        policyHash: hash,
        keyId,
        policy: publishablePolicy(policy),
        droppedColumns: { count: dropped.length, names: [...dropped] },
        internalTopology: internal === null ? [] : internal.summary(),
        // What keyed address maps never produce (reserved-outputs.ts): readers may rely on it,
        // and it tells them which leading prefix bits the pinning keeps (cp to these ranges).
        reservedOutputs: {
          keptRanges: Object.entries(actions).filter(([, a]) => a === 'keep').map(([k]) => k),
          blackMarkerValues: Object.values(actions).includes('black-marker'),
          internalTargets: internal === null ? 0 : internal.size,
          ipv4MappedSpaceInIpv6: true,
          nat64PrefixInIpv6: true,
        },
        // Fields derived from another identifier (docs/POLICY.md): counts only, never values.
        derivedIdentifiers: derivedCounts(),
      };
    },
    stats(): FlowAnonymizerStats {
      const d = derivedCounts();
      const s: FlowAnonymizerStats = {
        ...counters, addressCacheHits: 0, addressCacheMisses: 0, internalAddresses: 0, redirectedAddresses: 0, addressesByRange: {},
        derivedAddresses: d.addresses, groupMacs: d.groupMacs, addressNames: d.names,
      };
      for (const a of addrStats()) {
        s.addressCacheHits += a.stats.cacheHits;
        s.addressCacheMisses += a.stats.cacheMisses;
        s.internalAddresses += a.stats.internal;
        s.redirectedAddresses += a.stats.redirected;
        for (const [k, v] of Object.entries(a.stats.byKind)) s.addressesByRange[k] = (s.addressesByRange[k] ?? 0) + v;
      }
      return s;
    },
  };
}

function sizeGetter(name: FlowColumnName): (r: RawFlow) => number {
  switch (name) {
    case 'packets_fwd': return (r) => r.packetsFwd;
    case 'bytes_fwd': return (r) => r.bytesFwd;
    case 'packets_rev': return (r) => r.packetsRev;
    default: return (r) => r.bytesRev;
  }
}

/** Plain columns: kept as they are; optional numeric fields absent (-1) become NULL. */
function plainOp(name: FlowColumnName): Op {
  const opt = (f: (r: RawFlow) => number): Op => (r) => { const v = f(r); return v < 0 ? null : asAnon(v); };
  switch (name) {
    case 'ip_version': return (r) => asAnon(r.ipVersion);
    case 'protocol': return (r) => asAnon(r.protocol);
    case 'icmp_type': return opt((r) => r.icmpType);
    case 'icmp_code': return opt((r) => r.icmpCode);
    case 'vlan_id': return opt((r) => r.vlanId);
    case 'tcp_flags_fwd': return (r) => asAnon(r.tcpFlagsFwd);
    case 'tcp_flags_rev': return (r) => asAnon(r.tcpFlagsRev);
    case 'end_reason': return (r) => asAnon(r.endReason as string);
    default: return NULL_OP;
  }
}

