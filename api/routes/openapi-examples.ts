/**
 * Request examples for the OpenAPI document: a top-N, a time series, a record listing with an
 * nfdump filter and a top-N over router export. Each is checked against `QueryRequest` when the document is built; one the
 * schema rejects falls back step by step to a plainer equivalent — ISO times for relative ones,
 * the structured filter for nfdump text, then without the keys the schema does not know — so
 * the document never shows an example the server would refuse, and shows the richer form as
 * soon as the schema accepts it.
 *
 * Owns: the examples. Never: shows an example that fails `QueryRequest`.
 */
import type { z } from 'zod';
import { QueryRequest, TimeRange } from '../../schemas/query.ts';

const RELATIVE = { from: '-1h', to: 'now' };
const ISO = { from: '2026-02-01T00:00:00Z', to: '2026-02-02T00:00:00Z' };

/** `from`/`to` examples: relative when `timeRange` (default schemas/query.ts `TimeRange`) takes them, else ISO. */
export function timeExamples(timeRange: z.ZodType = TimeRange): { from: string; to: string } {
  return timeRange.safeParse(RELATIVE).success ? RELATIVE : ISO;
}

interface Example {
  readonly summary: string;
  readonly value: Record<string, unknown>;
  /** The structured filter equivalent to `value.filter` when that is nfdump text. */
  readonly structuredFilter?: Record<string, unknown>;
}

const EXAMPLES: Record<string, Example> = {
  topDestinationPorts: {
    summary: 'Top 10 TCP destination ports by bytes, the rest as one row',
    value: { dataset: 'lab', timeRange: RELATIVE, filter: 'proto tcp', groupBy: ['dst_port'], metrics: ['bytes', 'flows'], orderBy: [{ by: 'bytes', dir: 'desc' }], limit: 10, other: true },
    structuredFilter: { protocol: 'tcp' },
  },
  timeSeries: {
    summary: 'Flows and bytes per 5 minutes, empty buckets as zeros',
    value: { dataset: 'lab', timeRange: RELATIVE, groupBy: [{ timeBucket: '5m' }], metrics: ['flows', 'bytes'], orderBy: [{ by: 'time_bucket', dir: 'asc' }], fill: true },
  },
  httpsRecords: {
    summary: 'HTTPS flow records outside 10.0.0.0/8, oldest first',
    value: {
      dataset: 'lab',
      timeRange: RELATIVE,
      filter: 'proto tcp and dst port 443 and not net 10.0.0.0/8',
      select: ['time_start', 'src_addr', 'dst_addr', 'dst_port', 'bytes_fwd', 'bytes_rev'],
      orderBy: [{ by: 'time_start', dir: 'asc' }],
      limit: 100,
    },
    structuredFilter: { protocol: 'tcp', dstPort: 443, not: { net: '10.0.0.0/8' } },
  },
  exportTopAs: {
    summary: 'Top destination AS numbers by bytes in what routers exported through interface 3',
    value: {
      dataset: 'routers',
      timeRange: RELATIVE,
      filter: 'recordsource in [ netflow9 ipfix ] and in if 3',
      groupBy: ['dst_as'],
      metrics: ['bytes', 'flows'],
      orderBy: [{ by: 'bytes', dir: 'desc' }],
      limit: 10,
    },
    structuredFilter: { recordSource: ['netflow9', 'ipfix'], inputInterface: 3 },
  },
  sourceSubnets: {
    summary: 'Flows and distinct destinations per source /24 (IPv6 /48)',
    value: { dataset: 'lab', timeRange: RELATIVE, groupBy: [{ column: 'src_addr', prefixV4: 24, prefixV6: 48 }], metrics: ['flows', 'distinct_dst_addr'], orderBy: [{ by: 'flows', dir: 'desc' }], limit: 20 },
  },
};

/** `value` without the top-level keys `schema` reports as unknown. */
function withoutUnknownKeys(schema: z.ZodType, value: Record<string, unknown>): Record<string, unknown> {
  const r = schema.safeParse(value);
  if (r.success) return value;
  const unknown = new Set(r.error.issues.flatMap((i) => (i.code === 'unrecognized_keys' && i.path.length === 0 ? i.keys : [])));
  return Object.fromEntries(Object.entries(value).filter(([k]) => !unknown.has(k)));
}

/**
 * The examples as OpenAPI Example Objects, each the first of its fallbacks `schema` (default
 * `QueryRequest`) accepts.
 * @throws TypeError when none of an example's fallbacks is accepted (the examples need an edit).
 */
export function requestExamples(schema: z.ZodType = QueryRequest): Record<string, { summary: string; value: Record<string, unknown> }> {
  return Object.fromEntries(
    Object.entries(EXAMPLES).map(([name, e]) => {
      const steps: ((v: Record<string, unknown>) => Record<string, unknown>)[] = [
        (v) => v,
        (v) => ({ ...v, timeRange: ISO }),
        (v) => (e.structuredFilter ? { ...v, filter: e.structuredFilter } : v),
        (v) => withoutUnknownKeys(schema, v),
      ];
      let value = e.value;
      for (const step of steps) {
        value = step(value);
        if (schema.safeParse(value).success) return [name, { summary: e.summary, value }];
      }
      const issues = schema.safeParse(value).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      throw new TypeError(`request example ${name} fails QueryRequest: ${issues}`);
    }),
  );
}
