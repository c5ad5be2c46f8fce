/**
 * HTTP/1.x `Host` header extraction (RFC 9112 §3 request line, §5 field syntax; RFC 9110
 * §7.2 Host, §9 methods).
 *
 * Accepts a payload that starts with a known method token followed by a space, then scans
 * header lines (at most `MAX_HTTP_SCAN` bytes, stopping at the empty line) for a
 * case-insensitive `Host:` field. The value is trimmed of spaces/tabs and a `:port` suffix
 * (an IPv6 literal keeps its brackets). A line cut off by the capture yields null.
 * Never: throws, reads outside [offset, end), or creates a string for a rejected name.
 */
import { nameFromBytes } from './host-text.ts';

/** Bytes of the request head examined at most. */
export const MAX_HTTP_SCAN = 8192;

const METHODS = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'].map((m) =>
  Uint8Array.from(m, (ch) => ch.charCodeAt(0)),
);
const HOST = [0x68, 0x6f, 0x73, 0x74, 0x3a]; // "host:"

/** True when `bytes[offset..]` starts with `METHOD SP` for a known method. */
export function startsWithHttpMethod(bytes: Uint8Array, offset: number, end: number): boolean {
  for (const m of METHODS) {
    if (offset + m.length + 1 > end) continue;
    let ok = bytes[offset + m.length] === 0x20;
    for (let i = 0; ok && i < m.length; i++) ok = bytes[offset + i] === m[i];
    if (ok) return true;
  }
  return false;
}

function isHostField(bytes: Uint8Array, p: number, limit: number): boolean {
  if (p + HOST.length > limit) return false;
  for (let i = 0; i < HOST.length; i++) if ((bytes[p + i] | 0x20) !== HOST[i]) return false;
  return true;
}

/**
 * The Host header of an HTTP/1.x request at the start of `bytes[offset, end)`.
 * @returns lowercase host without port, or null when absent, truncated or invalid.
 */
export function extractHttpHost(bytes: Uint8Array, offset: number, end: number): string | null {
  if (end > bytes.length) end = bytes.length;
  const limit = end - offset > MAX_HTTP_SCAN ? offset + MAX_HTTP_SCAN : end;
  if (!startsWithHttpMethod(bytes, offset, limit)) return null;
  let p = offset;
  for (;;) {
    while (p < limit && bytes[p] !== 0x0a) p++;
    p++;
    if (p >= limit) return null;
    if (bytes[p] === 0x0d || bytes[p] === 0x0a) return null; // end of the header block
    if (isHostField(bytes, p, limit)) return hostValue(bytes, p + HOST.length, limit);
  }
}

function hostValue(bytes: Uint8Array, start: number, limit: number): string | null {
  let s = start;
  while (s < limit && (bytes[s] === 0x20 || bytes[s] === 0x09)) s++;
  let e = s;
  while (e < limit && bytes[e] !== 0x0d && bytes[e] !== 0x0a) e++;
  if (e >= limit) return null;
  while (e > s && (bytes[e - 1] === 0x20 || bytes[e - 1] === 0x09)) e--;
  if (bytes[s] === 0x5b) {
    let close = s;
    while (close < e && bytes[close] !== 0x5d) close++;
    if (close === e) return null;
    return nameFromBytes(bytes, s, close + 1 - s);
  }
  let colon = e;
  for (let i = s; i < e; i++) {
    if (bytes[i] === 0x3a) {
      colon = i;
      break;
    }
  }
  for (let i = colon + 1; i < e; i++) if (bytes[i] < 0x30 || bytes[i] > 0x39) return null;
  return nameFromBytes(bytes, s, colon - s);
}
