/**
 * Host names that are, or spell out, addresses — in the name columns (dns_qname, tls_sni,
 * http_host). Hashing such a name label by label (names.ts) does not hide it: a reverse name
 * 4.3.2.1.in-addr.arpa has four labels of 256 possible values each, and one known pair (the
 * hash of label `4` from any name whose raw form is guessable, e.g. the researcher's own
 * address) decodes that label in every name. So (docs/POLICY.md, "Derived identifiers"):
 *
 * - An address literal — dotted IPv4, IPv6, or bracketed `[IPv6]` as HTTP Host writes it —
 *   becomes the anonymized address in the same syntax (brackets when the input had them or
 *   when an IPv4 input maps to an IPv6-looking pseudonym).
 * - A reverse name (in-addr.arpa, RFC 1035 §3.5; ip6.arpa, RFC 3596 §2.5) with k address
 *   labels (1–4 octets, 1–32 nibbles: a whole address or a zone cut) is re-rendered from the
 *   anonymized address: the top k octets / nibbles of the anonymized prefix·0, which for a
 *   prefix-preserving method is exactly the address column's pseudonym of that address or
 *   network. Labels left of the address (DNS-SD `b._dns-sd._udp`) are hashed as usual; the
 *   `in-addr.arpa` / `ip6.arpa` suffix follows the column's keep-list like any suffix.
 * - A literal with a port (`10.1.2.3:443`, `[2001:db8::1]:80`, as SNI or a qname may carry
 *   it by mistake, and HTTP Host does) is the literal without its port, classified again; the
 *   rendered literal gets the port back. An ordinary name with a port is hashed as before.
 * - Anything else that spells an address in labels is unmappable (its bit order is unknown):
 *   a run of 2 or more consecutive labels that are all decimal octets (1–3 digits, value
 *   0–255, leading zeros included: 4.3.2.1.zen.example, 1.2.3.4.nip.io, 10.001.example) or all
 *   single hex digits (a nibble prefix under another zone); any `in-addr` or `ip6` label that
 *   is not part of the trailing `in-addr.arpa` / `ip6.arpa` suffix (3.2.1.in-addr.arpa.corp.
 *   example.com); in a reverse name, such a run or any numeric label left of the address, or
 *   more address-like labels than the address holds (a fifth octet, `0-25` RFC 2317 labels, a
 *   leading-zero octet). A single numeric label among ordinary ones (3.pool.ntp.org) is hashed
 *   as usual: its 8 bits say which pool member, not which host.

 * The caller stores NULL and counts the name when it is unmappable or when the address
 * method yields no address (nd/ndx tokens).
 *
 * Owns: recognising such names and rendering them from an anonymized address. Never returns
 * or logs the input name, no IO.
 */
import { parseIpv4, parseIpv6 } from '../../schemas/ip-address.ts';

/** A name that carries an address (see file comment). */
export type AddressName =
  | { readonly kind: 'literal-v4'; readonly v4: number; readonly port?: string }
  | { readonly kind: 'literal-v6'; readonly v6: Uint32Array; readonly bracketed: boolean; readonly port?: string }
  | { readonly kind: 'reverse-v4'; readonly octets: number; readonly v4: number; readonly left: readonly string[]; readonly suffix: readonly string[] }
  | { readonly kind: 'reverse-v6'; readonly nibbles: number; readonly v6: Uint32Array; readonly left: readonly string[]; readonly suffix: readonly string[] }
  | { readonly kind: 'unmappable' };

const OCTET = /^(0|[1-9][0-9]{0,2})$/;
const NUMERIC = /^[0-9]+([-/][0-9]+)*$/;
const SHORT_DECIMAL = /^[0-9]{1,3}$/;
const NIBBLE = /^[0-9a-f]$/;
/** Runs of address-like labels that make a name unmappable (file comment). */
const ADDRESS_RUN = 2;
/** `host:port`: an IPv4 literal or a bracketed IPv6 literal, then a decimal port. */
const WITH_PORT = /^(\[[^\]]*\]|[0-9.]+):([0-9]{1,5})$/;

/**
 * Classifies a validated name (lowercase labels, as NameMapper.labelsOf gives them).
 * @returns null for an ordinary name (hash it as usual).
 */
export function classifyAddressName(labels: readonly string[]): AddressName | null {
  const text = labels.join('.');
  const hp = WITH_PORT.exec(text);
  if (hp !== null) {
    const inner = classifyLiteral(hp[1]);
    if (inner !== null && inner.kind === 'literal-v4') return { ...inner, port: hp[2] };
    if (inner !== null && inner.kind === 'literal-v6') return { ...inner, port: hp[2] };
    if (inner !== null) return inner;
    // Not a literal: the host part's labels, classified as a name (a port never hides a run).
    const host = hp[1].split('.');
    return host.every((l) => l.length > 0) && classifyNameLabels(host) !== null ? { kind: 'unmappable' } : null;
  }
  return classifyLiteral(text) ?? classifyNameLabels(labels);
}

/** An address literal (or an unparsable bracketed one: unmappable); null when `text` is none. */
function classifyLiteral(text: string): AddressName | null {
  const v4 = parseIpv4(text);
  if (v4 !== null) return { kind: 'literal-v4', v4 };
  const bracketed = text.startsWith('[') && text.endsWith(']');
  if (bracketed || text.includes(':')) {
    const w = new Uint32Array(4);
    if (parseIpv6(bracketed ? text.slice(1, -1) : text, w)) return { kind: 'literal-v6', v6: w, bracketed };
    // An unparsable IPv6-looking literal (zone id, a typo) would still be hashed piecewise.
    return bracketed ? { kind: 'unmappable' } : null;
  }
  return null;
}

/** Reverse names and address-spelling names (file comment); null for an ordinary name. */
function classifyNameLabels(labels: readonly string[]): AddressName | null {
  const n = labels.length;
  const reverse = n >= 3 && labels[n - 1] === 'arpa' && (labels[n - 2] === 'in-addr' || labels[n - 2] === 'ip6');
  const body = reverse ? labels.slice(0, n - 2) : labels;
  if (body.some((l) => l === 'in-addr' || l === 'ip6')) return { kind: 'unmappable' };
  if (reverse) return labels[n - 2] === 'in-addr' ? reverseV4(labels) : reverseV6(labels);
  return hasAddressRun(labels) ? { kind: 'unmappable' } : null;
}

function reverseV4(labels: readonly string[]): AddressName | null {
  const end = labels.length - 2;
  let start = end;
  while (start > 0 && end - start < 4 && OCTET.test(labels[start - 1]) && Number(labels[start - 1]) <= 255) start--;
  const octets = end - start;
  if (octets === 0) return labels.slice(0, end).some((l) => NUMERIC.test(l)) ? { kind: 'unmappable' } : null;
  const left = labels.slice(0, start);
  if (left.some((l) => NUMERIC.test(l)) || hasAddressRun(left)) return { kind: 'unmappable' };
  let v4 = 0;
  for (let i = 0; i < 4; i++) v4 = v4 * 256 + (i < octets ? Number(labels[end - 1 - i]) : 0);
  return { kind: 'reverse-v4', octets, v4: v4 >>> 0, left, suffix: labels.slice(end) };
}

function reverseV6(labels: readonly string[]): AddressName | null {
  const end = labels.length - 2;
  let start = end;
  while (start > 0 && end - start < 32 && NIBBLE.test(labels[start - 1])) start--;
  const nibbles = end - start;
  const left = labels.slice(0, start);
  if (nibbles === 0) return left.some((l) => NUMERIC.test(l)) ? { kind: 'unmappable' } : null;
  if ((start > 0 && NIBBLE.test(labels[start - 1])) || left.some((l) => NUMERIC.test(l)) || hasAddressRun(left)) return { kind: 'unmappable' };
  const v6 = new Uint32Array(4);
  for (let i = 0; i < nibbles; i++) {
    const nib = parseInt(labels[end - 1 - i], 16);
    v6[i >>> 3] = (v6[i >>> 3] | (nib << (28 - 4 * (i & 7)))) >>> 0;
  }
  return { kind: 'reverse-v6', nibbles, v6, left, suffix: labels.slice(end) };
}

function hasAddressRun(labels: readonly string[]): boolean {
  let dec = 0;
  let nib = 0;
  for (const l of labels) {
    dec = SHORT_DECIMAL.test(l) && Number(l) <= 255 ? dec + 1 : 0;
    nib = NIBBLE.test(l) ? nib + 1 : 0;
    if (dec >= ADDRESS_RUN || nib >= ADDRESS_RUN) return true;
  }
  return false;
}

/** An anonymized address as the address anonymizer gives it (text and 128-bit halves). */
export interface AnonymizedAddress {
  readonly text: string;
  readonly hi: bigint | null;
  readonly lo: bigint | null;
}

/** What a name needs from its column: the hash of one label and the mapping of a suffix. */
export interface NameParts {
  hashLabel(label: string): string;
  mapLabels(labels: readonly string[]): string;
}

/**
 * Renders an address name from the anonymized form of its address (`anon`: the address
 * anonymizer's output for the literal's address or the reverse name's prefix·0).
 * @returns the name, or null when `anon` is not an address (tokens) or cannot be written in
 * the name's syntax (an IPv4 reverse name whose address maps to an IPv6-looking pseudonym).
 */
export function renderAddressName(name: AddressName, anon: AnonymizedAddress | null, parts: NameParts): string | null {
  if (name.kind === 'unmappable' || anon === null || anon.hi === null || anon.lo === null) return null;
  switch (name.kind) {
    case 'literal-v4': {
      const host = anon.text.includes(':') ? `[${anon.text}]` : anon.text;
      return name.port === undefined ? host : `${host}:${name.port}`;
    }
    case 'literal-v6': {
      const host = name.bracketed || name.port !== undefined ? `[${anon.text}]` : anon.text;
      return name.port === undefined ? host : `${host}:${name.port}`;
    }
    case 'reverse-v4': {
      if (anon.hi !== 0n || anon.lo >> 32n !== 0xffffn) return null;
      const v = Number(anon.lo & 0xffffffffn);
      const octets: string[] = [];
      for (let i = name.octets - 1; i >= 0; i--) octets.push(String((v >>> (24 - 8 * i)) & 255));
      return join(name.left, octets, name.suffix, parts);
    }
    case 'reverse-v6': {
      const hex = anon.hi.toString(16).padStart(16, '0') + anon.lo.toString(16).padStart(16, '0');
      const nibbles: string[] = [];
      for (let i = name.nibbles - 1; i >= 0; i--) nibbles.push(hex[i]);
      return join(name.left, nibbles, name.suffix, parts);
    }
  }
}

function join(left: readonly string[], address: readonly string[], suffix: readonly string[], parts: NameParts): string {
  return [...left.map((l) => parts.hashLabel(l)), ...address, parts.mapLabels(suffix)].join('.');
}
