/**
 * Policy-level address anonymization: special ranges, internal networks, the external
 * method, collision avoidance between the two, and a bounded result cache.
 *
 * Order for each address: classify (special-ranges.ts) → the range's action (keep |
 * black-marker | map; default: multicast and broadcast kept, everything else mapped) →
 * for `map`: an address inside an internal network goes to its target prefix
 * (internal-networks.ts) when the method is ipcrypt-pfx, Crypto-PAn or ipcrypt-det; any
 * other address goes through the external method.
 *
 * Collision avoidance (prefix-preserving methods): the external map E is a bijection that
 * keeps prefixes, so the externals that would land in target T_i are exactly one input
 * prefix, and the output prefix E(I_i) of internal network I_i is never used by an external
 * address (internal addresses do not go through E). We therefore rewrite an external output
 * that falls into T_i by replacing its T_i prefix with E(I_i) (repeating if E(I_i) is itself
 * another target — cycle-walking over the swaps). This stays injective and keeps prefix
 * relations below the target length. We require that every E(I_i) is either equal to or
 * disjoint from every target; otherwise construction fails (change the target).
 *
 * Owns: the address pipeline and its cache. Never logs or returns a raw address except
 * under a `keep` rule the policy asked for.
 */
import type { Anon } from '../flows/flow-record.ts';
import { asAnon } from '../flows/flow-record.ts';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { AddressSpec, RangeAction, SpecialRanges } from '../../schemas/policy.ts';
import type { AddressMethod } from './address-methods.ts';
import { formatAddressWords, formatIpv6, maskV4 } from './ip-address.ts';
import type { InternalNetworks } from './internal-networks.ts';
import { RangeKind, classifyV4, classifyV6 } from './special-ranges.ts';

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
  byKind: Record<string, number>;
}

/** Default special-range actions (see file comment). */
export const DEFAULT_RANGE_ACTIONS: Readonly<Record<string, RangeAction>> = { multicast: 'keep', broadcast: 'keep' };

const INTERNAL_METHODS = new Set<AddressSpec['method']>(['ipcrypt-pfx', 'cryptopan', 'ipcrypt-det']);
const V4_MAPPED_HI = 0n;
const V4_MAPPED_LO_BASE = 0xffff00000000n;

/** The policy-level mapper of one address column spec (shared by columns with equal specs). */
export class AddressAnonymizer {
  readonly stats: AddressStats = { cacheHits: 0, cacheMisses: 0, internal: 0, byKind: {} };
  readonly #method: AddressMethod;
  readonly #actions: Record<string, RangeAction>;
  readonly #internal: InternalNetworks | null;
  readonly #swaps: Array<{ target: number; mask: number; image: number }> = [];
  /** IPv4 results grouped per /24 (a small Map of 256-slot arrays beats one huge Map). */
  readonly #cache4 = new Map<number, Array<AddressOut | undefined>>();
  readonly #cache6 = new Map<string, AddressOut>();
  readonly #maxCache: number;
  readonly #w = new Uint32Array(4);

  /**
   * @param maxCache bound on cached IPv6 results (default 1 Mi); IPv4 keeps maxCache / 64 /24 groups.
   * @throws AppError(PolicyInvalid) when an internal network's external image overlaps a
   * target without being equal to it (see file comment).
   */
  constructor(method: AddressMethod, ranges: SpecialRanges | undefined, internal: InternalNetworks | null, maxCache = 1 << 20) {
    this.#method = method;
    this.#actions = { ...DEFAULT_RANGE_ACTIONS, ...(ranges ?? {}) } as Record<string, RangeAction>;
    this.#internal = internal !== null && internal.size > 0 && INTERNAL_METHODS.has(method.name) ? internal : null;
    this.#maxCache = maxCache;
    if (this.#internal !== null && method.prefixPreserving) this.#buildSwaps(this.#internal);
  }

  #buildSwaps(internal: InternalNetworks): void {
    const t = internal.targets();
    for (const { target, length, network } of t) {
      const mask = maskV4(length);
      this.#method.mapV4(network, this.#w);
      this.#swaps.push({ target, mask, image: (this.#w[3] & mask) >>> 0 });
    }
    for (const s of this.#swaps) {
      for (const u of this.#swaps) {
        const m = (s.mask & u.mask) >>> 0;
        if (((s.image ^ u.target) & m) === 0 && !(s.mask === u.mask && s.image === u.target)) {
          throw new AppError(ErrorCode.PolicyInvalid, 'an internal network target overlaps the mapped image of an internal network under this key; choose another target');
        }
      }
    }
  }

  #avoidTargets(v: number): number {
    const swaps = this.#swaps;
    for (let step = 0; step <= swaps.length; step++) {
      let moved = false;
      for (let i = 0; i < swaps.length; i++) {
        const s = swaps[i];
        if (((v ^ s.target) & s.mask) === 0) {
          v = ((s.image & s.mask) | (v & ~s.mask)) >>> 0;
          moved = true;
          break;
        }
      }
      if (!moved) return v;
    }
    return v;
  }

  #count(kind: string): void {
    this.stats.byKind[kind] = (this.stats.byKind[kind] ?? 0) + 1;
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
    if (action === 'keep') out = v4Out(a);
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
        this.#method.mapV4(a, this.#w);
        const w = this.#w;
        if (this.#swaps.length > 0 && w[0] === 0 && w[1] === 0 && w[2] === 0xffff) w[3] = this.#avoidTargets(w[3]);
        out = wordsOut(w);
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
    const key = `${w[0]}:${w[1]}:${w[2]}:${w[3]}`;
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
    if (action === 'keep') {
      out = { text: asAnon(formatIpv6(w)), hi: asAnon(hiOf(w)), lo: asAnon(loOf(w)) };
    } else if (action === 'black-marker') {
      o.fill(0);
      out = { text: asAnon('::'), hi: asAnon(0n), lo: asAnon(0n) };
    } else if (!this.#method.yieldsAddress) {
      return { text: asAnon(this.#method.token(w)), hi: null, lo: null };
    } else {
      this.#method.mapV6(w, o);
      out = wordsOut(o);
    }
    if (this.#cache6.size >= this.#maxCache) this.#cache6.delete(this.#cache6.keys().next().value as string);
    this.#cache6.set(key, out);
    return out;
  }
}

function hiOf(w: ArrayLike<number>): bigint {
  return (BigInt(w[0] >>> 0) << 32n) | BigInt(w[1] >>> 0);
}

function loOf(w: ArrayLike<number>): bigint {
  return (BigInt(w[2] >>> 0) << 32n) | BigInt(w[3] >>> 0);
}

function v4Out(v: number): AddressOut {
  const u = v >>> 0;
  return {
    text: asAnon(`${u >>> 24}.${(u >>> 16) & 255}.${(u >>> 8) & 255}.${u & 255}`),
    hi: asAnon(V4_MAPPED_HI),
    lo: asAnon(V4_MAPPED_LO_BASE | BigInt(u)),
  };
}

/** Output words → text per draft §3.2 (IPv4-mapped renders as IPv4) and u64 halves. */
function wordsOut(w: ArrayLike<number>): AddressOut {
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return v4Out(w[3]);
  return { text: asAnon(formatAddressWords(w)), hi: asAnon(hiOf(w)), lo: asAnon(loOf(w)) };
}
