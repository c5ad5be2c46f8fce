import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractTlsSni } from './tls-sni.ts';
import { concat, tlsClientHello } from './testing/packet-builders.ts';

test('SNI from a ClientHello, lowercased, at any offset', () => {
  const hello = tlsClientHello('Api.Example.ORG');
  assert.equal(extractTlsSni(hello, 0, hello.length), 'api.example.org');
  const shifted = concat(new Uint8Array(7), hello);
  assert.equal(extractTlsSni(shifted, 7, shifted.length), 'api.example.org');
  const noSid = tlsClientHello('a.b', { sessionIdLength: 0 });
  assert.equal(extractTlsSni(noSid, 0, noSid.length), 'a.b');
});

test('no SNI, not a ClientHello, truncated or inconsistent lengths give null', () => {
  const none = tlsClientHello(null);
  assert.equal(extractTlsSni(none, 0, none.length), null);
  const hello = tlsClientHello('example.net');
  const nameEnd = Buffer.from(hello).indexOf('example.net') + 'example.net'.length;
  for (let cut = 0; cut < hello.length; cut++) {
    assert.equal(extractTlsSni(hello, 0, cut), cut < nameEnd ? null : 'example.net', `cut at ${cut}`);
  }
  const notHandshake = hello.slice();
  notHandshake[0] = 0x17;
  assert.equal(extractTlsSni(notHandshake, 0, hello.length), null);
  const serverHello = hello.slice();
  serverHello[5] = 2;
  assert.equal(extractTlsSni(serverHello, 0, hello.length), null);
  const shortRecord = hello.slice();
  shortRecord[3] = 0;
  shortRecord[4] = 50;
  assert.equal(extractTlsSni(shortRecord, 0, hello.length), null, 'record length ends before the extension');
  const badName = tlsClientHello('exa mple.com');
  assert.equal(extractTlsSni(badName, 0, badName.length), null);
  const tooLong = tlsClientHello('a'.repeat(254));
  assert.equal(extractTlsSni(tooLong, 0, tooLong.length), null);
});
