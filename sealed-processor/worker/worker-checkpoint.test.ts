/**
 * Worker checkpoints (worker-checkpoint.ts, record-processor.ts `writeState`/`readState`):
 * processing a record stream in one go, and processing it up to a cut, checkpointing, and
 * continuing in a fresh processor from the checkpoint, give the same rows in the same order
 * and the same counts — for real captures (TCP, DNS names, TLS SNI, VLANs, Linux SLL2), IPv4
 * fragments, idle expiry across the cut, and NetFlow v5/v9/IPFIX export (templates, samplers,
 * a data set held for its template across the cut). The sealed file refuses another key,
 * another run or cut, and any damaged byte; hostile state images (mutated) are refused with
 * StateError or load into a processor that keeps working, never anything else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import fc from 'fast-check';
import { CaptureReader } from '../../ingest/capture/capture-reader.ts';
import { DEFAULT_POLICY } from '../../schemas/policy.ts';
import { encodeSpoolRecord, RecordKind, SpoolBuffer, type SpoolRecordInput } from '../../schemas/spool.ts';
import { ErrorCode, isAppError } from '../../schemas/errors.ts';
import { createFlowAnonymizer } from '../anonymize/flow-anonymizer.ts';
import { ipv4, udp, text } from '../decode/testing/packet-builders.ts';
import { dataSet, exporterV4, ipfixMessage, ipfixTemplateSet, readExportPcap, record } from '../flow-export/export-builders.test-util.ts';
import { Ie } from '../flow-export/elements.ts';
import type { AnonFlowRow } from '../flows/flow-record.ts';
import { RecordProcessor } from './record-processor.ts';
import { StateError, StateReader, StateWriter } from './state-bytes.ts';
import { checkpointPath, restoreCheckpoint, writeCheckpoint } from './worker-checkpoint.ts';

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures');
const KEY = new Uint8Array(32).fill(7);

function processor(): RecordProcessor {
  // Deterministic tweaks: two processors anonymize alike whatever order they consume randomness in.
  return new RecordProcessor(createFlowAnonymizer(DEFAULT_POLICY, KEY, { random: (n) => new Uint8Array(n) }));
}

function captureRecords(name: string, shiftSec: number): SpoolRecordInput[] {
  const out: SpoolRecordInput[] = [];
  const reader = new CaptureReader((r) => out.push({ kind: RecordKind.Packet, linkType: r.linkType, ifIndex: r.ifIndex, tsSec: r.tsSec + shiftSec, tsNsec: r.tsNsec, origLen: r.origLen, data: r.data.slice() }));
  reader.push(readFileSync(join(FIXTURES, name)));
  reader.end();
  return out;
}

function datagram(exporter: Uint8Array, port: number, tsSec: number, payload: Uint8Array): SpoolRecordInput {
  const data = new Uint8Array(16 + payload.length);
  data.set(exporter, 0);
  data.set(payload, 16);
  return { kind: RecordKind.FlowDatagram, linkType: 0, ifIndex: port, tsSec, tsNsec: 0, origLen: data.length, data };
}

/** A stream that keeps flows open across most cut points. */
function stream(): SpoolRecordInput[] {
  const T = 1_700_000_000;
  const recs: SpoolRecordInput[] = [];
  for (const [name, shift] of [['http-lo.pcap', 0], ['dns-ns.pcapng', 0], ['vlan-tls.pcap', 0], ['sll2-any.pcap', 0]] as const) {
    for (const r of captureRecords(name, shift)) recs.push(r);
  }
  // UDP flows at rising times (idle timeout 60 s: some end mid-stream), and IPv4 fragments.
  for (let i = 0; i < 40; i++) {
    const data = ipv4({ src: `10.1.0.${i % 7}`, dst: '192.0.2.9', protocol: 17 }, udp({ sport: 5000 + (i % 5), dport: 53 }, text(`q${i}`)));
    recs.push({ kind: RecordKind.Packet, linkType: 228, ifIndex: 0, tsSec: T + i * 9, tsNsec: 0, origLen: data.length, data });
  }
  const payload = udp({ sport: 7000, dport: 7001 }, new Uint8Array(64).fill(1));
  const first = ipv4({ src: '10.2.0.1', dst: '10.2.0.2', protocol: 17, id: 77, moreFragments: true }, payload.subarray(0, 32));
  const later = ipv4({ src: '10.2.0.1', dst: '10.2.0.2', protocol: 17, id: 77, fragmentOffset: 32 }, payload.subarray(32));
  recs.push({ kind: RecordKind.Packet, linkType: 228, ifIndex: 0, tsSec: T + 400, tsNsec: 0, origLen: first.length, data: first });
  recs.push({ kind: RecordKind.Packet, linkType: 228, ifIndex: 0, tsSec: T + 401, tsNsec: 0, origLen: later.length, data: later });
  // Router export: real softflowd datagrams of every version, then a data set before its template.
  for (const f of ['v5.pcap', 'v9-sampled.pcap', 'ipfix-sampled.pcap', 'ipfix-bidir.pcap']) {
    for (const d of readExportPcap(readFileSync(join(FIXTURES, 'netflow', f))).slice(0, 12)) {
      recs.push(datagram(d.exporter.address, d.exporter.port, Math.floor(d.timeUs / 1e6), d.payload));
    }
  }
  const ex = exporterV4(192, 0, 2, 200, 4739);
  const fields = [[Ie.sourceIPv4Address, 4], [Ie.destinationIPv4Address, 4], [Ie.packetDeltaCount, 8], [Ie.octetDeltaCount, 8], [Ie.protocolIdentifier, 1]] as const;
  const rec = record([4, 0x0a000001], [4, 0x0a000002], [8, 3], [8, 300], [1, 6]);
  recs.push(datagram(ex.address, ex.port, T + 500, ipfixMessage({ sequence: 0, exportTime: T + 500 }, [dataSet(300, [rec, rec])])));
  recs.push(...recs.slice(0, 3).map((r) => ({ ...r, tsSec: T + 501 })));
  recs.push(datagram(ex.address, ex.port, T + 502, ipfixMessage({ sequence: 2, exportTime: T + 502 }, [ipfixTemplateSet([{ id: 300, fields }]), dataSet(300, [rec])])));
  return recs;
}

function frame(recs: readonly SpoolRecordInput[]): Uint8Array {
  const buf = new SpoolBuffer();
  for (const r of recs) encodeSpoolRecord(buf, r);
  return buf.bytes.slice();
}

function feed(p: RecordProcessor, recs: readonly SpoolRecordInput[], rows: AnonFlowRow[]): void {
  // One record per frame: cuts fall between any two records.
  for (const r of recs) {
    p.processPlaintext(frame([r]), 0, new Set());
    rows.push(...p.drainRows());
  }
}

function finish(p: RecordProcessor, rows: AnonFlowRow[]): void {
  p.finish();
  rows.push(...p.drainRows());
}

function whole(recs: readonly SpoolRecordInput[]) {
  const p = processor();
  const rows: AnonFlowRow[] = [];
  feed(p, recs, rows);
  finish(p, rows);
  return { rows, counts: p.counts(), notes: p.releaseNotes() };
}

function checkpointed(recs: readonly SpoolRecordInput[], cut: number) {
  const a = processor();
  const rows: AnonFlowRow[] = [];
  feed(a, recs.slice(0, cut), rows);
  const w = new StateWriter();
  a.writeState(w);
  const b = processor();
  const r = new StateReader(w.finish());
  b.readState(r);
  r.end();
  feed(b, recs.slice(cut), rows);
  finish(b, rows);
  return { rows, counts: b.counts(), notes: b.releaseNotes(), open: a.openState() };
}

function withoutDerivedAddresses(notes: unknown): unknown {
  const n = notes as { derivedIdentifiers: Record<string, unknown> };
  return { ...n, derivedIdentifiers: { ...n.derivedIdentifiers, addresses: null } };
}

const RECS = stream();
const WHOLE = whole(RECS);

test('the stream exercises what a checkpoint must carry', () => {
  assert.ok(WHOLE.rows.length > 40, `rows ${WHOLE.rows.length}`);
  for (const k of ['flows_source_packets', 'flows_source_netflow5', 'flows_source_netflow9', 'flows_source_ipfix', 'export_pending_held', 'export_pending_decoded', 'flowtable_fragmentsAttributed', 'flowtable_namesExtracted', 'flows_idle']) {
    assert.ok((WHOLE.counts[k] ?? 0) > 0, `${k}: ${JSON.stringify(WHOLE.counts)}`);
  }
});

test('a checkpoint at 60 cut points: the same rows in the same order, the same counts and release notes', () => {
  let open = 0;
  for (let cut = 0; cut <= RECS.length; cut += Math.max(1, Math.floor(RECS.length / 60))) {
    const c = checkpointed(RECS, cut);
    assert.deepEqual(c.rows, WHOLE.rows, `cut at ${cut}`);
    assert.deepEqual(c.counts, WHOLE.counts, `cut at ${cut}`);
    assert.deepEqual(withoutDerivedAddresses(c.notes), withoutDerivedAddresses(WHOLE.notes), `cut at ${cut}`);
    // Derived-address counts count derivations computed (address-cache misses): a restored
    // worker starts with an empty cache and computes again what it meets again.
    const derived = (n: unknown) => (n as { derivedIdentifiers: { addresses: Record<string, number> } }).derivedIdentifiers.addresses;
    for (const [k, v] of Object.entries(derived(WHOLE.notes))) assert.ok(derived(c.notes)[k]! >= v, `${k} at cut ${cut}`);
    open = Math.max(open, c.open.flows);
  }
  assert.ok(open > 5, 'some cuts fell while many flows were open');
  const c = checkpointed(RECS, RECS.length - 1);
  assert.equal(c.open.exportSets, 1, 'the cut before the template fell while its data set was held');
  assert.deepEqual(c.rows, WHOLE.rows);
  assert.deepEqual(c.counts, WHOLE.counts);
});

test('the sealed file: round trip; another key, run or cut, or any damaged byte is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-ckpt-'));
  try {
    const a = processor();
    const rows: AnonFlowRow[] = [];
    feed(a, RECS.slice(0, 200), rows);
    const key = crypto.getRandomValues(new Uint8Array(32));
    const path = checkpointPath(join(dir, 'run'), 7);
    await writeCheckpoint(a, path, key, 'run', 7);
    assert.ok(!(await readFile(path)).includes(Buffer.from('Files.Example')), 'no plaintext name in the file');
    const digest = createHash('sha256').update(await readFile(path)).digest('hex');
    const b = processor();
    await restoreCheckpoint(b, path, key, 'run', 7, digest);
    feed(b, RECS.slice(200), rows);
    finish(b, rows);
    assert.deepEqual(rows, WHOLE.rows);
    const refused = async (what: string, p: string, k: Uint8Array, run: string, through: number) => {
      await assert.rejects(restoreCheckpoint(processor(), p, k, run, through, null), (e: unknown) => isAppError(e) && e.code === ErrorCode.ProcessorCheckpointInvalid, what);
    };
    await refused('another key', path, crypto.getRandomValues(new Uint8Array(32)), 'run', 7);
    await refused('another run', path, key, 'other', 7);
    await refused('another cut', path, key, 'run', 8);
    await refused('missing', `${path}.nope`, key, 'run', 7);
    const bytes = await readFile(path);
    // Another checkpoint sealed with the same key (any worker of the run holds it): refused by
    // the digest the supervisor took when it adopted the first.
    await writeCheckpoint(processor(), path, key, 'run', 7);
    await assert.rejects(restoreCheckpoint(processor(), path, key, 'run', 7, digest), (e: unknown) => isAppError(e) && e.code === ErrorCode.ProcessorCheckpointInvalid);
    await restoreCheckpoint(processor(), path, key, 'run', 7, null);
    for (const at of [0, 4, 5, 17, Math.floor(bytes.length / 2), bytes.length - 1]) {
      const bad = Buffer.from(bytes);
      bad[at] ^= 0x01;
      await writeFile(path, bad);
      await refused(`byte ${at} flipped`, path, key, 'run', 7);
    }
    await writeFile(path, bytes.subarray(0, bytes.length - 1));
    await refused('truncated', path, key, 'run', 7);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('hostile state images: refused with StateError, or loaded into a processor that keeps working', () => {
  const a = processor();
  feed(a, RECS.slice(0, RECS.length - 2), []);
  const w = new StateWriter();
  a.writeState(w);
  const image = w.finish();
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(image.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat(image.length), (flips, cutAt) => {
      const bad = image.slice(0, Math.max(cutAt, image.length - 4 * flips.length));
      for (const [at, x] of flips) if (at < bad.length) bad[at] ^= x;
      const b = processor();
      try {
        const r = new StateReader(bad);
        b.readState(r);
        r.end();
      } catch (e) {
        assert.ok(e instanceof StateError, `not a StateError: ${String(e)}`);
        return;
      }
      feed(b, RECS.slice(RECS.length - 2), []);
      finish(b, []);
    }),
    { numRuns: 300 },
  );
});
