/**
 * The template store's persistent image, so a restarted or replaying worker decodes data
 * records whose templates arrived before the restart.
 *
 * Format v2 (big-endian):
 *   0 "FSTS" · 4 u8 version (2) · 5 u8 0 · 6 u16 0 · 8 u32 domain count · then per domain:
 *     u32 length of the rest of this domain's record (so a reader can skip it) ·
 *     16 bytes exporter · u16 port · u8 protocol version (5/9/10) · u8 0 · u32 domain id ·
 *     f64 systemInitTimeMs (-1 unknown) · u16 sampler count · u16 template count ·
 *     samplers: u32 id · u8 flags (bit 0: the exporter-wide sampler, id then 0) · u8 0 ·
 *       u16 0 · u32 mode · f64 rate (1-in-N, may be fractional) ·
 *     templates: u16 id · u8 options (0/1) · u8 0 · u16 scope count · u16 field count ·
 *       fields: u16 type · u16 length · u32 enterprise
 *   then u32 FNV-1a of every preceding byte.
 * v1 stored sampler ids as i32 (ids ≥ 2^31 aliased the exporter-wide sampler -1) and had no
 * domain lengths; it is not read (a restore of one fails, and the replay relearns).
 * Size: at most 16 + domains × 40 + samplers × 20 + templates × 8 + fields × 8 bytes, i.e.
 * ≈ 8.6 MiB at the store's default budgets (template-store.ts).
 * Reading validates everything against the store's limits and recompiles each template with the
 * same rules as the wire decoders, so a snapshot cannot smuggle in what a datagram could not.
 * A bad image (magic, version, checksum, framing) is refused whole; a domain that is
 * inconsistent inside a sound image is skipped on its own (`skipped`).
 * Never: holds flow records or raw data-plane addresses (it does hold exporter addresses, which
 * stay on the sealed side like the spool).
 */
import type { Sampler, TemplateStoreLimits } from './template-store.ts';
import { compileTemplate, type Template } from './template.ts';

const MAGIC = 0x46535453; // "FSTS"
export const SNAPSHOT_VERSION = 2;
const DOMAIN_HEAD = 40;
const SAMPLER_BYTES = 20;
const SAMPLER_EXPORTER_WIDE = 1;
/** The in-memory sampler id of the exporter-wide sampler (ExporterDomain.samplers). */
const EXPORTER_WIDE_ID = -1;

export type RestoreResult = { ok: true; domains: number; templates: number } | { ok: false; reason: string };

/** One domain as read from a snapshot, before the store admits it. */
export interface SnapshotDomain {
  address: Uint8Array;
  port: number;
  version: 5 | 9 | 10;
  domain: number;
  systemInitTimeMs: number;
  samplers: Map<number, Sampler>;
  templates: Template[];
}

/** What `writeSnapshot` needs of a domain. */
export interface SnapshotSource {
  readonly exporter: Uint8Array;
  readonly port: number;
  readonly version: 5 | 9 | 10;
  readonly domain: number;
  readonly systemInitTimeMs: number;
  readonly samplers: ReadonlyMap<number, Sampler>;
  readonly templates: ReadonlyMap<number, Template>;
}

function fnv1a(bytes: Uint8Array, end: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < end; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

function domainBytes(d: SnapshotSource): number {
  let n = DOMAIN_HEAD + d.samplers.size * SAMPLER_BYTES;
  for (const t of d.templates.values()) n += 8 + t.types.length * 8;
  return n;
}

/**
 * @throws TypeError for a sampler id that is neither -1 nor a u32, or more than 65535 samplers
 *   or templates in a domain (the store never holds such).
 */
export function writeSnapshot(domains: SnapshotSource[]): Uint8Array {
  let size = 12 + 4;
  for (const d of domains) size += domainBytes(d);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setUint32(0, MAGIC);
  v.setUint8(4, SNAPSHOT_VERSION);
  v.setUint32(8, domains.length);
  let o = 12;
  for (const d of domains) {
    if (d.samplers.size > 0xffff || d.templates.size > 0xffff) throw new TypeError('writeSnapshot: domain too large');
    v.setUint32(o, domainBytes(d) - 4);
    out.set(d.exporter.subarray(0, 16), o + 4);
    v.setUint16(o + 20, d.port);
    v.setUint8(o + 22, d.version);
    v.setUint32(o + 24, d.domain);
    v.setFloat64(o + 28, d.systemInitTimeMs);
    v.setUint16(o + 36, d.samplers.size);
    v.setUint16(o + 38, d.templates.size);
    o += DOMAIN_HEAD;
    for (const [id, s] of d.samplers) {
      const wide = id === EXPORTER_WIDE_ID;
      if (!wide && !(Number.isInteger(id) && id >= 0 && id <= 0xffffffff)) throw new TypeError(`writeSnapshot: bad sampler id ${id}`);
      v.setUint32(o, wide ? 0 : id);
      v.setUint8(o + 4, wide ? SAMPLER_EXPORTER_WIDE : 0);
      v.setUint32(o + 8, s.mode);
      v.setFloat64(o + 12, s.interval);
      o += SAMPLER_BYTES;
    }
    for (const t of d.templates.values()) {
      v.setUint16(o, t.id);
      v.setUint8(o + 2, t.options ? 1 : 0);
      v.setUint16(o + 4, t.scopeCount);
      v.setUint16(o + 6, t.types.length);
      o += 8;
      for (let i = 0; i < t.types.length; i++) {
        v.setUint16(o, t.types[i]);
        v.setUint16(o + 2, t.lengths[i]);
        v.setUint32(o + 4, t.enterprises[i]);
        o += 8;
      }
    }
  }
  v.setUint32(o, fnv1a(out, o));
  return out;
}

/**
 * Parses a snapshot, handing each sound domain to `admit` (false: the store refused it —
 * duplicate, over a cap or budget — and it counts as skipped).
 * @returns ok with the domains and templates admitted and the domains skipped (inconsistent or
 *   refused), or the image's problem; never throws for bad bytes.
 */
export function readSnapshot(
  bytes: Uint8Array,
  limits: Readonly<TemplateStoreLimits>,
  admit: (d: SnapshotDomain) => boolean,
): { ok: true; domains: number; templates: number; skipped: number } | { ok: false; reason: string } {
  const fail = (reason: string) => ({ ok: false as const, reason });
  if (bytes.length < 16) return fail('too short');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0) !== MAGIC) return fail('bad magic');
  if (v.getUint8(4) !== SNAPSHOT_VERSION) return fail(`unsupported version ${v.getUint8(4)}`);
  const end = bytes.length - 4;
  if (v.getUint32(end) !== fnv1a(bytes, end)) return fail('checksum mismatch');
  const count = v.getUint32(8);
  let o = 12;
  let domains = 0;
  let templates = 0;
  let skipped = 0;
  // Bounded by the bytes: every domain takes at least 4 of them.
  for (let n = 0; n < count; n++) {
    if (o + 4 > end) return fail('truncated domain');
    const dEnd = o + 4 + v.getUint32(o);
    if (dEnd > end) return fail('truncated domain');
    const d = readDomain(v, o + 4, dEnd, limits);
    o = dEnd;
    if (typeof d === 'string' || !admit(d)) {
      skipped++;
      continue;
    }
    domains++;
    templates += d.templates.length;
  }
  if (o !== end) return fail('trailing bytes');
  return { ok: true, domains, templates, skipped };
}

/** One domain record at [o, end) (after its length): the domain, or why it is unusable. */
function readDomain(v: DataView, o: number, end: number, limits: Readonly<TemplateStoreLimits>): SnapshotDomain | string {
  if (o + DOMAIN_HEAD - 4 > end) return 'truncated domain';
  const rawVersion = v.getUint8(o + 18);
  if (rawVersion !== 5 && rawVersion !== 9 && rawVersion !== 10) return 'bad protocol version';
  const version = rawVersion as 5 | 9 | 10;
  const systemInit = v.getFloat64(o + 24);
  if (!(Number.isInteger(systemInit) && systemInit >= -1)) return 'bad systemInitTime';
  const scount = v.getUint16(o + 32);
  const tcount = v.getUint16(o + 34);
  if (scount > limits.maxSamplersPerDomain || tcount > limits.maxTemplatesPerDomain) return 'domain over limits';
  if (version === 5 && (scount > 0 || tcount > 0)) return 'v5 domain with templates';
  const d: SnapshotDomain = {
    address: new Uint8Array(v.buffer, v.byteOffset + o, 16).slice(),
    port: v.getUint16(o + 16),
    version,
    domain: v.getUint32(o + 20),
    systemInitTimeMs: systemInit,
    samplers: new Map(),
    templates: [],
  };
  o += DOMAIN_HEAD - 4;
  if (o + scount * SAMPLER_BYTES > end) return 'truncated samplers';
  for (let i = 0; i < scount; i++, o += SAMPLER_BYTES) {
    const flags = v.getUint8(o + 4);
    const raw = v.getUint32(o);
    if (flags > SAMPLER_EXPORTER_WIDE || (flags === SAMPLER_EXPORTER_WIDE && raw !== 0)) return 'bad sampler flags';
    const id = flags === SAMPLER_EXPORTER_WIDE ? EXPORTER_WIDE_ID : raw;
    const interval = v.getFloat64(o + 12);
    if (d.samplers.has(id)) return 'duplicate sampler';
    if (!(interval >= 1 && interval <= 2 ** 32)) return 'bad sampling rate';
    d.samplers.set(id, { mode: v.getUint32(o + 8), interval });
  }
  const ids = new Set<number>();
  for (let i = 0; i < tcount; i++) {
    if (o + 8 > end) return 'truncated template';
    const id = v.getUint16(o);
    const options = v.getUint8(o + 2);
    const scopes = v.getUint16(o + 4);
    const fields = v.getUint16(o + 6);
    o += 8;
    if (id < 256 || options > 1 || fields === 0 || fields > limits.maxFieldsPerTemplate) return 'bad template header';
    if (options === 1 ? scopes > fields || (version === 10 && scopes === 0) : scopes !== 0) return 'bad scope count';
    if (ids.has(id)) return 'duplicate template';
    ids.add(id);
    if (o + fields * 8 > end) return 'truncated fields';
    const types = new Uint16Array(fields);
    const lengths = new Uint16Array(fields);
    const pens = new Uint32Array(fields);
    for (let f = 0; f < fields; f++, o += 8) {
      types[f] = v.getUint16(o);
      lengths[f] = v.getUint16(o + 2);
      pens[f] = v.getUint32(o + 4);
      if (version === 10 && types[f] & 0x8000) return 'enterprise bit in type';
      if (version === 9 && pens[f] !== 0) return 'enterprise field in v9';
    }
    d.templates.push(compileTemplate(version as 9 | 10, id, options === 1, scopes, types, lengths, pens));
  }
  if (o !== end) return 'domain length mismatch';
  return d;
}
