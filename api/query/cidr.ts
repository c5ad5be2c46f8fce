/**
 * IPv4/IPv6 address and CIDR parsing and formatting over the archive's 128-bit address model:
 * two unsigned 64-bit halves (`*_addr_hi`, `*_addr_lo`), IPv4 stored IPv4-mapped
 * (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2).
 *
 * Owns: the halves view of addresses, the integer ranges a CIDR covers, and masking. Text
 * parsing and RFC 5952 output are schemas/ip-address.ts's (one codec for the anonymizer and
 * the API: no leading zeros in IPv4 octets, one `::`, no zones). Pure: no IO. BigInt is fine here —
 * this runs once per request at the API edge, never per flow.
 */

import { formatIpv4, formatIpv6 as formatWords, parseIpv4, parseIpv6 } from '../../schemas/ip-address.ts';

export const U64_MAX = (1n << 64n) - 1n;
/** `::ffff:0:0` in the low half: the IPv4-mapped prefix. */
export const V4_MAPPED_LO = 0xffff_0000_0000n;

export interface Address128 {
  readonly version: 4 | 6;
  readonly hi: bigint;
  readonly lo: bigint;
}

/** A CIDR as ranges over the two halves; `prefix` counts bits in its own family. */
export interface CidrRange {
  readonly version: 4 | 6;
  readonly prefix: number;
  readonly hiMin: bigint;
  readonly hiMax: bigint;
  readonly loMin: bigint;
  readonly loMax: bigint;
}

/** Parses an IPv4 or IPv6 address (no prefix; schemas/ip-address.ts rules). Null when malformed. */
export function parseAddress(text: string): Address128 | null {
  if (text.includes(':')) {
    const w = new Uint32Array(4);
    if (!parseIpv6(text, w)) return null;
    return { version: 6, hi: (BigInt(w[0]) << 32n) | BigInt(w[1]), lo: (BigInt(w[2]) << 32n) | BigInt(w[3]) };
  }
  const v4 = parseIpv4(text);
  return v4 === null ? null : { version: 4, hi: 0n, lo: V4_MAPPED_LO + BigInt(v4) };
}

/** 128-bit mask with the top `bits` set, as halves. */
export function prefixMask128(bits: number): [bigint, bigint] {
  const hiBits = Math.min(bits, 64);
  const loBits = Math.max(bits - 64, 0);
  const hi = hiBits === 0 ? 0n : (U64_MAX << BigInt(64 - hiBits)) & U64_MAX;
  const lo = loBits === 0 ? 0n : (U64_MAX << BigInt(64 - loBits)) & U64_MAX;
  return [hi, lo];
}

/**
 * Parses `addr/len` (or a bare address = full-length prefix) into integer ranges. Host bits are
 * ignored (the network is masked). An IPv6 CIDR inside `::ffff:0:0/96` is treated as IPv4.
 * Returns null when malformed or the length is out of range.
 */
export function parseCidr(text: string): CidrRange | null {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const lenText = slash < 0 ? null : text.slice(slash + 1);
  if (lenText !== null && !/^(0|[1-9]\d{0,2})$/.test(lenText)) return null;
  const addr = parseAddress(addrText);
  if (!addr) return null;
  let version = addr.version;
  let prefix = lenText === null ? (version === 4 ? 32 : 128) : Number(lenText);
  if (prefix > (version === 4 ? 32 : 128)) return null;
  if (version === 6 && prefix >= 96 && addr.hi === 0n && addr.lo >> 32n === 0xffffn) {
    version = 4;
    prefix -= 96;
  }
  const bits128 = version === 4 ? prefix + 96 : prefix;
  const [mHi, mLo] = prefixMask128(bits128);
  const hiMin = addr.hi & mHi;
  const loMin = addr.lo & mLo;
  return { version, prefix, hiMin, hiMax: hiMin | (~mHi & U64_MAX), loMin, loMax: loMin | (~mLo & U64_MAX) };
}

/** RFC 5952 text of a 128-bit address given as halves (schemas/ip-address.ts `formatIpv6`). */
export function formatIpv6(hi: bigint, lo: bigint): string {
  const w = [Number(hi >> 32n), Number(hi & 0xffff_ffffn), Number(lo >> 32n), Number(lo & 0xffff_ffffn)];
  return formatWords(w);
}

/** Text of a network from its (already masked) halves: `a.b.c.d/n` for IPv4-mapped, else IPv6. */
export function formatNetwork(version: 4 | 6, hi: bigint, lo: bigint, prefix: number): string {
  return version === 4 ? `${formatIpv4(Number(lo & 0xffff_ffffn))}/${prefix}` : `${formatIpv6(hi, lo)}/${prefix}`;
}
