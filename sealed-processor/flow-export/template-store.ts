/**
 * The template store: what a NetFlow v9 / IPFIX collector must remember between datagrams —
 * templates, sampler tables, systemInitTime and sequence state per exporter domain — plus the
 * data sets held while their template is still on its way, and the counters.
 *
 * An exporter domain is RFC 7011 §8's template scope: the exporter's transport session (address
 * and UDP source port) + protocol version + observation domain id (v9: source id; v5: engine
 * type/id, for sequence tracking only). Template ids are looked up only within their domain.
 *
 * Bounds (hostile or broken exporters must not exhaust memory): `maxDomains` domains, at most
 * `maxDomainsPerExporter` of them per exporter address (an exporter chooses its source port
 * and observation domain id freely, so one host could otherwise take every domain);
 * `maxTemplatesPerDomain` templates and `maxSamplersPerDomain` samplers each, templates of at
 * most `maxFieldsPerTemplate` fields; and store-wide budgets of `maxTemplates` templates,
 * `maxTemplateFields` template fields and `maxSamplers` samplers over all domains (the
 * per-domain limits alone allow 4096 × 512 × 512 fields ≈ 12.9 GB). Held sets at most
 * `maxPendingSets` / `maxPendingBytes`, each for at most `pendingMaxAgeUs` of receive time
 * (then `pending_expired`). Every refusal is counted (export-counters.ts).
 * Templates and samplers change only through `putTemplate` / `removeTemplate` / `putSampler`
 * (they keep the budgets' accounting): never write a domain's maps directly.
 *
 * Persistence: `snapshot()` / `restore()` (template-store-snapshot.ts) carry templates, samplers
 * and systemInitTime — never held data sets (they contain raw addresses; a replay re-reads them
 * from the spool) and never sequence state (a replay would otherwise count false gaps).
 * Never: reads a clock (times come from the caller), logs, or throws for wire input.
 */
import { newExportCounters, type ExportCounterName, type ExportCounters } from './export-counters.ts';
import { newExportedFlow, type ExportedFlow } from './exported-flow.ts';
import { newRecordScratch, type RecordScratch } from './record.ts';
import { readSnapshot, writeSnapshot, type RestoreResult, type SnapshotDomain } from './template-store-snapshot.ts';
import type { Template } from './template.ts';

export interface TemplateStoreLimits {
  /** Default 4096. */
  maxDomains: number;
  /** Domains of one exporter address (any port, version, domain id). Default 128. */
  maxDomainsPerExporter: number;
  /** Templates (data and options) over all domains. Default 16384. */
  maxTemplates: number;
  /** Template fields (field specifiers of every template) over all domains. Default 1 Mi. */
  maxTemplateFields: number;
  /** Samplers over all domains. Default 16384. */
  maxSamplers: number;
  /** Default 512. */
  maxTemplatesPerDomain: number;
  /** Default 512 (RFC 7011 allows 65535; real templates have < 100). */
  maxFieldsPerTemplate: number;
  /** Default 256. */
  maxSamplersPerDomain: number;
  /** Default 1024 sets. */
  maxPendingSets: number;
  /** Default 4 MiB of held set bytes. */
  maxPendingBytes: number;
  /** Default 30 s of receive time. */
  pendingMaxAgeUs: number;
}

/*
 * Why these defaults. Measured in V8 (Node 20), a stored template costs ≈ 1 KiB of objects
 * (the template, its four typed arrays, the map entry) plus 12 B per field (u16 type, u16
 * length, u32 enterprise, i32 code); a domain ≈ 1 KiB (maps, counters); a sampler ≈ 100 B.
 * At the budgets' worst case: 16384 templates ≈ 16 MiB + 1 Mi fields × 12 B = 12 MiB + 4096
 * domains ≈ 4 MiB + 16384 samplers ≈ 1.6 MiB ≈ 34 MiB, well under 64 MiB, and a snapshot of at
 * most ≈ 8.6 MiB (template-store-snapshot.ts). Real exporters send a handful of templates of
 * 10–40 fields per observation domain (Cisco, Juniper, nprobe, softflowd, YAF), so 16384
 * templates serve e.g. 1000 exporters × 16 templates, and 1 Mi fields let every one of them
 * average 64 fields. A chassis exports one observation domain per line card / FPC (≈ 10–20,
 * times v9 and IPFIX, times a new source port after each exporter restart): 128 domains per
 * address is ample, and it takes at least 32 hosts to fill the 4096 domain slots.
 */
export const DEFAULT_TEMPLATE_STORE_LIMITS: Readonly<TemplateStoreLimits> = {
  maxDomains: 4096,
  maxDomainsPerExporter: 128,
  maxTemplates: 16384,
  maxTemplateFields: 1024 * 1024,
  maxSamplers: 16384,
  maxTemplatesPerDomain: 512,
  maxFieldsPerTemplate: 512,
  maxSamplersPerDomain: 256,
  maxPendingSets: 1024,
  maxPendingBytes: 4 * 1024 * 1024,
  pendingMaxAgeUs: 30_000_000,
};

/**
 * A sampler announced by options data, keyed by its u32 id; key -1 is the exporter-wide
 * sampling (34/35, no id), which no u32 id can alias (the snapshot flags it apart).
 */
export interface Sampler {
  mode: number;
  interval: number;
}

export interface ExporterDomain {
  readonly key: string;
  /** 16-byte exporter address (own copy). */
  readonly exporter: Uint8Array;
  readonly port: number;
  readonly version: 5 | 9 | 10;
  readonly domain: number;
  readonly templates: Map<number, Template>;
  readonly samplers: Map<number, Sampler>;
  /** systemInitTimeMilliseconds (IPFIX 160) from options data, ms since epoch; -1 unknown. */
  systemInitTimeMs: number;
  /** Sequence number the next datagram should carry; -1 before the first. */
  expectedSequence: number;
  readonly counters: ExportCounters;
}

/** A data set that arrived before its template, with the header context it needs. */
export interface PendingSet {
  readonly domain: ExporterDomain;
  readonly templateId: number;
  readonly body: Uint8Array;
  readonly receiveTimeUs: number;
  readonly exportTimeUs: number;
  /** NetFlow v9 header sysUpTime (ms); -1 for IPFIX. */
  readonly sysUptimeMs: number;
}

function addressKey(address: Uint8Array): string {
  let key = '';
  for (let i = 0; i < 16; i++) key += String.fromCharCode(address[i]);
  return key;
}

function domainKey(address: Uint8Array, port: number, version: number, domain: number): string {
  return `${addressKey(address)}|${port}|${version}|${domain}`;
}

/** What the store holds against its store-wide budgets. */
export interface TemplateStoreUsage {
  domains: number;
  templates: number;
  templateFields: number;
  samplers: number;
}

export class TemplateStore {
  readonly limits: Readonly<TemplateStoreLimits>;
  /** Totals over all domains (a domain's own counters are in `ExporterDomain.counters`). */
  readonly counters: ExportCounters = newExportCounters();
  /** The record the decoders reuse (see `ExportedFlow`). */
  readonly flow: ExportedFlow = newExportedFlow();
  /** Per-record scratch of the record decoder. */
  readonly scratch: RecordScratch = newRecordScratch();
  readonly #domains = new Map<string, ExporterDomain>();
  /** Domains per exporter address (addressKey). */
  readonly #perExporter = new Map<string, number>();
  #templates = 0;
  #templateFields = 0;
  #samplers = 0;
  #pending: PendingSet[] = [];
  #pendingBytes = 0;
  #last: ExporterDomain | null = null;
  #view: DataView | null = null;

  constructor(limits: Partial<TemplateStoreLimits> = {}) {
    this.limits = { ...DEFAULT_TEMPLATE_STORE_LIMITS, ...limits };
    for (const [k, v] of Object.entries(this.limits)) if (!(Number.isInteger(v) && v >= 0)) throw new TypeError(`TemplateStore: bad limit ${k}`);
    // The snapshot counts a domain's samplers and a template's fields in u16.
    for (const k of ['maxSamplersPerDomain', 'maxFieldsPerTemplate'] as const) if (this.limits[k] > 0xffff) throw new TypeError(`TemplateStore: ${k} above 65535`);
  }

  /**
   * A DataView over the whole buffer of `bytes` (offsets stay absolute), reused while datagrams
   * come from the same buffer — one view per decrypted segment, not one per datagram.
   */
  viewOf(bytes: Uint8Array): DataView {
    const v = this.#view;
    if (v !== null && v.buffer === bytes.buffer) return v;
    const nv = new DataView(bytes.buffer);
    this.#view = nv;
    return nv;
  }

  /** Counts an event or a drop in the totals and, when given, in the domain. */
  count(domain: ExporterDomain | null, name: ExportCounterName, n = 1): void {
    this.counters[name] += n;
    if (domain !== null) domain.counters[name] += n;
  }

  /**
   * The domain for this exporter, created on first sight; null when the store is full
   * (`domain_cap` counted) or this exporter address already has `maxDomainsPerExporter`
   * domains (`domain_exporter_cap`). Remembers the last one: consecutive datagrams of one
   * exporter allocate nothing.
   */
  domain(address: Uint8Array, port: number, version: 5 | 9 | 10, domain: number): ExporterDomain | null {
    const last = this.#last;
    if (last !== null && last.port === port && last.version === version && last.domain === domain && sameAddress(last.exporter, address)) return last;
    const key = domainKey(address, port, version, domain);
    let d = this.#domains.get(key);
    if (d === undefined) {
      const refused = this.#domainRefusal(address);
      if (refused !== null) {
        this.count(null, refused);
        return null;
      }
      d = newDomain(key, address, port, version, domain);
      this.#addDomain(d);
    }
    this.#last = d;
    return d;
  }

  #domainRefusal(address: Uint8Array): 'domain_cap' | 'domain_exporter_cap' | null {
    if (this.#domains.size >= this.limits.maxDomains) return 'domain_cap';
    if ((this.#perExporter.get(addressKey(address)) ?? 0) >= this.limits.maxDomainsPerExporter) return 'domain_exporter_cap';
    return null;
  }

  #addDomain(d: ExporterDomain): void {
    this.#domains.set(d.key, d);
    const a = addressKey(d.exporter);
    this.#perExporter.set(a, (this.#perExporter.get(a) ?? 0) + 1);
  }

  /** What the store holds against its store-wide budgets (for tests and diagnostics). */
  usage(): TemplateStoreUsage {
    return { domains: this.#domains.size, templates: this.#templates, templateFields: this.#templateFields, samplers: this.#samplers };
  }

  /** Every known domain (for per-exporter diagnostics). */
  domains(): IterableIterator<ExporterDomain> {
    return this.#domains.values();
  }

  /**
   * Adds or replaces a template. Refused when the id is new and the domain is full
   * (`template_cap`), or when the store-wide `maxTemplates` / `maxTemplateFields` budget has no
   * room for it (`template_budget`; a template it would have replaced is removed too: the
   * exporter no longer sends that layout). @returns true when stored.
   */
  putTemplate(d: ExporterDomain, t: Template): boolean {
    const old = d.templates.get(t.id);
    if (old === undefined && d.templates.size >= this.limits.maxTemplatesPerDomain) {
      this.count(d, 'template_cap');
      return false;
    }
    const templates = this.#templates + (old === undefined ? 1 : 0);
    const fields = this.#templateFields + t.types.length - (old === undefined ? 0 : old.types.length);
    if (templates > this.limits.maxTemplates || fields > this.limits.maxTemplateFields) {
      if (old !== undefined) this.removeTemplate(d, t.id);
      this.count(d, 'template_budget');
      return false;
    }
    d.templates.set(t.id, t);
    this.#templates = templates;
    this.#templateFields = fields;
    return true;
  }

  /** Removes a template (IPFIX withdrawal). @returns false when the id is not known. */
  removeTemplate(d: ExporterDomain, id: number): boolean {
    const old = d.templates.get(id);
    if (old === undefined) return false;
    d.templates.delete(id);
    this.#templates--;
    this.#templateFields -= old.types.length;
    return true;
  }

  /**
   * Adds or updates a sampler (id a u32, or -1: the exporter-wide one; any other id is counted
   * `sampler_id_too_large` and ignored). A new id is refused (`sampler_cap`) beyond
   * `maxSamplersPerDomain` or the store-wide `maxSamplers`.
   */
  putSampler(d: ExporterDomain, id: number, mode: number, interval: number): void {
    if (id !== -1 && !(Number.isInteger(id) && id >= 0 && id <= 0xffffffff)) {
      this.count(d, 'sampler_id_too_large');
      return;
    }
    const s = d.samplers.get(id);
    if (s !== undefined) {
      s.mode = mode;
      s.interval = interval;
    } else if (d.samplers.size < this.limits.maxSamplersPerDomain && this.#samplers < this.limits.maxSamplers) {
      d.samplers.set(id, { mode, interval });
      this.#samplers++;
    } else {
      this.count(d, 'sampler_cap');
    }
  }

  /** Holds a copy of a data set whose template is unknown (evicting the oldest when full). */
  hold(d: ExporterDomain, templateId: number, bytes: Uint8Array, receiveTimeUs: number, exportTimeUs: number, sysUptimeMs: number): void {
    const { maxPendingSets, maxPendingBytes } = this.limits;
    if (bytes.length > maxPendingBytes || maxPendingSets === 0) {
      this.count(d, 'pending_overflow');
      return;
    }
    while (this.#pending.length >= maxPendingSets || this.#pendingBytes + bytes.length > maxPendingBytes) {
      const evicted = this.#pending.shift()!;
      this.#pendingBytes -= evicted.body.length;
      this.count(evicted.domain, 'pending_overflow');
    }
    // A copy: the datagram buffer is reused by the caller. Rare path (only before a template).
    this.#pending.push({ domain: d, templateId, body: bytes.slice(), receiveTimeUs, exportTimeUs, sysUptimeMs });
    this.#pendingBytes += bytes.length;
    this.count(d, 'pending_held');
  }

  /** The held sets, oldest first (worker checkpoint). */
  heldSets(): readonly PendingSet[] {
    return this.#pending;
  }

  /**
   * Holds sets taken from a checkpoint (already counted `pending_held` when first held), oldest
   * first; a set over the budgets is counted `pending_overflow`, as `hold` would.
   */
  restoreHeld(sets: readonly PendingSet[]): void {
    for (const p of sets) {
      if (this.#pending.length >= this.limits.maxPendingSets || this.#pendingBytes + p.body.length > this.limits.maxPendingBytes) {
        this.count(p.domain, 'pending_overflow');
        continue;
      }
      this.#pending.push(p);
      this.#pendingBytes += p.body.length;
    }
  }

  /** The domain with this identity, if the store holds it (never creates one). */
  lookup(address: Uint8Array, port: number, version: 5 | 9 | 10, domain: number): ExporterDomain | undefined {
    return this.#domains.get(domainKey(address, port, version, domain));
  }

  /** Removes and returns the held sets of one template, oldest first. */
  takePending(d: ExporterDomain, templateId: number): PendingSet[] {
    if (this.#pending.length === 0) return [];
    const taken: PendingSet[] = [];
    const kept: PendingSet[] = [];
    for (const p of this.#pending) (p.domain === d && p.templateId === templateId ? taken : kept).push(p);
    if (taken.length === 0) return taken;
    this.#pending = kept;
    for (const p of taken) this.#pendingBytes -= p.body.length;
    return taken;
  }

  /** Drops (`pending_expired`) held sets received more than `pendingMaxAgeUs` before `nowUs`. */
  expirePending(nowUs: number): void {
    if (this.#pending.length === 0) return;
    const limit = nowUs - this.limits.pendingMaxAgeUs;
    if (this.#pending[0].receiveTimeUs >= limit && this.#pending.length < 64) {
      let anyOld = false;
      for (const p of this.#pending) if (p.receiveTimeUs < limit) anyOld = true;
      if (!anyOld) return;
    }
    const kept: PendingSet[] = [];
    for (const p of this.#pending) {
      if (p.receiveTimeUs < limit) {
        this.#pendingBytes -= p.body.length;
        this.count(p.domain, 'pending_expired');
      } else kept.push(p);
    }
    this.#pending = kept;
  }

  /** Held sets and their bytes (for tests and diagnostics). */
  pendingSize(): { sets: number; bytes: number } {
    return { sets: this.#pending.length, bytes: this.#pendingBytes };
  }

  /** Ends the run: every held set is counted `pending_expired`. */
  flushPending(): void {
    for (const p of this.#pending) this.count(p.domain, 'pending_expired');
    this.#pending = [];
    this.#pendingBytes = 0;
  }

  /** Versioned binary image of templates, samplers and systemInitTime (no raw flow data). */
  snapshot(): Uint8Array {
    return writeSnapshot([...this.#domains.values()]);
  }

  /**
   * Replaces the store's templates and samplers with a snapshot's. A bad image (magic,
   * version, checksum, framing) leaves the store empty and returns `{ ok: false, reason }`; a
   * domain that is inconsistent, a duplicate, or does not fit this store's limits and budgets
   * (`maxDomains`, `maxDomainsPerExporter`, `maxTemplates`, `maxTemplateFields`, `maxSamplers`)
   * is skipped whole and counted `snapshot_domain_skipped`, the others are restored. Never
   * throws for bad bytes. Held sets are dropped either way (uncounted: the replay that follows
   * a restore brings them again); counters are kept.
   */
  restore(bytes: Uint8Array): RestoreResult {
    this.#clear();
    const result = readSnapshot(bytes, this.limits, (s) => this.#admit(s));
    if (!result.ok) {
      this.#clear();
      return result;
    }
    if (result.skipped > 0) this.count(null, 'snapshot_domain_skipped', result.skipped);
    return { ok: true, domains: result.domains, templates: result.templates };
  }

  #clear(): void {
    this.#domains.clear();
    this.#perExporter.clear();
    this.#templates = 0;
    this.#templateFields = 0;
    this.#samplers = 0;
    this.#last = null;
    this.#pending = [];
    this.#pendingBytes = 0;
  }

  /** Registers a restored domain when it fits every cap and budget whole. */
  #admit(s: SnapshotDomain): boolean {
    const key = domainKey(s.address, s.port, s.version, s.domain);
    if (this.#domains.has(key) || this.#domainRefusal(s.address) !== null) return false;
    let fields = 0;
    for (const t of s.templates) fields += t.types.length;
    const { maxTemplates, maxTemplateFields, maxSamplers } = this.limits;
    if (this.#templates + s.templates.length > maxTemplates || this.#templateFields + fields > maxTemplateFields || this.#samplers + s.samplers.size > maxSamplers) return false;
    const d = newDomain(key, s.address, s.port, s.version, s.domain);
    d.systemInitTimeMs = s.systemInitTimeMs;
    for (const [id, sampler] of s.samplers) d.samplers.set(id, sampler);
    for (const t of s.templates) d.templates.set(t.id, t);
    this.#addDomain(d);
    this.#templates += s.templates.length;
    this.#templateFields += fields;
    this.#samplers += s.samplers.size;
    return true;
  }
}

function newDomain(key: string, address: Uint8Array, port: number, version: 5 | 9 | 10, domain: number): ExporterDomain {
  return {
    key,
    exporter: address.slice(0, 16),
    port,
    version,
    domain,
    templates: new Map(),
    samplers: new Map(),
    systemInitTimeMs: -1,
    expectedSequence: -1,
    counters: newExportCounters(),
  };
}

function sameAddress(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}
