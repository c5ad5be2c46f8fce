/**
 * IPv4/IPv6 address and CIDR parsing and formatting over the archive's 128-bit address model:
 * two unsigned 64-bit halves (`*_addr_hi`, `*_addr_lo`), IPv4 stored IPv4-mapped
 * (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2).
 *
 * Owns: strict text parsing (no leading zeros in IPv4 octets, one `::`, no zones), the integer
 * ranges a CIDR covers, masking, and RFC 5952 text output. Pure: no IO. BigInt is fine here —
 * this runs once per request at the API edge, never per flow.
 */

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

function parseIpv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    value = value * 256 + n;
  }
  return value;
}

function parseIpv6(text: string): [bigint, bigint] | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const toGroups = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    const items = s.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (i === items.length - 1 && item.includes('.')) {
        const v4 = parseIpv4(item);
        if (v4 === null) return null;
        out.push(Math.floor(v4 / 65536), v4 % 65536);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(item)) {
        out.push(parseInt(item, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = toGroups(halves[0]);
  const tail = halves.length === 2 ? toGroups(halves[1]) : [];
  if (head === null || tail === null) return null;
  let groups: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - tail.length;
    if (fill < 1) return null;
    groups = [...head, ...new Array<number>(fill).fill(0), ...tail];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return null;
  let hi = 0n;
  let lo = 0n;
  for (let i = 0; i < 4; i++) hi = (hi << 16n) | BigInt(groups[i]);
  for (let i = 4; i < 8; i++) lo = (lo << 16n) | BigInt(groups[i]);
  return [hi, lo];
}

/** Parses an IPv4 or IPv6 address (no prefix). Returns null when malformed. */
export function parseAddress(text: string): Address128 | null {
  if (text.includes(':')) {
    const v6 = parseIpv6(text);
    return v6 ? { version: 6, hi: v6[0], lo: v6[1] } : null;
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

function formatIpv4(v: bigint): string {
  const n = Number(v & 0xffff_ffffn);
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** RFC 5952 text of a 128-bit address (lowercase, longest zero run of ≥ 2 groups compressed). */
export function formatIpv6(hi: bigint, lo: bigint): string {
  const groups: number[] = [];
  for (let i = 3; i >= 0; i--) groups.push(Number((hi >> BigInt(i * 16)) & 0xffffn));
  for (let i = 3; i >= 0; i--) groups.push(Number((lo >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Text of a network from its (already masked) halves: `a.b.c.d/n` for IPv4-mapped, else IPv6. */
export function formatNetwork(version: 4 | 6, hi: bigint, lo: bigint, prefix: number): string {
  return version === 4 ? `${formatIpv4(lo)}/${prefix}` : `${formatIpv6(hi, lo)}/${prefix}`;
}
