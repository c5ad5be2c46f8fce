/**
 * The compiled record plans (record-plan.ts) against the field-by-field reader they replace
 * (record.ts `readRecordFields`, which applies record-fields.ts `applyField` to every field):
 * on random fixed-length templates — every element the decoder reads, in and out of their
 * specialised lengths, reverse and other enterprise elements, unknown ones, zero lengths,
 * NetFlow v9 scope fields, repeats — and random record bytes (whole, with bytes after, or cut
 * short), both must return the same offset and, for a whole record, leave the same
 * ExportedFlow and RecordScratch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Ie } from './elements.ts';
import { newExportedFlow, type ExportedFlow } from './exported-flow.ts';
import { newRecordScratch } from './record-fields.ts';
import { readPlannedRecord } from './record-plan.ts';
import { readRecordFields } from './record.ts';
import { compileTemplate, refreshTemplate, REVERSE_PEN } from './template.ts';

const ELEMENTS = [...Object.values(Ie), 0, 3, 61, 82, 143, 300, 32767];
const LENGTHS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 17];

function snapshot(f: ExportedFlow, s: object): object {
  return { ...f, src6: [...f.src6], dst6: [...f.dst6], nextHop6: [...f.nextHop6], bgpNextHop6: [...f.bgpNextHop6], exporter: [], s: { ...s } };
}

/** The lengths each element is specialised for (record-plan.ts planOp), and a few around them. */
const NATURAL: [number, number][] = [
  [8, 4], [12, 4], [27, 16], [28, 16], [15, 4], [62, 16], [18, 4], [63, 16], [1, 4], [1, 8], [85, 4], [85, 8], [2, 4], [2, 8], [86, 8],
  [4, 1], [5, 1], [6, 1], [6, 2], [7, 2], [11, 2], [10, 4], [10, 2], [14, 4], [14, 2], [16, 4], [16, 2], [17, 4], [17, 2],
  [22, 4], [21, 4], [32, 2], [139, 2], [60, 1], [136, 1], [150, 4], [151, 4], [152, 8], [153, 8], [56, 6], [80, 6], [58, 2], [243, 2],
  [48, 4], [302, 4], [34, 4], [305, 4], [306, 4], [35, 1], [160, 8], [154, 8], [158, 4], [176, 1], [177, 1],
];
const pen = fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.constant(REVERSE_PEN) }, { weight: 1, arbitrary: fc.constant(9) });
const field = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...NATURAL), pen).map(([[type, length], p]) => ({ type, length, pen: p })) },
  { weight: 2, arbitrary: fc.record({ type: fc.constantFrom(...ELEMENTS), length: fc.constantFrom(...LENGTHS), pen }) },
  { weight: 1, arbitrary: fc.record({ type: fc.integer({ min: 0, max: 0x7fff }), length: fc.integer({ min: 0, max: 40 }), pen }) },
);

test('a compiled plan reads every record exactly as the field-by-field reader', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(9 as const, 10 as const),
      fc.array(field, { minLength: 1, maxLength: 30 }),
      fc.nat({ max: 3 }),
      fc.uint8Array({ minLength: 800, maxLength: 800 }),
      fc.nat({ max: 40 }),
      fc.integer({ min: -3, max: 20 }),
      (version, fields, scopes, pool, off, slack) => {
        const types = Uint16Array.from(fields, (x) => x.type);
        const lengths = Uint16Array.from(fields, (x) => x.length);
        const pens = Uint32Array.from(fields, (x) => (version === 9 ? 0 : x.pen));
        const tpl = compileTemplate(version, 300, scopes > 0, Math.min(scopes, fields.length), types, lengths, pens);
        assert.ok(tpl.plan !== null, 'no variable-length field: a plan');
        // The record at `off`, with `slack` bytes after it (negative: cut short).
        const end = Math.max(0, Math.min(pool.length, off + tpl.fixedLength + slack));
        const view = new DataView(pool.buffer, pool.byteOffset, end);
        const start = Math.min(off, end);
        const a = newExportedFlow();
        const b = newExportedFlow();
        const sa = newRecordScratch();
        const sb = newRecordScratch();
        const ra = readRecordFields(view, start, end, tpl, a, sa);
        const rb = readPlannedRecord(view, start, end, tpl.plan, b, sb);
        assert.equal(rb, ra);
        // A record running past the end is dropped whole: only complete records must agree field for field.
        if (ra >= 0) assert.deepStrictEqual(snapshot(b, sb), snapshot(a, sa));
      },
    ),
    { numRuns: 3000 },
  );
});

test('a template refresh with the same layout keeps the compiled template; any difference compiles a new one', () => {
  const types = Uint16Array.of(Ie.sourceIPv4Address, Ie.octetDeltaCount);
  const lengths = Uint16Array.of(4, 4);
  const pens = new Uint32Array(2);
  const t = compileTemplate(10, 256, false, 0, types, lengths, pens);
  assert.equal(refreshTemplate(10, 256, false, 0, types.slice(), lengths.slice(), pens.slice(), t), t);
  assert.notEqual(refreshTemplate(10, 256, false, 0, types, Uint16Array.of(4, 8), pens, t), t);
  assert.notEqual(refreshTemplate(10, 256, false, 0, types, lengths, Uint32Array.of(0, REVERSE_PEN), t), t);
  assert.notEqual(refreshTemplate(10, 256, true, 1, types, lengths, pens, t), t);
  assert.notEqual(refreshTemplate(10, 257, false, 0, types, lengths, pens, t), t);
  assert.notEqual(refreshTemplate(10, 256, false, 0, types, lengths, pens, undefined), t);
});
