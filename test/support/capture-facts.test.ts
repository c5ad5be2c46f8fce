import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import {
  FIXTURES,
  FIXTURES_DIR,
  fixturePath,
  rawIdentifiers,
  specialIdentifier,
} from './capture-facts.ts';
import { tsharkConversations, tsharkFields, tsharkIpBytes } from './tshark.ts';
import { skipUnlessTools } from './required-tools.ts';

/** Link types from the file headers: pcap global header, or every pcapng Interface Description Block. */
function linkTypes(buf: Buffer): number[] {
  const magic = buf.readUInt32LE(0);
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) return [buf.readUInt32LE(20)];
  if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) return [buf.readUInt32BE(20)];
  assert.equal(magic, 0x0a0d0d0a, 'pcapng section header');
  const le = buf.readUInt32LE(8) === 0x1a2b3c4d;
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const out: number[] = [];
  for (let o = 0; o + 12 <= buf.length; o += u32(o + 4)) {
    if (u32(o) === 1) out.push(le ? buf.readUInt16LE(o + 8) : buf.readUInt16BE(o + 8));
  }
  return out;
}

test('every capture in test/fixtures is described, small, and has the declared link types', async () => {
  const files = (await readdir(FIXTURES_DIR)).filter((f) => /\.pcap(ng)?$/.test(f)).sort();
  assert.deepEqual(files, FIXTURES.map((f) => f.file).sort());
  let total = 0;
  for (const f of FIXTURES) {
    const buf = await readFile(fixturePath(f.file));
    assert.ok(buf.length < 1_000_000, `${f.file} under 1 MB`);
    total += buf.length;
    assert.deepEqual(linkTypes(buf), [...f.linkTypes], f.file);
    assert.equal(f.format === 'pcapng', buf.readUInt32LE(0) === 0x0a0d0d0a, f.file);
  }
  assert.ok(total < 3_000_000);
  assert.ok((await stat(fixturePath('make-captures.sh'))).isFile());
});

const skip = skipUnlessTools('tshark');

test('FIXTURES facts match what tshark reads', { skip }, async () => {
  for (const f of FIXTURES) {
    const path = fixturePath(f.file);
    assert.equal((await tsharkIpBytes(path)).packets, f.packets, `${f.file} packets`);
    assert.equal((await tsharkConversations(path, 'tcp')).length, f.tcpConversations, `${f.file} tcp`);
    assert.equal((await tsharkConversations(path, 'udp')).length, f.udpConversations, `${f.file} udp`);
    const vlans = new Set<string>();
    const qnames = new Set<string>();
    const sni = new Set<string>();
    const hosts = new Set<string>();
    await tsharkFields(path, ['vlan.id', 'dns.qry.name', 'tls.handshake.extensions_server_name', 'http.host'], (v) => {
      if (v[0]) vlans.add(v[0]);
      if (v[1]) qnames.add(v[1]);
      if (v[2]) sni.add(v[2]);
      if (v[3]) hosts.add(v[3].replace(/:\d+$/, ''));
    });
    assert.deepEqual([...vlans].map(Number).sort(), [...f.vlanIds], `${f.file} vlans`);
    assert.deepEqual([...qnames].sort(), [...f.dnsQueryNames].sort(), `${f.file} dns`);
    assert.deepEqual([...sni].sort(), [...f.tlsSni].sort(), `${f.file} sni`);
    assert.deepEqual([...hosts].sort(), [...f.httpHosts].sort(), `${f.file} hosts`);
  }
});

test('rawIdentifiers finds addresses, MACs and names, including ones inside payloads', { skip }, async () => {
  const http = await rawIdentifiers(fixturePath('http-lo.pcap'));
  assert.deepEqual(http.ips, ['127.0.0.1', '::1']);
  assert.deepEqual(http.macs, ['00:00:00:00:00:00']);
  assert.deepEqual(http.names, ['www.example.test', 'www6.example.test']);

  const dns = await rawIdentifiers(fixturePath('dns-ns.pcapng'));
  for (const ip of ['10.77.0.1', '10.77.0.2', 'fd00:77::1', 'fd00:77::2', '10.9.9.9', 'fd00:9::10', 'fe80::5a:ff:fe00:a01']) {
    assert.ok(dns.ips.includes(ip), ip);
  }
  assert.ok(dns.macs.includes('02:5a:00:00:0a:01') && dns.macs.includes('02:5a:00:00:0b:02'));
  assert.ok(dns.names.includes('mail.corp.test') && !dns.names.includes('<root>'));

  const tls = await rawIdentifiers(fixturePath('vlan-tls.pcap'));
  assert.deepEqual(tls.ips, ['10.78.42.1', '10.78.42.2']);
  assert.deepEqual(tls.names, ['login.example.test', 'secure.example.test']);

  const sll = await rawIdentifiers(fixturePath('sll2-any.pcap'));
  assert.deepEqual(sll.macs, ['00:00:00:00:00:00'], 'cooked header source address');
});

test('specialIdentifier classifies what some policies keep', () => {
  assert.equal(specialIdentifier('127.0.0.1'), 'loopback');
  assert.equal(specialIdentifier('::1'), 'loopback');
  assert.equal(specialIdentifier('::'), 'unspecified');
  assert.equal(specialIdentifier('ff02::16'), 'multicast');
  assert.equal(specialIdentifier('fe80::5a:ff:fe00:a01'), 'link-local');
  assert.equal(specialIdentifier('224.0.0.251'), 'multicast');
  assert.equal(specialIdentifier('00:00:00:00:00:00'), 'zero-mac');
  assert.equal(specialIdentifier('FF:FF:FF:FF:FF:FF'), 'broadcast');
  assert.equal(specialIdentifier('33:33:00:00:00:16'), 'multicast');
  assert.equal(specialIdentifier('02:5a:00:00:0a:01'), null);
  assert.equal(specialIdentifier('10.77.0.1'), null);
  assert.equal(specialIdentifier('fd00:77::1'), null);
});

