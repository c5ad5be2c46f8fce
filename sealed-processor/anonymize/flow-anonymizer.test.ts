import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FLOW_COLUMN_NAMES } from '../../schemas/columns.ts';
import { DEFAULT_POLICY, parsePolicy } from '../../schemas/policy.ts';
import { newRawFlow, type RawFlow } from '../flows/flow-record.ts';
import { createFlowAnonymizer } from './flow-anonymizer.ts';
import { cryptoPanKey, cryptoPanV4 } from './cryptopan.ts';
import { formatIpv4 } from '../../schemas/ip-address.ts';
import { deriveSubkey, keyIdOf } from './key.ts';
import { v4, words } from './test-helpers.test-util.ts';

const MASTER = Uint8Array.from({ length: 32 }, (_, i) => i + 100);

function flow(): RawFlow {
  const f = newRawFlow();
  f.protocol = 6;
  f.srcV4 = v4('192.168.7.9');
  f.dstV4 = v4('93.184.216.34');
  f.srcPort = 51234;
  f.dstPort = 443;
  f.srcMacHi = 0x001122; f.srcMacLo = 0x334455;
  f.packetsFwd = 10; f.bytesFwd = 1500; f.packetsRev = 9; f.bytesRev = 64000;
  f.timeStartUs = 1_700_000_000_123_456; f.timeEndUs = 1_700_000_001_000_000;
  f.tlsSni = 'www.example.com';
  return f;
}

test('default policy: every column present, raw identifiers gone, parts follow the address', () => {
  const anon = createFlowAnonymizer(DEFAULT_POLICY, MASTER);
  const row = anon.anonymizeFlow(flow());
  assert.deepEqual(Object.keys(row).sort(), [...FLOW_COLUMN_NAMES].sort());
  const json = JSON.stringify(row, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  for (const raw of ['192.168.7.9', '93.184.216.34', '00:11:22:33:44:55', 'example']) assert.ok(!json.includes(raw), raw);
  assert.match(String(row.tls_sni), /^[0-9a-f]{16}\.[0-9a-f]{16}\.com$/);
  assert.equal(row.dst_port, 443);
  assert.equal(row.bytes_rev, 64000n);
  assert.equal(row.time_start, 1_700_000_000_123_456);
  assert.equal(row.icmp_type, null);
  assert.equal(row.src_mac !== null && String(row.src_mac).length, 17);
  const [a, b, c, d] = String(row.src_addr).split('.').map(Number);
  assert.equal(row.src_addr_lo, 0xffff00000000n + BigInt(((a << 24) | (b << 16) | (c << 8) | d) >>> 0));
  assert.equal(row.src_addr_hi, 0n);
  assert.equal(anon.keyId, keyIdOf(MASTER));
  // Same master key + policy → same pseudonyms (a partner can line up archives).
  assert.equal(createFlowAnonymizer(DEFAULT_POLICY, MASTER).anonymizeFlow(flow()).src_addr, row.src_addr);
  assert.equal(anon.stats().flows, 1);
});

test('unlisted columns are dropped (NULL) and reported; nd addresses give NULL parts', () => {
  const p = parsePolicy(JSON.stringify({
    version: 1,
    columns: { time_start: { method: 'coarsen', precisionUs: 60_000_000 }, time_end: 'shift', src_addr: 'ipcrypt-nd', dst_addr: { method: 'truncate', prefixV6: 32 }, dst_port: 'bin', bytes_fwd: 'bin' },
  }));
  const anon = createFlowAnonymizer(p, MASTER, { random: (n) => new Uint8Array(n) });
  const f = flow();
  f.ipVersion = 6;
  f.src6.set(words('2001:db8::1'));
  f.dst6.set(words('2001:db8:aaaa::1'));
  f.dstPort = 8443;
  const row = anon.anonymizeFlow(f);
  assert.notEqual(row.time_end, null);
  assert.equal(row.protocol, null);
  assert.equal(row.tls_sni, null);
  assert.equal(row.src_mac, null);
  assert.equal(row.time_start, Math.floor(1_700_000_000_123_456 / 60e6) * 60e6);
  assert.match(String(row.src_addr), /^0{16}[0-9a-f]{32}$/);
  assert.equal(row.src_addr_hi, null);
  assert.equal(row.dst_addr, '2001:db8::');
  assert.equal(row.dst_addr_hi, 0x20010db800000000n);
  assert.equal(row.dst_port, 1024);
  assert.equal(row.bytes_fwd, 1024n);
  const notes = anon.releaseNotes() as { droppedColumns: { count: number; names: string[] } };
  assert.ok(notes.droppedColumns.names.includes('protocol'));
  assert.equal(notes.droppedColumns.count, notes.droppedColumns.names.length);
});

test('time shift is one secret offset for both timestamps; release notes hold no raw prefix', () => {
  const p = parsePolicy(JSON.stringify({
    version: 1,
    columns: { time_start: 'shift', time_end: 'shift', src_addr: 'ipcrypt-pfx' },
    internalNetworks: [{ prefix: '192.168.0.0/16' }],
  }));
  const anon = createFlowAnonymizer(p, MASTER);
  const row = anon.anonymizeFlow(flow());
  const ts = row.time_start as unknown as number;
  const te = row.time_end as unknown as number;
  assert.notEqual(ts, 1_700_000_000_123_456);
  assert.equal(te - ts, 1_700_000_001_000_000 - 1_700_000_000_123_456);
  assert.ok(String(row.src_addr).startsWith('240.0.'));
  const notes = JSON.stringify(anon.releaseNotes());
  assert.ok(!notes.includes('192.168'));
  assert.match(notes, /240\.0\.0\.0\/16/);
  assert.equal(anon.stats().internalAddresses, 1);
});

test('cryptopan-compat policy (all ranges mapped) is bit-exact Crypto-PAn for IPv4; IPv6 internal networks work end to end', async () => {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(new URL('../../test/fixtures/policies/cryptopan-compat.yaml', import.meta.url), 'utf8');
  const anon = createFlowAnonymizer(parsePolicy(text), MASTER);
  const k = cryptoPanKey(deriveSubkey(MASTER, 'flowseal/v1/cryptopan/address', 32));
  const f = flow();
  for (const ip of ['127.0.0.1', '10.1.2.3', '224.0.0.251', '255.255.255.255', '128.11.68.132']) {
    f.srcV4 = v4(ip);
    assert.equal(anon.anonymizeFlow(f).src_addr, formatIpv4(cryptoPanV4(k, v4(ip))), ip);
  }
  const campus = await readFile(new URL('../../test/fixtures/policies/campus.yaml', import.meta.url), 'utf8');
  const c = createFlowAnonymizer(parsePolicy(campus), MASTER);
  const g = flow();
  g.ipVersion = 6;
  g.src6.set(words('fd12:3456:789a:10::1'));
  g.dst6.set(words('ff02::fb'));
  const row = c.anonymizeFlow(g);
  assert.match(String(row.src_addr), /^fec0::.*:1$|^fec0:0:0:[0-9a-f]+::1$/, 'ULA campus network in fec0::/48, gateway kept');
  assert.equal(row.dst_addr, 'ff02::fb', 'multicast kept');
  assert.equal(c.stats().internalAddresses, 1);
  const notes = JSON.stringify(c.releaseNotes());
  assert.ok(!notes.includes('fd12') && !notes.includes('172.16'), 'no raw internal prefix in release notes');
});

test('export columns: exporter and next hops share the data-plane address domain; packet rows leave them NULL', () => {
  const anon = createFlowAnonymizer(DEFAULT_POLICY, MASTER);
  const pkt = anon.anonymizeFlow(flow());
  assert.equal(pkt.record_source, 'packets');
  for (const c of ['exporter_addr', 'exporter_addr_hi', 'next_hop_addr', 'bgp_next_hop_addr_lo', 'observation_domain', 'input_interface', 'src_as', 'tos', 'sampling_interval'] as const) {
    assert.equal(pkt[c], null, c);
  }
  const f = flow();
  f.recordSource = 'ipfix';
  f.endReason = null;
  // The exporter is the flow's own destination, the next hop its source: same pseudonyms.
  f.exporterVersion = 4; f.exporterV4 = v4('93.184.216.34');
  f.nextHopVersion = 4; f.nextHopV4 = v4('192.168.7.9');
  f.bgpNextHopVersion = 6; f.bgpNextHop6.set(words('2001:db8::1'));
  f.observationDomain = 7; f.inputInterface = 3; f.outputInterface = 0; f.srcAs = 64512; f.dstAs = 4_200_000_000; f.tos = 0xb8; f.samplingInterval = 2;
  const row = anon.anonymizeFlow(f);
  assert.equal(row.record_source, 'ipfix');
  assert.equal(row.end_reason, null);
  assert.equal(row.exporter_addr, row.dst_addr);
  assert.equal(row.exporter_addr_lo, row.dst_addr_lo);
  assert.equal(row.next_hop_addr, row.src_addr);
  assert.equal(anon.anonymizeAddress('exporter_addr', f), row.dst_addr);
  const v6 = flow();
  v6.ipVersion = 6; v6.src6.set(words('2001:db8::1'));
  assert.equal(row.bgp_next_hop_addr, anon.anonymizeFlow(v6).src_addr);
  assert.notEqual(row.bgp_next_hop_addr, '2001:db8::1');
  assert.deepEqual([row.observation_domain, row.input_interface, row.output_interface, row.src_as, row.dst_as, row.tos, row.sampling_interval], [7, 3, 0, 64512, 4_200_000_000, 0xb8, 2]);
  // A policy that does not list the new columns drops them (unknown fields dropped by default).
  const minimal = parsePolicy(JSON.stringify({ version: 1, columns: { time_start: 'keep', time_end: 'keep', src_addr: 'ipcrypt-pfx' } }));
  const m = createFlowAnonymizer(minimal, MASTER).anonymizeFlow(f);
  assert.deepEqual([m.exporter_addr, m.exporter_addr_hi, m.src_as, m.input_interface, m.record_source], [null, null, null, null, null]);
});
