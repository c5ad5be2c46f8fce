// Runs of raw identifier bits, for the derived-identifier leak tests (docs/POLICY.md,
// "Derived identifiers"). leak-search.ts finds whole identifiers in their textual and binary
// forms; this finds *parts* of them where they would be copied into another field: the
// interface id and the low 24 bits of an IPv6 address (an EUI-64 IID holds a MAC, a
// solicited-node group the low 24 bits), the suffix of a solicited-node or node-information
// group, the prefix of a unicast-prefix-based group, IPv4 addresses embedded in IPv6, the
// halves of a MAC (and its OUI with the U/L bit flipped, as EUI-64 writes it), an IPv4 /24.
// Outputs are reduced to the hex of every address and MAC they hold (text, bracketed, reverse
// names, u64 halves) and each run is searched nibble-aligned in that hex. Addresses are parsed
// with leak-search.ts's own codec, never the product's. It only reads what it is given.
import { ipv4Bytes, ipv6Bytes } from './leak-search.ts';

/** One run of raw bits: `hex` (nibble-aligned, at least 6 digits) cut from `identifier`. */
export type BitRun = { identifier: string; field: string; hex: string };

/** A run found in an output: which run, in which output value. */
export type BitRunMatch = BitRun & { what: string; in: string };

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const zero = (s: string): boolean => /^0*$/.test(s);
/** Runs made mostly of 0 and f digits (::1, ff02::…) identify nobody and are everywhere. */
const lowEntropy = (s: string): boolean => [...s].filter((c) => c === '0' || c === 'f').length * 2 > s.length;

/**
 * Every run of raw identifier bits of `ips` and `macs` (see file comment); runs made mostly of
 * 0 and f digits are left out (they identify nothing and occur everywhere).
 * @throws TypeError on text that is not an address or MAC.
 */
export function rawBitRuns(ids: { ips: readonly string[]; macs: readonly string[] }): BitRun[] {
  const out: BitRun[] = [];
  const seen = new Set<string>();
  const add = (identifier: string, field: string, h: string): void => {
    if (zero(h) || lowEntropy(h) || seen.has(`${field}|${h}`)) return;
    seen.add(`${field}|${h}`);
    out.push({ identifier, field, hex: h });
  };
  for (const ip of ids.ips) {
    if (!ip.includes(':')) {
      const h = hex(ipv4Bytes(ip));
      add(ip, 'ipv4', h);
      add(ip, 'ipv4-/24', h.slice(0, 6));
      continue;
    }
    const b = ipv6Bytes(ip);
    const h = hex(b);
    if (b[0] === 0xff) {
      const flags = b[1] >> 4;
      // Solicited-node / node-information layouts in any scope, flags 0 or 1; the old
      // node-information form ff0X::2:XXXX:XXXX carries 32 bits of a name hash.
      const sameLayout = flags >> 1 === 0 && h.slice(4, 16) === '000000000000';
      const g = h.slice(16, 24);
      if (sameLayout && (g === '00000001' || g === '00000002') && h.slice(24, 26) === 'ff') add(ip, 'group-suffix', h.slice(26));
      else if (sameLayout && g === '00000002') add(ip, 'group-suffix', h.slice(24));
      else if (flags & 0x2) add(ip, b[3] === 0xff ? 'group-iid' : 'group-prefix', b[3] === 0xff ? h.slice(8, 24) : h.slice(8, 8 + Math.ceil(Math.min(b[3], 64) / 4)));
      continue;
    }
    add(ip, 'iid', h.slice(16));
    add(ip, 'low-24', h.slice(26));
    if (h.startsWith('0064ff9b') || h.startsWith('00000000000000000000ffff') || h.startsWith('000000000000000000000000')) add(ip, 'embedded-ipv4', h.slice(24));
    if (h.startsWith('2002')) add(ip, 'embedded-ipv4', h.slice(4, 12));
    if (h.startsWith('20010000')) {
      add(ip, 'embedded-ipv4', h.slice(8, 16));
      add(ip, 'embedded-ipv4', hex(b.slice(12).map((x) => x ^ 0xff)));
    }
  }
  for (const mac of ids.macs) {
    const h = mac.toLowerCase().replace(/[:-]/g, '');
    // A group MAC's OUI half names the protocol (33:33, 01:00:5e), not a vendor.
    if ((parseInt(h.slice(0, 2), 16) & 1) === 0) {
      add(mac, 'oui', h.slice(0, 6));
      add(mac, 'oui-eui64', (parseInt(h.slice(0, 2), 16) ^ 0x02).toString(16).padStart(2, '0') + h.slice(2, 6));
    }
    add(mac, 'nic', h.slice(6));
  }
  return out;
}

const IPV4 = /(?<![0-9.])(\d{1,3}(?:\.\d{1,3}){3})(?![0-9]|\.\d)/g;
const IPV6 = /(?<![0-9a-f:])([0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:\.\d{1,3}(?:\.\d{1,3}){3})?)(?![0-9a-f:])/gi;
const MAC = /(?<![0-9a-f:])([0-9a-f]{2}(?::[0-9a-f]{2}){5})(?![0-9a-f:])/gi;
const REVERSE4 = /((?:\d{1,3}\.){1,4})in-addr\.arpa/g;
const REVERSE6 = /((?:[0-9a-f]\.){1,32})ip6\.arpa/gi;

/**
 * The hex of every address and MAC in `text`: IPv4 (8 digits), IPv6 (32), MACs (12), and the
 * address prefixes that reverse names spell (their octets / nibbles in address order).
 */
export function identifierHex(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(MAC)) out.push(m[1]!.toLowerCase().replace(/:/g, ''));
  for (const m of text.matchAll(IPV6)) {
    if (MAC.test(m[1]!)) { MAC.lastIndex = 0; continue; }
    MAC.lastIndex = 0;
    try { out.push(hex(ipv6Bytes(m[1]!))); } catch { /* not an address */ }
  }
  for (const m of text.matchAll(IPV4)) {
    try { out.push(hex(ipv4Bytes(m[1]!))); } catch { /* not an address */ }
  }
  for (const m of text.matchAll(REVERSE4)) {
    const o = m[1]!.split('.').filter(Boolean).reverse().map(Number);
    if (o.every((x) => x <= 255)) out.push(o.map((x) => x.toString(16).padStart(2, '0')).join(''));
  }
  for (const m of text.matchAll(REVERSE6)) out.push(m[1]!.split('.').filter(Boolean).reverse().join('').toLowerCase());
  return out;
}

/** u64 column values (decimal text) as 16 hex digits each. */
export function u64Hex(values: readonly unknown[]): string[] {
  return values.filter((v) => v !== null && v !== undefined && /^\d+$/.test(String(v))).map((v) => BigInt(String(v)).toString(16).padStart(16, '0'));
}

/** Every run found nibble-aligned in the hex of `outputs` (`what` names each output). */
export function findBitRuns(outputs: ReadonlyArray<{ what: string; hex: readonly string[] }>, runs: readonly BitRun[]): BitRunMatch[] {
  const found: BitRunMatch[] = [];
  for (const o of outputs) {
    for (const h of o.hex) {
      for (const r of runs) {
        if (h.includes(r.hex)) found.push({ ...r, what: o.what, in: h });
      }
    }
  }
  return found;
}

/** A readable summary of matches for an assertion message. */
export function describeBitRuns(found: readonly BitRunMatch[], max = 20): string {
  return `${found.length} raw identifier bit run(s) found:\n${found.slice(0, max).map((f) => `${f.what}: ${f.field} ${f.hex} of ${f.identifier} in ${f.in}`).join('\n')}`;
}
