/**
 * The leak search must see every form it claims to: each form of each kind of identifier is
 * rendered into the contexts outputs put it in (with a port, bracketed, IPv4-mapped, inside a
 * longer name, in JSON, upper case) and must be found; and longer numbers, other addresses
 * and hashed labels must not be taken for leaks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LEAK_FORMS, PRODUCT_WORDS, findLeaks, leakNeedles, type LeakForm } from './leak-search.ts';

const IDS = {
  ips: ['10.77.0.1', 'fd00:77::1', '::ffff:10.1.2.3', 'fe80::a8bb:ccff:fedd:eeff', '2002:c000:22a::1', '2001:0:4136:e378:8000:63bf:3fff:fdd2', '64:ff9b::c000:221'],
  macs: ['02:5a:00:00:0a:01'],
  names: ['www.example.test', 'mail.corp.test'],
};
const needles = leakNeedles(IDS);
const found = (text: string) => findLeaks([{ what: 'x', bytes: text }], needles);
const formsIn = (text: string) => new Set(found(text).map((l) => l.form));

test('every declared form is generated for some identifier', () => {
  const forms = new Set(needles.map((n) => n.form));
  for (const f of LEAK_FORMS) assert.ok(forms.has(f), f);
});

/** Each form of the identifiers above, as an output would show it. */
const SIGHTINGS: Array<[LeakForm, string]> = [
  ['ipv4-dotted', 'GET http://10.77.0.1:8080/'],
  ['ipv4-dotted', '{"addr":"::ffff:10.77.0.1"}'],
  ['ipv4-dotted', 'peer=[::ffff:10.1.2.3]:443'],
  ['ipv4-reverse-name', 'ptr 1.0.77.10.in-addr.arpa.'],
  ['ipv4-decimal', 'src=172818433,'],
  ['ipv4-archive-integer', `"src_addr_lo":${0xffff00000000 + 172818433}}`],
  ['ipv4-hex', 'addr 0x0a4d0001'],
  ['ipv4-colon-hex', 'mapped ::ffff:0a4d:0001 here'],
  ['ipv4-colon-hex', 'mapped ::ffff:a4d:1 or 64:ff9b::a01:203'],
  ['ipv4-dotted', '6to4 of 192.0.2.42 seen'], // 2002:c000:22a::1 embeds 192.0.2.42
  ['ipv4-dotted', 'teredo server 65.54.227.120'], // 2001:0:4136:e378:… embeds 65.54.227.120
  ['ipv4-dotted', 'teredo client 192.0.2.45'], // …:3fff:fdd2 is 192.0.2.45 inverted
  ['ipv4-dotted', 'nat64 192.0.2.33 mapped'],
  ['ipv6-text', 'connect [fd00:77::1]:443'],
  ['ipv6-text', 'FE80::A8BB:CCFF:FEDD:EEFF%eth0'],
  ['ipv6-expanded', 'fd00:0077:0000:0000:0000:0000:0000:0001'],
  ['ipv6-uncompressed', 'fd00:77:0:0:0:0:0:1'],
  ['ipv6-reverse-name', '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.7.7.0.0.0.0.d.f.ip6.arpa'],
  ['ipv6-hex', 'x=fd000077000000000000000000000001;'],
  ['ipv6-integer-halves', `"hi":${0xfd00007700000000n},`],
  ["ipv6-integer-halves", `"lo":${BigInt.asIntN(64, 0xa8bbccfffeddeeffn)},`], // signed; fe80::/64 and ff..::/64 upper halves are public, not searched
  ['mac-colon', 'eth 02:5A:00:00:0A:01 up'],
  ['mac-colon-unpadded', 'mac 2:5a:0:0:a:1'],
  ['mac-dash', '02-5a-00-00-0a-01'],
  ['mac-bare', 'hw=025a00000a01'],
  ['mac-cisco', 'mac 025a.0000.0a01 learned'],
  ['mac-eui64', 'iid 005a:00ff:fe00:0a01'],
  ['mac-eui64', 'fe80::5a:ff:fe00:a01'],
  ['mac-integer', String(0x025a00000a01)],
  ['mac-half-decimal', `oui ${0xa8bbcc ^ 0x020000}`], // from the EUI-64 of fe80::a8bb:ccff:fedd:eeff
  ['name', 'Host: www.example.test:8080'],
  ['name', 'cdn.www.example.test.'],
  ['name-label', '"qname":"3f9a1c0d2b4e5f60.example.0123456789abcdef"'],
  ['name-label', 'corp/x'],
];

for (const [form, text] of SIGHTINGS) {
  test(`finds ${form} in ${JSON.stringify(text)}`, () => {
    assert.ok(formsIn(text).has(form), `found ${[...formsIn(text)].join(', ') || 'nothing'}`);
  });
}

test('binary forms are found, short ones not in compressed outputs', () => {
  const v4 = Buffer.from([0xde, 0xad, 0x0a, 0x4d, 0x00, 0x01, 0xbe]);
  const mac = Buffer.from([9, 0x02, 0x5a, 0x00, 0x00, 0x0a, 0x01, 9]);
  const v6le = Buffer.from('770000fd000000000000000001000000', 'hex');
  const wire = Buffer.from('\x03www\x07example\x04test\x00', 'latin1');
  const hay = (bytes: Buffer, compressed = false) => new Set(findLeaks([{ what: 'b', bytes, compressed }], needles).map((l) => l.form));
  assert.ok(hay(v4).has('ipv4-binary'));
  assert.ok(hay(Buffer.from([1, 0, 0x4d, 0x0a])).has('ipv4-binary-le'));
  assert.ok(!hay(v4, true).has('ipv4-binary'), '4 bytes in compressed pages match by chance: searched in decoded rows instead');
  assert.ok(hay(mac, true).has('mac-binary'));
  assert.ok(hay(v6le, true).has('ipv6-binary-le-words'));
  assert.ok(hay(wire).has('name-wire'));
});

test('short text forms (the unspecified address `::`) are searched in text, not in compressed bytes', () => {
  const short = leakNeedles({ ips: ['::', 'fd00:77::1'], macs: [], names: [] });
  const forms = (bytes: string, compressed: boolean) => findLeaks([{ what: 'b', bytes: Buffer.from(bytes, 'latin1'), compressed }], short).map((l) => l.identifier);
  assert.deepEqual(forms('\x07\xe5\xf2::\xff\xaa', false), ['::'], 'in a text haystack `::` standing alone is a leak');
  assert.deepEqual(forms('\x07\xe5\xf2::\xff\xaa', true), [], 'in compressed pages two colons are chance');
  assert.deepEqual(forms('x fd00:77::1 y', true), ['fd00:77::1'], 'longer text forms are still searched in compressed bytes');
});

test('longer numbers, other addresses and hashed labels are not leaks', () => {
  for (const text of [
    '110.77.0.12', '10.77.0.10', '10.77.0.1.5', '210.77.0.1', 'v=1.10.77.0.1',
    'fd00:77::12', 'fd00:77::1:5', 'afd00:77::1', '::1.2.3.4',
    '1728184331', '0a4d00012', '02:5a:00:00:0a:011', '025a00000a01ff',
    'example0', 'xexample', 'corporate', 'mail_', // labels are whole tokens
    '"qname":"3f9a1c0d2b4e5f60.77aa5e0c1d2b3a49.0123456789abcdef"',
  ]) {
    const leaks = found(text).filter((l) => !(text === 'mail_' && l.form === 'name-label'));
    assert.deepEqual(leaks.map((l) => `${l.form} of ${l.identifier}`), [], text);
  }
});

test('labels shorter than 4 characters and short decimals are not searched', () => {
  assert.ok(!needles.some((n) => n.form === 'name-label' && (n.text === 'www' || n.text!.length < 4)));
  assert.ok(!needles.some((n) => n.boundary === 'decimal' && n.text!.replace('-', '').length < 7));
  assert.throws(() => leakNeedles({ ips: ['1.2.3'], macs: [], names: [] }), TypeError);
  assert.throws(() => leakNeedles({ ips: ['1::2::3'], macs: [], names: [] }), TypeError);
  assert.throws(() => leakNeedles({ ips: [], macs: ['02:5a'], names: [] }), TypeError);
});

test('the product words left out of the label search are words the product itself prints', () => {
  const root = new URL('../..', import.meta.url).pathname;
  let source = '';
  for (const dir of ['api', 'schemas', 'sealed-processor', 'ingest', 'bin']) {
    for (const rel of readdirSync(join(root, dir), { recursive: true }) as string[]) {
      if (rel.endsWith('.ts') && !rel.endsWith('.test.ts')) source += readFileSync(join(root, dir, rel), 'utf8').toLowerCase();
    }
  }
  for (const w of PRODUCT_WORDS) assert.match(source, new RegExp(`['"\`_ ]${w}['"\`_ ]`), `${w} is a word of the product's own messages`);
  const n = leakNeedles({ ips: [], macs: [], names: ['info.corp.test'] });
  assert.ok(n.some((x) => x.form === 'name' && x.text === 'info.corp.test'), 'the whole name is still searched');
  assert.ok(!n.some((x) => x.form === 'name-label' && x.text === 'info'));
});
