/**
 * Internal networks (tcpmkpub): addresses inside an operator's own prefixes are not run
 * through the external prefix-preserving map but moved into a configured, unused target
 * prefix of the same length, keeping the subnet structure: the subnet number (bits between
 * the network prefix and `subnetPrefix`) and the host number (the remaining bits) are each
 * permuted with a keyed small-domain permutation (the host permutation is chosen per
 * subnet). Host 0 (network) and all-ones (subnet-directed broadcast) are kept, and host 1
 * (gateway) too when `preserveGateway`.
 *
 * Collisions with external addresses are prevented by the caller (address-anonymizer.ts):
 * an external address whose mapped form lands in a target prefix gets that prefix replaced
 * by the (now unused) image of the corresponding internal network — see there.
 *
 * Owns: matching, target allocation from the pool, the mapping and a topology summary
 * that reveals only targets, lengths and counts. Never exposes raw internal prefixes.
 */
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { InternalNetwork } from '../../schemas/policy.ts';
import { deriveSubkey } from './key.ts';
import { formatIpv4, maskV4, parsePrefix } from './ip-address.ts';
import { SmallPermutation } from './small-permutation.ts';

/** Default pool for targets: 240.0.0.0/4 (reserved, never routed). */
export const DEFAULT_INTERNAL_TARGET = '240.0.0.0/4';

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

/** Anonymized description of one internal network for release notes. */
export interface InternalNetSummary {
  target: string;
  prefixLength: number;
  subnetPrefix: number;
  preserveGateway: boolean;
  addressesMapped: number;
  subnetsSeen: number;
}

const SUBNETS_SEEN_CAP = 1 << 20;

/** The compiled internal-network table of a policy. */
export class InternalNetworks {
  readonly #nets: Net[] = [];

  /**
   * @param nets the policy's `internalNetworks` (validated by schemas/policy.ts).
   * @param pool the policy's `internalTarget` (default 240.0.0.0/4).
   * @param key 32-byte subkey for the subnet and host permutations.
   * @throws AppError(PolicyInvalid) when a network does not fit into the pool.
   */
  constructor(nets: readonly InternalNetwork[], pool: string | undefined, key: Uint8Array) {
    const poolP = parsePrefix(pool ?? DEFAULT_INTERNAL_TARGET);
    if (poolP === null || poolP.version !== 4) throw new AppError(ErrorCode.PolicyInvalid, 'internalTarget must be an IPv4 prefix');
    const taken: Array<{ p: number; len: number }> = [];
    for (const n of nets) {
      const t = n.target ? parsePrefix(n.target) : null;
      if (t && t.version === 4) taken.push({ p: t.v4, len: t.length });
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
      if (pre === null || pre.version !== 4) throw new AppError(ErrorCode.PolicyInvalid, `internalNetworks.${i}.prefix must be IPv4`);
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

  /** Number of internal networks. */
  get size(): number {
    return this.#nets.length;
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

  /** Targets as (prefix, length) pairs, in network order. */
  targets(): Array<{ target: number; length: number; network: number }> {
    return this.#nets.map((n) => ({ target: n.target, length: n.length, network: n.prefix }));
  }

  /** Anonymized topology summary (targets, lengths, counts; no raw prefixes). */
  summary(): InternalNetSummary[] {
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
