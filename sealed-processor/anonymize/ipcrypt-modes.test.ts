import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toHex } from './aes-block.ts';
import { formatAddressWords } from '../../schemas/ip-address.ts';
import { ipcryptDeterministic, ipcryptKey16, ipcryptNd, ipcryptNdx, ndxKey } from './ipcrypt-modes.ts';
import { hex, words } from './test-helpers.test-util.ts';

// draft-denis-ipcrypt Appendix A.1 plus the reference implementation's test_vectors.json.
const DET: Array<[string, string, string]> = [
  ['0123456789abcdeffedcba9876543210', '0.0.0.0', 'bde9:6789:d353:824c:d7c6:f58a:6bd2:26eb'],
  ['1032547698badcfeefcdab8967452301', '255.255.255.255', 'aed2:92f6:ea23:58c3:48fd:8b8:74e8:45d8'],
  ['2b7e151628aed2a6abf7158809cf4f3c', '192.0.2.1', '1dbd:c1b9:fff1:7586:7d0b:67b4:e76e:4777'],
  ['0123456789abcdeffedcba9876543210', '2001:db8:85a3::8a2e:370:7334', '1eef:2352:64c8:18e6:6456:1373:f615:5032'],
  ['1032547698badcfeefcdab8967452301', '192.0.2.1', '7fde:a680:9546:ef2:d3c:7abb:1b38:2659'],
];

// Appendix A.3 (first three) and test_vectors.json (rest): key, input, tweak, output.
const ND: Array<[string, string, string, string]> = [
  ['0123456789abcdeffedcba9876543210', '0.0.0.0', '08e0c289bff23b7c', '08e0c289bff23b7cb349aadfe3bcef56221c384c7c217b16'],
  ['1032547698badcfeefcdab8967452301', '192.0.2.1', '21bd1834bc088cd2', '21bd1834bc088cd2e5e1fe55f95876e639faae2594a0caad'],
  ['2b7e151628aed2a6abf7158809cf4f3c', '2001:db8::1', 'b4ecbe30b70898d7', 'b4ecbe30b70898d7553ac8974d1b4250eafc4b0aa1f80c96'],
  ['1032547698badcfeefcdab8967452301', '255.255.255.255', '08e0c289bff23b7c', '08e0c289bff23b7cf602ae8dcfeb47c1fbcb9597b8951b89'],
  ['2b7e151628aed2a6abf7158809cf4f3c', '192.0.2.1', '08e0c289bff23b7c', '08e0c289bff23b7cca25fe3b7f2ca5e50a0deb24ef0469f8'],
  ['0123456789abcdeffedcba9876543210', '2001:db8:85a3::8a2e:370:7334', '08e0c289bff23b7c', '08e0c289bff23b7cdd344485c55026d8b4cfa33b81032aff'],
  ['1032547698badcfeefcdab8967452301', '192.0.2.1', '08e0c289bff23b7c', '08e0c289bff23b7c18e29f7c1fc75164251238ed9f0bd02a'],
];

const NDX: Array<[string, string, string, string]> = [
  ['0123456789abcdeffedcba98765432101032547698badcfeefcdab8967452301', '0.0.0.0', '21bd1834bc088cd2b4ecbe30b70898d7', '21bd1834bc088cd2b4ecbe30b70898d782db0d4125fdace61db35b8339f20ee5'],
  ['1032547698badcfeefcdab89674523010123456789abcdeffedcba9876543210', '192.0.2.1', '08e0c289bff23b7cb4ecbe30b70898d7', '08e0c289bff23b7cb4ecbe30b70898d7766a533392a69edf1ad0d3ce362ba98a'],
  ['2b7e151628aed2a6abf7158809cf4f3c3c4fcf098815f7aba6d2ae2816157e2b', '2001:db8::1', '21bd1834bc088cd2b4ecbe30b70898d7', '21bd1834bc088cd2b4ecbe30b70898d76089c7e05ae30c2d10ca149870a263e4'],
  ['1032547698badcfeefcdab89674523010123456789abcdeffedcba9876543210', '255.255.255.255', '21bd1834bc088cd2b4ecbe30b70898d7', '21bd1834bc088cd2b4ecbe30b70898d776c7dbd1ae4802a2dd95ad4f88273535'],
  ['2b7e151628aed2a6abf7158809cf4f3c3c4fcf098815f7aba6d2ae2816157e2b', '192.0.2.1', '21bd1834bc088cd2b4ecbe30b70898d7', '21bd1834bc088cd2b4ecbe30b70898d7259e85ebaa000667d2437ac7e2208d71'],
  ['0123456789abcdeffedcba98765432101032547698badcfeefcdab8967452301', '2001:db8:85a3::8a2e:370:7334', '21bd1834bc088cd2b4ecbe30b70898d7', '21bd1834bc088cd2b4ecbe30b70898d7fe8d52464555ef3458e4a6eefe14eb28'],
  ['1032547698badcfeefcdab89674523010123456789abcdeffedcba9876543210', '192.0.2.1', '21bd1834bc088cd2b4ecbe30b70898d7', '21bd1834bc088cd2b4ecbe30b70898d7c9487dffa9292855845d234bd1d72395'],
];

test('ipcrypt-deterministic matches the draft vectors', () => {
  for (const [k, input, expected] of DET) {
    const out = new Uint32Array(4);
    ipcryptDeterministic(ipcryptKey16(hex(k)), words(input), out);
    assert.equal(formatAddressWords(out), expected, input);
  }
});

test('ipcrypt-nd (KIASU-BC) matches the draft vectors', () => {
  for (const [k, input, tweak, expected] of ND) {
    assert.equal(toHex(ipcryptNd(ipcryptKey16(hex(k)), words(input), hex(tweak))), expected, input);
  }
});

test('ipcrypt-ndx (AES-XTS) matches the draft vectors', () => {
  for (const [k, input, tweak, expected] of NDX) {
    assert.equal(toHex(ipcryptNdx(ndxKey(hex(k)), words(input), hex(tweak))), expected, input);
  }
});

test('nd/ndx: a different tweak gives a different ciphertext; bad sizes throw', () => {
  const xk = ipcryptKey16(hex(ND[0][0]));
  const a = toHex(ipcryptNd(xk, words('192.0.2.1'), hex('0000000000000000')));
  const b = toHex(ipcryptNd(xk, words('192.0.2.1'), hex('0000000000000001')));
  assert.notEqual(a.slice(16), b.slice(16));
  assert.throws(() => ipcryptNd(xk, words('192.0.2.1'), new Uint8Array(7)), TypeError);
  assert.throws(() => ipcryptNdx(ndxKey(new Uint8Array(32)), words('192.0.2.1'), new Uint8Array(8)), TypeError);
  assert.throws(() => ndxKey(new Uint8Array(16)), TypeError);
});
