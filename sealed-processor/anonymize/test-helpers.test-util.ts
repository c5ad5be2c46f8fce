/**
 * Shared helpers for this folder's tests (not a test file itself): hex/address parsing and
 * common-prefix lengths. Test-only; never imported by production code.
 */
import { fromHex } from './aes-block.ts';
import { parseAddress } from '../../schemas/ip-address.ts';

export function hex(s: string): Uint8Array {
  const b = fromHex(s);
  if (b === null) throw new TypeError('bad hex in test');
  return b;
}

/** 16-byte form as four words (IPv4 → ::ffff:a.b.c.d). */
export function words(ip: string): Uint32Array {
  const a = parseAddress(ip);
  if (a === null) throw new TypeError(`bad address in test: ${ip}`);
  return a.version === 4 ? new Uint32Array([0, 0, 0xffff, a.v4]) : a.v6;
}

export function v4(ip: string): number {
  const a = parseAddress(ip);
  if (a === null || a.version !== 4) throw new TypeError(`bad IPv4 in test: ${ip}`);
  return a.v4;
}

export { commonPrefix32, commonPrefix128 } from './reserved-outputs.ts';
