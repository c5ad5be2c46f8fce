/**
 * Host-name anonymization (DNS qnames, TLS SNI, HTTP Host): every label is replaced by the
 * low-order 8 bytes (last 8 bytes) of HMAC-SHA256(key, lowercased label), as 16 hex digits;
 * an optional keep-list of public suffixes (e.g. `com`, `ac.uk`) is left in clear, the
 * longest matching suffix winning.
 *
 * Hostile input is refused rather than truncated: more than 253 characters, a label longer
 * than 63, more than 127 labels, or an empty label (after removing one trailing dot) makes
 * the value invalid (the caller stores NULL and counts it).
 *
 * Owns: the name mapping and its label cache. Never returns or logs the input name, no IO.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';

/** Limits from RFC 1035 §2.3.4 (253 characters in text form) and the DNS 127-label cap. */
export const NAME_LIMITS = { maxLength: 253, maxLabel: 63, maxLabels: 127 } as const;

/** A prepared name anonymizer. */
export interface NameMapper {
  /** Anonymized name, or null when the input breaks the limits above. */
  map(name: string): string | null;
  /** The lowercase labels of a name (one trailing dot removed), or null when it breaks the limits above. */
  labelsOf(name: string): string[] | null;
  /** Anonymized labels (`labelsOf` output): hashed, the longest kept suffix in clear. */
  mapLabels(labels: readonly string[]): string;
  /** The pseudonym of one label (no suffix rule). */
  hashLabel(label: string): string;
}

const encoder = new TextEncoder();

/** ASCII-only lowercase (DNS names are case-insensitive for ASCII only, RFC 4343). */
function asciiLower(s: string): string {
  return /[A-Z]/.test(s) ? s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32)) : s;
}

/**
 * Builds a name mapper.
 * @param key HMAC key (any length; policy subkeys are 32 bytes).
 * @param keepSuffixes public suffixes kept in clear (matched label-wise, case-insensitive).
 * @param cacheSize labels kept in a FIFO-bounded cache (default 65536).
 */
export function createNameMapper(key: Uint8Array, keepSuffixes: readonly string[] = [], cacheSize = 65536): NameMapper {
  const keyCopy = key.slice();
  const suffixes = keepSuffixes
    .map((s) => asciiLower(s.replace(/^\.+|\.+$/g, '')).split('.'))
    .filter((labels) => labels.length > 0 && labels.every((l) => l.length > 0))
    .sort((a, b) => b.length - a.length);
  const cache = new Map<string, string>();
  const hashLabel = (label: string): string => {
    const hit = cache.get(label);
    if (hit !== undefined) return hit;
    const d = hmac(sha256, keyCopy, encoder.encode(label));
    let hex = '';
    for (let i = 24; i < 32; i++) hex += (d[i] < 16 ? '0' : '') + d[i].toString(16);
    if (cache.size >= cacheSize) cache.delete(cache.keys().next().value as string);
    cache.set(label, hex);
    return hex;
  };
  const labelsOf = (name: string): string[] | null => {
    if (name.length === 0 || name.length > NAME_LIMITS.maxLength + 1) return null;
    let n = name.endsWith('.') ? name.slice(0, -1) : name;
    if (n.length === 0 || n.length > NAME_LIMITS.maxLength) return null;
    n = asciiLower(n);
    const labels = n.split('.');
    if (labels.length > NAME_LIMITS.maxLabels) return null;
    for (const l of labels) if (l.length === 0 || l.length > NAME_LIMITS.maxLabel) return null;
    return labels;
  };
  const mapLabels = (labels: readonly string[]): string => {
    let keep = 0;
    for (const s of suffixes) {
      if (s.length > labels.length) continue;
      let match = true;
      for (let i = 1; i <= s.length; i++) {
        if (labels[labels.length - i] !== s[s.length - i]) { match = false; break; }
      }
      if (match) { keep = s.length; break; }
    }
    const out = new Array<string>(labels.length);
    for (let i = 0; i < labels.length; i++) out[i] = i >= labels.length - keep ? labels[i] : hashLabel(labels[i]);
    return out.join('.');
  };
  return {
    map(name: string): string | null {
      const labels = labelsOf(name);
      return labels === null ? null : mapLabels(labels);
    },
    labelsOf,
    mapLabels,
    hashLabel,
  };
}
