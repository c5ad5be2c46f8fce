/**
 * Hostile-input tests for the flow-export decoders: mutated, truncated and random datagrams
 * and template floods must never throw, never read outside the datagram, and never grow the
 * store past its limits.
 *
 * Reads outside the datagram are caught two ways: each datagram is decoded from an ArrayBuffer
 * of exactly its length (a DataView read past the end throws RangeError, failing "never
 * throws"), and again from inside a larger buffer between random filler bytes, where the
 * flows and counters must come out identical (a read outside [offset, end) would see the filler).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { Ie } from './elements.ts';
import { decodeExportDatagram } from './export-datagram.ts';
import { TemplateStore } from './template-store.ts';
import {
  copyFlow, dataSet, exporterV4, ipfixMessage, ipfixOptionsTemplateSet, ipfixTemplateSet, ipfixWithdrawal, readExportPcap, record,
  v5Packet, v9OptionsTemplateSet, v9Packet, v9TemplateSet, type Field, type FlowCopy,
} from './export-builders.test-util.ts';

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'netflow');
const fixtureDatagrams = ['v5.pcap', 'v9.pcap', 'ipfix.pcap', 'ipfix-bidir.pcap', 'v9-sampled.pcap', 'ipfix-sampled.pcap']
  .map((n) => readExportPcap(readFileSync(join(FIXTURES, n))).map((d) => d.payload));

const F: Field[] = [[Ie.sourceIPv4Address, 4], [Ie.destinationIPv6Address, 16], [82, 65535], [Ie.packetDeltaCount, 8], [1, 4, 29305], [5, 2, 1234], [Ie.flowStartSysUpTime, 4]];
const R = record([4, 1], [16, new Uint8Array(16)], [-1, Uint8Array.of(1, 2, 3)], [8, 9], [4, 7], [2, 0], [4, 5]);
const built: Uint8Array[][] = [
  [ipfixMessage({}, [ipfixTemplateSet([{ id: 256, fields: F }]), ipfixOptionsTemplateSet([{ id: 257, scopeCount: 1, fields: [[302, 4], [305, 4], [306, 4]] }]), dataSet(257, [record([4, 1], [4, 1], [4, 3])]), dataSet(256, [R, R], 1), ipfixWithdrawal([256])])],
  [v9Packet({}, [v9TemplateSet([{ id: 256, fields: F.filter((f) => f[1] !== 65535 && !f[2]) }]), v9OptionsTemplateSet(258, [[1, 4]], [[34, 4]]), dataSet(258, [record([4, 0], [4, 5])], 3)])],
  [v5Packet({}, [{ src: 1, dst: 2, packets: 3, octets: 4, first: 5, last: 6, protocol: 1 }])],
];
const seeds: Uint8Array[][] = [...fixtureDatagrams, ...built];

const LIMITS = { maxDomains: 8, maxTemplatesPerDomain: 16, maxFieldsPerTemplate: 64, maxSamplersPerDomain: 4, maxPendingSets: 8, maxPendingBytes: 4096 };

/** Decodes a datagram sequence from exact-length buffers; returns flows and counters. */
function run(datagrams: Uint8Array[], embed: ((d: Uint8Array) => Uint8Array) | null): { flows: FlowCopy[]; counters: object; store: TemplateStore } {
  const store = new TemplateStore(LIMITS);
  const flows: FlowCopy[] = [];
  let t = 1_700_000_000_000_000;
  for (const d of datagrams) {
    const bytes = embed ? embed(d) : new Uint8Array(d);
    decodeExportDatagram(bytes, exporterV4(127, 0, 0, 1), (t += 1_000_000), store, (f) => flows.push(copyFlow(f)));
  }
  return { flows, counters: { ...store.counters }, store };
}

function inFiller(d: Uint8Array, fill: number): Uint8Array {
  const big = new Uint8Array(d.length + 64).fill(fill);
  big.set(d, 32);
  return big.subarray(32, 32 + d.length);
}

function checkBounded(store: TemplateStore): void {
  assert.ok([...store.domains()].length <= LIMITS.maxDomains);
  for (const d of store.domains()) {
    assert.ok(d.templates.size <= LIMITS.maxTemplatesPerDomain);
    assert.ok(d.samplers.size <= LIMITS.maxSamplersPerDomain);
  }
  const p = store.pendingSize();
  assert.ok(p.sets <= LIMITS.maxPendingSets && p.bytes <= LIMITS.maxPendingBytes);
}

function same(datagrams: Uint8Array[]): void {
  const exact = run(datagrams, null);
  checkBounded(exact.store);
  for (const fill of [0x00, 0xff]) {
    const embedded = run(datagrams, (d) => inFiller(d, fill));
    assert.deepEqual(embedded.flows, exact.flows);
    assert.deepEqual(embedded.counters, exact.counters);
  }
}

test('truncations of every seed datagram decode without throwing or reading past their end', () => {
  for (const seq of seeds) {
    for (let i = 0; i < seq.length; i++) {
      // Every cut through the headers and first sets, then every 5th byte (keeps the run short).
      for (let cut = 0; cut < seq[i].length; cut += cut < 160 ? 1 : 5) same([...seq.slice(0, i), seq[i].subarray(0, cut), ...seq.slice(i + 1)]);
    }
  }
});

test('mutated seed datagrams (bytes, lengths, counts, ids) never throw and stay bounded', () => {
  fc.assert(fc.property(
    fc.nat(seeds.length - 1),
    fc.array(fc.tuple(fc.nat(), fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 0xff, 0x80, 0x7f))), { minLength: 1, maxLength: 12 }),
    (si, muts) => {
      const seq = seeds[si].map((d) => d.slice());
      for (const [pos, val] of muts) {
        const d = seq[pos % seq.length];
        if (d.length > 0) d[(pos >>> 3) % d.length] = val;
      }
      same(seq);
    },
  ), { numRuns: 400 });
});

test('random bytes behind each version number never throw', () => {
  fc.assert(fc.property(fc.constantFrom(5, 9, 10, 1, 0), fc.uint8Array({ maxLength: 300 }), (version, body) => {
    const d = new Uint8Array(body.length + 2);
    d[1] = version;
    d.set(body, 2);
    same([d, d]);
  }), { numRuns: 400 });
});

test('template floods, huge field counts, zero-length fields and many domains stay within the caps', () => {
  fc.assert(fc.property(
    fc.array(fc.record({ id: fc.integer({ min: 256, max: 65535 }), fields: fc.array(fc.tuple(fc.integer({ min: 0, max: 0x7fff }), fc.constantFrom(0, 1, 2, 4, 8, 16, 65535)), { minLength: 1, maxLength: 80 }) }), { minLength: 1, maxLength: 40 }),
    fc.integer({ min: 0, max: 20 }),
    (templates, domains) => {
      const seq: Uint8Array[] = [];
      for (let dom = 0; dom <= domains; dom++) {
        seq.push(ipfixMessage({ domain: dom }, [ipfixTemplateSet(templates.map((t) => ({ id: t.id, fields: t.fields.map(([a, b]) => [a, b] as const) })))]));
        seq.push(v9Packet({ sourceId: dom }, [v9TemplateSet(templates.map((t) => ({ id: t.id, fields: t.fields.map(([a, b]) => [a, b] as const) })))]));
        for (const t of templates.slice(0, 4)) seq.push(ipfixMessage({ domain: dom }, [dataSet(t.id, [new Uint8Array(64)]), dataSet(t.id ^ 1, [new Uint8Array(600)])]));
      }
      same(seq);
    },
  ), { numRuns: 60 });
});
