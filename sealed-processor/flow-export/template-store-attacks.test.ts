/**
 * Issue 8 attack regressions for the template store (copied from branch i8-attack,
 * test/attack/issue8-attacks.test.ts): a template flood from one exporter must be bounded in
 * total, and hostile sampler ids must neither make a snapshot unrestorable nor alias the
 * exporter-wide sampler after a restore.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TemplateStore } from './template-store.ts';
import {
  dataSet,
  decodeAll,
  exporterV4,
  ipfixMessage,
  ipfixOptionsTemplateSet,
  ipfixTemplateSet,
  record,
  type Field,
} from './export-builders.test-util.ts';

const IE_OCTETS = 1;
const IE_PACKETS = 2;
const IE_SRC4 = 8;
const IE_SAMPLING_INTERVAL = 34;
const IE_SAMPLER_ID = 48;

/** Bytes a stored template field costs at least (types u16 + lengths u16 + enterprises u32 + codes i32). */
const BYTES_PER_FIELD = 12;

function heldFields(store: TemplateStore): number {
  let n = 0;
  for (const d of store.domains()) for (const t of d.templates.values()) n += t.types.length;
  return n;
}

describe('issue 8 attacks: template store', () => {
  test('a template flood from one host (varying observation domain ids) is bounded in total, not only per domain', () => {
    // One exporter on the network, spoofing nothing: it only varies the IPFIX observation domain
    // id (a header field it chooses). Each domain takes maxTemplatesPerDomain (512) templates of
    // maxFieldsPerTemplate (512) fields; the defaults allow 4096 such domains, i.e. about
    // 4096 × 512 × 512 × 12 B ≈ 12.9 GB of template state in the sealed worker (and a snapshot
    // of 8.6 GB, larger than a typed array can be). Here 24 domains (≈ 75 MB) stand for that.
    const store = new TemplateStore();
    const fields: Field[] = Array.from({ length: 512 }, () => [IE_OCTETS, 4] as const);
    const perMessage = 31; // 31 × 2052 B template records fit one 64 KiB message
    const datagrams: Uint8Array[] = [];
    const template = ipfixTemplateSet(Array.from({ length: perMessage }, (_, i) => ({ id: 256 + i, fields })));
    for (let domain = 1; domain <= 24; domain++) {
      for (let first = 256; first < 256 + 512; first += perMessage) {
        const count = Math.min(perMessage, 256 + 512 - first);
        const set = count === perMessage
          ? renumber(template, first)
          : ipfixTemplateSet(Array.from({ length: count }, (_, i) => ({ id: first + i, fields })));
        datagrams.push(ipfixMessage({ domain }, [set]));
      }
    }
    decodeAll(store, datagrams, exporterV4(203, 0, 113, 9));
    const bytes = heldFields(store) * BYTES_PER_FIELD;
    assert.ok(
      bytes <= 32 * 1024 * 1024,
      `one exporter made the store hold ${heldFields(store)} template fields (≥ ${(bytes / 2 ** 20).toFixed(0)} MiB); ` +
        `the limits allow ${(4096 * 512 * 512 * BYTES_PER_FIELD / 2 ** 30).toFixed(1)} GiB: a global budget (total fields/templates, per exporter address) is missing`,
    );
  });

  test('a hostile sampler id cannot make the snapshot unrestorable (which would wipe every exporter\'s templates)', () => {
    const store = new TemplateStore();
    // A well-behaved exporter with one data template.
    decodeAll(store, [ipfixMessage({ domain: 1 }, [ipfixTemplateSet([{ id: 256, fields: [[IE_SRC4, 4], [IE_PACKETS, 4]] }])])], exporterV4(192, 0, 2, 1));
    // A hostile one: options data announcing sampler ids 5 and 2^32 + 5 (samplerId read as an
    // 8-byte unsigned), which the snapshot writes both as i32 5.
    const opts = ipfixOptionsTemplateSet([{ id: 300, scopeCount: 1, fields: [[IE_SAMPLER_ID, 8], [IE_SAMPLING_INTERVAL, 4]] }]);
    const data = dataSet(300, [record([8, 5n], [4, 10]), record([8, (1n << 32n) + 5n], [4, 100])]);
    decodeAll(store, [ipfixMessage({ domain: 7 }, [opts, data])], exporterV4(198, 51, 100, 66));
    const restored = new TemplateStore();
    const r = restored.restore(store.snapshot());
    assert.deepEqual(r, { ok: true, domains: 2, templates: 2 }, 'a worker restart after this snapshot must not forget every exporter\'s templates');
  });

  test('a sampler id ≥ 2^31 keeps its sampling rate across snapshot/restore (no aliasing to the exporter-wide sampler)', () => {
    const store = new TemplateStore();
    const exporter = exporterV4(198, 51, 100, 67);
    const opts = ipfixOptionsTemplateSet([{ id: 300, scopeCount: 1, fields: [[IE_SAMPLER_ID, 4], [IE_SAMPLING_INTERVAL, 4]] }]);
    // Sampler 0xffffffff, 1-in-100. Written to the snapshot as i32 -1: the exporter-wide sampler.
    decodeAll(store, [ipfixMessage({ domain: 1 }, [opts, dataSet(300, [record([4, 0xffffffff], [4, 100])])])], exporter);
    const tpl = ipfixTemplateSet([{ id: 256, fields: [[IE_SRC4, 4], [IE_PACKETS, 4]] }]);
    decodeAll(store, [ipfixMessage({ domain: 1 }, [tpl])], exporter);
    const before = decodeAll(store, [ipfixMessage({ domain: 1 }, [dataSet(256, [record([4, 0x0a000001], [4, 3])])])], exporter);
    const restored = new TemplateStore();
    assert.equal(restored.restore(store.snapshot()).ok, true);
    const after = decodeAll(restored, [ipfixMessage({ domain: 1 }, [dataSet(256, [record([4, 0x0a000001], [4, 3])])])], exporter);
    assert.equal(before[0]!.packetsFwd, 3, 'a record naming no sampler is unsampled');
    assert.equal(after[0]!.packetsFwd, before[0]!.packetsFwd, 'after a restore the same record must decode the same (sampler 0xffffffff became the exporter-wide 1-in-100)');
  });
});

/** A copy of an IPFIX template set with its template ids renumbered from `first`. */
function renumber(set: Uint8Array, first: number): Uint8Array {
  const out = set.slice();
  const v = new DataView(out.buffer);
  let o = 4;
  let id = first;
  while (o + 4 <= out.length) {
    v.setUint16(o, id++);
    const count = v.getUint16(o + 2);
    o += 4 + count * 4;
  }
  return out;
}
