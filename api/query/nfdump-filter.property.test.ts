// Round-trip properties of the filter language (fast-check):
// 1. any structured filter → formatFilterExpression → parseFilterExpression matches the same
//    flows (reference evaluator), and the parsed filter compiled by compile-filter.ts and run by
//    DuckDB over the Parquet archive returns exactly those flows;
// 2. any expression → parse → format → parse gives the same structure (the normal form is a
//    fixed point), and DuckDB agrees with the reference evaluator on it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { QueryFilter } from '../../schemas/query.ts';
import { AppError } from '../../schemas/errors.ts';
import type { QueryFilterInput } from '../../schemas/query.ts';
import { formatFilterExpression, parseFilterExpression } from './nfdump-filter.ts';
import { openFlowArchive, referenceIds, type FlowArchive } from './filter-flows.test-util.ts';

const V4 = ['10.0.0.1', '10.0.0.2', '10.1.2.3', '192.168.1.10', '172.16.5.4', '8.8.8.8', '1.2.3.4', '0.0.0.0'];
const V6 = ['2001:db8::1', '2001:db8:1::5', '2001:db8:ffff::1', 'fe80::1', '::1', '2606:4700::1111', '::'];
const PORT = fc.oneof(fc.constantFrom(0, 22, 53, 80, 443, 1023, 1024, 8080, 40000, 53000, 65535), fc.integer({ min: 0, max: 65_535 }));
const CIDR = fc.oneof(
  fc.tuple(fc.constantFrom(...V4), fc.integer({ min: 0, max: 32 })).map(([a, n]) => `${a}/${n}`),
  fc.tuple(fc.constantFrom(...V6), fc.integer({ min: 0, max: 128 })).map(([a, n]) => `${a}/${n}`),
  fc.constantFrom(...V4.slice(0, -1), ...V6.slice(0, -1)),
);
const COUNT = fc.constantFrom(0, 1, 3, 60, 999, 1000, 1001, 1500, 1_000_000, 1_000_000_001);
const U32 = fc.oneof(fc.constantFrom(0, 1, 2, 3, 9, 13_335, 64_512, 65_001, 65_535, 70_000, 4_200_000_000, 0xffff_ffff), fc.nat({ max: 0xffff_ffff }));
const TOS = fc.constantFrom(0, 32, 40, 184, 255);
const SOURCES = ['packets', 'netflow5', 'netflow9', 'ipfix'] as const;
const NETS = fc.oneof(CIDR, fc.array(CIDR, { minLength: 1, maxLength: 3 }));
const REAL = fc.constantFrom(0, 0.5, 1, 2, 60, 99.5, 100, 999, 1000, 1234.5, 1e6, 2.5e6, 8e6, 1e9);

function range(values: fc.Arbitrary<number>): fc.Arbitrary<{ min: number; max: number }> {
  return fc.tuple(values, values).map(([a, b]) => ({ min: Math.min(a, b), max: Math.max(a, b) }));
}
function intMatcher(values: fc.Arbitrary<number>) {
  return fc.oneof(values, fc.array(values, { minLength: 1, maxLength: 4 }), range(values));
}
const bounds = (values: fc.Arbitrary<number>, keys: readonly string[]) =>
  fc.record(Object.fromEntries(keys.map((k) => [k, values])), { requiredKeys: [] }).filter((c) => !('min' in c && 'max' in c && c.min! > c.max!));

/** One key of a structured filter, any value form the schema takes. */
const LEAF: fc.Arbitrary<QueryFilterInput> = fc.oneof(
  fc.oneof(fc.constantFrom(1, 6, 17, 47, 58, 'tcp', 'udp', 'icmp6'), fc.array(fc.constantFrom(1, 6, 17, 47, 58), { minLength: 1, maxLength: 3 }), range(fc.constantFrom(0, 1, 6, 17, 47, 58, 255))).map((protocol) => ({ protocol }) as QueryFilterInput),
  fc.constantFrom(4 as const, 6 as const).map((ipVersion) => ({ ipVersion })),
  intMatcher(PORT).map((srcPort) => ({ srcPort })),
  intMatcher(PORT).map((dstPort) => ({ dstPort })),
  intMatcher(PORT).map((port) => ({ port })),
  fc.oneof(CIDR, fc.array(CIDR, { minLength: 1, maxLength: 3 })).map((srcNet) => ({ srcNet })),
  fc.oneof(CIDR, fc.array(CIDR, { minLength: 1, maxLength: 3 })).map((dstNet) => ({ dstNet })),
  fc.oneof(CIDR, fc.array(CIDR, { minLength: 1, maxLength: 3 })).map((net) => ({ net })),
  intMatcher(fc.constantFrom(0, 10, 20, 100, 4095)).map((vlanId) => ({ vlanId })),
  bounds(COUNT, ['min', 'max']).map((bytes) => ({ bytes })),
  bounds(COUNT, ['min', 'max']).map((packets) => ({ packets })),
  fc.oneof(fc.constantFrom('fin', 'rst', 'idle'), fc.array(fc.constantFrom('fin', 'rst', 'idle', 'eof', 'active'), { minLength: 1, maxLength: 3 })).map((endReason) => ({ endReason }) as QueryFilterInput),
  fc.oneof(
    fc.constantFrom(1, 2, 4, 16, 18, 20, 24, 63, 64, 192, 255),
    fc.constantFrom('S', 'SA', 'ra', 'FPU', 'EC'),
    fc.record({ all: fc.constantFrom(2, 18, 16), any: fc.constantFrom(4, 1, 192, 5) }, { requiredKeys: [] }),
  ).map((tcpFlags) => ({ tcpFlags })),
  ...(['duration', 'bps', 'pps', 'bpp'] as const).map((key) => bounds(REAL, ['min', 'max', 'gt', 'lt']).map((c) => ({ [key]: c }) as QueryFilterInput)),
  fc.oneof(fc.constantFrom(...SOURCES), fc.array(fc.constantFrom(...SOURCES), { minLength: 1, maxLength: 3 })).map((recordSource) => ({ recordSource }) as QueryFilterInput),
  ...(['exporterNet', 'nextHopNet', 'bgpNextHopNet'] as const).map((key) => NETS.map((m) => ({ [key]: m }) as QueryFilterInput)),
  ...(['srcAs', 'dstAs', 'as', 'inputInterface', 'outputInterface', 'interface', 'observationDomain'] as const).map((key) => intMatcher(U32).map((m) => ({ [key]: m }) as QueryFilterInput)),
  intMatcher(TOS).map((tos) => ({ tos })),
);

const { filter: FILTER } = fc.letrec<{ filter: QueryFilterInput; object: QueryFilterInput; and: QueryFilterInput; or: QueryFilterInput; not: QueryFilterInput }>((tie) => ({
  filter: fc.oneof({ maxDepth: 4, depthSize: 'small' }, tie('object'), tie('and'), tie('or'), tie('not')),
  object: fc.array(LEAF, { minLength: 1, maxLength: 3 }).map((parts) => Object.assign({}, ...parts) as QueryFilterInput),
  and: fc.array(tie('filter'), { minLength: 1, maxLength: 3 }).map((and) => ({ and })),
  or: fc.array(tie('filter'), { minLength: 1, maxLength: 3 }).map((or) => ({ or })),
  not: tie('filter').map((not) => ({ not })),
}));

// ---- random text in the language ----
const DIR = fc.constantFrom('', 'src ', 'dst ', 'src or dst ', 'dst or src ', 'src and dst ', 'dst and src ');
const CMP = fc.constantFrom('', '= ', '== ', '> ', '< ', '>= ', '<= ', 'gt ', 'lt ', 'eq ', 'ge ', 'le ');
const MASKS = ['0.0.0.0', '255.0.0.0', '255.255.0.0', '255.255.255.0', '255.255.255.128', '255.255.255.255'];
const PRIMITIVE = fc.oneof(
  fc.constantFrom('any', 'ipv4', 'ipv6', 'inet', 'INET6'),
  fc.constantFrom('tcp', 'udp', 'icmp', 'icmp6', '47', 'TCP', '0x11').map((p) => `proto ${p}`),
  fc.tuple(DIR, fc.constantFrom('host', 'ip'), fc.constantFrom(...V4.slice(0, -1), ...V6.slice(0, -1))).map(([d, k, a]) => `${d}${k} ${a}`),
  fc.tuple(DIR, CIDR.filter((c) => c.includes('/'))).map(([d, c]) => `${d}net ${c}`),
  fc.tuple(DIR, fc.constantFrom(...V4), fc.constantFrom(...MASKS)).map(([d, a, m]) => `${d}net ${a} ${m}`),
  fc.tuple(DIR, CMP, PORT).map(([d, c, p]) => `${d}port ${c}${p}`),
  fc.tuple(DIR, fc.array(PORT, { minLength: 1, maxLength: 4 }), fc.constantFrom(' ', ', ', ',')).map(([d, ps, sep]) => `${d}port in [ ${ps.join(sep)} ]`),
  fc.tuple(DIR, fc.array(CIDR, { minLength: 1, maxLength: 3 })).map(([d, cs]) => `${d}ip in [ ${cs.join(' ')} ]`),
  fc.subarray(['F', 'S', 'R', 'P', 'A', 'U', 'E', 'C', 'X'], { minLength: 1 }).map((ls) => `flags ${ls.join('')}`),
  fc.tuple(fc.constantFrom('bytes', 'packets'), CMP, fc.constantFrom('0', '1', '60', '1000', '1001', '1k', '1M', '0x10', '1g')).map(([k, c, v]) => `${k} ${c}${v}`),
  fc.tuple(fc.constantFrom('duration', 'bps', 'pps', 'bpp'), CMP, fc.constantFrom('0', '1', '1.5', '60', '100', '999', '1k', '2.5k', '1m', '8m')).map(([k, c, v]) => `${k} ${c}${v}`),
  fc.tuple(CMP, fc.constantFrom('0', '10', '20', '4095')).map(([c, v]) => `vlan ${c}${v}`),
  fc.oneof(fc.constantFrom('fin', 'rst', 'eof').map((r) => `endreason ${r}`), fc.constantFrom('endreason in [ fin rst ]', 'endreason in [idle]')),
  fc.tuple(DIR, CMP, U32).map(([d, c, n]) => `${d}as ${c}${n}`),
  fc.tuple(DIR, fc.array(U32, { minLength: 1, maxLength: 4 }), fc.constantFrom(' ', ', ')).map(([d, ns, sep]) => `${d}as in [ ${ns.join(sep)} ]`),
  fc.tuple(fc.constantFrom('in if', 'out if', 'if', 'IN IF'), CMP, U32).map(([k, c, n]) => `${k} ${c}${n}`),
  fc.tuple(fc.constantFrom('tos', 'src tos'), CMP, TOS).map(([k, c, n]) => `${k} ${c}${n}`),
  fc.tuple(CMP, U32).map(([c, n]) => `observation domain id ${c}${n}`),
  fc.tuple(fc.constantFrom('next', 'bgpnext', 'router'), fc.constantFrom('ip', 'host'), fc.constantFrom(...V4.slice(0, -1), ...V6.slice(0, -1))).map(([k, w, a]) => `${k} ${w} ${a}`),
  fc.tuple(fc.constantFrom('next', 'bgpnext', 'router'), fc.array(CIDR, { minLength: 1, maxLength: 3 })).map(([k, cs]) => `${k} ip in [ ${cs.join(' ')} ]`),
  fc.tuple(fc.constantFrom('next', 'bgpnext', 'router'), CIDR.filter((c) => c.includes('/'))).map(([k, c]) => `${k} net ${c}`),
  fc.tuple(CMP, fc.integer({ min: 0, max: 10 })).map(([c, n]) => `nfversion ${c}${n}`),
  fc.oneof(fc.constantFrom(...SOURCES).map((r) => `recordsource ${r}`), fc.subarray([...SOURCES], { minLength: 1 }).map((rs) => `recordsource in [ ${rs.join(', ')} ]`)),
);
const { expr: EXPR } = fc.letrec<{ expr: string; not: string; and: string; or: string; group: string }>((tie) => ({
  expr: fc.oneof({ maxDepth: 5, depthSize: 'small' }, PRIMITIVE, tie('not'), tie('and'), tie('or'), tie('group')),
  not: fc.tuple(fc.constantFrom('not ', '! ', 'NOT '), tie('expr')).map(([n, e]) => `${n}${e}`),
  and: fc.tuple(tie('expr'), fc.constantFrom(' and ', ' && ', ' AND '), tie('expr')).map(([a, op, b]) => `${a}${op}${b}`),
  or: fc.tuple(tie('expr'), fc.constantFrom(' or ', ' || '), tie('expr')).map(([a, op, b]) => `${a}${op}${b}`),
  group: tie('expr').map((e) => `(${e})`),
}));

let archive: FlowArchive;
before(async () => {
  archive = await openFlowArchive();
});
after(() => archive.close());

test('structured → text → structured matches the same flows (reference evaluator and DuckDB over Parquet)', async () => {
  await fc.assert(
    fc.asyncProperty(FILTER, async (f) => {
      assert.equal(QueryFilter.safeParse(f).success, true, 'the arbitrary draws valid filters');
      const text = formatFilterExpression(f);
      const back = parseFilterExpression(text);
      assert.equal(QueryFilter.safeParse(back).success, true, text);
      const want = referenceIds(f);
      assert.deepEqual(referenceIds(back), want, text);
      assert.deepEqual(await archive.ids(back), want, text);
    }),
    { numRuns: 300 },
  );
});

test('text → structured → text → structured is stable (the normal form is a fixed point), and DuckDB agrees with the reference', async () => {
  await fc.assert(
    fc.asyncProperty(EXPR, async (text) => {
      const first = parseFilterExpression(text);
      assert.equal(QueryFilter.safeParse(first).success, true, text);
      const printed = formatFilterExpression(first);
      assert.deepStrictEqual(parseFilterExpression(printed), first, `${text}\n→ ${printed}`);
      assert.equal(formatFilterExpression(parseFilterExpression(printed)), printed);
      assert.deepEqual(await archive.ids(first), referenceIds(first), text);
    }),
    { numRuns: 300 },
  );
});

const SOUP = fc.array(
  fc.oneof(
    fc.constantFrom('(', ')', '[', ']', ',', '/', '!', '&&', '||', '=', '>=', '<', 'and', 'or', 'not', 'src', 'dst', 'in', 'any', 'proto', 'port', 'host', 'net', 'flags', 'bytes', 'bps', 'vlan', 'endreason', 'X', 'SA', 'tcp', '#', '\n', '$', '"'),
    fc.constantFrom('as', 'out', 'if', 'tos', 'next', 'bgpnext', 'router', 'ip', 'observation', 'domain', 'id', 'nfversion', 'recordsource', 'ipfix', 'packets', '4294967295', '4294967296'),
    PRIMITIVE,
    fc.constantFrom('10.0.0.1', '2001:db8::1', '255.255.0.0', '24', '0x1f', '1k', '1.5', '99999999999999999999', '-1', 'constructor', '__proto__'),
  ),
  { maxLength: 12 },
).map((parts) => parts.join(' '));

test('any token soup either parses into a schema-valid filter or fails with a filter error that echoes no address', () => {
  fc.assert(
    fc.property(SOUP, (text) => {
      try {
        const f = parseFilterExpression(text);
        assert.equal(QueryFilter.safeParse(f).success, true, text);
        assert.deepStrictEqual(parseFilterExpression(formatFilterExpression(f)), f, text);
      } catch (e) {
        assert.ok(e instanceof AppError, `${text}: ${String(e)}`);
        assert.ok(e.code === 'ERR_QUERY_FILTER_SYNTAX' || e.code === 'ERR_QUERY_FILTER_INVALID', `${text}: ${e.code}`);
        for (const raw of ['10.0.0.1', '2001:db8', '255.255']) assert.ok(!e.message.includes(raw) && !JSON.stringify(e.details ?? {}).includes(raw), e.message);
      }
    }),
    { numRuns: 3000 },
  );
});
