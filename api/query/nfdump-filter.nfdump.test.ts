// nfdump 1.7 as the oracle for what an expression means: a synthetic capture becomes an nfcapd
// file (nfpcapd), an archive is built from nfdump's own view of those flows, and for fixed and
// random nfdump-syntax expressions the flows nfdump selects must be exactly the flows DuckDB
// returns for flowseal's parse of the same text (compiled by compile-filter.ts), and those the
// reference evaluator selects. Left out by design: VLANs (nfdump records an untagged flow as
// VLAN 0, flowseal as no VLAN, NULL) and IPv6 prefixes shorter than 3 bits (see NET below).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { skipUnlessTools } from '../../test/support/required-tools.ts';
import { parseFilterExpression } from './nfdump-filter.ts';
import { openFlowArchive, referenceIds, type FlowArchive } from './filter-flows.test-util.ts';
import { openNfdumpOracle, type NfdumpOracle } from './nfdump-oracle.test-util.ts';

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

let oracle: NfdumpOracle | undefined;
let archive: FlowArchive | undefined;
before(async () => {
  if (skip) return;
  oracle = openNfdumpOracle();
  archive = await openFlowArchive(oracle.flows);
});
after(() => {
  archive?.close();
  oracle?.close();
});

async function agree(expr: string): Promise<void> {
  const expected = oracle!.ids(expr);
  assert.ok(expected !== null, `nfdump accepts ${JSON.stringify(expr)}`);
  const filter = parseFilterExpression(expr);
  assert.deepEqual(await archive!.ids(filter), expected, `${JSON.stringify(expr)} → ${JSON.stringify(filter)}`);
  assert.deepEqual(referenceIds(filter, oracle!.flows), expected, JSON.stringify(expr));
}

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
