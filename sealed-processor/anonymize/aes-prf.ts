/**
 * AES-128 encryption specialised for the prefix-preserving PRFs (ipcrypt-pfx, Crypto-PAn),
 * on big-endian words, with classic 4 × 1 KiB T-tables (FIPS-197 §5.2.1 equivalent form).
 *
 * Why not @noble/ciphers here (aes-block.ts uses it everywhere else): a prefix-preserving map
 * needs one PRF *bit* per tree node, i.e. one or two full AES calls per bit. noble's block
 * API returns a fresh object per call and uses merged 2 × 256 KiB tables that fall out of L1
 * under the prefix cache's own memory traffic; profiling the first pass over a Zipf trace
 * showed ~2× the standalone AES cost per call. These tables fit in L1, the two encryptions of
 * ipcrypt-pfx run interleaved (independent, so the CPU overlaps them), and the last two rounds
 * compute only the column holding the byte we keep. Equality with noble (and the FIPS-197
 * vector) is tested in aes-prf.test.ts; the published ipcrypt-pfx / Crypto-PAn vectors go
 * through this code too.
 *
 * Owns: the tables, key expansion and the bit-extracting encryptions. Never holds a key (the
 * caller keeps the expanded schedule), never logs, no IO. Not constant-time (table lookups),
 * like noble's table AES: acceptable here, the processor runs no untrusted co-tenant code.
 */

const SBOX = new Uint8Array(256);
const TE0 = new Uint32Array(256);
const TE1 = new Uint32Array(256);
const TE2 = new Uint32Array(256);
const TE3 = new Uint32Array(256);

function xtime(b: number): number {
  return ((b << 1) ^ (b & 0x80 ? 0x1b : 0)) & 0xff;
}

(function buildTables(): void {
  // S-box from the multiplicative inverse in GF(2^8) followed by the affine map.
  const exp = new Uint8Array(256);
  const log = new Uint8Array(256);
  let x = 1;
  for (let i = 0; i < 255; i++) {
    exp[i] = x;
    log[x] = i;
    x ^= xtime(x); // multiply by the generator 3
  }
  for (let a = 0; a < 256; a++) {
    const inv = a === 0 ? 0 : exp[(255 - log[a]) % 255];
    let s = inv;
    let r = inv;
    for (let k = 0; k < 4; k++) {
      r = ((r << 1) | (r >>> 7)) & 0xff;
      s ^= r;
    }
    SBOX[a] = s ^ 0x63;
  }
  for (let a = 0; a < 256; a++) {
    const s = SBOX[a];
    const s2 = xtime(s);
    const s3 = s2 ^ s;
    const t = ((s2 << 24) | (s << 16) | (s << 8) | s3) >>> 0;
    TE0[a] = t;
    TE1[a] = ((t >>> 8) | (t << 24)) >>> 0;
    TE2[a] = ((t >>> 16) | (t << 16)) >>> 0;
    TE3[a] = ((t >>> 24) | (t << 8)) >>> 0;
  }
})();

/**
 * Expands a 16-byte AES-128 key into 44 big-endian round-key words.
 * @throws TypeError when the key is not 16 bytes.
 */
export function expandKeyBE(key: Uint8Array): Uint32Array {
  if (key.length !== 16) throw new TypeError(`AES-128 key must be 16 bytes, got ${key.length}`);
  const w = new Uint32Array(44);
  for (let i = 0; i < 4; i++) w[i] = ((key[4 * i] << 24) | (key[4 * i + 1] << 16) | (key[4 * i + 2] << 8) | key[4 * i + 3]) >>> 0;
  let rcon = 1;
  for (let i = 4; i < 44; i++) {
    let t = w[i - 1];
    if (i % 4 === 0) {
      t = ((t << 8) | (t >>> 24)) >>> 0;
      t = ((SBOX[t >>> 24] << 24) | (SBOX[(t >>> 16) & 255] << 16) | (SBOX[(t >>> 8) & 255] << 8) | SBOX[t & 255]) >>> 0;
      t = (t ^ (rcon << 24)) >>> 0;
      rcon = xtime(rcon);
    }
    w[i] = (w[i - 4] ^ t) >>> 0;
  }
  return w;
}

/** Full AES-128 encryption of four big-endian words into `out` (reference path for tests). */
export function encryptBE(rk: Uint32Array, w0: number, w1: number, w2: number, w3: number, out: Uint32Array): void {
  let s0 = w0 ^ rk[0], s1 = w1 ^ rk[1], s2 = w2 ^ rk[2], s3 = w3 ^ rk[3];
  for (let r = 1; r < 10; r++) {
    const k = 4 * r;
    const t0 = TE0[s0 >>> 24] ^ TE1[(s1 >>> 16) & 255] ^ TE2[(s2 >>> 8) & 255] ^ TE3[s3 & 255] ^ rk[k];
    const t1 = TE0[s1 >>> 24] ^ TE1[(s2 >>> 16) & 255] ^ TE2[(s3 >>> 8) & 255] ^ TE3[s0 & 255] ^ rk[k + 1];
    const t2 = TE0[s2 >>> 24] ^ TE1[(s3 >>> 16) & 255] ^ TE2[(s0 >>> 8) & 255] ^ TE3[s1 & 255] ^ rk[k + 2];
    const t3 = TE0[s3 >>> 24] ^ TE1[(s0 >>> 16) & 255] ^ TE2[(s1 >>> 8) & 255] ^ TE3[s2 & 255] ^ rk[k + 3];
    s0 = t0; s1 = t1; s2 = t2; s3 = t3;
  }
  out[0] = (((SBOX[s0 >>> 24] << 24) | (SBOX[(s1 >>> 16) & 255] << 16) | (SBOX[(s2 >>> 8) & 255] << 8) | SBOX[s3 & 255]) ^ rk[40]) >>> 0;
  out[1] = (((SBOX[s1 >>> 24] << 24) | (SBOX[(s2 >>> 16) & 255] << 16) | (SBOX[(s3 >>> 8) & 255] << 8) | SBOX[s0 & 255]) ^ rk[41]) >>> 0;
  out[2] = (((SBOX[s2 >>> 24] << 24) | (SBOX[(s3 >>> 16) & 255] << 16) | (SBOX[(s0 >>> 8) & 255] << 8) | SBOX[s1 & 255]) ^ rk[42]) >>> 0;
  out[3] = (((SBOX[s3 >>> 24] << 24) | (SBOX[(s0 >>> 16) & 255] << 16) | (SBOX[(s1 >>> 8) & 255] << 8) | SBOX[s2 & 255]) ^ rk[43]) >>> 0;
}

/**
 * ipcrypt-pfx PRF bit: LSB of byte 15 of AES(K1, P) ⊕ AES(K2, P), P as big-endian words.
 * Byte 15 is the low byte of output word 3 = SBOX[low byte of round-9 column 2] ⊕ rk[43];
 * round 9 therefore needs column 2 only.
 */
export function pfxPrfBit(a: Uint32Array, b: Uint32Array, w0: number, w1: number, w2: number, w3: number): number {
  let a0 = w0 ^ a[0], a1 = w1 ^ a[1], a2 = w2 ^ a[2], a3 = w3 ^ a[3];
  let b0 = w0 ^ b[0], b1 = w1 ^ b[1], b2 = w2 ^ b[2], b3 = w3 ^ b[3];
  for (let k = 4; k < 36; k += 4) {
    const t0 = TE0[a0 >>> 24] ^ TE1[(a1 >>> 16) & 255] ^ TE2[(a2 >>> 8) & 255] ^ TE3[a3 & 255] ^ a[k];
    const u0 = TE0[b0 >>> 24] ^ TE1[(b1 >>> 16) & 255] ^ TE2[(b2 >>> 8) & 255] ^ TE3[b3 & 255] ^ b[k];
    const t1 = TE0[a1 >>> 24] ^ TE1[(a2 >>> 16) & 255] ^ TE2[(a3 >>> 8) & 255] ^ TE3[a0 & 255] ^ a[k + 1];
    const u1 = TE0[b1 >>> 24] ^ TE1[(b2 >>> 16) & 255] ^ TE2[(b3 >>> 8) & 255] ^ TE3[b0 & 255] ^ b[k + 1];
    const t2 = TE0[a2 >>> 24] ^ TE1[(a3 >>> 16) & 255] ^ TE2[(a0 >>> 8) & 255] ^ TE3[a1 & 255] ^ a[k + 2];
    const u2 = TE0[b2 >>> 24] ^ TE1[(b3 >>> 16) & 255] ^ TE2[(b0 >>> 8) & 255] ^ TE3[b1 & 255] ^ b[k + 2];
    const t3 = TE0[a3 >>> 24] ^ TE1[(a0 >>> 16) & 255] ^ TE2[(a1 >>> 8) & 255] ^ TE3[a2 & 255] ^ a[k + 3];
    const u3 = TE0[b3 >>> 24] ^ TE1[(b0 >>> 16) & 255] ^ TE2[(b1 >>> 8) & 255] ^ TE3[b2 & 255] ^ b[k + 3];
    a0 = t0; a1 = t1; a2 = t2; a3 = t3;
    b0 = u0; b1 = u1; b2 = u2; b3 = u3;
  }
  // Round 9, column 2 only (its low byte feeds output byte 15).
  const a9 = TE0[a2 >>> 24] ^ TE1[(a3 >>> 16) & 255] ^ TE2[(a0 >>> 8) & 255] ^ TE3[a1 & 255] ^ a[38];
  const b9 = TE0[b2 >>> 24] ^ TE1[(b3 >>> 16) & 255] ^ TE2[(b0 >>> 8) & 255] ^ TE3[b1 & 255] ^ b[38];
  return (SBOX[a9 & 255] ^ SBOX[b9 & 255] ^ a[43] ^ b[43]) & 1;
}

/**
 * Crypto-PAn PRF bit: MSB of byte 0 of AES(K, P). Byte 0 is the top byte of output word 0 =
 * SBOX[top byte of round-9 column 0] ⊕ top byte of rk[40].
 */
export function msbOfAesBE(rk: Uint32Array, w0: number, w1: number, w2: number, w3: number): number {
  let s0 = w0 ^ rk[0], s1 = w1 ^ rk[1], s2 = w2 ^ rk[2], s3 = w3 ^ rk[3];
  for (let k = 4; k < 36; k += 4) {
    const t0 = TE0[s0 >>> 24] ^ TE1[(s1 >>> 16) & 255] ^ TE2[(s2 >>> 8) & 255] ^ TE3[s3 & 255] ^ rk[k];
    const t1 = TE0[s1 >>> 24] ^ TE1[(s2 >>> 16) & 255] ^ TE2[(s3 >>> 8) & 255] ^ TE3[s0 & 255] ^ rk[k + 1];
    const t2 = TE0[s2 >>> 24] ^ TE1[(s3 >>> 16) & 255] ^ TE2[(s0 >>> 8) & 255] ^ TE3[s1 & 255] ^ rk[k + 2];
    const t3 = TE0[s3 >>> 24] ^ TE1[(s0 >>> 16) & 255] ^ TE2[(s1 >>> 8) & 255] ^ TE3[s2 & 255] ^ rk[k + 3];
    s0 = t0; s1 = t1; s2 = t2; s3 = t3;
  }
  const c9 = TE0[s0 >>> 24] ^ TE1[(s1 >>> 16) & 255] ^ TE2[(s2 >>> 8) & 255] ^ TE3[s3 & 255] ^ rk[36];
  return ((SBOX[c9 >>> 24] ^ (rk[40] >>> 24)) >>> 7) & 1;
}
