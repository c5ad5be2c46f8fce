/**
 * Policy-level address anonymization: special ranges, internal networks, the external
 * method, reserved outputs, and a bounded result cache.
 *
 * Order for each address: classify (schemas/special-ranges.ts) → the range's action (keep |
 * black-marker | map; default: multicast and broadcast kept, everything else mapped) →
 * for `map`: an address inside an internal network (IPv4 or IPv6) goes to its target prefix
 * (internal-networks.ts) when the method is ipcrypt-pfx, Crypto-PAn or ipcrypt-det; any
 * other address goes through the external method, which was built to avoid the policy's
 * reserved outputs (kept ranges, black-marker values, internal targets, ::ffff:0:0/96 for
 * IPv6 — see reserved-outputs.ts for how, and what that costs). Real inputs inside an
 * internal target are redirected first (same file). Hence a mapped address never lands in a
 * range the policy keeps, never looks black-marked, never collides with a mapped internal
 * address, and prefix preservation among mapped addresses stays exact (except for those
 * redirected target inputs).
 *
 * Truncate, keep, black-marker and the nd/ndx tokens are not keyed maps: they get no
 * reserved outputs (truncating to fewer bits than a kept range's length can land in it).
 *
 * Derived identifiers (derived-addresses.ts, docs/POLICY.md), unless the method is `keep`:
 * IPv4-compatible ::a.b.c.d is mapped as the IPv4 address it embeds (like ::ffff:a.b.c.d),
 * NAT64 64:ff9b::a.b.c.d as 64:ff9b:: + the IPv4 result (64:ff9b::/96 is a reserved output,
 * so nothing else lands there); a kept address never keeps bits copied from a host's address
 * or MAC — solicited-node and other embedded-address multicast groups and the interface ids
 * of kept IPv6 unicast ranges get those bits replaced.
 *
 * Prefix preservation stops at /64 for IPv6 under ipcrypt-pfx and Crypto-PAn: the primitives
 * preserve prefixes over all 128 bits, so EUI-64 / ISATAP interface ids in one /64 would
 * share as many output bits as their MACs share (one known own address → neighbours' MAC
 * bits). The output is the method's top 64 bits ‖ a keyed 64-bit permutation of the input
 * interface id tweaked by the input /64 (derived-addresses.ts, `mappedInterfaceId`): the same
 * device in another network does not link, IID 0 (subnet-router anycast) stays 0, and the map
 * stays injective. Exception: an output /64 that holds a reserved output range longer than
 * /64 (::/64 with ::ffff:0:0/96, 64:ff9b::/64 with the NAT64 /96, internal targets or black-
 * marker values past /64) keeps the full-width mapping, so nothing lands in a reserved range.
 * Without derived maps (no master key) the interface id is zeroed.
 *
 * Owns: the address pipeline and its cache. Never logs or returns a raw address except
 * under a `keep` rule the policy asked for.
 */
import type { Anon } from '../flows/flow-record.ts';
import { asAnon } from '../flows/flow-record.ts';
import type { AddressSpec, RangeAction, SpecialRanges } from '../../schemas/policy.ts';
import { createAddressMethod, type AddressMethod, type AddressMethodOptions } from './address-methods.ts';
import { formatAddressWords, formatIpv6 } from '../../schemas/ip-address.ts';
import type { InternalNetworks } from './internal-networks.ts';
import { NO_RESERVED, redirectV4, redirectV6, reservedOutputs, type ReservedOutputs } from './reserved-outputs.ts';
import { rangeActions } from '../../schemas/policy-ranges.ts';
import { DEFAULT_RANGE_ACTIONS, RangeKind, SPECIAL_RANGE_KINDS, classifyV4, classifyV6 } from '../../schemas/special-ranges.ts';
import {
  DERIVED_FIELDS, DerivedField, ZERO_DERIVED_MAPS, isIpv4Compatible, isIpv4UnicastPrefixGroup, isNat64,
  rewriteKeptInterfaceId, rewriteKeptMulticastV4, rewriteKeptMulticastV6, type DerivedAddressMaps,
} from './derived-addresses.ts';

export { DEFAULT_RANGE_ACTIONS };

/** An anonymized address: text plus the 128-bit value as two u64 halves (null for tokens). */
export interface AddressOut {
  readonly text: Anon<string>;
  readonly hi: Anon<bigint> | null;
  readonly lo: Anon<bigint> | null;
}

/** Counters of one AddressAnonymizer. */
export interface AddressStats {
  cacheHits: number;
  cacheMisses: number;
  internal: number;
  /** Real inputs found inside an internal target and redirected (see reserved-outputs.ts). */
  redirected: number;
  byKind: Record<string, number>;
  /** Distinct addresses (cache misses) whose derived identifier bits were replaced, by field (derived-addresses.ts). */
  derived: Record<DerivedField, number>;
}

const ALL_KINDS: readonly string[] = [...SPECIAL_RANGE_KINDS, RangeKind.Public];
const INTERNAL_METHODS = new Set<AddressSpec['method']>(['ipcrypt-pfx', 'cryptopan', 'ipcrypt-det']);
const V4_MAPPED_HI = 0n;
const V4_MAPPED_LO_BASE = 0xffff00000000;
/** Kept IPv6 unicast ranges whose interface ids are replaced (derived-addresses.ts). */
const KEPT_IID_KINDS = new Set<string>([RangeKind.LinkLocal, RangeKind.Private, RangeKind.Documentation]);

/** The reserved outputs a method must avoid under these ranges and internal networks. */
export function reservedFor(method: AddressSpec['method'], ranges: SpecialRanges | undefined, internal: InternalNetworks | null): ReservedOutputs {
  if (!INTERNAL_METHODS.has(method)) return NO_RESERVED;
  const useInternal = internal !== null && internal.size > 0;
  return reservedOutputs(rangeActions(ranges), useInternal ? internal.blocks() : null);
}

/**
 * Builds the policy-level anonymizer of one address spec, with the method keyed by `key` and
 * built to avoid the reserved outputs of `ranges` and `internal`.
 * @throws AppError(PolicyInvalid) for internal networks that straddle kept ranges or targets
 * that overlap them; TypeError for a key of the wrong size.
 */
export function createAddressAnonymizer(
  spec: AddressSpec,
  key: Uint8Array,
  ranges: SpecialRanges | undefined,
  internal: InternalNetworks | null,
  opts: Omit<AddressMethodOptions, 'reserved'> & { maxCache?: number; derived?: DerivedAddressMaps },
): AddressAnonymizer {
  const reserved = reservedFor(spec.method, ranges, internal);
  return new AddressAnonymizer(createAddressMethod(spec, key, { ...opts, reserved }), ranges, internal, opts.maxCache, opts.derived);
}

/** The policy-level mapper of one address column spec (shared by columns with equal specs). */
export class AddressAnonymizer {
  /** byKind starts with every kind at 0 so its shape never changes (cheap keyed updates per miss). */
  readonly stats: AddressStats = {
    cacheHits: 0, cacheMisses: 0, internal: 0, redirected: 0,
    byKind: Object.fromEntries(ALL_KINDS.map((k) => [k, 0])),
    derived: Object.fromEntries(DERIVED_FIELDS.map((k) => [k, 0])) as Record<DerivedField, number>,
  };
  readonly #method: AddressMethod;
  readonly #actions: Record<string, RangeAction>;
  readonly #internal: InternalNetworks | null;
  readonly #reserved: ReservedOutputs;
  /** IPv4 results grouped per /24 (a small Map of 256-slot arrays beats one huge Map). */
  readonly #cache4 = new Map<number, Array<AddressOut | undefined>>();
  readonly #cache6 = new Map<string, AddressOut>();
  readonly #maxCache: number;
  readonly #w = new Uint32Array(4);
  readonly #r = new Uint32Array(4);
  /** Derived-identifier maps; null when the method is `keep` (everything kept, as declared). */
  readonly #derived: DerivedAddressMaps | null;
  /** True for ipcrypt-pfx and Crypto-PAn: IPv6 interface ids are permuted per /64, not prefix-preserved. */
  readonly #iidByNetwork: boolean;
  readonly #iid = new Uint32Array(2);

  /**
   * Prefer createAddressAnonymizer, which builds the method with the right reserved outputs.
   * @param maxCache bound on cached IPv6 results (default 1 Mi); IPv4 keeps maxCache / 64 /24 groups.
   * @param derived keyed maps of derived identifier bits (derived-addresses.ts); without them
   * those bits are zeroed.
   * @throws TypeError when a keyed method was built for other reserved outputs than these
   * ranges and internal networks need; AppError(PolicyInvalid) as createAddressAnonymizer.
   */
  constructor(method: AddressMethod, ranges: SpecialRanges | undefined, internal: InternalNetworks | null, maxCache = 1 << 20, derived?: DerivedAddressMaps) {
    this.#method = method;
    this.#derived = method.name === 'keep' ? null : (derived ?? ZERO_DERIVED_MAPS);
    this.#iidByNetwork = method.name === 'ipcrypt-pfx' || method.name === 'cryptopan';
    this.#actions = { ...DEFAULT_RANGE_ACTIONS, ...(ranges ?? {}) } as Record<string, RangeAction>;
    this.#internal = internal !== null && internal.size > 0 && INTERNAL_METHODS.has(method.name) ? internal : null;
    this.#reserved = reservedFor(method.name, ranges, internal);
    if (method.reservedId !== this.#reserved.id) {
      throw new TypeError('address method built for other reserved outputs than this policy needs (use createAddressAnonymizer)');
    }
    this.#maxCache = maxCache;
  }

  #count(kind: string): void {
    this.stats.byKind[kind]++;
  }

  /** Anonymizes an IPv4 address (u32); null when the method drops addresses. */
  mapV4(a: number): AddressOut | null {
    if (this.#method.name === 'drop') return null;
    let group = this.#cache4.get(a >>> 8);
    if (group !== undefined) {
      const hit = group[a & 255];
      if (hit !== undefined) {
        this.stats.cacheHits++;
        return hit;
      }
    }
    this.stats.cacheMisses++;
    const kind = classifyV4(a);
    this.#count(kind);
    const action: RangeAction = kind === RangeKind.Public ? 'map' : (this.#actions[kind] ?? 'map');
    let out: AddressOut;
    if (action === 'keep') out = v4Out(this.#derived !== null && kind === RangeKind.Multicast && isIpv4UnicastPrefixGroup(a) ? this.#keptGroupV4(a) : a);
    else if (action === 'black-marker') out = v4Out(0);
    else {
      const idx = this.#internal === null ? -1 : this.#internal.match(a);
      if (idx >= 0) {
        this.stats.internal++;
        out = v4Out((this.#internal as InternalNetworks).map(a, idx));
      } else if (!this.#method.yieldsAddress) {
        const w = this.#w;
        w[0] = 0; w[1] = 0; w[2] = 0xffff; w[3] = a;
        return { text: asAnon(this.#method.token(w)), hi: null, lo: null };
      } else {
        const b = this.#reserved.redirect4.length === 0 ? a : redirectV4(this.#reserved, a);
        if (b !== a) this.stats.redirected++;
        this.#method.mapV4(b, this.#w);
        out = wordsOut(this.#w);
      }
    }
    if (group === undefined) {
      if (this.#cache4.size >= this.#maxCache >>> 6) this.#cache4.delete(this.#cache4.keys().next().value as number);
      group = new Array<AddressOut | undefined>(256).fill(undefined);
      this.#cache4.set(a >>> 8, group);
    }
    group[a & 255] = out;
    return out;
  }

  /** Anonymizes an IPv6 address (four BE words); null when the method drops addresses. */
  mapV6(w: ArrayLike<number>): AddressOut | null {
    if (this.#method.name === 'drop') return null;
    const kind = classifyV6(w);
    if (kind === RangeKind.Ipv4Mapped && (this.#actions[kind] ?? 'map') === 'map') return this.mapV4(w[3] >>> 0);
    const key = cacheKey6(w);
    const hit = this.#cache6.get(key);
    if (hit !== undefined) {
      this.stats.cacheHits++;
      return hit;
    }
    this.stats.cacheMisses++;
    this.#count(kind);
    const action: RangeAction = kind === RangeKind.Public ? 'map' : (this.#actions[kind] ?? 'map');
    let out: AddressOut;
    const o = this.#w;
    if (this.#derived !== null && (isNat64(w) || isIpv4Compatible(w))) {
      const r = this.#embeddedV4(w);
      if (r.hi === null) return r; // a token: never cached (nd/ndx draw a fresh tweak)
      out = r;
    } else if (action === 'keep') {
      out = this.#derived === null ? { text: asAnon(formatIpv6(w)), hi: asAnon(hiOf(w)), lo: asAnon(loOf(w)) } : this.#keptV6(w, kind);
    } else if (action === 'black-marker') {
      out = { text: asAnon('::'), hi: asAnon(0n), lo: asAnon(0n) };
    } else {
      const idx = this.#internal === null || this.#internal.sizeV6 === 0 ? -1 : this.#internal.match6(w);
      if (idx >= 0) {
        this.stats.internal++;
        (this.#internal as InternalNetworks).map6(w, idx, o);
        out = wordsOut(o);
      } else if (!this.#method.yieldsAddress) {
        return { text: asAnon(this.#method.token(w)), hi: null, lo: null };
      } else {
        let input: ArrayLike<number> = w;
        if (this.#reserved.redirect6.length > 0) {
          redirectV6(this.#reserved, w, this.#r);
          if (this.#r[0] !== w[0] >>> 0 || this.#r[1] !== w[1] >>> 0 || this.#r[2] !== w[2] >>> 0 || this.#r[3] !== w[3] >>> 0) this.stats.redirected++;
          input = this.#r;
        }
        this.#method.mapV6(input, o);
        if (this.#iidByNetwork && !this.#reservedInOutput64(o)) this.#mappedInterfaceId(input, o);
        out = wordsOut(o);
      }
    }
    if (this.#cache6.size >= this.#maxCache) this.#cache6.delete(this.#cache6.keys().next().value as string);
    this.#cache6.set(key, out);
    return out;
  }

  /** True when output /64 `o` holds a reserved output range longer than /64 (e.g. ::/64 with ::ffff:0:0/96, the NAT64 /96). */
  #reservedInOutput64(o: Uint32Array): boolean {
    const pins = this.#reserved.v6;
    for (let i = 0; i < pins.length; i++) {
      const p = pins[i];
      if (p.length > 64 && p.words[0] === o[0] && p.words[1] === o[1]) return true;
    }
    return false;
  }

  /**
   * Replaces the interface id of a prefix-preserving result `o` by the keyed permutation of
   * the input's interface id, tweaked by the input /64 (file comment, "prefix preservation
   * stops at /64"). Injective: equal output /64s come from one input /64, one permutation.
   */
  #mappedInterfaceId(input: ArrayLike<number>, o: Uint32Array): void {
    const iid = this.#iid;
    (this.#derived as DerivedAddressMaps).mappedInterfaceId(input[2] >>> 0, input[3] >>> 0, input[0] >>> 0, input[1] >>> 0, iid);
    o[2] = iid[0];
    o[3] = iid[1];
    this.stats.derived[DerivedField.MappedInterfaceId]++;
  }

  /** A kept IPv6 address with its derived identifier bits replaced (derived-addresses.ts). */
  #keptV6(w: ArrayLike<number>, kind: string): AddressOut {
    const maps = this.#derived as DerivedAddressMaps;
    const k = new Uint32Array(4);
    let field: DerivedField | null = null;
    if (kind === RangeKind.Multicast) field = rewriteKeptMulticastV6(w, k, maps, (e, into) => this.#embeddedV6(e, into));
    else if (KEPT_IID_KINDS.has(kind) && rewriteKeptInterfaceId(w, k, maps)) field = DerivedField.KeptInterfaceId;
    else for (let i = 0; i < 4; i++) k[i] = w[i] >>> 0;
    if (field !== null) this.stats.derived[field]++;
    return wordsOut(k);
  }

  /** The anonymized 128-bit value of a unicast address embedded in a kept group; false for none. */
  #embeddedV6(e: Uint32Array, into: Uint32Array): boolean {
    if (classifyV6(e) === RangeKind.Multicast) return false;
    const r = this.mapV6(e);
    if (r === null || r.hi === null || r.lo === null) return false;
    into[0] = Number(r.hi >> 32n);
    into[1] = Number(r.hi & 0xffffffffn);
    into[2] = Number(r.lo >> 32n);
    into[3] = Number(r.lo & 0xffffffffn);
    return true;
  }

  /** A kept 234.0.0.0/8 group with its embedded unicast prefix mapped (RFC 6034). */
  #keptGroupV4(a: number): number {
    this.stats.derived[DerivedField.Ipv4UnicastPrefixGroup]++;
    return rewriteKeptMulticastV4(a, (prefix) => {
      if (classifyV4(prefix) === RangeKind.Multicast) return null;
      const r = this.mapV4(prefix);
      return r === null || r.hi !== 0n || r.lo === null || r.lo >> 32n !== 0xffffn ? null : Number(r.lo & 0xffffffffn);
    });
  }

  /**
   * An IPv6 address that is an IPv4 host: IPv4-compatible ::a.b.c.d → the IPv4 result (as
   * ::ffff:a.b.c.d is); NAT64 64:ff9b::a.b.c.d → 64:ff9b:: + the IPv4 result, or the IPv4
   * pseudonym itself when that is not an IPv4 address (ipcrypt-det) or a token.
   */
  #embeddedV4(w: ArrayLike<number>): AddressOut {
    const nat64 = isNat64(w);
    this.stats.derived[nat64 ? DerivedField.Nat64 : DerivedField.Ipv4Compatible]++;
    const r = this.mapV4(w[3] >>> 0) as AddressOut;
    if (!nat64 || r.hi !== 0n || r.lo === null || r.lo >> 32n !== 0xffffn) return r;
    const k = Uint32Array.of(0x0064ff9b, 0, 0, Number(r.lo & 0xffffffffn));
    return wordsOut(k);
  }
}

/**
 * The IPv6 cache key: the address's eight 16-bit groups as eight UTF-16 code units. Why not
 * decimal words joined by ':': formatting four u32s and hashing the ~40-character result cost
 * ~3x more per lookup (measured), and this runs for both addresses of every IPv6 row.
 */
function cacheKey6(w: ArrayLike<number>): string {
  const a = w[0] >>> 0, b = w[1] >>> 0, c = w[2] >>> 0, d = w[3] >>> 0;
  return String.fromCharCode(a >>> 16, a & 0xffff, b >>> 16, b & 0xffff, c >>> 16, c & 0xffff, d >>> 16, d & 0xffff);
}

function hiOf(w: ArrayLike<number>): bigint {
  return (BigInt(w[0] >>> 0) << 32n) | BigInt(w[1] >>> 0);
}

function loOf(w: ArrayLike<number>): bigint {
  return (BigInt(w[2] >>> 0) << 32n) | BigInt(w[3] >>> 0);
}

/** Decimal text of 0..255 (dotted-quad rendering runs once per distinct address). */
const DECIMAL = Array.from({ length: 256 }, (_, i) => String(i));

function v4Out(v: number): AddressOut {
  const u = v >>> 0;
  return {
    text: asAnon(`${DECIMAL[u >>> 24]}.${DECIMAL[(u >>> 16) & 255]}.${DECIMAL[(u >>> 8) & 255]}.${DECIMAL[u & 255]}`),
    hi: asAnon(V4_MAPPED_HI),
    // ::ffff:0:0 + u is below 2^53: one exact double → one BigInt, no BigInt arithmetic.
    lo: asAnon(BigInt(V4_MAPPED_LO_BASE + u)),
  };
}

/** Output words → text per draft §3.2 (IPv4-mapped renders as IPv4) and u64 halves. */
function wordsOut(w: ArrayLike<number>): AddressOut {
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return v4Out(w[3]);
  return { text: asAnon(formatAddressWords(w)), hi: asAnon(hiOf(w)), lo: asAnon(loOf(w)) };
}
