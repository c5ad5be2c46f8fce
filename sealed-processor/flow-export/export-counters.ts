/**
 * Flow-export diagnostics: datagrams, records and drops counted by stable reason name, totals
 * and per exporter domain (akvorado's "count bad input by exporter and reason, never fail").
 *
 * Counter names are part of the interface (logs, manifests, dashboards): never rename one.
 *
 * Events (not errors):
 *   datagrams            datagrams given to `decodeExportDatagram`
 *   flows                data records decoded and emitted (pending ones included)
 *   templates_added      data templates learnt (new or refreshed) — v9 and IPFIX
 *   options_templates_added options templates learnt
 *   templates_withdrawn  IPFIX templates withdrawn (one per id; "all" counts each id removed)
 *   option_records       options data records read (sampler tables, systemInitTime)
 *   pending_held         data sets held because their template had not arrived yet
 *   pending_decoded      held sets decoded when their template arrived
 *   sequence_gaps        header sequence number differed from the expected one (never fatal:
 *                        softflowd's IPFIX sequence numbers are wrong, UDP loses and reorders)
 *   time_unresolved      IPFIX sysUpTime-relative times (21/22) with no systemInitTime known:
 *                        the export time was used instead
 *
 * Drops, by reason (each one a datagram, a set or a record, as named):
 *   datagram_truncated      datagram shorter than its version's header (or than 2 bytes)
 *   unsupported_version     version is not 5, 9 or 10 (datagram)
 *   bad_header_length       IPFIX header length < 16 or > datagram, v9/v5 count inconsistent
 *                           (datagram; v5 records beyond the bytes present are not decoded)
 *   set_truncated           set header cut short, set length < 4 or past the message (the rest
 *                           of the datagram, which cannot be framed, is skipped)
 *   set_reserved_id         set id 2..255 (IPFIX) or 2..255 (v9): skipped by its length
 *   template_malformed      template / options template record cut short or inconsistent
 *                           (field count 0 in v9, scope count > field count, ...)
 *   template_too_many_fields more fields than `maxFieldsPerTemplate`
 *   template_cap            exporter domain already holds `maxTemplatesPerDomain` templates
 *   domain_cap              store already holds `maxDomains` exporter domains (datagram)
 *   withdraw_unknown        IPFIX withdrawal of a template id never learnt
 *   record_truncated        data record runs past its set (variable-length or fixed)
 *   record_zero_length      template whose records have length 0 (set skipped)
 *   pending_expired         held set whose template did not arrive within `pendingMaxAgeUs`
 *   pending_overflow        held set evicted (or refused) by `maxPendingSets`/`maxPendingBytes`
 *   domain_exporter_cap     exporter address already has `maxDomainsPerExporter` domains (any
 *                           port, version, observation domain id) (datagram)
 *   template_budget         template refused: the store-wide `maxTemplates` or
 *                           `maxTemplateFields` budget has no room for it (a template of that
 *                           id it would have replaced is removed with it)
 *   sampler_cap             options record's new sampler refused: its domain holds
 *                           `maxSamplersPerDomain` or the store `maxSamplers` samplers
 *   sampler_id_too_large    samplerId/selectorId (48/302) above 0xffffffff: an options
 *                           record's sampler is not stored; a data record naming one is decoded
 *                           unsampled (the record itself is kept)
 *   snapshot_domain_skipped exporter domain of a template-store snapshot left out by
 *                           `restore` (inconsistent, duplicate, or over this store's caps and
 *                           budgets); the snapshot's other domains are restored (totals only)
 *
 * Never: holds payload bytes. Per-domain entries carry the raw exporter address: anonymize it
 * before a snapshot leaves the sealed side.
 */

export const EXPORT_EVENTS = [
  'datagrams', 'flows', 'templates_added', 'options_templates_added', 'templates_withdrawn', 'option_records',
  'pending_held', 'pending_decoded', 'sequence_gaps', 'time_unresolved',
] as const;
export const EXPORT_DROPS = [
  'datagram_truncated', 'unsupported_version', 'bad_header_length', 'set_truncated', 'set_reserved_id',
  'template_malformed', 'template_too_many_fields', 'template_cap', 'domain_cap', 'withdraw_unknown',
  'record_truncated', 'record_zero_length', 'pending_expired', 'pending_overflow',
  'domain_exporter_cap', 'template_budget', 'sampler_cap', 'sampler_id_too_large',
  'snapshot_domain_skipped',
] as const;
export type ExportEvent = (typeof EXPORT_EVENTS)[number];
export type ExportDrop = (typeof EXPORT_DROPS)[number];
export type ExportCounterName = ExportEvent | ExportDrop;

/** One counter per name, all numbers. */
export type ExportCounters = Record<ExportCounterName, number>;

export function newExportCounters(): ExportCounters {
  // Object.fromEntries, not keyed stores into {}: those leave V8 a dictionary past a dozen
  // names, and `flows` is counted once per exported record (twice: totals and domain).
  return Object.fromEntries([...EXPORT_EVENTS, ...EXPORT_DROPS].map((n) => [n, 0])) as ExportCounters;
}

/** Plain-object view: events as they are, drops only when non-zero (like decode counters). */
export function exportCountersSnapshot(c: ExportCounters): Record<ExportEvent, number> & { dropped: Partial<Record<ExportDrop, number>> } {
  const out = { dropped: {} } as Record<ExportEvent, number> & { dropped: Partial<Record<ExportDrop, number>> };
  for (const n of EXPORT_EVENTS) out[n] = c[n];
  for (const n of EXPORT_DROPS) if (c[n] > 0) out.dropped[n] = c[n];
  return out;
}

/** Sum of every drop counter. */
export function totalDrops(c: ExportCounters): number {
  let sum = 0;
  for (const n of EXPORT_DROPS) sum += c[n];
  return sum;
}
