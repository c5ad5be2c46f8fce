/**
 * Turns validated name bytes into a lowercase string: the one place decode/ creates strings.
 *
 * Owns: the character rule shared by the DNS, TLS SNI and HTTP Host extractors — printable
 * ASCII only (0x21..0x7e), A-Z folded to a-z, at most `MAX_NAME_LENGTH` characters.
 * Never: returns a string containing control, space, DEL or non-ASCII bytes.
 */

/** Longest name accepted, in characters (RFC 1035 §2.3.4 text form without the final dot). */
export const MAX_NAME_LENGTH = 253;

/** True when `c` may appear in an extracted name. */
export function isNameByte(c: number): boolean {
  return c > 0x20 && c < 0x7f;
}

/**
 * Builds the lowercase text of `bytes[start, start+length)`, or null when it is empty, too
 * long, or holds a byte `isNameByte` rejects. Called at most once per flow and name.
 */
export function nameFromBytes(bytes: Uint8Array, start: number, length: number): string | null {
  if (length <= 0 || length > MAX_NAME_LENGTH || start < 0 || start + length > bytes.length) return null;
  let text = '';
  for (let i = start; i < start + length; i++) {
    let c = bytes[i];
    if (!isNameByte(c)) return null;
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    text += String.fromCharCode(c);
  }
  return text;
}
