/**
 * The options of `flowseal query`, with the help text each one shows. Kept apart from
 * bin/query.ts so `flowseal --help` and `flowseal query --help` load no client code.
 *
 * Owns: option names, defaults as documented, examples. Never: imports anything.
 */

export const DEFAULT_API_URL = 'http://127.0.0.1:8787';
/** Rows of a top-N (`--stat`) when `-n` is not given, as nfdump's `-n` default. */
export const DEFAULT_TOP_ROWS = 10;
/** Rows of a record listing (`--records`) when `-n` is not given, over all pages. */
export const DEFAULT_RECORD_ROWS = 1000;
export const OUTPUT_FORMATS = ['table', 'json', 'ndjson', 'csv', 'arrow', 'parquet'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const QUERY_OPTIONS = {
  url: { type: 'string', value: '<url>', default: `$FLOWSEAL_URL, else ${DEFAULT_API_URL}`, description: 'API base URL' },
  token: { type: 'string', value: '<jwt>', default: '$FLOWSEAL_TOKEN', description: 'Bearer token (prefer --token-file or the variable: a command line is visible to other users)' },
  'token-file': { type: 'string', value: '<file>', default: 'none', description: 'Read the bearer token from this file' },
  dataset: { type: 'string', short: 'd', value: '<id>', required: true, description: 'Dataset to query' },
  from: { type: 'string', value: '<time>', default: "the dataset's first flow", description: 'Start (inclusive): ISO-8601 with offset, `now`, or relative like -1h, -30m, -7d' },
  to: { type: 'string', value: '<time>', default: "`now` when --from is given, else just after the dataset's last flow", description: 'End (exclusive), same forms as --from' },
  stat: { type: 'string', short: 's', value: '<col[,col...]>', default: 'none: one total row', description: 'Group by these columns (nfdump -s); src_net/24 or dst_net/24/64 group by address prefix (IPv4[/IPv6] length)' },
  bucket: { type: 'string', value: '<width>', default: 'none', description: 'Also group by time bucket: 1s, 10s, 1m, 5m, 15m, 1h, 6h, 1d (a time series)' },
  metric: { type: 'string', short: 'm', value: '<name[,name...]>', default: 'flows,packets,bytes', description: 'Aggregate metrics (flows, packets, bytes, distinct_dst_port, bytes_p95, ...)' },
  filter: { type: 'string', value: '<expr>', default: 'none', description: "nfdump-style filter ('proto tcp and dst port 443'), or the structured filter as JSON when it starts with {" },
  limit: { type: 'string', short: 'n', value: '<rows>', default: `${DEFAULT_TOP_ROWS} with --stat, ${DEFAULT_RECORD_ROWS} with --records, else the server's cap`, description: 'Rows to return (records: in total, over all pages)' },
  order: { type: 'string', value: '<[-]col[,...]>', default: 'the first metric descending with --stat, time ascending with --bucket only', description: 'Order by output columns; a leading - sorts descending' },
  records: { type: 'boolean', default: 'off', description: 'List flow records instead of aggregating (needs scope records); follows the server cursor up to --limit' },
  select: { type: 'string', value: '<col[,col...]>', default: 'every record column', description: 'Record columns to return (with --records)' },
  other: { type: 'boolean', default: 'off', description: 'With --stat: add one row for everything outside the top N (is_other), so rows add up to the total' },
  output: { type: 'string', short: 'o', value: '<format>', default: 'table', description: `Output: ${OUTPUT_FORMATS.join(', ')} (arrow and parquet are binary and never written to a terminal)` },
} as const;

export const QUERY_EXAMPLES = [
  "flowseal query --token-file tok.txt --dataset demo --from -1h --to now -s dst_port --filter 'proto tcp and dst port 443' -n 10 -o csv",
  'flowseal query --dataset demo -s src_net/24 -m bytes,flows --other',
  'flowseal query --dataset demo --bucket 1h -m flows,bytes -o json',
  'flowseal query --dataset demo --records --select time_start,dst_port,bytes_fwd -n 5000 -o ndjson',
  'flowseal query --dataset demo -s protocol -o parquet > by-protocol.parquet',
];

export const QUERY_NOTES = [
  'The token comes from --token-file, else --token, else $FLOWSEAL_TOKEN; it is never printed.',
  'Without --from and --to the query covers the whole dataset (its time range from GET /v1/datasets/{id}).',
  'Exit status: 0 ok, 2 usage errors and 4xx answers, 1 5xx answers and network errors.',
];
