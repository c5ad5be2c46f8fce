/**
 * A template store's whole state for a worker checkpoint (worker/worker-checkpoint.ts): the
 * snapshot image (template-store-snapshot.ts: templates, samplers, systemInitTime), then what
 * the snapshot leaves out because a checkpoint needs it to continue exactly — each domain's
 * expected sequence number and counters, and the data sets held for a template not seen yet.
 *
 * Layout (StateWriter, big-endian): bytes snapshot · u32 domains · per domain: 16 exporter ·
 * u16 port · u8 version · u32 domain id · f64 expected sequence (-1 none) · f64 × every export
 * counter (EXPORT_EVENTS then EXPORT_DROPS) · u32 held sets · per set: 16 exporter · u16 port ·
 * u8 version · u32 domain id · u16 template id · f64 receive µs · f64 export µs · f64 sysUptime
 * ms · bytes body.
 *
 * Owns: that layout. Reading validates every value; a domain the snapshot's restore skipped
 * has its entries ignored (and its held sets counted `pending_expired`: they cannot be decoded).
 * Never: counts an event twice (held sets are not counted `pending_held` again).
 */
import { StateError, type StateReader, type StateWriter } from '../worker/state-bytes.ts';
import { EXPORT_DROPS, EXPORT_EVENTS } from './export-counters.ts';
import type { PendingSet, TemplateStore } from './template-store.ts';

const COUNTER_NAMES = [...EXPORT_EVENTS, ...EXPORT_DROPS];
/** The snapshot's own bound at the store's largest budgets is ≈ 8.6 MiB. */
const MAX_SNAPSHOT_BYTES = 64 << 20;

function writeIdentity(w: StateWriter, d: { exporter: Uint8Array; port: number; version: number; domain: number }): void {
  w.raw(d.exporter.subarray(0, 16));
  w.u16(d.port);
  w.u8(d.version);
  w.u32(d.domain);
}

function readIdentity(r: StateReader): { address: Uint8Array; port: number; version: 5 | 9 | 10; domain: number } {
  const address = r.raw(16).slice();
  const port = r.u16();
  const version = r.u8();
  if (version !== 5 && version !== 9 && version !== 10) throw new StateError('template store: bad version');
  return { address, port, version, domain: r.u32() };
}

export function writeTemplateStoreState(store: TemplateStore, w: StateWriter): void {
  w.bytes(store.snapshot());
  const domains = [...store.domains()];
  w.u32(domains.length);
  for (const d of domains) {
    writeIdentity(w, d);
    w.f64(d.expectedSequence);
    for (const n of COUNTER_NAMES) w.f64(d.counters[n]);
  }
  const held = store.heldSets();
  w.u32(held.length);
  for (const p of held) {
    writeIdentity(w, p.domain);
    w.u16(p.templateId);
    w.f64(p.receiveTimeUs);
    w.f64(p.exportTimeUs);
    w.f64(p.sysUptimeMs);
    w.bytes(p.body);
  }
}

/** Loads `writeTemplateStoreState`'s output into `store` (replacing its templates). @throws StateError */
export function readTemplateStoreState(store: TemplateStore, r: StateReader): void {
  const restored = store.restore(r.bytes(MAX_SNAPSHOT_BYTES, 'template store: snapshot'));
  if (!restored.ok) throw new StateError(`template store: ${restored.reason}`);
  const domains = r.count(store.limits.maxDomains, 'template store: domains');
  for (let i = 0; i < domains; i++) {
    const id = readIdentity(r);
    const expected = r.f64();
    if (!(expected === -1 || (Number.isInteger(expected) && expected >= 0 && expected <= 0xffffffff))) throw new StateError('template store: bad sequence');
    const counts = COUNTER_NAMES.map(() => r.f64());
    if (counts.some((c) => !(Number.isInteger(c) && c >= 0))) throw new StateError('template store: bad counter');
    const d = store.lookup(id.address, id.port, id.version, id.domain);
    if (d === undefined) continue;
    d.expectedSequence = expected;
    COUNTER_NAMES.forEach((n, k) => void (d.counters[n] = counts[k]));
  }
  const sets = r.count(store.limits.maxPendingSets, 'template store: held sets');
  const held: PendingSet[] = [];
  for (let i = 0; i < sets; i++) {
    const id = readIdentity(r);
    const templateId = r.u16();
    const receiveTimeUs = r.finite('template store: time');
    const exportTimeUs = r.finite('template store: time');
    const sysUptimeMs = r.finite('template store: uptime');
    const body = r.bytes(store.limits.maxPendingBytes, 'template store: held set');
    const d = store.lookup(id.address, id.port, id.version, id.domain);
    if (d === undefined) {
      store.count(null, 'pending_expired');
      continue;
    }
    held.push({ domain: d, templateId, body, receiveTimeUs, exportTimeUs, sysUptimeMs });
  }
  store.restoreHeld(held);
}
