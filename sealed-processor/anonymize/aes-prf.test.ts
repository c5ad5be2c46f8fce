import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { aesEncryptWords, expandAes128, toHex, wordsToBytes } from './aes-block.ts';
import { encryptBE, expandKeyBE, msbOfAesBE, pfxPrfBit } from './aes-prf.ts';
import { hex } from './test-helpers.test-util.ts';

test('table AES-128 reproduces the FIPS-197 vectors', () => {
  const out = new Uint32Array(4);
  const b = new Uint8Array(16);
  encryptBE(expandKeyBE(hex('2b7e151628aed2a6abf7158809cf4f3c')), 0x3243f6a8, 0x885a308d, 0x313198a2, 0xe0370734, out);
  wordsToBytes(out, b, 0);
  assert.equal(toHex(b), '3925841d02dc09fbdc118597196a0b32');
  encryptBE(expandKeyBE(hex('000102030405060708090a0b0c0d0e0f')), 0x00112233, 0x44556677, 0x8899aabb, 0xccddeeff, out);
  wordsToBytes(out, b, 0);
  assert.equal(toHex(b), '69c4e0d86a7b0430d8cdb78070b4c55a');
});

test('property: table AES and its bit shortcuts equal @noble/ciphers', () => {
  const word = fc.nat({ max: 0xffffffff });
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.tuple(word, word, word, word), (key, [w0, w1, w2, w3]) => {
    const ours = new Uint32Array(4);
    const noble = new Uint32Array(4);
    const other = new Uint32Array(4);
    const k1 = expandKeyBE(key.subarray(0, 16));
    const k2 = expandKeyBE(key.subarray(16));
    encryptBE(k1, w0, w1, w2, w3, ours);
    aesEncryptWords(expandAes128(key.subarray(0, 16)), w0, w1, w2, w3, noble);
    assert.deepEqual(ours, noble);
    aesEncryptWords(expandAes128(key.subarray(16)), w0, w1, w2, w3, other);
    assert.equal(pfxPrfBit(k1, k2, w0, w1, w2, w3), ((noble[3] ^ other[3]) & 1));
    assert.equal(msbOfAesBE(k1, w0, w1, w2, w3), noble[0] >>> 31);
  }), { numRuns: 300 });
});
