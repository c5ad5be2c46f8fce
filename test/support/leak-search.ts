// The leak search every privacy test uses: from the raw identifiers of a capture (addresses,
// MACs, names, read by tshark), every form in which one could turn up in an output — text with
// or without a port, bracketed or embedded in IPv6 (mapped, compatible, 6to4, Teredo, NAT64),
// reverse DNS names, hex and integer renderings (the archive's integer halves included), MACs
// in every common notation and as EUI-64 interface ids, names and each of their labels of at
// least 4 characters, and binary forms — and a matcher that finds them in any bytes without
// mistaking a longer number for a leak (10.0.0.1 is not in 110.0.0.12, fe80::1 is not in
// fe80::12). It only reads what it is given; a leak report names the output, the form and the
// identifier, since test identifiers are fixture data.

/** How a text form must be delimited to count as a match. */
type Boundary = 'none' | 'decimal' | 'hex' | 'ipv4' | 'ipv6' | 'label';

/** The forms searched for, by name (tests assert each of them is found when present). */
export const LEAK_FORMS = [
  'ipv4-dotted', 'ipv4-reverse-name', 'ipv4-decimal', 'ipv4-archive-integer', 'ipv4-hex', 'ipv4-colon-hex',
  'ipv4-binary', 'ipv4-binary-le',
  'ipv6-text', 'ipv6-expanded', 'ipv6-uncompressed', 'ipv6-reverse-name', 'ipv6-hex', 'ipv6-integer-halves',
  'ipv6-binary', 'ipv6-binary-le-words',
  'mac-colon', 'mac-colon-unpadded', 'mac-dash', 'mac-bare', 'mac-cisco', 'mac-eui64', 'mac-integer',
  'mac-half-decimal', 'mac-binary',
  'name', 'name-label', 'name-wire',
] as const;
export type LeakForm = (typeof LEAK_FORMS)[number];

/** One search form of one raw identifier: a lower-case text with a boundary rule, or bytes. */
export type LeakNeedle = {
  identifier: string;
  form: LeakForm;
  text?: string;
  boundary?: Boundary;
  binary?: Uint8Array;
};

/** Raw identifiers to search for (as `rawIdentifiers` in capture-facts.ts returns them). */
export type LeakIdentifiers = { ips: readonly string[]; macs: readonly string[]; names: readonly string[] };

/** An output to search. `compressed` outputs (Parquet pages) skip binary forms under 6 bytes,
 * which turn up in compressed bytes by chance; their decoded rows must be searched as text. */
export type Haystack = { what: string; bytes: Uint8Array | string; compressed?: boolean };

/** One match: which output, which form of which identifier, at which offset. */
export type Leak = { what: string; form: LeakForm; identifier: string; at: number; context: string };

/** Decimal renderings shorter than this match ordinary numbers too easily to mean anything. */
const MIN_DECIMAL_DIGITS = 7;
/** Labels shorter than this are common words and abbreviations (`www`, `api`, `lo`). */
export const MIN_LABEL_LENGTH = 4;
/**
 * Words of flowseal's own vocabulary that are also labels of fixture names (a log level, error
 * codes `ERR_QUERY_INVALID`, "unknown dataset"): not searched as single labels, since the
 * product prints them of its own. Their names are still searched whole. leak-search.test.ts
 * checks that each word really occurs in the product's source, so the list cannot quietly
 * grow to hide a leak.
 */
export const PRODUCT_WORDS: readonly string[] = ['info', 'invalid', 'unknown'];

/**
 * Every search form of every identifier. Embedded IPv4 addresses of IPv6 addresses and
 * EUI-64 MACs of interface ids are searched in all their own forms as well.
 * @throws TypeError on an address that does not parse.
 */
export function leakNeedles(ids: LeakIdentifiers): LeakNeedle[] {
  const out: LeakNeedle[] = [];
  const seen = new Set<string>();
  const add = (n: LeakNeedle) => {
    const key = `${n.form}|${n.text ?? hex(n.binary!)}`;
    if (!seen.has(key)) (seen.add(key), out.push(n));
  };
  for (const ip of ids.ips) {
    if (ip.includes(':')) ipv6Needles(ip.toLowerCase(), ipv6Bytes(ip), add);
    else ipv4Needles(ip, ipv4Bytes(ip), add);
  }
  for (const mac of ids.macs) macNeedles(mac.toLowerCase(), macBytes(mac), add);
  for (const name of ids.names) nameNeedles(name.toLowerCase(), add);
  return out;
}

function ipv4Needles(id: string, b: Uint8Array, add: (n: LeakNeedle) => void): void {
  const u32 = ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
  const h = hex(b);
  add({ identifier: id, form: 'ipv4-dotted', text: [...b].join('.'), boundary: 'ipv4' });
  add({ identifier: id, form: 'ipv4-reverse-name', text: `${[...b].reverse().join('.')}.in-addr.arpa`, boundary: 'ipv4' });
  decimal(id, 'ipv4-decimal', String(u32), add);
  // The archive stores an address as two integer halves of its IPv4-mapped IPv6 form.
  decimal(id, 'ipv4-archive-integer', String(0xffff00000000 + u32), add);
  add({ identifier: id, form: 'ipv4-hex', text: h, boundary: 'hex' });
  // As the low 32 bits of an IPv6 address (::ffff:a01:203, 64:ff9b::a01:203, 2002:a01:203::).
  add({ identifier: id, form: 'ipv4-colon-hex', text: `${h.slice(0, 4)}:${h.slice(4)}`, boundary: 'hex' });
  const unpadded = `${(u32 >>> 16).toString(16)}:${(u32 & 0xffff).toString(16)}`;
  if (unpadded.length >= 7) add({ identifier: id, form: 'ipv4-colon-hex', text: unpadded, boundary: 'hex' });
  add({ identifier: id, form: 'ipv4-binary', binary: b });
  add({ identifier: id, form: 'ipv4-binary-le', binary: b.slice().reverse() });
}

function ipv6Needles(id: string, b: Uint8Array, add: (n: LeakNeedle) => void): void {
  const groups = Array.from({ length: 8 }, (_, i) => (b[2 * i]! << 8) | b[2 * i + 1]!);
  const h = hex(b);
  add({ identifier: id, form: 'ipv6-text', text: id, boundary: 'ipv6' });
  add({ identifier: id, form: 'ipv6-text', text: compressIpv6(groups), boundary: 'ipv6' });
  add({ identifier: id, form: 'ipv6-expanded', text: groups.map((g) => g.toString(16).padStart(4, '0')).join(':'), boundary: 'ipv6' });
  add({ identifier: id, form: 'ipv6-uncompressed', text: groups.map((g) => g.toString(16)).join(':'), boundary: 'ipv6' });
  add({ identifier: id, form: 'ipv6-reverse-name', text: `${[...h].reverse().join('.')}.ip6.arpa`, boundary: 'hex' });
  add({ identifier: id, form: 'ipv6-hex', text: h, boundary: 'hex' });
  // The upper half of a multicast group (ff..::/64) or of fe80::/64 is the same in every
  // network and kept by policy: as a number on its own it identifies nothing (and would match
  // every kept group). The lower half, which holds the interface or target bits, is searched.
  const publicUpper = b[0] === 0xff || (h.slice(0, 16) === 'fe80000000000000');
  for (const half of publicUpper ? [h.slice(16)] : [h.slice(0, 16), h.slice(16)]) {
    const u = BigInt(`0x${half}`);
    decimal(id, 'ipv6-integer-halves', u.toString(), add);
    decimal(id, 'ipv6-integer-halves', BigInt.asIntN(64, u).toString(), add);
  }
  add({ identifier: id, form: 'ipv6-binary', binary: b });
  const le = new Uint8Array(16);
  for (let w = 0; w < 4; w++) for (let k = 0; k < 4; k++) le[w * 4 + k] = b[w * 4 + 3 - k]!;
  add({ identifier: id, form: 'ipv6-binary-le-words', binary: le });
  for (const v4 of embeddedIpv4(b)) if (v4.some((x) => x !== 0)) ipv4Needles(`${[...v4].join('.')} (in ${id})`, v4, add);
  // EUI-64 interface id (RFC 4291 appendix A): MAC with the U/L bit flipped and ff:fe inside.
  if (b[11] === 0xff && b[12] === 0xfe) {
    const mac = Uint8Array.of(b[8]! ^ 0x02, b[9]!, b[10]!, b[13]!, b[14]!, b[15]!);
    macNeedles(`${macText(mac)} (in ${id})`, mac, add);
  }
}

/** IPv4 addresses carried inside an IPv6 address by the standard embeddings. */
function embeddedIpv4(b: Uint8Array): Uint8Array[] {
  const zero = (from: number, to: number) => b.subarray(from, to).every((x) => x === 0);
  const out: Uint8Array[] = [];
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) out.push(b.slice(12)); // mapped ::ffff:0:0/96
  if (zero(0, 12) && !(zero(12, 15) && b[15]! <= 1)) out.push(b.slice(12)); // compatible ::/96 (not :: or ::1)
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b) out.push(b.slice(12)); // NAT64 64:ff9b::/96
  if (b[0] === 0x20 && b[1] === 0x02) out.push(b.slice(2, 6)); // 6to4 2002::/16
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0 && b[3] === 0) {
    out.push(b.slice(4, 8)); // Teredo server
    out.push(b.slice(12).map((x) => x ^ 0xff)); // Teredo client, obfuscated
  }
  return out;
}

function macNeedles(id: string, b: Uint8Array, add: (n: LeakNeedle) => void): void {
  const h = hex(b);
  const pairs = h.match(/../g)!;
  add({ identifier: id, form: 'mac-colon', text: pairs.join(':'), boundary: 'ipv6' });
  add({ identifier: id, form: 'mac-colon-unpadded', text: [...b].map((x) => x.toString(16)).join(':'), boundary: 'ipv6' });
  add({ identifier: id, form: 'mac-dash', text: pairs.join('-'), boundary: 'hex' });
  add({ identifier: id, form: 'mac-bare', text: h, boundary: 'hex' });
  add({ identifier: id, form: 'mac-cisco', text: `${h.slice(0, 4)}.${h.slice(4, 8)}.${h.slice(8)}`, boundary: 'hex' });
  const iid = Uint8Array.of(b[0]! ^ 0x02, b[1]!, b[2]!, 0xff, 0xfe, b[3]!, b[4]!, b[5]!);
  const iidGroups = Array.from({ length: 4 }, (_, i) => (iid[2 * i]! << 8) | iid[2 * i + 1]!);
  add({ identifier: id, form: 'mac-eui64', text: iidGroups.map((g) => g.toString(16).padStart(4, '0')).join(':'), boundary: 'hex' });
  add({ identifier: id, form: 'mac-eui64', text: iidGroups.map((g) => g.toString(16)).join(':'), boundary: 'hex' });
  decimal(id, 'mac-integer', String(parseInt(h, 16)), add);
  decimal(id, 'mac-half-decimal', String(parseInt(h.slice(0, 6), 16)), add);
  decimal(id, 'mac-half-decimal', String(parseInt(h.slice(6), 16)), add);
  add({ identifier: id, form: 'mac-binary', binary: b });
}

function nameNeedles(name: string, add: (n: LeakNeedle) => void): void {
  add({ identifier: name, form: 'name', text: name, boundary: 'none' });
  const labels = name.split('.');
  for (const label of labels) {
    if (label.length >= MIN_LABEL_LENGTH && !PRODUCT_WORDS.includes(label)) add({ identifier: name, form: 'name-label', text: label, boundary: 'label' });
  }
  const wire: number[] = [];
  for (const label of labels) wire.push(label.length, ...new TextEncoder().encode(label));
  add({ identifier: name, form: 'name-wire', binary: Uint8Array.from(wire) });
}

function decimal(id: string, form: LeakForm, digits: string, add: (n: LeakNeedle) => void): void {
  if (digits.replace('-', '').length >= MIN_DECIMAL_DIGITS) add({ identifier: id, form, text: digits, boundary: 'decimal' });
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isHex = (c: number) => isDigit(c) || (c >= 0x61 && c <= 0x66);
const isAlnum = (c: number) => isDigit(c) || (c >= 0x61 && c <= 0x7a);
const COLON = 0x3a;
const DOT = 0x2e;

/** Whether a match of `boundary` kind at [start, end) of `h` stands alone. */
function standsAlone(h: string, start: number, end: number, boundary: Boundary): boolean {
  const before = start > 0 ? h.charCodeAt(start - 1) : -1;
  const before2 = start > 1 ? h.charCodeAt(start - 2) : -1;
  const after = end < h.length ? h.charCodeAt(end) : -1;
  const after2 = end + 1 < h.length ? h.charCodeAt(end + 1) : -1;
  switch (boundary) {
    case 'none':
      return true;
    case 'decimal':
      return !isDigit(before) && !isDigit(after);
    case 'hex':
      return !isHex(before) && !isHex(after);
    case 'ipv4':
      // Ports (`:443`), mapped prefixes (`::ffff:`) and brackets are fine; more digits or
      // another dotted octet are a different number.
      return !isDigit(before) && !(before === DOT && isDigit(before2)) && !isDigit(after) && !(after === DOT && isDigit(after2));
    case 'ipv6':
      // `[fe80::1]:8080`, `fe80::1%eth0` and `"fe80::1"` match; `fe80::12`, `fe80::1:5`,
      // `2fe80::1` and `::1.2.3.4` are other addresses.
      return !isHex(before) && before !== COLON && !isHex(after) && !(after === COLON && isHex(after2)) && !(after === DOT && isDigit(after2));
    case 'label':
      return !isAlnum(before) && !isAlnum(after);
  }
}

/** Shortest needle searched in compressed bytes (shorter ones match random bytes). */
export const MIN_COMPRESSED_NEEDLE = 6;

/** Every match of every needle in every haystack (text forms case-insensitive). */
export function findLeaks(haystacks: readonly Haystack[], needles: readonly LeakNeedle[]): Leak[] {
  const leaks: Leak[] = [];
  for (const hay of haystacks) {
    const bytes = typeof hay.bytes === 'string' ? Buffer.from(hay.bytes, 'utf8') : Buffer.from(hay.bytes.buffer, hay.bytes.byteOffset, hay.bytes.byteLength);
    const text = bytes.toString('latin1').toLowerCase();
    for (const n of needles) {
      if (n.text !== undefined) {
        // In compressed bytes a text of a few characters (`::`, `::1`) turns up by chance; the
        // decoded content is searched as its own haystack (as for short binary forms below).
        if (hay.compressed && n.text.length < MIN_COMPRESSED_NEEDLE) continue;
        for (let at = text.indexOf(n.text); at !== -1; at = text.indexOf(n.text, at + 1)) {
          if (standsAlone(text, at, at + n.text.length, n.boundary!)) {
            leaks.push({ what: hay.what, form: n.form, identifier: n.identifier, at, context: around(text, at, n.text.length) });
            break;
          }
        }
      } else if (!(hay.compressed && n.binary!.length < MIN_COMPRESSED_NEEDLE)) {
        const at = bytes.indexOf(n.binary!);
        if (at !== -1) leaks.push({ what: hay.what, form: n.form, identifier: n.identifier, at, context: bytes.subarray(Math.max(0, at - 8), at + n.binary!.length + 8).toString('hex') });
      }
    }
  }
  return leaks;
}

/** A readable summary of leaks for an assertion message (first `max` of them). */
export function describeLeaks(leaks: readonly Leak[], max = 20): string {
  const lines = leaks.slice(0, max).map((l) => `${l.what}: ${l.form} of ${l.identifier} at ${l.at}: …${l.context}…`);
  return `${leaks.length} raw identifier form(s) found:\n${lines.join('\n')}${leaks.length > max ? '\n…' : ''}`;
}

function around(text: string, at: number, length: number): string {
  return JSON.stringify(text.slice(Math.max(0, at - 30), at + length + 30)).slice(1, -1);
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function macText(b: Uint8Array): string {
  return hex(b).match(/../g)!.join(':');
}

/**
 * RFC 5952 text: lower case, no leading zeros, the longest run (≥ 2) of zero groups as `::`.
 * This file parses and formats addresses itself, apart from schemas/ip-address.ts on purpose:
 * an oracle that shared the product's codec would share its bugs.
 */
function compressIpv6(groups: number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) (best = i), (bestLen = j - i);
    i = j;
  }
  const t = groups.map((g) => g.toString(16));
  if (best < 0) return t.join(':');
  return `${t.slice(0, best).join(':')}::${t.slice(best + bestLen).join(':')}`;
}

/** Dotted-quad text to 4 bytes. @throws TypeError when it is not one. */
export function ipv4Bytes(text: string): Uint8Array {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new TypeError('not an IPv4 address');
  }
  return Uint8Array.from(parts);
}

/** IPv6 text (compressed, with optional embedded IPv4 tail) to 16 bytes. @throws TypeError. */
export function ipv6Bytes(text: string): Uint8Array {
  const tail = text.includes('.') ? ipv4Bytes(text.slice(text.lastIndexOf(':') + 1)) : null;
  const head = tail ? text.slice(0, text.lastIndexOf(':') + 1) + '0:0' : text;
  const [l, r, extra] = head.split('::');
  if (extra !== undefined) throw new TypeError('not an IPv6 address');
  const parse = (s: string) => (s ? s.split(':').map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN)) : []);
  const left = parse(l!);
  const right = r === undefined ? [] : parse(r);
  const groups = r === undefined ? left : [...left, ...new Array(Math.max(0, 8 - left.length - right.length)).fill(0), ...right];
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g))) throw new TypeError('not an IPv6 address');
  const out = new Uint8Array(16);
  groups.forEach((g, i) => ((out[2 * i] = g >> 8), (out[2 * i + 1] = g & 0xff)));
  if (tail) out.set(tail, 12);
  return out;
}

/** MAC text (colon or dash separated) to 6 bytes. @throws TypeError. */
export function macBytes(text: string): Uint8Array {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-f]{1,2}$/i.test(p))) throw new TypeError('not a MAC address');
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}
