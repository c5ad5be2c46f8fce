/**
 * The query request and response of `POST /v1/query` (and what the convenience GETs build).
 *
 * Owns: the structured filter language, group-by forms, metric names and the response shape.
 * Every name a user can send is an enum derived from schemas/columns.ts, and every value is a
 * typed literal, so nothing a user sends can become SQL text (api/query compiles it with bound
 * parameters). Never: accepts free-form column names or expressions.
 */
import { z } from 'zod';
import { FLOW_COLUMNS, EndReason, RecordSource } from './columns.ts';
import { DatasetId } from './claims.ts';

function nonEmpty(names: string[]): [string, ...string[]] {
  if (names.length === 0) throw new TypeError('empty column list');
  return names as [string, ...string[]];
}

/** Columns a user may group on directly (queryable, not timestamps: use a time bucket). */
export const GROUP_COLUMNS = FLOW_COLUMNS.filter((c) => c.queryable && c.kind !== 'timestamp').map((c) => c.name);
/** Columns a record listing may return (address halves are internal). */
export const RECORD_COLUMNS = FLOW_COLUMNS.filter((c) => !('derivedFrom' in c)).map((c) => c.name);

export const GroupColumn = z.enum(nonEmpty(GROUP_COLUMNS));
export const RecordColumn = z.enum(nonEmpty(RECORD_COLUMNS));

/** Per-flow values that have min/max/avg/quantile metrics (bytes and packets: both directions). */
export const VALUE_METRICS = {
  bytes: 'IP-layer bytes per flow (both directions)',
  packets: 'packets per flow (both directions)',
  duration: 'flow duration in milliseconds',
} as const;
export type ValueName = keyof typeof VALUE_METRICS;
/** Statistics over a per-flow value; quantiles are continuous (linear interpolation between ranks). */
export const VALUE_STATS = { min: 'Smallest', max: 'Largest', avg: 'Mean', p50: 'Median', p95: '95th percentile of', p99: '99th percentile of' } as const;
export type ValueStat = keyof typeof VALUE_STATS;

/** Metric name → meaning (the compiler maps each to a fixed SQL aggregate). */
export const METRICS: Readonly<Record<string, string>> = {
  flows: 'Number of flows.',
  packets: 'Packets in both directions.',
  bytes: 'IP-layer bytes in both directions.',
  packets_fwd: 'Packets initiator → responder.',
  packets_rev: 'Packets responder → initiator.',
  bytes_fwd: 'Bytes initiator → responder.',
  bytes_rev: 'Bytes responder → initiator.',
  ...Object.fromEntries(GROUP_COLUMNS.map((c) => [`distinct_${c}`, `Distinct values of ${c} (exact).`])),
  ...Object.fromEntries(
    (Object.keys(VALUE_METRICS) as ValueName[]).flatMap((v) => (Object.keys(VALUE_STATS) as ValueStat[]).map((st) => [`${v}_${st}`, `${VALUE_STATS[st]} ${VALUE_METRICS[v]}.`])),
  ),
  duration_avg_ms: 'Mean flow duration, milliseconds (same as duration_avg).',
  bps: 'Bits per second: 8 × bytes / duration, each summed over the flows that last (a zero-duration flow adds bytes but no time); null when none does.',
  pps: 'Packets per second: packets / duration, each summed over the flows that last; null when none does.',
  bpp: 'Bytes per packet: bytes / packets summed over the flows; null when there are no packets.',
};
export type Metric = string;
export const Metric = z.enum(nonEmpty(Object.keys(METRICS)), { error: 'unknown metric (GET /openapi.json lists them)' });

const U8 = z.number().int().min(0).max(255);
const U16 = z.number().int().min(0).max(65_535);
const U32 = z.number().int().min(0).max(0xffff_ffff);
const Count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** IP protocol names accepted wherever a protocol number is (IANA protocol numbers). */
export const PROTOCOL_NUMBERS = {
  icmp: 1, igmp: 2, tcp: 6, udp: 17, gre: 47, esp: 50, ah: 51, icmp6: 58, 'ipv6-icmp': 58, ospf: 89, pim: 103, sctp: 132,
} as const;
export type ProtocolName = keyof typeof PROTOCOL_NUMBERS;

/** A protocol number or lower-case name (`"tcp"` → 6); the names are an enum in the OpenAPI document. */
const ProtocolValue = z.union([
  U8,
  z
    .enum(Object.keys(PROTOCOL_NUMBERS) as [ProtocolName, ...ProtocolName[]], { error: `expected a protocol number 0-255 or one of ${Object.keys(PROTOCOL_NUMBERS).join(', ')}` })
    .transform((name) => PROTOCOL_NUMBERS[name]),
]);

/** One value, a list (any of), or an inclusive range. */
function intMatcher(t: z.ZodNumber) {
  return z.union([t, z.array(t).min(1).max(256), z.strictObject({ min: t, max: t })]);
}
const Range = z.strictObject({ min: Count.optional(), max: Count.optional() });

/** An IPv4 or IPv6 CIDR (or a bare address = host route). Parsed strictly by api/query/cidr.ts. */
export const Cidr = z.string().min(2).max(64).regex(/^[0-9a-fA-F:.]+(\/\d{1,3})?$/, 'expected an IPv4 or IPv6 CIDR');
const NetMatcher = z.union([Cidr, z.array(Cidr).min(1).max(256)]);

const RECORD_SOURCES = Object.values(RecordSource);
/** One record source or a list (any of); the error names the allowed values. */
const RecordSourceMatcher = z.union([z.enum(RECORD_SOURCES), z.array(z.enum(RECORD_SOURCES)).min(1).max(256)], {
  error: `expected a record source (${RECORD_SOURCES.join(', ')}) or a list of them`,
});

/**
 * TCP flag bits as in the archive's `tcp_flags_fwd`/`tcp_flags_rev` columns, keyed by the letter
 * nfdump uses (`E` and `C` are flowseal's: nfdump 1.7 knows only `FSRPAU`).
 */
export const TCP_FLAG_BITS = { F: 1, S: 2, R: 4, P: 8, A: 16, U: 32, E: 64, C: 128 } as const;
export type TcpFlagLetter = keyof typeof TCP_FLAG_BITS;

/** A non-empty set of TCP flags: a bit mask 1-255, or letters (`"SA"`, case-insensitive) turned into the mask. */
const TcpFlagMask = z.union([
  U8.min(1),
  z
    .string()
    .regex(/^[FSRPAUECfsrpauec]{1,8}$/, 'expected TCP flag letters from FSRPAUEC')
    .transform((s) => [...s.toUpperCase()].reduce((m, c) => m | TCP_FLAG_BITS[c as TcpFlagLetter], 0)),
]);

/** Largest bound a real-valued comparison takes (bits per second of a flow can exceed 2^53). */
export const MAX_REAL_BOUND = 1e20;
const RealBound = z.number().min(0).max(MAX_REAL_BOUND);

/**
 * A comparison on a real-valued quantity: every given bound must hold. `min`/`max` are inclusive
 * (>=, <=), `gt`/`lt` exclusive (>, <). `{}` matches every flow.
 */
export const RealComparison = z.strictObject({ min: RealBound.optional(), max: RealBound.optional(), gt: RealBound.optional(), lt: RealBound.optional() });
export type RealComparison = z.infer<typeof RealComparison>;

/**
 * Deepest `and`/`or`/`not` nesting a filter may have (the root is level 0). Bodies are checked
 * against it before schema validation (api/query/filter-depth.ts), because validating a very
 * deep tree recursively would exhaust the stack.
 */
export const MAX_FILTER_DEPTH = 16;

/**
 * Structured filter. Keys of one object are ANDed; `and`/`or`/`not` combine sub-filters.
 * Address filters apply to the anonymized addresses (prefix-preserving, so CIDRs keep meaning
 * within the anonymized space). `bytes`/`packets` are totals over both directions.
 * The nfdump-style text form (api/query/nfdump-filter.ts) parses into this structure; each key's
 * description (shown in the OpenAPI document) names its nfdump form.
 *
 * Router export (schema version 2: `recordSource` to `observationDomain`): a row without the
 * value — a packet row (export columns), an export row whose exporter did not send it, any row
 * of a file older than version 2 (record_source included) — matches none of these keys (so it
 * matches a `not` of them).
 */
export const QueryFilter = z.strictObject({
  protocol: z.union([ProtocolValue, z.array(ProtocolValue).min(1).max(256), z.strictObject({ min: U8, max: U8 })]).optional()
    .meta({ description: 'IP protocol: a number or name (`tcp`, `udp`, `icmp`, `icmp6`, ...), a list of them, or an inclusive range. nfdump: `proto tcp`.' }),
  ipVersion: z.union([z.literal(4), z.literal(6)]).optional().meta({ description: 'IP version. nfdump: `ipv4`, `ipv6`.' }),
  srcPort: intMatcher(U16).optional().meta({ description: 'Initiator port: a value, a list (any of) or an inclusive range. nfdump: `src port 443`, `src port in [ 80 443 ]`.' }),
  dstPort: intMatcher(U16).optional().meta({ description: 'Responder port. nfdump: `dst port > 1023`.' }),
  port: intMatcher(U16).optional().meta({ description: "Either side's port. nfdump: `port 53`." }),
  srcNet: NetMatcher.optional().meta({ description: 'Initiator address (anonymized): an address or CIDR, or a list (any of). nfdump: `src host 10.0.0.1`, `src net 10.0.0.0/8`, `src ip in [ ... ]`.' }),
  dstNet: NetMatcher.optional().meta({ description: 'Responder address (anonymized). nfdump: `dst net 2001:db8::/32`.' }),
  net: NetMatcher.optional().meta({ description: "Either side's address (anonymized). nfdump: `net 10.0.0.0/8`, `host 10.0.0.1`." }),
  vlanId: intMatcher(U16).optional().meta({ description: 'Outer VLAN id. nfdump: `vlan 10`.' }),
  bytes: Range.optional().meta({ description: 'IP-layer bytes, both directions: inclusive `min`/`max`. nfdump: `bytes > 1k`.' }),
  packets: Range.optional().meta({ description: 'Packets, both directions: inclusive `min`/`max`. nfdump: `packets >= 10`.' }),
  endReason: z.union([z.enum(Object.values(EndReason)), z.array(z.enum(Object.values(EndReason))).min(1)]).optional()
    .meta({ description: 'Why the flow record ended, or a list. flowseal: `endreason fin`, `endreason in [ fin rst ]`.' }),
  tcpFlags: z.union([TcpFlagMask, z.strictObject({ all: TcpFlagMask.optional(), any: TcpFlagMask.optional() })]).optional()
    .meta({ description: 'TCP flags, nfdump\'s `flags SA`: the flow is TCP and the union of its flags in both directions (`tcp_flags_fwd | tcp_flags_rev`) has every flag of `all` and at least one of `any`; a bare mask (number or letters FSRPAUEC) is `{ all: mask }`.' }),
  duration: RealComparison.optional().meta({ description: '`time_end - time_start` in milliseconds (microsecond resolution). nfdump: `duration > 1000`.' }),
  bps: RealComparison.optional().meta({ description: 'Bits per second over both directions, `8 * bytes / duration`; 0 when the duration is 0 (as nfdump). nfdump: `bps > 1m`.' }),
  pps: RealComparison.optional().meta({ description: 'Packets per second over both directions; 0 when the duration is 0 (as nfdump). nfdump: `pps > 100`.' }),
  bpp: RealComparison.optional().meta({ description: 'Bytes per packet over both directions; 0 when there are no packets (as nfdump). nfdump: `bpp < 100`.' }),
  recordSource: RecordSourceMatcher.optional()
    .meta({ description: 'Where the row came from (`record_source`): `packets`, `netflow5`, `netflow9` or `ipfix`, or a list. flowseal: `recordsource ipfix`, `recordsource in [ netflow9 ipfix ]`; nfdump: `nfversion 9` (5, 9, 10 = IPFIX; packet rows count as above 10).' }),
  exporterNet: NetMatcher.optional().meta({ description: 'Exporter (router) address of an exported record, anonymized like `srcNet`: an address or CIDR, or a list. nfdump: `router ip 192.0.2.1`; flowseal also `router net <cidr>`, `router ip in [ ... ]`.' }),
  nextHopNet: NetMatcher.optional().meta({ description: 'IP next hop (`next_hop_addr`), anonymized. nfdump: `next ip 192.0.2.1`, `next ip in [ ... ]`; flowseal also `next net <cidr>`.' }),
  bgpNextHopNet: NetMatcher.optional().meta({ description: 'BGP next hop (`bgp_next_hop_addr`), anonymized. nfdump: `bgpnext ip 192.0.2.1`; flowseal also `bgpnext net <cidr>`, `bgpnext ip in [ ... ]`.' }),
  srcAs: intMatcher(U32).optional().meta({ description: 'Source BGP AS number 0-4294967295: a value, a list (any of) or an inclusive range. nfdump: `src as 64512`, `src as in [ ... ]`, `src as > 64511`.' }),
  dstAs: intMatcher(U32).optional().meta({ description: 'Destination BGP AS number. nfdump: `dst as 13335`.' }),
  as: intMatcher(U32).optional().meta({ description: "Either side's AS number. nfdump: `as 13335`, `as in [ 13335 15169 ]`." }),
  inputInterface: intMatcher(U32).optional().meta({ description: 'Input interface index (SNMP ifIndex, IPFIX ingressInterface), 0-4294967295. nfdump: `in if 3`; flowseal also `in if > 3`.' }),
  outputInterface: intMatcher(U32).optional().meta({ description: 'Output interface index (IPFIX egressInterface). nfdump: `out if 4`.' }),
  interface: intMatcher(U32).optional().meta({ description: 'Either interface. nfdump: `if 3`.' }),
  tos: intMatcher(U8).optional().meta({ description: 'The ToS / traffic class byte as exported (IPFIX ipClassOfService), 0-255. nfdump: `tos 184`, `src tos > 0` (nfdump\'s `dst tos`, the post-ToS, is not kept).' }),
  observationDomain: intMatcher(U32).optional()
    .meta({ description: 'Observation domain: the IPFIX observation domain id, the NetFlow v9 source id, or NetFlow v5 engine type << 8 | engine id (from the export header). nfdump: `observation domain id 7` (nfdump reads the record\'s observationDomainId, IPFIX 149, instead: the same when an exporter sends both); flowseal also comparators.' }),
  get and(): z.ZodOptional<z.ZodArray<typeof QueryFilter>> {
    return z.array(QueryFilter).min(1).max(32).optional().meta({ description: 'Every one of these sub-filters (nfdump: `and`).' });
  },
  get or(): z.ZodOptional<z.ZodArray<typeof QueryFilter>> {
    return z.array(QueryFilter).min(1).max(32).optional().meta({ description: 'At least one of these sub-filters (nfdump: `or`).' });
  },
  get not(): z.ZodOptional<typeof QueryFilter> {
    return QueryFilter.optional().meta({ description: 'Flows this sub-filter does not match, rows lacking a value it tests included (nfdump: `not`).' });
  },
});
export type QueryFilter = z.infer<typeof QueryFilter>;
/** A filter as a client may send it (protocol and flag names not yet turned into numbers). */
export type QueryFilterInput = z.input<typeof QueryFilter>;

/** Time bucket widths, in milliseconds. */
export const TIME_BUCKET_MS = { '1s': 1_000, '10s': 10_000, '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '6h': 21_600_000, '1d': 86_400_000 } as const;
export const TimeBucket = z.enum(Object.keys(TIME_BUCKET_MS) as [keyof typeof TIME_BUCKET_MS, ...(keyof typeof TIME_BUCKET_MS)[]]);
export type TimeBucket = z.infer<typeof TimeBucket>;

/** Group by a column, an address prefix (output `src_net`/`dst_net`), or a time bucket (output `time_bucket`). */
export const GroupBy = z.union([
  GroupColumn,
  z.strictObject({
    column: z.enum(['src_addr', 'dst_addr']),
    prefixV4: z.number().int().min(0).max(32).default(24),
    prefixV6: z.number().int().min(0).max(128).default(48),
  }),
  z.strictObject({ timeBucket: TimeBucket }),
]);
export type GroupBy = z.infer<typeof GroupBy>;

/**
 * A time: ISO-8601 with offset, `now`, or relative to now as `-<n><unit>` (unit s, m, h, d or w:
 * `-90s`, `-15m`, `-1h`, `-7d`, `-2w`). Relative times are resolved once, when the query is planned.
 */
export const TimeValue = z.union([
  z.iso.datetime({ offset: true }),
  z.string().regex(/^(now|-[1-9][0-9]{0,5}[smhdw])$/, 'expected an ISO-8601 time with offset, "now", or a relative time such as "-1h" (units s, m, h, d, w)'),
]);
export const TimeRange = z.strictObject({
  /** Inclusive start. */
  from: TimeValue,
  /** Exclusive end. */
  to: TimeValue,
});
export type TimeRange = z.infer<typeof TimeRange>;

export const OrderBy = z.strictObject({
  /** An output column: a group key name (`src_net`, `time_bucket`, ...), a metric, or a record column. */
  by: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/),
  dir: z.enum(['asc', 'desc']).default('desc'),
});
export type OrderBy = z.infer<typeof OrderBy>;

/** Longest filter expression accepted, characters. */
export const FILTER_TEXT_MAX = 8192;

/** A post-aggregation condition on one metric (nfdump `-P`-like): both bounds inclusive. */
export const MetricRange = z.strictObject({ min: z.number().optional(), max: z.number().optional() });

export const QueryRequest = z.strictObject({
  dataset: DatasetId,
  timeRange: TimeRange,
  /** The structured filter, or the same as an nfdump-style expression (`"proto tcp and dst port 443"`). */
  filter: z.union([QueryFilter, z.string().max(FILTER_TEXT_MAX)]).optional(),
  /** Record listing only: columns to return (default all record columns). */
  select: z.array(RecordColumn).min(1).max(RECORD_COLUMNS.length).optional(),
  /**
   * Without groupBy the query is a record listing (needs scope `records`); `[]` gives one total
   * row. Keys that identify single connections (both exact addresses plus a port) also need
   * `records` and count against the record budget.
   */
  groupBy: z.array(GroupBy).max(6).optional(),
  /** Aggregate metrics; default flows, packets, bytes. */
  metrics: z.array(Metric).min(1).max(Object.keys(METRICS).length).optional(),
  orderBy: z.array(OrderBy).min(1).max(4).optional(),
  /** Rows wanted; capped by the server's limits (`stats.limitCapped` says when and why). */
  limit: z.number().int().positive().max(1_000_000).optional(),
  /**
   * Aggregates: add one row with every group key null and `other` true, holding what the
   * returned rows leave out (further groups and withheld small ones), so the rows add up to the
   * total. The row itself is withheld when it covers fewer than the minimum group size.
   */
  other: z.boolean().optional(),
  /**
   * Aggregates grouped by a time bucket: one row per bucket in the time range (for every
   * combination of the other keys that appears), buckets without admissible flows zero (counts
   * and sums 0, other metrics null). Default true when the time bucket is the only key.
   */
  fill: z.boolean().optional(),
  /** Aggregates: keep only groups whose metrics (each must be in `metrics`) fall in these ranges. */
  having: z.partialRecord(Metric, MetricRange).optional(),
  /** Record listings: continue after the last row of an earlier page (its `stats.nextCursor`). */
  cursor: z.string().min(1).max(4096).optional(),
});
export type QueryRequest = z.infer<typeof QueryRequest>;

export const ResultColumn = z.strictObject({ name: z.string(), type: z.string() });
export type ResultColumn = z.infer<typeof ResultColumn>;

export const QueryStats = z.strictObject({
  rows: z.number().int(),
  /** More rows existed than returned (limit, record cap, budget or deadline). */
  truncated: z.boolean(),
  elapsedMs: z.number(),
  /**
   * Aggregates: the minimum group size the server applied. Every group — and a no-group total —
   * over fewer flows is withheld; 1 means no suppression.
   */
  minGroupSize: z.number().int().optional(),
  /**
   * Aggregates: groups (or the total, or the other row) withheld because they had fewer than
   * `minGroupSize` flows — reported only when at least `minGroupSize` groups were withheld
   * (fewer read as 0: their count would itself describe fewer than `minGroupSize` flows).
   */
  suppressedGroups: z.number().int().optional(),
  /**
   * Record listings, and aggregates whose keys identify single connections: rows left in this
   * subject's record budget for the period.
   */
  recordBudgetRemaining: z.number().int().optional(),
  /** Record listings cut at the limit: pass as `cursor` to get the next page (same query otherwise). */
  nextCursor: z.string().optional(),
  /** The server lowered the requested `limit`: to what, and which limit did (`maxRecordRows`, `maxGroupRows`, `recordBudget`). */
  limitCapped: z.strictObject({ requested: z.number().int(), applied: z.number().int(), reason: z.enum(['maxRecordRows', 'maxGroupRows', 'recordBudget']) }).optional(),
  /** The time range the query covered after resolving relative times, ISO-8601 `Z`. */
  timeRange: z.strictObject({ from: z.string(), to: z.string() }).optional(),
});
export type QueryStats = z.infer<typeof QueryStats>;

/** Rows are arrays aligned with `columns`. BIGINTs beyond 2^53 are strings; timestamps ISO-8601 `Z`. */
export const QueryResponse = z.strictObject({
  columns: z.array(ResultColumn),
  rows: z.array(z.array(z.unknown())),
  stats: QueryStats,
  requestId: z.string(),
});
export type QueryResponse = z.infer<typeof QueryResponse>;
