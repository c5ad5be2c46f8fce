/**
 * IP address text codecs shared by the anonymizer and the query API: IPv4 as a u32, IPv6 as four big-endian u32
 * words, CIDR prefixes, and RFC 5952 text output.
 *
 * Owns: parsing policy/CLI text and rendering anonymized results. Never logs or echoes the
 * text it parses (callers decide what an error may say), and does no IO.
 */

/** The IPv4-mapped IPv6 prefix ::ffff:0:0/96 as its third word. */
export const V4_MAPPED_WORD2 = 0x0000ffff;

/** Parses dotted-quad IPv4 (no leading zeros beyond a single 0). Returns null when invalid. */
export function parseIpv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let v = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    v = v * 256 + n;
  }
  return v >>> 0;
}

/**
 * Parses IPv6 text (RFC 4291 §2.2, including `::` and a trailing dotted IPv4) into `out`.
 * Zone ids are rejected. Returns false when invalid.
 */
export function parseIpv6(text: string, out: Uint32Array): boolean {
  if (text.length < 2 || text.length > 45 || text.includes('%')) return false;
  let s = text;
  const lastColon = s.lastIndexOf(':');
  if (lastColon === -1) return false;
  if (s.indexOf('.', lastColon) !== -1) {
    // Trailing dotted IPv4 (e.g. ::ffff:192.0.2.1): rewrite it as two hex groups.
    const v4 = parseIpv4(s.slice(lastColon + 1));
    if (v4 === null) return false;
    s = `${s.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const dbl = s.indexOf('::');
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return false;
  const groups: number[] = [];
  if (dbl === -1) {
    const g = parseHexGroups(s);
    if (g === null || g.length !== 8) return false;
    groups.push(...g);
  } else {
    const l = parseHexGroups(s.slice(0, dbl));
    const r = parseHexGroups(s.slice(dbl + 2));
    if (l === null || r === null || l.length + r.length > 7) return false;
    groups.push(...l);
    for (let i = l.length + r.length; i < 8; i++) groups.push(0);
    groups.push(...r);
  }
  for (let i = 0; i < 4; i++) out[i] = ((groups[2 * i] << 16) | groups[2 * i + 1]) >>> 0;
  return true;
}

function parseHexGroups(s: string): number[] | null {
  if (s === '') return [];
  const r: number[] = [];
  for (const g of s.split(':')) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    r.push(parseInt(g, 16));
  }
  return r;
}

/** A parsed address: IPv4 in `v4`, IPv6 in `v6` (four BE words). */
export type ParsedAddress = { version: 4; v4: number } | { version: 6; v6: Uint32Array };

/** Parses IPv4 or IPv6 text. Returns null when neither. */
export function parseAddress(text: string): ParsedAddress | null {
  const v4 = parseIpv4(text);
  if (v4 !== null) return { version: 4, v4 };
  const v6 = new Uint32Array(4);
  return parseIpv6(text, v6) ? { version: 6, v6 } : null;
}

/** A CIDR prefix; `v4`/`v6` hold the network address with host bits cleared. */
export type ParsedPrefix =
  | { version: 4; v4: number; length: number }
  | { version: 6; v6: Uint32Array; length: number };

/** Parses `a.b.c.d/n` or `x::/n`; clears host bits. Returns null when invalid. */
export function parsePrefix(text: string): ParsedPrefix | null {
  const slash = text.indexOf('/');
  if (slash === -1) return null;
  const lenText = text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(lenText)) return null;
  const length = Number(lenText);
  const a = parseAddress(text.slice(0, slash));
  if (a === null) return null;
  if (a.version === 4) {
    if (length > 32) return null;
    return { version: 4, v4: (a.v4 & maskV4(length)) >>> 0, length };
  }
  if (length > 128) return null;
  const w = a.v6;
  for (let i = 0; i < 4; i++) w[i] = (w[i] & maskBits(length - 32 * i)) >>> 0;
  return { version: 6, v6: w, length };
}

/** Network mask for an IPv4 prefix length 0..32 as a u32. */
export function maskV4(length: number): number {
  return length <= 0 ? 0 : length >= 32 ? 0xffffffff : (0xffffffff << (32 - length)) >>> 0;
}

/** Mask of the top `bits` of one word (bits may be <0 or >32). */
export function maskBits(bits: number): number {
  return maskV4(bits);
}

/** Dotted-quad text of a u32. */
export function formatIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** True when four words are ::ffff:a.b.c.d. */
export function isV4MappedWords(w: ArrayLike<number>): boolean {
  return w[0] === 0 && w[1] === 0 && w[2] === V4_MAPPED_WORD2;
}

/**
 * RFC 5952 text of an IPv6 address: lowercase, no leading zeros, the longest run (≥ 2) of
 * zero groups compressed (first on ties); IPv4-mapped as `::ffff:a.b.c.d` (§5).
 */
export function formatIpv6(w: ArrayLike<number>): string {
  if (isV4MappedWords(w)) return `::ffff:${formatIpv4(w[3] >>> 0)}`;
  const g = new Array<number>(8);
  for (let i = 0; i < 4; i++) {
    g[2 * i] = (w[i] >>> 16) & 0xffff;
    g[2 * i + 1] = w[i] & 0xffff;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  if (bestStart === -1) return g.map((x) => x.toString(16)).join(':');
  const head = g.slice(0, bestStart).map((x) => x.toString(16)).join(':');
  const tail = g.slice(bestStart + bestLen).map((x) => x.toString(16)).join(':');
  return `${head}::${tail}`;
}

/**
 * The draft-denis-ipcrypt 16-byte → address conversion (§3.2): IPv4-mapped renders as
 * dotted IPv4, anything else as RFC 5952 IPv6.
 */
export function formatAddressWords(w: ArrayLike<number>): string {
  return isV4MappedWords(w) ? formatIpv4(w[3] >>> 0) : formatIpv6(w);
}

/** Text of a parsed address (IPv4 dotted, IPv6 per draft §3.2). */
export function formatParsed(a: ParsedAddress): string {
  return a.version === 4 ? formatIpv4(a.v4) : formatAddressWords(a.v6);
}
