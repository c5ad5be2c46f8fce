/**
 * Crypto-PAn (Xu, Fan, Ammar, Moon: "Prefix-preserving IP address anonymization", 2002),
 * bit-exact with Fan's reference C++ code for IPv4 and with the straight 128-bit extension
 * shared by the Go (Yawning/cryptopan), yacryptopan and libanon ports for IPv6.
 *
 * Key: 32 bytes = AES-128 key ‖ 16 pad bytes; the working pad is AES(key, pad bytes). For
 * output bit i, the AES input is the first i address bits followed by the remaining pad
 * bits; the most significant bit of AES's output is XORed into address bit i.
 *
 * Structural weakness: the PRF input does not encode the prefix length. The input for
 * "first i address bits, then pad" equals the input for a longer prefix whenever the next
 * address bits happen to equal the pad bits there, so the PRF outputs for different
 * positions are not independent, and only one output bit (the MSB) is used per AES call
 * (Stott's observation cited in the Go port). ipcrypt-pfx fixes both: its PRF input is a
 * separator bit plus the prefix (the length is encoded by the separator's position) and its
 * PRF is a sum of two AES permutations rather than a single PRP. That, plus published test
 * vectors and native IPv4/IPv6 handling, is why ipcrypt-pfx is our default; Crypto-PAn is
 * kept for compatibility with existing anonymized archives and tools (e.g. nfanon for IPv4).
 *
 * Owns: the primitive on u32 / four-word inputs. Never logs, no IO.
 */
import { encryptBE, expandKeyBE, msbOfAesBE } from './aes-prf.ts';
import { maskV4 } from '../../schemas/ip-address.ts';

/** Expanded Crypto-PAn key: AES schedule (big-endian words, aes-prf.ts) and the encrypted pad. */
export interface CryptoPanKey {
  readonly xk: Uint32Array;
  readonly pad: Uint32Array;
}

/**
 * Prepares a 32-byte Crypto-PAn key (AES key ‖ pad bytes).
 * @throws TypeError when the key is not 32 bytes.
 */
export function cryptoPanKey(key: Uint8Array): CryptoPanKey {
  if (key.length !== 32) throw new TypeError(`Crypto-PAn key must be 32 bytes, got ${key.length}`);
  const xk = expandKeyBE(key.subarray(0, 16));
  const p = key.subarray(16, 32);
  const pad = new Uint32Array(4);
  const w = (o: number): number => ((p[o] << 24) | (p[o + 1] << 16) | (p[o + 2] << 8) | p[o + 3]) >>> 0;
  encryptBE(xk, w(0), w(4), w(8), w(12), pad);
  return { xk, pad };
}

/** MSB of byte 0 of AES(input given as BE words). */
function msbOfAes(xk: Uint32Array, w0: number, w1: number, w2: number, w3: number): number {
  return msbOfAesBE(xk, w0 >>> 0, w1 >>> 0, w2 >>> 0, w3 >>> 0);
}

/** The IPv4 PRF bit at `level` (0..31) for the first `level` address bits `prefix`. */
export function cryptoPanBitV4(k: CryptoPanKey, level: number, prefix: number): number {
  const pad = k.pad;
  const m = maskV4(level);
  const hi = level === 0 ? 0 : (prefix << (32 - level)) >>> 0;
  return msbOfAes(k.xk, ((hi & m) | (pad[0] & ~m)) >>> 0, pad[1], pad[2], pad[3]);
}

/** Crypto-PAn of an IPv4 address (u32 in, u32 out). */
export function cryptoPanV4(k: CryptoPanKey, addr: number): number {
  let out = 0;
  for (let level = 0; level < 32; level++) {
    const prefix = level === 0 ? 0 : addr >>> (32 - level);
    out = out * 2 + (((addr >>> (31 - level)) & 1) ^ cryptoPanBitV4(k, level, prefix));
  }
  return out >>> 0;
}

/**
 * Crypto-PAn of an IPv6 address (four BE words → `out`), the 128-bit extension. Like the
 * Go port, an IPv4-mapped input is anonymized as IPv4 and stays IPv4-mapped.
 * `fromLevel` resumes after a cached output prefix held in `out`, and `pinned` forces the
 * flip of the levels below it to 0 (see ipcrypt-pfx).
 */
export function cryptoPanV6(k: CryptoPanKey, w: ArrayLike<number>, out: Uint32Array, fromLevel = 0, pinned = 0): void {
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) {
    out[0] = 0;
    out[1] = 0;
    out[2] = 0xffff;
    out[3] = cryptoPanV4(k, w[3] >>> 0);
    return;
  }
  const pad = k.pad;
  const o = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) o[i] = (out[i] & maskV4(fromLevel - 32 * i)) >>> 0;
  const inp = [0, 0, 0, 0];
  for (let level = fromLevel; level < 128; level++) {
    const wi = level >>> 5;
    const sh = 31 - (level & 31);
    if (level < pinned) {
      if ((w[wi] >>> sh) & 1) o[wi] = (o[wi] | (1 << sh)) >>> 0;
      continue;
    }
    for (let i = 0; i < 4; i++) {
      const m = maskV4(level - 32 * i);
      inp[i] = ((w[i] & m) | (pad[i] & ~m)) >>> 0;
    }
    const bit = ((w[wi] >>> sh) & 1) ^ msbOfAes(k.xk, inp[0], inp[1], inp[2], inp[3]);
    if (bit) o[wi] = (o[wi] | (1 << sh)) >>> 0;
  }
  for (let i = 0; i < 4; i++) out[i] = o[i] >>> 0;
}
