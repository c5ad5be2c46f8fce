/**
 * TLS ClientHello server name (SNI) extraction.
 *
 * Layout walked (offsets relative to each structure):
 *   TLS record (RFC 8446 §5.1): 0 content type (22 = handshake) · 1..2 legacy version (3,x) ·
 *     3..4 length
 *   Handshake (RFC 8446 §4): 0 msg type (1 = client_hello) · 1..3 length
 *   ClientHello (RFC 8446 §4.1.2): 0..1 legacy version · 2..33 random · session id <0..32>
 *     (1-byte length) · cipher suites (2-byte length) · compression methods (1-byte length) ·
 *     extensions (2-byte length), each: 0..1 type · 2..3 length · data
 *   server_name extension, type 0 (RFC 6066 §3): 0..1 list length · entries of 0 name type
 *     (0 = host_name) · 1..2 length · name
 * Only the first TCP segment is examined (no reassembly): a ClientHello whose SNI lies in a
 * later segment (large post-quantum key shares) yields null. Every length is bounds-checked
 * against the record, the handshake and the captured bytes.
 * Never: throws, reads outside [offset, end), or creates a string for a rejected name.
 */
import { nameFromBytes } from './host-text.ts';

/** Extensions examined before giving up. */
export const MAX_TLS_EXTENSIONS = 128;

function u16(bytes: Uint8Array, i: number): number {
  return (bytes[i] << 8) | bytes[i + 1];
}

/**
 * The host_name of a ClientHello at the start of `bytes[offset, end)`.
 * @returns lowercase name, or null when this is no ClientHello, has no SNI, or is malformed.
 */
export function extractTlsSni(bytes: Uint8Array, offset: number, end: number): string | null {
  if (end > bytes.length) end = bytes.length;
  let p = offset;
  if (p + 9 > end || bytes[p] !== 0x16 || bytes[p + 1] !== 3 || bytes[p + 5] !== 1) return null;
  let limit = p + 5 + u16(bytes, p + 3);
  if (limit > end) limit = end;
  const hsEnd = p + 9 + ((bytes[p + 6] << 16) | (bytes[p + 7] << 8) | bytes[p + 8]);
  if (hsEnd < limit) limit = hsEnd;
  p += 9 + 34;
  if (p + 1 > limit) return null;
  p += 1 + bytes[p];
  if (p + 2 > limit) return null;
  p += 2 + u16(bytes, p);
  if (p + 1 > limit) return null;
  p += 1 + bytes[p];
  if (p + 2 > limit) return null;
  const extEnd = p + 2 + u16(bytes, p);
  if (extEnd < limit) limit = extEnd;
  p += 2;
  for (let n = 0; n < MAX_TLS_EXTENSIONS && p + 4 <= limit; n++) {
    const type = u16(bytes, p);
    const len = u16(bytes, p + 2);
    p += 4;
    if (p + len > limit) return null;
    if (type === 0) return serverName(bytes, p, p + len);
    p += len;
  }
  return null;
}

function serverName(bytes: Uint8Array, start: number, end: number): string | null {
  if (start + 2 > end) return null;
  let listEnd = start + 2 + u16(bytes, start);
  if (listEnd > end) listEnd = end;
  let q = start + 2;
  while (q + 3 <= listEnd) {
    const len = u16(bytes, q + 1);
    if (q + 3 + len > listEnd) return null;
    if (bytes[q] === 0) return nameFromBytes(bytes, q + 3, len);
    q += 3 + len;
  }
  return null;
}
