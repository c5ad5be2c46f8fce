/**
 * One address method, keyed and ready: maps an IPv4 u32 or IPv6 word quadruple to output
 * words. Wraps the primitives with their caches (the IPv4 prefix tree cache for ipcrypt-pfx
 * and Crypto-PAn, a /64 output-prefix cache for IPv6), and the simple methods (truncate,
 * black-marker, keep).
 *
 * With `reserved` (reserved-outputs.ts), the keyed methods never produce a reserved output:
 * ipcrypt-pfx and Crypto-PAn pin the tree levels above reserved prefixes, ipcrypt-det
 * cycle-walks. Without it they are the bare primitives (published vectors).
 *
 * Owns: method dispatch below the policy layer. Never decides which ranges are reserved
 * (address-anonymizer.ts and reserved-outputs.ts do), never logs, no IO.
 */
import type { AddressSpec } from '../../schemas/policy.ts';
import { toHex } from './aes-block.ts';
import { cryptoPanBitV4, cryptoPanKey, cryptoPanV6 } from './cryptopan.ts';
import { maskV4 } from '../../schemas/ip-address.ts';
import { ipcryptDeterministic, ipcryptKey16, ipcryptNd, ipcryptNdx, ndxKey } from './ipcrypt-modes.ts';
import { ipcryptPfxV6, pfxBitV4, pfxKey } from './ipcrypt-pfx.ts';
import { PrefixCacheV4, mapPrefixPreservingV4, type PrefixBitV4 } from './prefix-cache.ts';
import { NO_RESERVED, pinnedLevelsV6, pinnedNodesV4, type ReservedOutputs } from './reserved-outputs.ts';
import { inPrefix6 } from '../../schemas/policy-ranges.ts';

export type AddressMethodName = AddressSpec['method'];

/** Key length (bytes) each keyed method takes as its primitive key. */
export const METHOD_KEY_BYTES: Record<AddressMethodName, number> = {
  'ipcrypt-pfx': 32,
  cryptopan: 32,
  'ipcrypt-det': 16,
  'ipcrypt-nd': 16,
  'ipcrypt-ndx': 32,
  truncate: 0,
  'black-marker': 0,
  keep: 0,
  drop: 0,
};

/** A prepared address method. */
export interface AddressMethod {
  readonly name: AddressMethodName;
  /** True when output bit prefixes follow input prefixes (pfx, Crypto-PAn, truncate, keep). */
  readonly prefixPreserving: boolean;
  /** True when the output is an address (false for nd/ndx tokens and drop). */
  readonly yieldsAddress: boolean;
  /** True when equal inputs give equal outputs (cacheable). */
  readonly deterministic: boolean;
  /** `ReservedOutputs.id` of the reserved set this method avoids ('' for none). */
  readonly reservedId: string;
  /** Maps IPv4 into `out` as four words (IPv4 outputs are ::ffff:x). */
  mapV4(a: number, out: Uint32Array): void;
  /** Maps IPv6 words into `out`. */
  mapV6(w: ArrayLike<number>, out: Uint32Array): void;
  /** Token for non-address methods (nd/ndx: hex of tweak ‖ ciphertext). */
  token(w: ArrayLike<number>): string;
}

export interface AddressMethodOptions {
  /** Random source for nd/ndx tweaks. */
  random: (n: number) => Uint8Array;
  /** Use the IPv4 prefix tree cache and IPv6 /64 cache (default true). */
  cache?: boolean;
  /** Bound on cached /24s (default 16384). */
  cacheEntries?: number;
  /** Outputs to avoid (pfx, Crypto-PAn, det); default none: the bare primitive. */
  reserved?: ReservedOutputs;
}

function setV4(out: Uint32Array, v: number): void {
  out[0] = 0;
  out[1] = 0;
  out[2] = 0xffff;
  out[3] = v >>> 0;
}

/**
 * The IPv6 prefix-preserving maps with pins and a cache of the first 64 output bits per input
 * /64. The pinned levels below 64 depend only on the input's first 64 bits, so cached tops
 * stay valid. IPv4-mapped inputs take the (pinned, cached) IPv4 path.
 */
function v6Resumable(
  full: (w: ArrayLike<number>, out: Uint32Array, from: number, pinned: number) => void,
  v4: (a: number) => number,
  useCache: boolean,
  maxEntries: number,
  reserved: ReservedOutputs,
): (w: ArrayLike<number>, out: Uint32Array) => void {
  const pins = reserved.v6;
  const pinnedOf = (w: ArrayLike<number>): number => (pins.length === 0 ? 0 : pinnedLevelsV6(pins, w));
  const tops = new Map<string, [number, number]>();
  return (w, out) => {
    if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return setV4(out, v4(w[3] >>> 0));
    if (!useCache) return full(w, out, 0, pinnedOf(w));
    const k = `${w[0]}:${w[1]}`;
    const top = tops.get(k);
    if (top === undefined) {
      full(w, out, 0, pinnedOf(w));
      if (tops.size >= maxEntries) tops.delete(tops.keys().next().value as string);
      tops.set(k, [out[0], out[1]]);
      return;
    }
    out[0] = top[0];
    out[1] = top[1];
    full(w, out, 64, pinnedOf(w));
  };
}

/**
 * Wraps a tree's PRF bit so that the nodes above reserved IPv4 prefixes never flip. Per level
 * a short list of pinned prefixes (one per reserved range at most) beats a Set keyed by a
 * double: this runs on every cache miss of every tree node.
 */
function pinnedBit(bit: PrefixBitV4, reserved: ReservedOutputs): PrefixBitV4 {
  if (reserved.v4.length === 0) return bit;
  const byLevel: number[][] = Array.from({ length: 32 }, () => []);
  for (const node of pinnedNodesV4(reserved.v4)) {
    const level = 31 - Math.clz32(node);
    byLevel[level].push(node - 2 ** level);
  }
  return (level, prefix) => {
    const pins = byLevel[level];
    for (let i = 0; i < pins.length; i++) if (pins[i] === prefix) return 0;
    return bit(level, prefix);
  };
}

/** ipcrypt-det with cycle-walking out of the reserved 128-bit set (see reserved-outputs.ts). */
function detWalk(xk: ReturnType<typeof ipcryptKey16>, reserved: ReservedOutputs): (w: ArrayLike<number>, o: Uint32Array) => void {
  const wide = reserved.wide;
  const isReserved = (o: Uint32Array): boolean => {
    for (let i = 0; i < wide.length; i++) if (inPrefix6(wide[i], o)) return true;
    return false;
  };
  const input = new Uint32Array(4);
  return (w, o) => {
    if (wide.length === 0) return ipcryptDeterministic(xk, w, o);
    for (let i = 0; i < 4; i++) input[i] = w[i] >>> 0;
    if (isReserved(input)) {
      // Only a black-marker value (0.0.0.0, ::) can get here (kept inputs are not mapped,
      // target inputs are redirected): it stays itself, as the pinned tree maps do.
      o.set(input);
      return;
    }
    ipcryptDeterministic(xk, input, o);
    // Terminates: the input is not reserved and lies on the same AES cycle.
    while (isReserved(o)) ipcryptDeterministic(xk, o, o);
  };
}

/**
 * Truncation keeps no more of an IPv4 address embedded in a 6to4 (2002:AABB:CCDD::/48,
 * RFC 3056 §2) or Teredo (2001:0:SSSS:SSSS:…:CCCC:CCCC, RFC 4380 §4: server and obfuscated
 * client) address than `prefixV4` bits, whatever `prefixV6` keeps: the /48 a 6to4 address
 * truncates to is the whole IPv4 address of its router (docs/POLICY.md). IPv4-compatible and
 * well-known-prefix NAT64 addresses never get here (address-anonymizer.ts maps them as IPv4).
 * The RFC 8215 local-use NAT64 prefix 64:ff9b:1::/48 is recognised with the RFC 6052 §2.2
 * layout for a /48 (IPv4 bits 0..15 in bits 48..63, bits 16..31 in bits 72..87, past the
 * u octet); other operator-chosen NAT64 prefixes cannot be recognised from the address.
 */
function truncateEmbeddedV4(o: Uint32Array, p4: number): void {
  const m = maskV4(p4);
  if (o[0] >>> 16 === 0x2002) {
    const v4 = (((o[0] & 0xffff) << 16) | (o[1] >>> 16)) & m;
    o[0] = ((o[0] & 0xffff0000) | (v4 >>> 16)) >>> 0;
    o[1] = (((v4 & 0xffff) << 16) | (o[1] & 0xffff)) >>> 0;
  } else if (o[0] >>> 0 === 0x20010000) {
    o[1] = (o[1] & m) >>> 0;
    o[3] = (o[3] & m) >>> 0;
  } else if (o[0] >>> 0 === 0x0064ff9b && o[1] >>> 16 === 1) {
    const v4 = (((o[1] & 0xffff) << 16) | ((o[2] >>> 8) & 0xffff)) & m;
    o[1] = (0x00010000 | (v4 >>> 16)) >>> 0;
    o[2] = ((o[2] & 0xff0000ff) | ((v4 & 0xffff) << 8)) >>> 0;
  }
}

/**
 * Prepares an address method with its primitive key (raw: CLI `--key`; or a policy subkey).
 * @throws TypeError when the key length does not fit the method (see METHOD_KEY_BYTES).
 */
export function createAddressMethod(spec: AddressSpec, key: Uint8Array, opts: AddressMethodOptions): AddressMethod {
  const useCache = opts.cache ?? true;
  const entries = opts.cacheEntries ?? 16384;
  const reserved = opts.reserved ?? NO_RESERVED;
  const keyed = spec.method === 'ipcrypt-pfx' || spec.method === 'cryptopan' || spec.method === 'ipcrypt-det';
  const base = { name: spec.method, token: (): string => '', reservedId: keyed ? reserved.id : '' };
  const prefixTree = (raw: PrefixBitV4): ((a: number) => number) => {
    const bit = pinnedBit(raw, reserved);
    if (!useCache) return (a) => mapPrefixPreservingV4(bit, a);
    const c = new PrefixCacheV4(bit, entries);
    return (a) => c.map(a);
  };
  switch (spec.method) {
    case 'ipcrypt-pfx': {
      const k = pfxKey(key);
      const m4 = prefixTree((l, p) => pfxBitV4(k, l, p));
      const m6 = v6Resumable((w, o, f, p) => ipcryptPfxV6(k, w, o, f, p), m4, useCache, entries, reserved);
      return { ...base, prefixPreserving: true, yieldsAddress: true, deterministic: true, mapV4: (a, o) => setV4(o, m4(a)), mapV6: m6 };
    }
    case 'cryptopan': {
      const k = cryptoPanKey(key);
      const m4 = prefixTree((l, p) => cryptoPanBitV4(k, l, p));
      const m6 = v6Resumable((w, o, f, p) => cryptoPanV6(k, w, o, f, p), m4, useCache, entries, reserved);
      return { ...base, prefixPreserving: true, yieldsAddress: true, deterministic: true, mapV4: (a, o) => setV4(o, m4(a)), mapV6: m6 };
    }
    case 'ipcrypt-det': {
      const det = detWalk(ipcryptKey16(key), reserved);
      return {
        ...base, prefixPreserving: false, yieldsAddress: true, deterministic: true,
        mapV4: (a, o) => { setV4(o, a); det(o, o); },
        mapV6: (w, o) => det(w, o),
      };
    }
    case 'ipcrypt-nd':
    case 'ipcrypt-ndx': {
      const nd = spec.method === 'ipcrypt-nd';
      const xk = nd ? ipcryptKey16(key) : null;
      const kx = nd ? null : ndxKey(key);
      return {
        ...base, prefixPreserving: false, yieldsAddress: false, deterministic: false,
        mapV4: (a, o) => setV4(o, a),
        mapV6: (w, o) => { for (let i = 0; i < 4; i++) o[i] = w[i]; },
        token: (w) => toHex(xk !== null ? ipcryptNd(xk, w, opts.random(8)) : ipcryptNdx(kx as ReturnType<typeof ndxKey>, w, opts.random(16))),
      };
    }
    case 'truncate': {
      const p4 = spec.prefixV4 ?? 24;
      const p6 = spec.prefixV6 ?? 48;
      return {
        ...base, prefixPreserving: true, yieldsAddress: true, deterministic: true,
        mapV4: (a, o) => setV4(o, (a & maskV4(p4)) >>> 0),
        mapV6: (w, o) => {
          for (let i = 0; i < 4; i++) o[i] = (w[i] & maskV4(p6 - 32 * i)) >>> 0;
          truncateEmbeddedV4(o, p4);
        },
      };
    }
    case 'black-marker':
      return {
        ...base, prefixPreserving: false, yieldsAddress: true, deterministic: true,
        mapV4: (_a, o) => setV4(o, 0),
        mapV6: (_w, o) => o.fill(0),
      };
    case 'keep':
      return {
        ...base, prefixPreserving: true, yieldsAddress: true, deterministic: true,
        mapV4: (a, o) => setV4(o, a),
        mapV6: (w, o) => { for (let i = 0; i < 4; i++) o[i] = w[i]; },
      };
    case 'drop':
      return {
        ...base, prefixPreserving: false, yieldsAddress: false, deterministic: true,
        mapV4: (_a, o) => o.fill(0),
        mapV6: (_w, o) => o.fill(0),
      };
  }
}
