import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractDnsQname, MAX_POINTER_JUMPS, readDnsName } from './dns-name.ts';
import { dnsMessage, dnsName, dnsTcp } from './testing/packet-builders.ts';

test('first question name, lowercased, over UDP and TCP framing', () => {
  const msg = dnsMessage(dnsName('WWW.Example.COM'));
  assert.equal(extractDnsQname(msg, 0, msg.length, false), 'www.example.com');
  const framed = dnsTcp(msg);
  assert.equal(extractDnsQname(framed, 0, framed.length, true), 'www.example.com');
  const mdns = dnsMessage(dnsName('_services._dns-sd._udp.local'));
  assert.equal(extractDnsQname(mdns, 0, mdns.length, false), '_services._dns-sd._udp.local');
});

test('absent or malformed questions give null', () => {
  const none = dnsMessage(dnsName('a.b'), { qdcount: 0 });
  assert.equal(extractDnsQname(none, 0, none.length, false), null);
  const root = dnsMessage([0]);
  assert.equal(extractDnsQname(root, 0, root.length, false), null);
  const msg = dnsMessage(dnsName('example.com'));
  assert.equal(extractDnsQname(msg, 0, 11, false), null, 'short header');
  assert.equal(extractDnsQname(msg, 0, 12 + 5, false), null, 'label cut by the end');
  const framed = dnsTcp(msg);
  framed[1] = 14; // declared length ends inside the name
  assert.equal(extractDnsQname(framed, 0, framed.length, true), null);
  assert.equal(extractDnsQname(dnsMessage([64, ...Array(64).fill(0x61), 0]), 0, 200, false), null, 'label type 0x40');
  assert.equal(extractDnsQname(dnsMessage([3, 0x61, 0x00, 0x62, 0]), 0, 100, false), null, 'control byte');
  assert.equal(extractDnsQname(dnsMessage([3, 0x61, 0x20, 0x62, 0]), 0, 100, false), null, 'space');
  assert.equal(extractDnsQname(dnsMessage([3, 0x61, 0x2e, 0x62, 0]), 0, 100, false), null, 'dot inside a label');
  assert.equal(extractDnsQname(dnsMessage([2, 0xc3, 0xa9, 0]), 0, 100, false), null, 'non-ASCII');
});

test('length limits: 63-byte labels and 253-character names', () => {
  const l63 = 'a'.repeat(63);
  const ok = dnsMessage(dnsName(`${l63}.${l63}.${l63}.${'b'.repeat(61)}`));
  assert.equal(extractDnsQname(ok, 0, ok.length, false)?.length, 253);
  const tooLong = dnsMessage(dnsName(`${l63}.${l63}.${l63}.${'b'.repeat(62)}`));
  assert.equal(extractDnsQname(tooLong, 0, tooLong.length, false), null);
});

test('compression: backward pointers are followed, forward and looping ones rejected', () => {
  // Question "example.com" at 12; an answer name "www" + pointer back to offset 12.
  const q = dnsName('example.com');
  const answer = [3, 0x77, 0x77, 0x77, 0xc0, 12];
  const msg = dnsMessage(q, { response: true, extra: answer });
  const answerAt = 12 + q.length + 4;
  assert.equal(readDnsName(msg, 0, answerAt, msg.length), 'www.example.com');
  // A pointer straight to the question, and one to a suffix ("com" at 12 + 8).
  const m2 = dnsMessage(q, { extra: [0xc0, 12, 0xc0, 20] });
  assert.equal(readDnsName(m2, 0, answerAt, m2.length), 'example.com');
  assert.equal(readDnsName(m2, 0, answerAt + 2, m2.length), 'com');
  // The first question cannot be compressed: any pointer there points forward or into the header.
  const fwd = dnsMessage([0xc0, 20, 0, 0, 0, 0, 3, 0x61, 0x62, 0x63, 0]);
  assert.equal(extractDnsQname(fwd, 0, fwd.length, false), null, 'forward pointer');
  const self = dnsMessage([0xc0, 12]);
  assert.equal(extractDnsQname(self, 0, self.length, false), null, 'pointer to itself');
  const header = dnsMessage([0xc0, 2]);
  assert.equal(extractDnsQname(header, 0, header.length, false), null, 'pointer into the header');
  // A loop: label at L then a pointer back to L (each pass would re-read the label).
  const loop = dnsMessage(q, { extra: [1, 0x61, 0xc0, 12 + q.length + 4] });
  assert.equal(readDnsName(loop, 0, 12 + q.length + 4, loop.length), null);
  // A descending pointer chain longer than the jump bound.
  const chain: number[] = [];
  const base = 12 + q.length + 4;
  for (let i = 0; i <= MAX_POINTER_JUMPS + 1; i++) chain.push(0xc0, i === 0 ? 12 : base + 2 * (i - 1));
  const long = dnsMessage(q, { extra: chain });
  assert.equal(readDnsName(long, 0, base + 2 * (MAX_POINTER_JUMPS - 1), long.length), 'example.com');
  assert.equal(readDnsName(long, 0, base + 2 * (MAX_POINTER_JUMPS + 1), long.length), null);
});
