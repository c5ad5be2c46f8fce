/**
 * The template store's persistent image, so a restarted or replaying worker decodes data
 * records whose templates arrived before the restart.
 *
 * Format v1 (big-endian):
 *   0 "FSTS" · 4 u8 version (1) · 5 u8 0 · 6 u16 0 · 8 u32 domain count · then per domain:
 *     16 bytes exporter · u16 port · u8 protocol version (5/9/10) · u8 0 · u32 domain id ·
 *     f64 systemInitTimeMs (-1 unknown) · u16 sampler count · u16 template count ·
 *     samplers: i32 id · u32 mode · f64 rate (1-in-N, may be fractional) ·
 *     templates: u16 id · u8 options (0/1) · u8 0 · u16 scope count · u16 field count ·
 *       fields: u16 type · u16 length · u32 enterprise
 *   then u32 FNV-1a of every preceding byte.
 * Reading validates everything against the store's limits and recompiles each template with the
 * same rules as the wire decoders, so a snapshot cannot smuggle in what a datagram could not.
 * Never: holds flow records or raw data-plane addresses (it does hold exporter addresses, which
 * stay on the sealed side like the spool).
 */
import type { ExporterDomain, TemplateStoreLimits } from './template-store.ts';
import { compileTemplate } from './template.ts';

const MAGIC = 0x46535453; // "FSTS"
export const SNAPSHOT_VERSION = 1;

export type RestoreResult = { ok: true; domains: number; templates: number } | { ok: false; reason: string };

function fnv1a(bytes: Uint8Array, end: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < end; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

export function writeSnapshot(domains: ExporterDomain[]): Uint8Array {
  let size = 12 + 4;
  for (const d of domains) {
    size += 36 + d.samplers.size * 16;
    for (const t of d.templates.values()) size += 8 + t.types.length * 8;
  }
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setUint32(0, MAGIC);
  v.setUint8(4, SNAPSHOT_VERSION);
  v.setUint32(8, domains.length);
  let o = 12;
  for (const d of domains) {
    out.set(d.exporter, o);
    v.setUint16(o + 16, d.port);
    v.setUint8(o + 18, d.version);
    v.setUint32(o + 20, d.domain);
    v.setFloat64(o + 24, d.systemInitTimeMs);
    v.setUint16(o + 32, d.samplers.size);
    v.setUint16(o + 34, d.templates.size);
    o += 36;
    for (const [id, s] of d.samplers) {
      v.setInt32(o, id);
      v.setUint32(o + 4, s.mode);
      v.setFloat64(o + 8, s.interval);
      o += 16;
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
 * Parses a snapshot into domains made by `create` (null: duplicate domain).
 * @returns ok with counts, or the first problem found; never throws for bad bytes.
 */
export function readSnapshot(
  bytes: Uint8Array,
  limits: Readonly<TemplateStoreLimits>,
  create: (address: Uint8Array, port: number, version: 5 | 9 | 10, domain: number) => ExporterDomain | null,
): RestoreResult {
  const fail = (reason: string): RestoreResult => ({ ok: false, reason });
  if (bytes.length < 16) return fail('too short');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0) !== MAGIC) return fail('bad magic');
  if (v.getUint8(4) !== SNAPSHOT_VERSION) return fail(`unsupported version ${v.getUint8(4)}`);
  const end = bytes.length - 4;
  if (v.getUint32(end) !== fnv1a(bytes, end)) return fail('checksum mismatch');
  const count = v.getUint32(8);
  if (count > limits.maxDomains) return fail('too many domains');
  let o = 12;
  let templates = 0;
  for (let n = 0; n < count; n++) {
    if (o + 36 > end) return fail('truncated domain');
    const rawVersion = v.getUint8(o + 18);
    if (rawVersion !== 5 && rawVersion !== 9 && rawVersion !== 10) return fail('bad protocol version');
    const version = rawVersion as 5 | 9 | 10;
    const systemInit = v.getFloat64(o + 24);
    if (!(Number.isInteger(systemInit) && systemInit >= -1)) return fail('bad systemInitTime');
    const samplers = v.getUint16(o + 32);
    const tcount = v.getUint16(o + 34);
    if (samplers > limits.maxSamplersPerDomain || tcount > limits.maxTemplatesPerDomain) return fail('domain over limits');
    if (version === 5 && (samplers > 0 || tcount > 0)) return fail('v5 domain with templates');
    const d = create(bytes.slice(o, o + 16), v.getUint16(o + 16), version, v.getUint32(o + 20));
    if (d === null) return fail('duplicate domain');
    d.systemInitTimeMs = systemInit;
    o += 36;
    if (o + samplers * 16 > end) return fail('truncated samplers');
    for (let i = 0; i < samplers; i++, o += 16) {
      const id = v.getInt32(o);
      const interval = v.getFloat64(o + 8);
      if (d.samplers.has(id)) return fail('duplicate sampler');
      if (!(interval >= 1 && interval <= 2 ** 32)) return fail('bad sampling rate');
      d.samplers.set(id, { mode: v.getUint32(o + 4), interval });
    }
    for (let i = 0; i < tcount; i++) {
      if (o + 8 > end) return fail('truncated template');
      const id = v.getUint16(o);
      const options = v.getUint8(o + 2);
      const scopes = v.getUint16(o + 4);
      const fields = v.getUint16(o + 6);
      o += 8;
      if (id < 256 || options > 1 || fields === 0 || fields > limits.maxFieldsPerTemplate) return fail('bad template header');
      if (options === 1 ? scopes > fields || (version === 10 && scopes === 0) : scopes !== 0) return fail('bad scope count');
      if (d.templates.has(id)) return fail('duplicate template');
      if (o + fields * 8 > end) return fail('truncated fields');
      const types = new Uint16Array(fields);
      const lengths = new Uint16Array(fields);
      const pens = new Uint32Array(fields);
      for (let f = 0; f < fields; f++, o += 8) {
        types[f] = v.getUint16(o);
        lengths[f] = v.getUint16(o + 2);
        pens[f] = v.getUint32(o + 4);
        if (version === 10 && types[f] & 0x8000) return fail('enterprise bit in type');
        if (version === 9 && pens[f] !== 0) return fail('enterprise field in v9');
      }
      d.templates.set(id, compileTemplate(version as 9 | 10, id, options === 1, scopes, types, lengths, pens));
      templates++;
    }
  }
  if (o !== end) return fail('trailing bytes');
  return { ok: true, domains: count, templates };
}
