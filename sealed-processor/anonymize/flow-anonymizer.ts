/**
 * The per-flow anonymizer the worker calls: compiles a policy and a master key into one
 * function per column of schemas/columns.ts and applies them to each RawFlow, returning an
 * AnonFlowRow of branded values (unlisted columns and `drop` give NULL). Which RawFlow field
 * feeds which column is column-sources.ts's exhaustive, compiler-checked table; this file only
 * turns each entry and the policy's spec for its class into a function. Every address column
 * (src, dst, exporter, next hop, BGP next hop) with the same spec shares one keyed map.
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
import type { Anon, AnonFlowRow, AnonValue, RawFlow } from '../flows/flow-record.ts';
import { asAnon } from '../flows/flow-record.ts';
import { AnonClass, FLOW_COLUMNS, type FlowColumnName } from '../../schemas/columns.ts';
import { columnSource, type AddressColumn, type AnyColumnSource, type SourceByClass } from './column-sources.ts';
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
  /**
   * The text `column` would hold for `raw` (for diagnostics naming an exporter): the same map
   * and policy as in rows; null when absent or dropped. Does not count a flow.
   */
  anonymizeAddress(column: AddressColumn, raw: RawFlow): Anon<string> | null;
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

  // Address columns: one op per address column computing its AddressOut (null: absent or
  // dropped), run before the row is built; the text column and its halves read it back.
  const addrOut = {} as Record<AddressColumn, AddressOut | null>;
  const addrOps: Array<(raw: RawFlow) => void> = [];
  for (const c of FLOW_COLUMNS) {
    const src = columnSource(c.name);
    if (src.cls !== AnonClass.Address) continue;
    const col = c.name as AddressColumn;
    addrOut[col] = null;
    const spec = columns[col] as AddressSpec | undefined;
    if (spec === undefined || spec.method === 'drop') continue;
    // One anonymizer per spec: every address column with the same spec (data plane, exporter,
    // next hops) shares one keyed map, so a router's address pseudonymizes the same everywhere.
    const a = addressFor(spec);
    const { version, v4, v6 } = src.address;
    addrOps.push((raw) => {
      const v = version(raw);
      addrOut[col] = v === 4 ? a.mapV4(v4(raw)) : v === 6 ? a.mapV6(v6(raw)) : null;
    });
  }

  // Names that are addresses are rendered only when src_addr and dst_addr have one spec (a name
  // may spell either side's address, so either column's spec could be the weaker one);
  // otherwise, or when that spec yields no address, they are dropped and counted.
  const srcSpec = columns.src_addr as AddressSpec | undefined;
  const dstSpec = columns.dst_addr as AddressSpec | undefined;
  const nameAddress = srcSpec !== undefined && dstSpec !== undefined && JSON.stringify(srcSpec) === JSON.stringify(dstSpec)
    && !['drop', 'ipcrypt-nd', 'ipcrypt-ndx'].includes(srcSpec.method) ? addressFor(srcSpec) : null;

  const ops: Array<[FlowColumnName, Op]> = [];
  for (const c of FLOW_COLUMNS) {
    const src = columnSource(c.name);
    if (src.cls === AnonClass.AddressPart) {
      const { of } = src;
      ops.push([c.name, src.half === 'hi' ? () => addrOut[of]?.hi ?? null : () => addrOut[of]?.lo ?? null]);
      continue;
    }
    const spec = columns[c.name] as { method: string } | undefined;
    if (spec === undefined || spec.method === 'drop') {
      dropped.push(c.name);
      ops.push([c.name, NULL_OP]);
      continue;
    }
    ops.push([c.name, compileColumn(c.name, src, spec)]);
  }

  function compileColumn(column: FlowColumnName, src: AnyColumnSource, spec: { method: string }): Op {
    switch (src.cls) {
      case AnonClass.Address: {
        const col = column as AddressColumn;
        return () => addrOut[col]?.text ?? null;
      }
      case AnonClass.AddressPart:
        throw new TypeError('address parts follow their address column');
      case AnonClass.Time: {
        const t = spec as TimeSpec;
        const get = src.get;
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
        const get = src.get;
        if (p.method === 'bin') {
          const kw = p.keepWellKnown ?? true;
          return (r) => asAnon(binPort(get(r), kw));
        }
        if (p.method === 'black-marker') return () => asAnon(0);
        return (r) => asAnon(get(r));
      }
      case AnonClass.Size: {
        const s = spec as SizeSpec;
        const get = src.get;
        return s.method === 'bin' ? (r) => asAnon(BigInt(log2Bucket(get(r)))) : (r) => asAnon(BigInt(get(r)));
      }
      case AnonClass.Mac:
        return macOp(spec as MacSpec, src);
      case AnonClass.Name:
        return nameOp(spec as NameSpec, src.get);
      case AnonClass.Plain: {
        // Kept as it is; absent numbers (-1) and absent strings become NULL.
        const get = src.get;
        return (r) => {
          const v = get(r);
          return v === null || (typeof v === 'number' && v < 0) ? null : asAnon(v);
        };
      }
    }
  }

  function macOp(m: MacSpec, src: SourceByClass[typeof AnonClass.Mac]): Op {
    const { hi: hiOf, lo: loOf, side, rawLow32 } = src;
    if (m.method === 'black-marker') return (r) => (hiOf(r) < 0 ? null : asAnon('00:00:00:00:00:00'));
    if (m.method === 'keep') return (r) => (hiOf(r) < 0 ? null : asAnon(formatMac(hiOf(r), loOf(r))));
    macMapper ??= createMacMapper(deriveSubkey(masterKey, 'flowseal/v1/mac/address', 32));
    groupMacMapper ??= createMacMapper(deriveSubkey(masterKey, GROUP_MAC_SUBKEY.label, GROUP_MAC_SUBKEY.bytes));
    const mm = macMapper;
    const gm = groupMacMapper;
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

  function nameOp(n: NameSpec, get: (r: RawFlow) => string | null): Op {
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

  const actions = rangeActions(policy.specialRanges);
  const hash = hashPolicy(policy);
  const keyId = keyIdOf(masterKey);
  const addrStats = (): AddressAnonymizer[] => [...addressAnons.values()];
  const derivedCounts = () => {
    const addresses = Object.fromEntries(DERIVED_FIELDS.map((k) => [k, 0])) as Record<DerivedField, number>;
    for (const a of addrStats()) for (const k of DERIVED_FIELDS) addresses[k] += a.stats.derived[k];
    return { addresses, groupMacs: { ...groupMacs }, names: { ...addressNames } };
  };
  const opFns = ops.map(([, f]) => f);
  const buildRow = rowBuilder(ops.map(([n]) => n));
  const addrOpCount = addrOps.length;

  return {
    keyId,
    policyHash: hash,
    anonymizeFlow(raw: RawFlow): AnonFlowRow {
      counters.flows++;
      for (let i = 0; i < addrOpCount; i++) addrOps[i](raw);
      return buildRow(opFns, raw);
    },
    anonymizeAddress(column: AddressColumn, raw: RawFlow): Anon<string> | null {
      const spec = columns[column] as AddressSpec | undefined;
      const src = columnSource(column);
      if (spec === undefined || spec.method === 'drop' || src.cls !== AnonClass.Address) return null;
      const a = addressFor(spec);
      const v = src.address.version(raw);
      const out = v === 4 ? a.mapV4(src.address.v4(raw)) : v === 6 ? a.mapV6(src.address.v6(raw)) : null;
      return out?.text ?? null;
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

const COLUMN_NAME = /^[a-z][a-z0-9_]*$/;

/**
 * `(fns, raw) => ({ [names[0]]: fns[0](raw), ... })` as one object literal, compiled once per
 * anonymizer. Why: a row is one exported record on the flow-export path, so it is built a
 * million times a second; a literal gives every row one hidden class with its 45 values
 * in-object, where the keyed stores of a loop (`row[name] = ...`) leave V8 a dictionary after
 * a dozen properties (a hash table per row: slower to build, to read in the sink and to collect),
 * and each `fns[i](raw)` is its own call site, so V8 inlines each column's function. The source
 * holds nothing but the column names of schemas/columns.ts (checked) and indexes.
 */
function rowBuilder(names: readonly FlowColumnName[]): (fns: readonly Op[], raw: RawFlow) => AnonFlowRow {
  for (const n of names) if (!COLUMN_NAME.test(n)) throw new TypeError(`flow-anonymizer: unexpected column name ${n}`);
  const body = `return { ${names.map((n, i) => `${n}: fns[${i}](raw)`).join(', ')} };`;
  return new Function('fns', 'raw', body) as (fns: readonly Op[], raw: RawFlow) => AnonFlowRow;
}
