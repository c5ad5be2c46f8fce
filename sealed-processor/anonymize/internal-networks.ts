/**
 * Internal networks (tcpmkpub): addresses inside an operator's own prefixes are not run
 * through the external prefix-preserving map but moved into a configured, unused target
 * prefix of the same length, keeping the subnet structure: the subnet number (bits between
 * the network prefix and `subnetPrefix`) and the host number (the remaining bits) are each
 * permuted with a keyed small-domain permutation (the host permutation is chosen per
 * subnet). Host 0 (network) and all-ones (subnet-directed broadcast) are kept, and host 1
 * (gateway) too when `preserveGateway`. IPv4 here; IPv6 networks in internal-net-v6.ts.
 *
 * Targets without an explicit `target` are allocated from a pool: `internalTarget` (IPv4,
 * default 240.0.0.0/4: reserved "future use" space, never routed) and `internalTargetV6`
 * (default fec0::/10: the deprecated site-local block, RFC 3879, which must not be reassigned
 * and is never routed, and which no special range of ours covers, so no policy can keep it;
 * ULA fd00::/8 would clash with real ULA traffic a policy may keep, and the documentation
 * blocks with campus policies that keep those). Allocation skips `avoid` prefixes (ranges the
 * policy keeps).
 *
 * Collisions with external addresses are prevented by the caller: the targets are reserved
 * outputs (reserved-outputs.ts), which the external maps never produce.
 *
 * Owns: matching, target allocation from the pools, the mapping and a topology summary
 * that reveals only targets, lengths and counts. Never exposes raw internal prefixes.
 */
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { InternalNetwork } from '../../schemas/policy.ts';
import { deriveSubkey } from './key.ts';
import { InternalNet6, maskWords, stepPrefix128, SUBNETS_SEEN_CAP, type InternalNetSummary } from './internal-net-v6.ts';
import { formatIpv4, maskV4, parsePrefix } from '../../schemas/ip-address.ts';
import { type InternalBlock4, type InternalBlock6 } from './reserved-outputs.ts';
import { overlaps6, type Prefix4, type Prefix6 } from '../../schemas/policy-ranges.ts';
import { SmallPermutation } from './small-permutation.ts';

/** Default IPv4 pool for targets: 240.0.0.0/4 (reserved, never routed). */
export const DEFAULT_INTERNAL_TARGET = '240.0.0.0/4';

/** Default IPv6 pool for targets: fec0::/10 (deprecated site-local, RFC 3879; see file comment). */
export const DEFAULT_INTERNAL_TARGET_V6 = 'fec0::/10';

/** Where targets come from and what they must avoid. */
export interface InternalNetworksOptions {
  /** IPv4 pool (policy `internalTarget`, default 240.0.0.0/4). */
  poolV4?: string | undefined;
  /** IPv6 pool (policy `internalTargetV6`, default fec0::/10). */
  poolV6?: string | undefined;
  /** Prefixes an allocated target must not overlap (kept ranges: reserved-outputs.ts forbiddenTargets). */
  avoid?: { v4: readonly Prefix4[]; v6: readonly Prefix6[] };
}

interface Net {
  readonly prefix: number;
  readonly length: number;
  readonly target: number;
  readonly subnetPrefix: number;
  readonly preserveGateway: boolean;
  readonly subnetPerm: SmallPermutation | null;
  readonly hostPerm: SmallPermutation | null;
  readonly hostBits: number;
  readonly subnetsSeen: Set<number>;
  mapped: number;
}

export type { InternalNetSummary };

/** The compiled internal-network table of a policy. */
export class InternalNetworks {
  readonly #nets: Net[] = [];
  readonly #nets6: InternalNet6[] = [];

  /**
   * @param nets the policy's `internalNetworks` (validated by schemas/policy.ts).
   * @param key 32-byte subkey for the subnet and host permutations.
   * @param opts pools and prefixes to avoid (see InternalNetworksOptions).
   * @throws AppError(PolicyInvalid) when a network does not fit into its pool.
   */
  constructor(nets: readonly InternalNetwork[], key: Uint8Array, opts: InternalNetworksOptions = {}) {
    const poolP = parsePrefix(opts.poolV4 ?? DEFAULT_INTERNAL_TARGET);
    if (poolP === null || poolP.version !== 4) throw new AppError(ErrorCode.PolicyInvalid, 'internalTarget must be an IPv4 prefix');
    const taken: Array<{ p: number; len: number }> = (opts.avoid?.v4 ?? []).map((a) => ({ p: a.value, len: a.length }));
    const taken6: Prefix6[] = [...(opts.avoid?.v6 ?? [])];
    for (const n of nets) {
      const t = n.target ? parsePrefix(n.target) : null;
      if (t && t.version === 4) taken.push({ p: t.v4, len: t.length });
      if (t && t.version === 6) taken6.push({ words: t.v6, length: t.length });
    }
    const overlaps = (p: number, len: number): boolean =>
      taken.some((x) => {
        const l = Math.min(len, x.len);
        return ((p ^ x.p) & maskV4(l)) === 0;
      });
    const kSub = deriveSubkey(key, 'flowseal/v1/internal/subnet', 16);
    const kHost = deriveSubkey(key, 'flowseal/v1/internal/host', 16);
    nets.forEach((n, i) => {
      const pre = parsePrefix(n.prefix);
      if (pre === null) throw new AppError(ErrorCode.PolicyInvalid, `internalNetworks.${i}.prefix is not a prefix`);
      if (pre.version === 6) {
        const t = n.target ? parsePrefix(n.target) : null;
        if (t !== null && t.version !== 6) throw new AppError(ErrorCode.PolicyInvalid, `internalNetworks.${i}.target must be IPv6 like its prefix`);
        const target = t !== null ? t.v6 : allocate6(pre.length, opts.poolV6 ?? DEFAULT_INTERNAL_TARGET_V6, taken6, i);
        if (t === null) taken6.push({ words: target, length: pre.length });
        const sp = Math.max(pre.length, n.subnetPrefix ?? 64);
        this.#nets6.push(new InternalNet6(pre.v6, target, pre.length, sp, n.preserveGateway ?? false,
          deriveSubkey(key, `flowseal/v1/internal6/subnet/${i}`, 16), deriveSubkey(key, `flowseal/v1/internal6/host/${i}`, 16)));
        return;
      }
      let target: number;
      const t = n.target ? parsePrefix(n.target) : null;
      if (t && t.version === 4) {
        target = t.v4;
      } else {
        if (pre.length < poolP.length) {
          throw new AppError(ErrorCode.PolicyInvalid, `internalNetworks.${i} (/${pre.length}) is larger than internalTarget (/${poolP.length})`);
        }
        const step = 2 ** (32 - pre.length);
        const end = poolP.v4 + 2 ** (32 - poolP.length);
        let cand = poolP.v4;
        while (cand < end && overlaps(cand, pre.length)) cand += step;
        if (cand >= end) throw new AppError(ErrorCode.PolicyInvalid, `internalTarget has no room left for internalNetworks.${i}`);
        target = cand >>> 0;
        taken.push({ p: target, len: pre.length });
      }
      const subnetPrefix = Math.max(pre.length, n.subnetPrefix ?? 24);
      const subnetBits = subnetPrefix - pre.length;
      const hostBits = 32 - subnetPrefix;
      this.#nets.push({
        prefix: pre.v4,
        length: pre.length,
        target,
        subnetPrefix,
        preserveGateway: n.preserveGateway ?? false,
        subnetPerm: subnetBits > 0 ? new SmallPermutation(kSub, subnetBits, i) : null,
        hostPerm: hostBits > 1 ? new SmallPermutation(kHost, hostBits, i) : null,
        hostBits,
        subnetsSeen: new Set(),
        mapped: 0,
      });
    });
  }

  /** Number of internal networks (both families). */
  get size(): number {
    return this.#nets.length + this.#nets6.length;
  }

  /** Number of IPv6 internal networks. */
  get sizeV6(): number {
    return this.#nets6.length;
  }

  /** Index of the IPv6 internal network holding `w` (four BE words), or -1. */
  match6(w: ArrayLike<number>): number {
    const nets = this.#nets6;
    for (let i = 0; i < nets.length; i++) if (nets[i].contains(w)) return i;
    return -1;
  }

  /** Maps `w` (inside IPv6 network `idx`) into its target; writes `out`. */
  map6(w: ArrayLike<number>, idx: number, out: Uint32Array): void {
    this.#nets6[idx].map(w, out);
  }

  /** Index of the internal network holding `addr`, or -1. */
  match(addr: number): number {
    const nets = this.#nets;
    for (let i = 0; i < nets.length; i++) {
      if (((addr ^ nets[i].prefix) & maskV4(nets[i].length)) === 0) return i;
    }
    return -1;
  }

  /** Maps `addr` (inside network `idx`) into its target prefix. */
  map(addr: number, idx: number): number {
    const n = this.#nets[idx];
    n.mapped++;
    const subnetBits = n.subnetPrefix - n.length;
    const hostMask = n.hostBits === 0 ? 0 : n.hostBits === 32 ? 0xffffffff : 2 ** n.hostBits - 1;
    const subnet = subnetBits === 0 ? 0 : Math.floor(((addr & ~maskV4(n.length)) >>> 0) / 2 ** n.hostBits);
    const host = (addr & hostMask) >>> 0;
    const mSubnet = n.subnetPerm === null ? subnet : n.subnetPerm.permute(subnet);
    if (n.subnetsSeen.size < SUBNETS_SEEN_CAP) n.subnetsSeen.add(mSubnet);
    let mHost = host;
    if (n.hostPerm !== null) {
      const gw = n.preserveGateway;
      const keep = (v: number): boolean => v === 0 || v === hostMask || (gw && v === 1);
      if (!keep(host)) mHost = n.hostPerm.permute(host, keep, subnet);
    }
    return (n.target + mSubnet * 2 ** n.hostBits + mHost) >>> 0;
  }

  /** Networks with their targets, per family, in policy order (for reserved-outputs.ts). */
  blocks(): { v4: InternalBlock4[]; v6: InternalBlock6[] } {
    return {
      v4: this.#nets.map((n) => ({ target: n.target, length: n.length, network: n.prefix })),
      v6: this.#nets6.map((n) => ({ target: n.target, length: n.length, network: n.network })),
    };
  }

  /** Anonymized topology summary (targets, lengths, counts; no raw prefixes). */
  summary(): InternalNetSummary[] {
    return [...this.#summary4(), ...this.#nets6.map((n) => n.summary())];
  }

  #summary4(): InternalNetSummary[] {
    return this.#nets.map((n) => ({
      target: `${formatIpv4(n.target)}/${n.length}`,
      prefixLength: n.length,
      subnetPrefix: n.subnetPrefix,
      preserveGateway: n.preserveGateway,
      addressesMapped: n.mapped,
      subnetsSeen: n.subnetsSeen.size,
    }));
  }
}

/**
 * First prefix of length `len` inside `pool` that overlaps nothing in `taken`, skipping whole
 * taken blocks at a time.
 * @throws AppError(PolicyInvalid) when the pool is invalid, too small or full.
 */
function allocate6(len: number, pool: string, taken: readonly Prefix6[], i: number): Uint32Array {
  const p = parsePrefix(pool);
  if (p === null || p.version !== 6) throw new AppError(ErrorCode.PolicyInvalid, 'internalTargetV6 must be an IPv6 prefix');
  if (len < p.length) throw new AppError(ErrorCode.PolicyInvalid, `internalNetworks.${i} (/${len}) is larger than internalTargetV6 (/${p.length})`);
  let cand: Uint32Array | null = maskWords(p.v6, len);
  for (let guard = 0; cand !== null && guard < 100_000; guard++) {
    if (!overlaps6({ words: p.v6, length: p.length }, { words: cand, length: len })) break;
    const c: Uint32Array = cand;
    const hit = taken.find((t) => overlaps6(t, { words: c, length: len }));
    if (hit === undefined) return cand;
    // Step past the taken block when it is at least as large, else to the next candidate.
    if (hit.length === 0) break;
    cand = hit.length <= len ? stepPrefix128(maskWords(hit.words, hit.length), hit.length - 1) : stepPrefix128(cand, len - 1);
    if (cand !== null) cand = maskWords(cand, len);
  }
  throw new AppError(ErrorCode.PolicyInvalid, `internalTargetV6 has no room left for internalNetworks.${i}`);
}
