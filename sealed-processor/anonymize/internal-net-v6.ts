/**
 * One IPv6 internal network (tcpmkpub structure, as internal-networks.ts does for IPv4):
 * an address N·subnet·host inside network N (length n) maps to T·π_s(subnet)·π_h,subnet(host)
 * in its target T (same length), where the subnet number (bits n..subnetPrefix) and the host
 * number / interface identifier (bits subnetPrefix..128) are permuted by keyed wide
 * permutations, the host permutation chosen per input subnet. Host 0 (the subnet-router
 * anycast address, RFC 4291 §2.6.1) and all-ones (inside the reserved subnet anycast block,
 * RFC 2526) are kept, host ::1 too when `preserveGateway`. Each part is at most 64 bits wide
 * (checked by schemas/policy.ts), so EUI-64 interface identifiers that embed a MAC are
 * permuted away as a whole.
 *
 * Also the 128-bit helpers it needs (bit-field extract/deposit, prefix stepping).
 * Owns: the mapping of one network. Never exposes its raw prefix (summary shows the target).
 */
import { formatIpv6, maskV4 } from '../../schemas/ip-address.ts';
import { WidePermutation } from './wide-permutation.ts';

/** Reads bits [start, start + n) (n ≤ 64, bit 0 = most significant) of four BE words as [hi, lo]. */
export function extractBits128(w: ArrayLike<number>, start: number, n: number, out: Uint32Array): void {
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < n; i++) {
    const pos = start + i;
    const b = (w[pos >>> 5] >>> (31 - (pos & 31))) & 1;
    hi = ((hi << 1) | (lo >>> 31)) >>> 0;
    lo = ((lo << 1) | b) >>> 0;
  }
  out[0] = hi;
  out[1] = lo;
}

/** Writes the n low bits of [hi, lo] into bits [start, start + n) of `w` (n ≤ 64). */
export function depositBits128(w: Uint32Array, start: number, n: number, hi: number, lo: number): void {
  for (let k = 0; k < n; k++) {
    const b = k < 32 ? (lo >>> k) & 1 : (hi >>> (k - 32)) & 1;
    const pos = start + n - 1 - k;
    const m = (1 << (31 - (pos & 31))) >>> 0;
    const i = pos >>> 5;
    w[i] = b ? (w[i] | m) >>> 0 : (w[i] & ~m) >>> 0;
  }
}

/**
 * Adds 1 at bit position `pos` (0 = most significant) of a 128-bit value; returns a new value,
 * or null on overflow past 2^128.
 */
export function stepPrefix128(w: ArrayLike<number>, pos: number): Uint32Array | null {
  const out = Uint32Array.from(w);
  let i = pos >>> 5;
  let add = 2 ** (31 - (pos & 31));
  for (; i >= 0; i--) {
    const v = out[i] + add;
    out[i] = v >>> 0;
    if (v <= 0xffffffff) return out;
    add = 1;
  }
  return null;
}

/** Clears the bits after `length`. */
export function maskWords(w: ArrayLike<number>, length: number): Uint32Array {
  const out = new Uint32Array(4);
  for (let i = 0; i < 4; i++) out[i] = (w[i] & maskV4(length - 32 * i)) >>> 0;
  return out;
}

/** Anonymized description of one internal network, IPv4 or IPv6 (no raw prefix). */
export interface InternalNetSummary {
  target: string;
  prefixLength: number;
  subnetPrefix: number;
  preserveGateway: boolean;
  addressesMapped: number;
  subnetsSeen: number;
}

/** Distinct subnets remembered per internal network for the release notes' count. */
export const SUBNETS_SEEN_CAP = 1 << 20;

/** One compiled IPv6 internal network. */
export class InternalNet6 {
  readonly network: Uint32Array;
  readonly target: Uint32Array;
  readonly length: number;
  readonly subnetPrefix: number;
  readonly preserveGateway: boolean;
  readonly #subnetPerm: WidePermutation | null;
  readonly #hostPerm: WidePermutation | null;
  readonly #subnetsSeen = new Set<string>();
  readonly #sub = new Uint32Array(2);
  readonly #host = new Uint32Array(2);
  readonly #tmp = new Uint32Array(2);
  #mapped = 0;

  /**
   * @param subnetKey 16-byte key of the subnet permutation, hostKey of the host permutations
   * (one pair per network: the tweak words carry the subnet number).
   * @throws TypeError when a part would exceed 64 bits (validated earlier by the policy schema).
   */
  constructor(network: Uint32Array, target: Uint32Array, length: number, subnetPrefix: number, preserveGateway: boolean, subnetKey: Uint8Array, hostKey: Uint8Array) {
    const subnetBits = subnetPrefix - length;
    const hostBits = 128 - subnetPrefix;
    if (subnetBits < 0 || subnetBits > 64 || hostBits > 64) throw new TypeError('IPv6 internal network parts must be at most 64 bits');
    this.network = maskWords(network, length);
    this.target = maskWords(target, length);
    this.length = length;
    this.subnetPrefix = subnetPrefix;
    this.preserveGateway = preserveGateway;
    this.#subnetPerm = subnetBits > 0 ? new WidePermutation(subnetKey, subnetBits) : null;
    this.#hostPerm = hostBits > 1 ? new WidePermutation(hostKey, hostBits) : null;
  }

  /** True when `w` is inside this network. */
  contains(w: ArrayLike<number>): boolean {
    for (let i = 0; i < 4; i++) {
      if (((w[i] ^ this.network[i]) & maskV4(this.length - 32 * i)) !== 0) return false;
    }
    return true;
  }

  /** Maps `w` (inside the network) into the target; writes `out`. */
  map(w: ArrayLike<number>, out: Uint32Array): void {
    this.#mapped++;
    const subnetBits = this.subnetPrefix - this.length;
    const hostBits = 128 - this.subnetPrefix;
    const sub = this.#sub;
    const host = this.#host;
    extractBits128(w, this.length, subnetBits, sub);
    extractBits128(w, this.subnetPrefix, hostBits, host);
    const inSubHi = sub[0];
    const inSubLo = sub[1];
    const ms = this.#tmp;
    if (this.#subnetPerm === null) ms.set(sub);
    else this.#subnetPerm.permute(sub[0], sub[1], ms);
    if (this.#subnetsSeen.size < SUBNETS_SEEN_CAP) this.#subnetsSeen.add(`${ms[0]}:${ms[1]}`);
    out.set(this.target);
    depositBits128(out, this.length, subnetBits, ms[0], ms[1]);
    const allHi = hostBits > 32 ? 2 ** (hostBits - 32) - 1 : 0;
    const allLo = hostBits >= 32 ? 0xffffffff : 2 ** hostBits - 1;
    const gw = this.preserveGateway;
    const keep = (hi: number, lo: number): boolean =>
      (hi === 0 && lo === 0) || (hi === allHi && lo === allLo) || (gw && hi === 0 && lo === 1);
    if (this.#hostPerm !== null && !keep(host[0], host[1])) {
      const mh = this.#tmp;
      this.#hostPerm.permute(host[0], host[1], mh, keep, inSubHi, inSubLo);
      depositBits128(out, this.subnetPrefix, hostBits, mh[0], mh[1]);
    } else {
      depositBits128(out, this.subnetPrefix, hostBits, host[0], host[1]);
    }
  }

  summary(): InternalNetSummary {
    return {
      target: `${formatIpv6(this.target)}/${this.length}`,
      prefixLength: this.length,
      subnetPrefix: this.subnetPrefix,
      preserveGateway: this.preserveGateway,
      addressesMapped: this.#mapped,
      subnetsSeen: this.#subnetsSeen.size,
    };
  }
}
