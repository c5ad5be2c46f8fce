/**
 * MAC address anonymization after the SIGCOMM 2008 tcpmkpub variant: the OUI (vendor,
 * 24 bits) and NIC (24 bits) halves are mapped separately by keyed small-domain
 * permutations, so one vendor's cards still share one pseudonymous OUI.
 *
 * Rules: the individual/group (multicast) bit — the least significant bit of the first
 * octet, bit 16 of the OUI half — is kept; the other 23 OUI bits are permuted. The all-zero
 * and all-one values of each permuted part are fixed points, hence the all-zeros and
 * all-ones (broadcast) MACs stay unchanged and no other MAC maps to either of them (an
 * output half is all-zero/all-one only if its input half was).
 *
 * Owns: the MAC mapping and its text form. Never logs a MAC, no IO.
 */
import { SmallPermutation } from './small-permutation.ts';

const IG_BIT = 0x010000;
const OUI_MAX23 = 0x7fffff;
const NIC_MAX = 0xffffff;

/** A prepared MAC anonymizer (bounded caches per half). */
export interface MacMapper {
  /** Maps the OUI half (24-bit). */
  mapOui(oui: number): number;
  /** Maps the NIC half (24-bit). */
  mapNic(nic: number): number;
}

/**
 * Builds a MAC mapper from a 32-byte key (OUI permutation key ‖ NIC permutation key).
 * @param cacheSize entries per half kept in a FIFO-bounded Map (default 65536).
 * @throws TypeError when the key is not 32 bytes.
 */
export function createMacMapper(key: Uint8Array, cacheSize = 65536): MacMapper {
  if (key.length !== 32) throw new TypeError(`MAC key must be 32 bytes, got ${key.length}`);
  const ouiPerm = new SmallPermutation(key.subarray(0, 16), 23, 0x6f7569);
  const nicPerm = new SmallPermutation(key.subarray(16, 32), 24, 0x6e6963);
  const ouiCache = new Map<number, number>();
  const nicCache = new Map<number, number>();
  const isOuiExtreme = (v: number): boolean => v === 0 || v === OUI_MAX23;
  const isNicExtreme = (v: number): boolean => v === 0 || v === NIC_MAX;
  const remember = (m: Map<number, number>, k: number, v: number): number => {
    if (m.size >= cacheSize) m.delete(m.keys().next().value as number);
    m.set(k, v);
    return v;
  };
  return {
    mapOui(oui: number): number {
      const hit = ouiCache.get(oui);
      if (hit !== undefined) return hit;
      const ig = oui & IG_BIT;
      // Squeeze out the I/G bit: 7 high bits of octet 0, then octets 1–2.
      const v = ((oui >>> 17) << 16) | (oui & 0xffff);
      const m = v === 0 || v === OUI_MAX23 ? v : ouiPerm.permute(v, isOuiExtreme);
      return remember(ouiCache, oui, (((m >>> 16) << 17) | ig | (m & 0xffff)) >>> 0);
    },
    mapNic(nic: number): number {
      const hit = nicCache.get(nic);
      if (hit !== undefined) return hit;
      const m = nic === 0 || nic === NIC_MAX ? nic : nicPerm.permute(nic, isNicExtreme);
      return remember(nicCache, nic, m);
    },
  };
}

/** `aa:bb:cc:dd:ee:ff` text of a MAC given as two 24-bit halves. */
export function formatMac(hi: number, lo: number): string {
  const b = [hi >>> 16, (hi >>> 8) & 255, hi & 255, lo >>> 16, (lo >>> 8) & 255, lo & 255];
  return b.map((x) => (x < 16 ? '0' : '') + x.toString(16)).join(':');
}

/** Parses `aa:bb:cc:dd:ee:ff` / `aa-bb-…` / `aabb.ccdd.eeff`; null when invalid. */
export function parseMac(text: string): { hi: number; lo: number } | null {
  const hex = text.replace(/[:\-.]/g, '');
  if (!/^[0-9a-fA-F]{12}$/.test(hex)) return null;
  if (!/^([0-9a-fA-F]{2}([:-])){5}[0-9a-fA-F]{2}$/.test(text) && !/^([0-9a-fA-F]{4}\.){2}[0-9a-fA-F]{4}$/.test(text)) return null;
  return { hi: parseInt(hex.slice(0, 6), 16), lo: parseInt(hex.slice(6), 16) };
}
