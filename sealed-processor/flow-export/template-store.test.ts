import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Ie } from './elements.ts';
import { TemplateStore } from './template-store.ts';
import { dataSet, decodeAll, exporterV4, ipfixMessage, ipfixOptionsTemplateSet, ipfixTemplateSet, ipfixWithdrawal, record, type Field } from './export-builders.test-util.ts';

const FIELDS: Field[] = [[Ie.sourceIPv4Address, 4], [Ie.packetDeltaCount, 4], [82, 65535], [7, 2, 29305], [1000, 2, 9]];
const rec = (src: number) => record([4, src], [4, 1], [-1, Uint8Array.of(65, 66)], [2, 0], [2, 0]);

test('caps: templates per domain, domains, fields per template, held sets and bytes', () => {
  const store = new TemplateStore({ maxTemplatesPerDomain: 2, maxDomains: 2, maxFieldsPerTemplate: 4, maxPendingSets: 2, maxPendingBytes: 64 });
  decodeAll(store, [ipfixMessage({}, [ipfixTemplateSet([{ id: 256, fields: FIELDS.slice(0, 2) }, { id: 257, fields: FIELDS.slice(0, 2) }, { id: 258, fields: FIELDS.slice(0, 2) }, { id: 259, fields: FIELDS }])])]);
  assert.deepEqual([store.counters.templates_added, store.counters.template_cap, store.counters.template_too_many_fields], [2, 1, 1]);
  decodeAll(store, [ipfixMessage({ domain: 1 }, []), ipfixMessage({ domain: 2 }, [])]);
  assert.equal(store.counters.domain_cap, 1);
  decodeAll(store, [ipfixMessage({}, [dataSet(300, [new Uint8Array(20)]), dataSet(301, [new Uint8Array(20)]), dataSet(302, [new Uint8Array(20)]), dataSet(303, [new Uint8Array(100)])])]);
  assert.deepEqual(store.pendingSize(), { sets: 2, bytes: 40 });
  assert.equal(store.counters.pending_overflow, 2);
});

test('store-wide budgets: domains per exporter address, total templates and fields, samplers', () => {
  const store = new TemplateStore({ maxDomainsPerExporter: 2, maxTemplates: 3, maxTemplateFields: 10, maxSamplers: 1 });
  const a = exporterV4(192, 0, 2, 1);
  decodeAll(store, [1, 2, 3].map((domain) => ipfixMessage({ domain }, [])), a);
  assert.equal(store.counters.domain_exporter_cap, 1);
  // Another address has its own allowance; another port of the same address does not.
  decodeAll(store, [ipfixMessage({ domain: 1 }, [])], exporterV4(192, 0, 2, 2));
  decodeAll(store, [ipfixMessage({ domain: 9 }, [])], exporterV4(192, 0, 2, 1, 1));
  assert.deepEqual([store.usage().domains, store.counters.domain_exporter_cap], [3, 2]);
  // 4 + 4 fields fit, a third template of 4 does not (fields), nor a fourth of 1 (templates).
  const four = FIELDS.slice(0, 4);
  decodeAll(store, [ipfixMessage({ domain: 1 }, [ipfixTemplateSet([{ id: 256, fields: four }, { id: 257, fields: four }, { id: 258, fields: four }])])], a);
  assert.deepEqual([store.usage().templates, store.usage().templateFields, store.counters.template_budget], [2, 8, 1]);
  decodeAll(store, [ipfixMessage({ domain: 2 }, [ipfixTemplateSet([{ id: 256, fields: FIELDS.slice(0, 1) }, { id: 257, fields: FIELDS.slice(0, 1) }])])], a);
  assert.deepEqual([store.usage().templates, store.usage().templateFields, store.counters.template_budget], [3, 9, 2]);
  // A refresh of the same size fits; a replacement that grows past the budget removes the old one.
  decodeAll(store, [ipfixMessage({ domain: 1 }, [ipfixTemplateSet([{ id: 256, fields: four }])])], a);
  assert.deepEqual([store.usage().templateFields, store.counters.template_budget], [9, 2]);
  decodeAll(store, [ipfixMessage({ domain: 1 }, [ipfixTemplateSet([{ id: 257, fields: [...FIELDS, FIELDS[0]!] }])])], a);
  assert.deepEqual([store.usage().templates, store.usage().templateFields, store.counters.template_budget], [2, 5, 3]);
  // Withdrawals give room back.
  decodeAll(store, [ipfixMessage({ domain: 1 }, [ipfixWithdrawal([256])])], a);
  assert.deepEqual([store.usage().templates, store.usage().templateFields], [1, 1]);
  // Samplers: one store-wide.
  const opts = ipfixOptionsTemplateSet([{ id: 400, scopeCount: 1, fields: [[48, 4], [Ie.samplingInterval, 4]] }]);
  decodeAll(store, [ipfixMessage({ domain: 2 }, [opts, dataSet(400, [record([4, 1], [4, 10]), record([4, 1], [4, 20]), record([4, 2], [4, 30])])])], a);
  assert.deepEqual([store.usage().samplers, store.counters.sampler_cap], [1, 1]);
  // A restore recounts what it brings.
  const b = new TemplateStore();
  assert.equal(b.restore(store.snapshot()).ok, true);
  assert.deepEqual(b.usage(), store.usage());
});

test('sampler ids above 0xffffffff: counted, never stored, and a data record naming one is unsampled', () => {
  const store = new TemplateStore();
  const opts = ipfixOptionsTemplateSet([{ id: 400, scopeCount: 1, fields: [[48, 8], [Ie.samplingInterval, 4]] }]);
  const tpl = ipfixTemplateSet([{ id: 256, fields: [[Ie.sourceIPv4Address, 4], [Ie.packetDeltaCount, 4], [48, 8]] }]);
  decodeAll(store, [ipfixMessage({}, [opts, tpl, dataSet(400, [record([8, 0xffffffffn], [4, 10]), record([8, 1n << 32n], [4, 100])])])]);
  assert.deepEqual([store.usage().samplers, store.counters.sampler_id_too_large], [1, 1]);
  const flows = decodeAll(store, [ipfixMessage({}, [dataSet(256, [record([4, 1], [4, 2], [8, 0xffffffffn]), record([4, 1], [4, 2], [8, (1n << 32n) + 0xffffffffn])])])]);
  assert.deepEqual(flows.map((f) => f.packetsFwd), [20, 2]);
  assert.equal(store.counters.sampler_id_too_large, 2);
});

test('snapshot/restore: a restarted store decodes data whose template came before the restart', () => {
  const a = new TemplateStore();
  const ex = exporterV4(198, 51, 100, 7, 9999);
  decodeAll(a, [ipfixMessage({ domain: 3 }, [ipfixTemplateSet([{ id: 256, fields: FIELDS }]), ipfixOptionsTemplateSet([{ id: 400, scopeCount: 1, fields: [[149, 4], [Ie.samplingInterval, 4]] }]), dataSet(400, [record([4, 3], [4, 4])])])], ex);
  const snap = a.snapshot();
  const b = new TemplateStore();
  assert.deepEqual(b.restore(snap), { ok: true, domains: 1, templates: 2 });
  const flows = decodeAll(b, [ipfixMessage({ domain: 3 }, [dataSet(256, [rec(7)])])], ex);
  assert.deepEqual(flows.map((f) => [f.srcV4, f.packetsFwd, f.samplingInterval]), [[7, 4, 4]]);
  assert.deepEqual(b.snapshot(), snap);
  // Another exporter port is another transport session: no template.
  assert.equal(decodeAll(b, [ipfixMessage({ domain: 3 }, [dataSet(256, [rec(7)])])], exporterV4(198, 51, 100, 7, 1)).length, 0);
});

test('restore rejects every corruption of a snapshot without throwing, leaving the store empty', () => {
  const a = new TemplateStore();
  decodeAll(a, [ipfixMessage({}, [ipfixTemplateSet([{ id: 256, fields: FIELDS }])])]);
  const snap = a.snapshot();
  assert.equal(new TemplateStore().restore(snap.subarray(0, snap.length - 1)).ok, false);
  const bad = snap.slice();
  bad[4] = 3;
  assert.deepEqual(new TemplateStore().restore(bad), { ok: false, reason: 'unsupported version 3' });
  fc.assert(fc.property(fc.nat(snap.length - 1), fc.integer({ min: 1, max: 255 }), (i, x) => {
    const m = snap.slice();
    m[i] ^= x;
    const s = new TemplateStore();
    const r = s.restore(m);
    // A checksum catches every single-byte change.
    return r.ok === false && [...s.domains()].length === 0;
  }), { numRuns: 300 });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
    const r = new TemplateStore().restore(bytes);
    return typeof r.ok === 'boolean';
  }), { numRuns: 300 });
});

test('restore skips a domain that is inconsistent or does not fit the store, and keeps the others', () => {
  const a = new TemplateStore();
  const five = FIELDS;
  decodeAll(a, [ipfixMessage({ domain: 1 }, [ipfixTemplateSet([{ id: 256, fields: five }])])]);
  decodeAll(a, [ipfixMessage({ domain: 2 }, [ipfixTemplateSet([{ id: 256, fields: five }, { id: 257, fields: five }, { id: 258, fields: five }])])]);
  const snap = a.snapshot();
  // Over this store's per-domain limit: domain 2 is skipped, domain 1 restored.
  const b = new TemplateStore({ maxTemplatesPerDomain: 2 });
  assert.deepEqual(b.restore(snap), { ok: true, domains: 1, templates: 1 });
  assert.equal(b.counters.snapshot_domain_skipped, 1);
  assert.deepEqual(b.usage(), { domains: 1, templates: 1, templateFields: 5, samplers: 0 });
  // Over the store-wide budgets or the domains per exporter: the same.
  assert.deepEqual(new TemplateStore({ maxTemplateFields: 10 }).restore(snap), { ok: true, domains: 1, templates: 1 });
  assert.deepEqual(new TemplateStore({ maxDomainsPerExporter: 1 }).restore(snap), { ok: true, domains: 1, templates: 1 });
  // Inconsistent inside a sound image (protocol version 7 in domain 2, checksum recomputed).
  const bad = snap.slice();
  const second = 12 + 4 + new DataView(bad.buffer).getUint32(12);
  bad[second + 22] = 7;
  new DataView(bad.buffer).setUint32(bad.length - 4, fnv1a(bad.subarray(0, bad.length - 4)));
  const c = new TemplateStore();
  assert.deepEqual(c.restore(bad), { ok: true, domains: 1, templates: 1 });
  assert.equal(c.counters.snapshot_domain_skipped, 1);
  // A v1 image (sampler ids as i32) is refused whole.
  const v1 = snap.slice();
  v1[4] = 1;
  assert.deepEqual(new TemplateStore().restore(v1), { ok: false, reason: 'unsupported version 1' });
});

test('snapshot keeps the exporter-wide sampler apart from every u32 sampler id', () => {
  const a = new TemplateStore();
  const opts = ipfixOptionsTemplateSet([{ id: 400, scopeCount: 1, fields: [[48, 4], [Ie.samplingInterval, 4]] }]);
  const wide = ipfixOptionsTemplateSet([{ id: 401, scopeCount: 1, fields: [[149, 4], [Ie.samplingInterval, 4]] }]);
  decodeAll(a, [ipfixMessage({}, [opts, wide, dataSet(400, [record([4, 0xffffffff], [4, 7]), record([4, 0x80000000], [4, 9])]), dataSet(401, [record([4, 0], [4, 100])])])]);
  const b = new TemplateStore();
  assert.equal(b.restore(a.snapshot()).ok, true);
  const samplers = (s: TemplateStore) => [...[...s.domains()][0]!.samplers].sort(([x], [y]) => x - y).map(([id, v]) => [id, v.interval]);
  assert.deepEqual(samplers(b), [[-1, 100], [0x80000000, 9], [0xffffffff, 7]]);
  assert.deepEqual(samplers(b), samplers(a));
});

function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const x of bytes) h = Math.imul(h ^ x, 0x01000193);
  return h >>> 0;
}
