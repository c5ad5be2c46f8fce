// nfdump 1.7 as the oracle for what an expression means: a synthetic capture becomes an nfcapd
// file (nfpcapd), an archive is built from nfdump's own view of those flows, and for fixed and
// random nfdump-syntax expressions the flows nfdump selects must be exactly the flows DuckDB
// returns for flowseal's parse of the same text (compiled by compile-filter.ts), and those the
// reference evaluator selects. Left out by design: VLANs (nfdump records an untagged flow as
// VLAN 0, flowseal as no VLAN, NULL) and IPv6 prefixes shorter than 3 bits (see NET below).
//
// The router-export primitives the same way over exported records (IPFIX, NetFlow v9 and v5
// sent to a real nfcapd from four loopback exporters: nfdump-export-oracle.test-util.ts):
// router ip, next ip (either family, also on flows of the other family), bgpnext ip, in/out if,
// tos, observation domain id, nfversion. Not checkable here: AS numbers — nfdump 1.7.1 refuses
// to evaluate any AS filter without a geo location DB (`-G`), which needs MaxMind data — so
// `as` is checked by `nfdump -Z` syntax and the reference evaluator only; and what an exporter
// did not send (nfdump reads it as 0, flowseal as NULL: `if 0` differs there, so every record
// here carries every field but v5's BGP next hop, which no expression names as 0.0.0.0).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { skipUnlessTools } from '../../test/support/required-tools.ts';
import { parseFilterExpression } from './nfdump-filter.ts';
import { openFlowArchive, referenceIds, type Flow, type FlowArchive } from './filter-flows.test-util.ts';
import { openNfdumpOracle, type NfdumpOracle } from './nfdump-oracle.test-util.ts';
import { EXPORTERS, HOPS4, HOPS6, INTERFACES, TOS_VALUES, openNfdumpExportOracle, type NfdumpExportOracle } from './nfdump-export-oracle.test-util.ts';

const skip = skipUnlessTools('nfdump');

const FIXED = [
  'any', 'not any', 'proto tcp', 'proto udp', 'ipv4', 'inet6', 'host 10.0.0.1', 'src host 192.168.1.10', 'dst ip 2001:db8::2',
  'src and dst net 10.0.0.0/8', 'src or dst net 2001:db8::/32', 'net 10.0.0.0 255.255.0.0', 'dst net 10.1.2.3/16', 'net 0.0.0.0/0',
  'port 443', 'src port 22', 'dst port > 1024', 'dst port < 1024', 'port >= 65535', 'src and dst port > 1000', 'port in [ 22 53, 80 ]',
  'src port in [ 40000 443 ]', 'flags S', 'flags SA', 'flags X', 'not flags SA', 'not flags R', 'flags S and not flags AFRPU',
  'not (flags S and flags A)', 'not not flags RA', 'not (proto tcp and flags SA)', 'bytes > 1000', 'bytes >= 1k', 'bytes < 200',
  'packets 1', 'packets > 3', 'duration > 100', 'duration 0', 'duration <= 10', 'bps > 1m', 'bps 0', 'bps < 100k', 'pps > 1k', 'pps < 10',
  'bpp > 500', 'bpp 128', 'proto udp or proto tcp and dst port 22', '(proto udp or proto tcp) and dst port 22', 'not proto tcp and ipv4',
  '! proto tcp || dst port 53 && ipv6', 'proto tcp and (dst port 80 or dst port 443) and not src net 10.0.0.0/8',
  // nfpcapd's records carry a NetFlow version above 10, as flowseal's packet rows count.
  'nfversion > 10 and proto udp', 'nfversion 9 or proto udp', 'not nfversion <= 10 and ipv6',
];

const V4 = ['10.0.0.1', '10.0.0.2', '10.1.2.3', '192.168.1.10', '172.16.5.4', '8.8.8.8', '1.2.3.4'];
const V6 = ['2001:db8::1', '2001:db8::2', '2001:db8:1::5', '2606:4700::1111', 'fd00::7'];
const DIR = fc.constantFrom('', 'src ', 'dst ', 'src or dst ', 'dst and src ');
const CMP = fc.constantFrom('', '= ', '== ', '> ', '< ', '>= ', '<= ', 'gt ', 'lt ', 'eq ');
const PORT = fc.constantFrom(0, 22, 53, 80, 443, 1023, 1024, 8080, 30010, 40000, 65535);
const NET = fc.oneof(
  fc.tuple(fc.constantFrom(...V4), fc.integer({ min: 0, max: 32 })).map(([a, n]) => `${a}/${n}`),
  // Not /1 or /2: nfdump keeps IPv4 addresses as IPv6 ones with 96 leading zero bits, so a short
  // IPv6 prefix starting with zero bits also matches every IPv4 flow there (flowseal never mixes).
  fc.tuple(fc.constantFrom(...V6), fc.integer({ min: 3, max: 128 })).map(([a, n]) => `${a}/${n}`),
);
/** nfdump 1.7 syntax only: no flowseal extensions. */
const PRIMITIVE = fc.oneof(
  fc.constantFrom('any', 'ipv4', 'ipv6', 'inet', 'inet6', 'proto tcp', 'proto udp', 'PROTO 6', 'proto 17'),
  fc.tuple(DIR, fc.constantFrom('host', 'ip'), fc.constantFrom(...V4, ...V6)).map(([d, k, a]) => `${d}${k} ${a}`),
  fc.tuple(DIR, NET).map(([d, c]) => `${d}net ${c}`),
  fc.tuple(DIR, fc.constantFrom(...V4), fc.constantFrom('255.0.0.0', '255.255.0.0', '255.255.255.0', '255.255.255.255')).map(([d, a, m]) => `${d}net ${a} ${m}`),
  fc.tuple(DIR, CMP, PORT).map(([d, c, p]) => `${d}port ${c}${p}`),
  fc.tuple(DIR, fc.array(PORT, { minLength: 1, maxLength: 4 })).map(([d, ps]) => `${d}port in [ ${ps.join(' ')} ]`),
  fc.tuple(DIR, fc.array(fc.constantFrom(...V4, ...V6), { minLength: 1, maxLength: 3 })).map(([d, as]) => `${d}ip in [ ${as.join(' ')} ]`),
  fc.subarray(['F', 'S', 'R', 'P', 'A', 'U'], { minLength: 1 }).map((ls) => `flags ${ls.join('')}`),
  fc.tuple(fc.constantFrom('bytes', 'packets'), CMP, fc.constantFrom('1', '2', '5', '128', '1000', '1k', '2k', '0x100')).map(([k, c, v]) => `${k} ${c}${v}`),
  fc.tuple(fc.constantFrom('duration', 'bps', 'pps', 'bpp'), CMP, fc.constantFrom('0', '1', '10', '100', '500', '1000', '10k', '1m', '128')).map(([k, c, v]) => `${k} ${c}${v}`),
);
const { expr: EXPR } = fc.letrec<{ expr: string; not: string; and: string; or: string; group: string }>((tie) => ({
  expr: fc.oneof({ maxDepth: 4, depthSize: 'small' }, PRIMITIVE, tie('not'), tie('and'), tie('or'), tie('group')),
  not: fc.tuple(fc.constantFrom('not ', '! '), tie('expr')).map(([n, e]) => `${n}${e}`),
  and: fc.tuple(tie('expr'), fc.constantFrom(' and ', ' && '), tie('expr')).map(([a, op, b]) => `${a}${op}${b}`),
  or: fc.tuple(tie('expr'), fc.constantFrom(' or ', ' || '), tie('expr')).map(([a, op, b]) => `${a}${op}${b}`),
  group: tie('expr').map((e) => `(${e})`),
}));

// ---- router export (nfdump syntax only) ----
const ROUTERS = [...Object.values(EXPORTERS), '127.0.0.9'];
const HOPS = [...HOPS4, ...HOPS6, '172.16.0.1'];
const HOP_NET = fc.oneof(
  fc.tuple(fc.constantFrom(...HOPS4), fc.integer({ min: 0, max: 32 })).map(([a, n]) => `${a}/${n}`),
  fc.tuple(fc.constantFrom(...HOPS6), fc.integer({ min: 3, max: 128 })).map(([a, n]) => `${a}/${n}`),
  fc.constantFrom(...HOPS),
);
const EXPORT_FIXED = [
  'router ip 127.0.0.2', 'router ip 127.0.0.5', 'router host 127.0.0.3', 'not router ip 127.0.0.4', 'nfversion 5', 'nfversion 9', 'nfversion 10',
  'nfversion > 5', 'nfversion < 10', 'nfversion >= 9', 'observation domain id 7', 'observation domain id 4000000000', 'observation domain id 0',
  'in if 3', 'out if 70000', 'if 0', 'if 4294967295', 'in if 9 and out if 9', 'tos 184', 'tos > 40', 'src tos <= 32', 'tos 0',
  'next ip 10.0.0.1', 'next host 2001:db8::1', 'next ip in [ 10.0.0.0/8 fd00::/8 ]', 'next ip in [ 192.0.2.1, 198.51.100.7 ]', 'bgpnext ip 10.1.2.3',
  'bgpnext ip fd00::7', 'not bgpnext ip 192.0.2.1', 'ipv6 and next ip 10.1.2.3', 'ipv4 and next ip in [ 2001:db8::/32 ]',
  'proto tcp and in if 3 or router ip 127.0.0.3 and tos 0',
];
const EXPORT_PRIMITIVE = fc.oneof(
  fc.constantFrom('any', 'ipv4', 'ipv6', 'proto tcp', 'proto udp', 'port 53', 'dst port 443', 'host 8.8.8.8', 'src net 10.0.0.0/8'),
  fc.tuple(fc.constantFrom('ip', 'host'), fc.constantFrom(...ROUTERS)).map(([w, a]) => `router ${w} ${a}`),
  fc.tuple(CMP, fc.integer({ min: 0, max: 10 })).map(([c, n]) => `nfversion ${c}${n}`),
  fc.constantFrom(0, 1, 7, 4_000_000_000).map((n) => `observation domain id ${n}`),
  fc.tuple(fc.constantFrom('in if', 'out if', 'if'), fc.constantFrom(...INTERFACES, 5)).map(([k, n]) => `${k} ${n}`),
  fc.tuple(fc.constantFrom('tos', 'src tos'), CMP, fc.constantFrom(...TOS_VALUES, 100)).map(([k, c, n]) => `${k} ${c}${n}`),
  fc.tuple(fc.constantFrom('next ip', 'next host', 'bgpnext ip'), fc.constantFrom(...HOPS)).map(([k, a]) => `${k} ${a}`),
  // nfdump 1.7's list grammar drops a network that follows an address: networks first.
  fc.tuple(HOP_NET, fc.array(fc.constantFrom(...HOPS), { maxLength: 2 })).map(([n, as]) => `next ip in [ ${[n, ...as].join(' ')} ]`),
);
const { expr: EXPORT_EXPR } = fc.letrec<{ expr: string; not: string; and: string; or: string; group: string }>((tie) => ({
  expr: fc.oneof({ maxDepth: 4, depthSize: 'small' }, EXPORT_PRIMITIVE, tie('not'), tie('and'), tie('or'), tie('group')),
  not: tie('expr').map((e) => `not ${e}`),
  and: fc.tuple(tie('expr'), tie('expr')).map(([a, b]) => `${a} and ${b}`),
  or: fc.tuple(tie('expr'), tie('expr')).map(([a, b]) => `${a} or ${b}`),
  group: tie('expr').map((e) => `(${e})`),
}));

let oracle: NfdumpOracle | undefined;
let archive: FlowArchive | undefined;
let exportOracle: NfdumpExportOracle | undefined;
let exportArchive: FlowArchive | undefined;
before(async () => {
  if (skip) return;
  oracle = openNfdumpOracle();
  archive = await openFlowArchive(oracle.flows);
  exportOracle = await openNfdumpExportOracle();
  exportArchive = await openFlowArchive(exportOracle.flows);
});
after(() => {
  archive?.close();
  oracle?.close();
  exportArchive?.close();
  exportOracle?.close();
});

async function agreeOn(o: { ids(expr: string): string[] | null; readonly flows: readonly Flow[] }, a: FlowArchive, expr: string): Promise<void> {
  const expected = o.ids(expr);
  assert.ok(expected !== null, `nfdump accepts ${JSON.stringify(expr)}`);
  const filter = parseFilterExpression(expr);
  assert.deepEqual(await a.ids(filter), expected, `${JSON.stringify(expr)} → ${JSON.stringify(filter)}`);
  assert.deepEqual(referenceIds(filter, o.flows), expected, JSON.stringify(expr));
}
const agree = (expr: string) => agreeOn(oracle!, archive!, expr);
const agreeExport = (expr: string) => agreeOn(exportOracle!, exportArchive!, expr);

test('the oracle flow set: nfdump sees every packet train as one flow, and the expressions tell them apart', { skip }, () => {
  assert.equal(oracle!.flows.length, 64);
  for (const expr of FIXED.filter((e) => e !== 'any' && e !== 'not any')) {
    const n = oracle!.ids(expr)?.length ?? -1;
    assert.ok(n > 0 && n < 64, `${expr}: nfdump selects ${n} of 64`);
  }
});

test('fixed expressions: nfdump and flowseal select the same flows', { skip }, async () => {
  for (const expr of FIXED) await agree(expr);
});

test('random nfdump expressions: nfdump and flowseal select the same flows', { skip }, async () => {
  await fc.assert(fc.asyncProperty(EXPR, agree), { numRuns: 200 });
});

test('the export oracle: nfdump read every record with every field as sent, and the expressions tell them apart', { skip }, () => {
  const byId = (fs: readonly Flow[]) => [...fs].sort((a, b) => a.id.localeCompare(b.id));
  assert.deepEqual(byId(exportOracle!.flows), byId(exportOracle!.sent));
  const n = exportOracle!.flows.length;
  for (const expr of EXPORT_FIXED) {
    const k = exportOracle!.ids(expr)?.length ?? -1;
    assert.ok(k > 0 && k < n, `${expr}: nfdump selects ${k} of ${n}`);
  }
});

test('fixed router-export expressions: nfdump and flowseal select the same records', { skip }, async () => {
  for (const expr of EXPORT_FIXED) await agreeExport(expr);
});

test('random router-export expressions: nfdump and flowseal select the same records', { skip }, async () => {
  await fc.assert(fc.asyncProperty(EXPORT_EXPR, agreeExport), { numRuns: 200 });
});

test('nfdump 1.7.1 takes AS filters as syntax but will not evaluate them without a geo DB (why AS is not in the oracle)', { skip }, () => {
  for (const expr of ['as 0', 'src as 65001', 'dst as in [ 1 2 ]']) {
    assert.equal(spawnSync('nfdump', ['-Z', expr], { encoding: 'utf8' }).status, 0, expr);
    assert.equal(exportOracle!.ids(expr), null, `${expr}: nfdump now evaluates AS filters; add them to the export oracle`);
  }
});
