/**
 * DNS name extraction (RFC 1035 §3.1 names, §4.1.1 header, §4.1.2 question, §4.1.4
 * compression; DNS over TCP length prefix RFC 1035 §4.2.2 / RFC 7766).
 *
 * Header offsets (from the message start): 0..1 ID · 2..3 flags · 4..5 QDCOUNT · 6..7 ANCOUNT
 * · 8..9 NSCOUNT · 10..11 ARCOUNT · 12.. first question (QNAME, QTYPE, QCLASS).
 * Hostile-input guards in dns-packet's spirit: labels ≤ 63 bytes, text ≤ 253 characters,
 * compression pointers must point strictly before every position already visited (so a
 * loop or a forward jump is impossible), at most `MAX_POINTER_JUMPS` jumps, reserved label
 * types (0x40, 0x80) rejected, printable ASCII only, no '.' inside a label.
 * Never: throws, reads outside [message start, end), or creates a string for a rejected name.
 */
import { MAX_NAME_LENGTH, isNameByte } from './host-text.ts';

/** Compression pointers followed before a name is rejected. */
export const MAX_POINTER_JUMPS = 16;

const DNS_HEADER = 12;
// Reused scratch for the assembled text: names are read synchronously, one at a time.
const scratch = new Uint8Array(MAX_NAME_LENGTH + 1);

/**
 * Reads the name at `nameOffset` of the message starting at `msgStart` (pointers are
 * relative to it) and ending at `msgEnd`. Returns lowercase text without the final dot,
 * or null for the root name or any malformed/hostile name.
 */
export function readDnsName(bytes: Uint8Array, msgStart: number, nameOffset: number, msgEnd: number): string | null {
  if (msgEnd > bytes.length) msgEnd = bytes.length;
  let pos = nameOffset;
  let lowest = nameOffset;
  let jumps = 0;
  let length = 0;
  for (;;) {
    if (pos >= msgEnd) return null;
    const len = bytes[pos];
    if (len === 0) break;
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= msgEnd || ++jumps > MAX_POINTER_JUMPS) return null;
      const target = msgStart + (((len & 0x3f) << 8) | bytes[pos + 1]);
      if (target < msgStart + DNS_HEADER || target >= lowest) return null;
      lowest = target;
      pos = target;
      continue;
    }
    if (kind !== 0) return null;
    if (pos + 1 + len > msgEnd) return null;
    if (length > 0) scratch[length++] = 0x2e;
    if (length + len > MAX_NAME_LENGTH) return null;
    for (let i = pos + 1; i <= pos + len; i++) {
      const c = bytes[i];
      if (!isNameByte(c) || c === 0x2e) return null;
      scratch[length++] = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
    }
    pos += 1 + len;
  }
  if (length === 0) return null;
  let text = '';
  for (let i = 0; i < length; i++) text += String.fromCharCode(scratch[i]);
  return text;
}

/**
 * The first question's QNAME of a DNS message in `bytes[offset, end)`.
 * @param lengthPrefixed true for DNS over TCP (a 2-byte message length comes first).
 * @returns lowercase name, or null when absent (QDCOUNT 0, root name) or malformed.
 */
export function extractDnsQname(bytes: Uint8Array, offset: number, end: number, lengthPrefixed: boolean): string | null {
  if (end > bytes.length) end = bytes.length;
  let msgStart = offset;
  let msgEnd = end;
  if (lengthPrefixed) {
    if (offset + 2 > end) return null;
    msgStart = offset + 2;
    const declared = msgStart + ((bytes[offset] << 8) | bytes[offset + 1]);
    if (declared < msgEnd) msgEnd = declared;
  }
  if (msgStart + DNS_HEADER > msgEnd) return null;
  const qdcount = (bytes[msgStart + 4] << 8) | bytes[msgStart + 5];
  if (qdcount === 0) return null;
  return readDnsName(bytes, msgStart, msgStart + DNS_HEADER, msgEnd);
}
