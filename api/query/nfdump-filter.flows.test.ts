// The filter language end to end: a table of nfdump-style expressions, each parsed, validated by
// the schema, compiled by compile-filter.ts and run by DuckDB over a real Parquet archive, must
// return exactly the flows a hand-written predicate over the plain JS flows selects (the
// predicates use filter-flows.test-util.ts's independent definitions of CIDRs, flags and the
// derived quantities, never the parser or the compiler). The reference evaluator of the
// structured filter must agree too, and so must nfdump 1.7 itself: every expression here that
// is nfdump syntax (not a flowseal extension) is accepted by `nfdump -Z`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { QueryFilter } from '../../schemas/query.ts';
import { skipUnlessTools } from '../../test/support/required-tools.ts';
import { parseFilterExpression } from './nfdump-filter.ts';
import {
  ALL_IDS, FLOWS, bpsOf, bppOf, bytesOf, durationOf, exportOf, flagsOf, inCidr, openFlowArchive, packetsOf, ppsOf, referenceIds,
  type Flow, type FlowArchive,
} from './filter-flows.test-util.ts';

type Pred = (f: Flow) => boolean;
const tcp = (f: Flow) => f.proto === 6;
const all = (f: Flow, m: number) => tcp(f) && (flagsOf(f) & m) === m;
const anyOf = (f: Flow, m: number) => tcp(f) && (flagsOf(f) & m) !== 0;
const host = (f: Flow, a: string) => f.src === a || f.dst === a;
const net = (f: Flow, c: string) => inCidr(f.src, c) || inCidr(f.dst, c);
const port = (f: Flow, p: number) => f.sport === p || f.dport === p;
const x = exportOf;
const inNet = (a: string | null, c: string) => a !== null && inCidr(a, c);

/** [expression, predicate, 'ext' when it uses flowseal's extensions (nfdump rejects it), 'trivial' when it may match all or none]. */
export const TABLE: readonly (readonly [string, Pred, ...('ext' | 'trivial')[]])[] = [
  ['any', () => true, 'trivial'],
  ['not any', () => false, 'trivial'],
  ['proto tcp', tcp],
  ['PROTO UDP', (f) => f.proto === 17],
  ['proto icmp', (f) => f.proto === 1],
  ['proto icmp6', (f) => f.proto === 58],
  ['proto 47', (f) => f.proto === 47],
  ['ipv4', (f) => f.v === 4],
  ['inet6', (f) => f.v === 6],
  ['host 10.0.0.1', (f) => host(f, '10.0.0.1')],
  ['src host 10.0.0.1', (f) => f.src === '10.0.0.1'],
  ['dst ip 8.8.8.8', (f) => f.dst === '8.8.8.8'],
  ['src and dst host fe80::1', (f) => f.src === 'fe80::1' && f.dst === 'fe80::1'],
  ['src or dst ip 2001:db8::2', (f) => host(f, '2001:db8::2')],
  ['host 2001:DB8::1', (f) => host(f, '2001:db8::1')],
  ['net 10.0.0.0/8', (f) => net(f, '10.0.0.0/8')],
  ['src net 192.168.1.0/24', (f) => inCidr(f.src, '192.168.1.0/24')],
  ['dst net 10.0.0.0 255.0.0.0', (f) => inCidr(f.dst, '10.0.0.0/8')],
  ['src net 10.1.2.3/16', (f) => inCidr(f.src, '10.1.0.0/16')],
  ['net 2001:db8::/32', (f) => net(f, '2001:db8::/32')],
  ['dst net 2001:db8:1::/48', (f) => inCidr(f.dst, '2001:db8:1::/48')],
  ['net 0.0.0.0/0', (f) => f.v === 4],
  ['ip in [ 10.0.0.1 192.168.1.0/24 2001:db8::/32 ]', (f) => host(f, '10.0.0.1') || net(f, '192.168.1.0/24') || net(f, '2001:db8::/32')],
  // nfdump 1.7's list grammar takes a network after a comma only as the first element.
  ['ip in [ 10.0.0.1, 192.168.1.0/24 ]', (f) => host(f, '10.0.0.1') || net(f, '192.168.1.0/24'), 'ext'],
  ['src ip in [8.8.8.8 ::1]', (f) => f.src === '8.8.8.8' || f.src === '::1'],
  ['port 443', (f) => port(f, 443)],
  ['dst port 22', (f) => f.dport === 22],
  ['src port > 1024', (f) => f.sport > 1024],
  ['dst port < 1024', (f) => f.dport < 1024],
  ['port >= 65535', (f) => f.sport >= 65535 || f.dport >= 65535],
  ['dst port <= 0', (f) => f.dport <= 0],
  ['src port == 53000', (f) => f.sport === 53000],
  ['dst port gt 40000', (f) => f.dport > 40000],
  ['port in [ 80 443, 8080 ]', (f) => [80, 443, 8080].some((p) => port(f, p))],
  ['dst port in [22,53]', (f) => f.dport === 22 || f.dport === 53],
  ['src and dst port > 1000', (f) => f.sport > 1000 && f.dport > 1000],
  ['port > 65535', () => false, 'trivial'],
  ['flags S', (f) => all(f, 2)],
  ['flags SA', (f) => all(f, 18)],
  ['flags X', (f) => all(f, 63)],
  // nfdump evaluates a negated flags test as "none of the flags" (or not TCP).
  ['not flags SA', (f) => !anyOf(f, 18)],
  ['flags S and not flags AFRPU', (f) => all(f, 2) && !anyOf(f, 61)],
  ['not (flags S and flags A)', (f) => !all(f, 18)],
  ['not not flags RA', (f) => all(f, 20)],
  ['flags EC', (f) => all(f, 192), 'ext'],
  ['flags sa', (f) => all(f, 18), 'ext'],
  ['bytes > 1000', (f) => bytesOf(f) > 1000],
  ['bytes 1001', (f) => bytesOf(f) === 1001],
  ['bytes >= 1k', (f) => bytesOf(f) >= 1000],
  ['bytes > 1m', (f) => bytesOf(f) > 1e6],
  ['bytes > 1G', (f) => bytesOf(f) > 1e9],
  ['bytes < 1K', (f) => bytesOf(f) < 1000],
  ['packets >= 1001', (f) => packetsOf(f) >= 1001],
  ['packets < 1', (f) => packetsOf(f) < 1],
  ['packets > 0x10', (f) => packetsOf(f) > 16],
  ['duration > 999', (f) => durationOf(f) > 999],
  ['duration 0', (f) => durationOf(f) === 0],
  ['duration <= 500', (f) => durationOf(f) <= 500],
  ['bps > 1m', (f) => bpsOf(f) > 1e6],
  ['bps 0', (f) => bpsOf(f) === 0],
  ['bps < 1.5k', (f) => bpsOf(f) < 1500, 'ext'],
  ['pps >= 1k', (f) => ppsOf(f) >= 1000],
  ['pps lt 2', (f) => ppsOf(f) < 2],
  ['bpp > 1000', (f) => bppOf(f) > 1000],
  ['bpp 0', (f) => bppOf(f) === 0],
  ['bpp >= 60 and bpp <= 100', (f) => bppOf(f) >= 60 && bppOf(f) <= 100],
  ['vlan 10', (f) => f.vlan === 10],
  ['not vlan 10', (f) => f.vlan !== 10],
  ['vlan >= 20', (f) => f.vlan !== null && f.vlan >= 20, 'ext'],
  ['endreason fin', (f) => f.reason === 'fin', 'ext'],
  ['endreason in [ rst eof ]', (f) => f.reason === 'rst' || f.reason === 'eof', 'ext'],
  ['proto udp or proto tcp and dst port 22', (f) => f.proto === 17 || (tcp(f) && f.dport === 22)],
  ['(proto udp or proto tcp) and dst port 22', (f) => (f.proto === 17 || tcp(f)) && f.dport === 22],
  ['not proto tcp and ipv4', (f) => !tcp(f) && f.v === 4],
  ['not (proto tcp and ipv4)', (f) => !(tcp(f) && f.v === 4)],
  ['! proto tcp || port 53 && vlan 10', (f) => !tcp(f) || (port(f, 53) && f.vlan === 10)],
  ['proto tcp && (dst port 80 || dst port 443) && !src net 10.0.0.0/8', (f) => tcp(f) && (f.dport === 80 || f.dport === 443) && !inCidr(f.src, '10.0.0.0/8')],
  ['ipv6 and not net 2001:db8::/32 or ipv4 and bytes < 100', (f) => (f.v === 6 && !net(f, '2001:db8::/32')) || (f.v === 4 && bytesOf(f) < 100)],
  ['not (not (port 22 or port 53) and not ipv6)', (f) => !(!(port(f, 22) || port(f, 53)) && f.v !== 6)],
  ['src port 80 or src port 443 or src port 0 or proto 47', (f) => [80, 443, 0].includes(f.sport) || f.proto === 47],
  ['# a comment line\nproto tcp # and a trailing one\n and dst port 443', (f) => tcp(f) && f.dport === 443],
  ['Proto TCP AND Dst Port 443', (f) => tcp(f) && f.dport === 443],
  ['(((((host 8.8.8.8)))))', (f) => host(f, '8.8.8.8')],
  // Router export: a row without the value (packet rows, older files) matches none of them.
  ['src as 65001', (f) => x(f).srcAs === 65_001],
  ['as 13335', (f) => x(f).srcAs === 13_335 || x(f).dstAs === 13_335],
  ['dst as > 65535', (f) => (x(f).dstAs ?? -1) > 65_535],
  ['src and dst as 64512', (f) => x(f).srcAs === 64_512 && x(f).dstAs === 64_512],
  ['as in [ 64512, 65001 ]', (f) => [64_512, 65_001].some((a) => x(f).srcAs === a || x(f).dstAs === a)],
  ['not as 0', (f) => x(f).srcAs !== 0 && x(f).dstAs !== 0],
  ['in if 3', (f) => x(f).inIf === 3],
  ['out if 70000', (f) => x(f).outIf === 70_000],
  ['if 0', (f) => x(f).inIf === 0 || x(f).outIf === 0],
  ['in if > 2', (f) => (x(f).inIf ?? -1) > 2, 'ext'],
  ['tos 184', (f) => x(f).tos === 184],
  ['src tos >= 40', (f) => (x(f).tos ?? -1) >= 40],
  ['next ip 10.0.0.1', (f) => x(f).nextHop === '10.0.0.1'],
  ['next host 2001:db8::1', (f) => x(f).nextHop === '2001:db8::1'],
  ['next ip in [ 10.0.0.0/8 2001:db8::/32 ]', (f) => inNet(x(f).nextHop, '10.0.0.0/8') || inNet(x(f).nextHop, '2001:db8::/32')],
  ['next net 0.0.0.0/0', (f) => inNet(x(f).nextHop, '0.0.0.0/0'), 'ext'],
  // An IPv6 range never takes an IPv4 next hop, whatever the flow's own family.
  ['next net ::/0', (f) => x(f).nextHop?.includes(':') === true, 'ext'],
  ['bgpnext ip 192.168.1.200', (f) => x(f).bgpNextHop === '192.168.1.200'],
  ['bgpnext ip in [ fe80::/10 ]', (f) => inNet(x(f).bgpNextHop, 'fe80::/10'), 'ext'],
  ['router ip 192.0.2.1', (f) => x(f).exporter === '192.0.2.1'],
  ['router ip 2001:db8:e::1', (f) => x(f).exporter === '2001:db8:e::1'],
  ['router net 192.0.2.0/24', (f) => inNet(x(f).exporter, '192.0.2.0/24'), 'ext'],
  ['observation domain id 258', (f) => x(f).domain === 258],
  ['observation domain id > 7', (f) => (x(f).domain ?? -1) > 7, 'ext'],
  ['nfversion 5', (f) => x(f).source === 'netflow5'],
  ['nfversion > 5', (f) => ['netflow9', 'ipfix', 'packets'].includes(x(f).source ?? '')],
  ['nfversion > 10', (f) => x(f).source === 'packets'],
  ['recordsource packets', (f) => x(f).source === 'packets', 'ext'],
  ['recordsource in [ netflow9 ipfix ]', (f) => x(f).source === 'netflow9' || x(f).source === 'ipfix', 'ext'],
  ['not recordsource packets', (f) => x(f).source !== 'packets', 'ext'],
  ['proto tcp and as 13335 and in if 3 or router ip 192.0.2.2', (f) => (tcp(f) && (x(f).srcAs === 13_335 || x(f).dstAs === 13_335) && x(f).inIf === 3) || x(f).exporter === '192.0.2.2'],
];

let archive: FlowArchive;
before(async () => {
  archive = await openFlowArchive();
});
after(() => archive.close());

test('the table covers every construct at least 40 times over, and the flows tell each expression apart', () => {
  assert.ok(TABLE.length >= 40);
  for (const [expr, pred, ...tags] of TABLE) {
    const n = FLOWS.filter(pred).length;
    if (!tags.includes('trivial')) assert.ok(n > 0 && n < FLOWS.length, `${JSON.stringify(expr)} selects ${n} of ${FLOWS.length} flows`);
  }
});

for (const [expr, pred] of TABLE) {
  test(`flows matching ${JSON.stringify(expr)}: DuckDB over Parquet = hand predicate = reference evaluator`, async () => {
    const filter = parseFilterExpression(expr);
    const valid = QueryFilter.safeParse(filter);
    assert.ok(valid.success, `parsed filter is schema-valid: ${JSON.stringify(filter)} ${JSON.stringify(valid.error?.issues)}`);
    const expected = FLOWS.filter(pred).map((f) => f.id).sort();
    assert.deepEqual(await archive.ids(filter), expected, JSON.stringify(filter));
    assert.deepEqual(referenceIds(filter), expected);
  });
}

test('every expression of the table that is nfdump syntax is accepted by nfdump 1.7 (`nfdump -Z`)', { skip: skipUnlessTools('nfdump') }, () => {
  for (const [expr, , ...tags] of TABLE) {
    const r = spawnSync('nfdump', ['-Z', expr], { encoding: 'utf8', timeout: 20_000 });
    if (tags.includes('ext')) assert.notEqual(r.status, 0, `nfdump rejects the flowseal extension ${JSON.stringify(expr)}`);
    else assert.equal(r.status, 0, `nfdump accepts ${JSON.stringify(expr)}: ${r.stderr}`);
  }
});

test('the archive holds the flow set (ids line up)', async () => {
  assert.deepEqual(await archive.ids({}), ALL_IDS);
});
