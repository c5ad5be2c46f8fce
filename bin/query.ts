/**
 * `flowseal query`: one query against a running API from the shell, built on the TS client
 * (client/index.ts). Options become a `POST /v1/query` body: `-s` columns (and `src_net/24`
 * prefixes) plus `--bucket` are the group-by, `-m` the metrics, `--filter` the filter (an
 * nfdump-style expression, or JSON), `--records` a listing that follows the server's cursor up
 * to `-n` rows.
 *
 * Owns: option → request mapping, the default time range, output and exit codes of API errors
 * (2 for 4xx, 1 for 5xx and network failures). Never: prints or logs the token, writes binary
 * formats to a terminal.
 */
import { AppError, ErrorCode } from '../schemas/errors.ts';
import { FlowsealClient, isFlowsealApiError, statsFromHeaders } from '../client/index.ts';
import type { QueryRequestInput, QueryResult, QueryStats, ResultColumn } from '../client/index.ts';
import { DEFAULT_API_URL, DEFAULT_RECORD_ROWS, DEFAULT_TOP_ROWS, OUTPUT_FORMATS } from './query-options.ts';
import type { OutputFormat } from './query-options.ts';
import { renderApiError, renderCsv, renderNdjson, renderTable, statsLine } from './query-output.ts';
import { suggestion } from './args.ts';
import type { ParsedValues } from './args.ts';

/** What the command touches outside itself (injected so tests can give it a terminal). */
export interface QueryIo {
  /** Writes to stdout, resolving when the bytes are handed off (back-pressure). */
  readonly write: (chunk: string | Uint8Array) => Promise<void>;
  readonly error: (text: string) => void;
  /** Whether stdout is a terminal. */
  readonly stdoutIsTty: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly readFile: (path: string) => Promise<string>;
  readonly fetch?: (input: string, init: RequestInit) => Promise<Response>;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const usage = (message: string) => new AppError(ErrorCode.BadRequest, message);

function listOf(text: string | undefined, name: string): string[] | undefined {
  if (text === undefined) return undefined;
  const items = text.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw usage(`--${name}: empty item in the comma-separated list`);
  return items;
}

/** `-s` items: a column, or `src_net`/`dst_net` (also `src_addr/24`) with prefix lengths. */
export function statItem(text: string): string | { column: 'src_addr' | 'dst_addr'; prefixV4?: number; prefixV6?: number } {
  const m = /^(src|dst)_(net|addr)(?:\/(\d{1,3})(?:\/(\d{1,3}))?)?$/.exec(text);
  if (m === null || (m[2] === 'addr' && m[3] === undefined)) return text;
  const v4 = m[3] === undefined ? undefined : Number(m[3]);
  const v6 = m[4] === undefined ? undefined : Number(m[4]);
  if (v4 !== undefined && v4 > 32) throw usage(`--stat: the IPv4 prefix length of ${m[1]}_net must be 0-32`);
  if (v6 !== undefined && v6 > 128) throw usage(`--stat: the IPv6 prefix length of ${m[1]}_net must be 0-128`);
  return { column: `${m[1] as 'src' | 'dst'}_addr`, ...(v4 !== undefined ? { prefixV4: v4 } : {}), ...(v6 !== undefined ? { prefixV6: v6 } : {}) };
}

/** `--order -bytes,time_start` → orderBy (leading `-` descending, `+` or nothing ascending). */
export function orderItems(text: string): { by: string; dir: 'asc' | 'desc' }[] {
  return listOf(text, 'order')!.map((s) => (s.startsWith('-') ? { by: s.slice(1), dir: 'desc' } : { by: s.replace(/^\+/, ''), dir: 'asc' }));
}

function filterOf(text: string | undefined): QueryRequestInput['filter'] | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  if (!text.trimStart().startsWith('{')) return text;
  try {
    return JSON.parse(text) as QueryRequestInput['filter'];
  } catch {
    throw usage('--filter starts with { but is not valid JSON (the structured filter)');
  }
}

function positiveInt(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text) || Number(text) === 0) throw usage(`--${name} must be a positive integer`);
  return Number(text);
}

/** The request body the options describe (times still to be defaulted). */
export function buildRequest(v: ParsedValues): { request: QueryRequestInput; records: boolean; maxRows: number | undefined } {
  const dataset = str(v.dataset);
  if (!dataset) throw usage('--dataset is required');
  const records = v.records === true;
  const stat = listOf(str(v.stat), 'stat');
  const bucket = str(v.bucket);
  const metrics = listOf(str(v.metric), 'metric');
  const limit = positiveInt(str(v.limit), 'limit');
  if (records) {
    for (const name of ['stat', 'bucket', 'metric', 'other'] as const) if (v[name] !== undefined) throw usage(`--${name} aggregates: it cannot be combined with --records`);
  } else if (v.select !== undefined) throw usage('--select chooses record columns: use it with --records');
  if (v.other === true && stat === undefined) throw usage('--other needs --stat (the rows outside the top N)');
  const request: Record<string, unknown> = { dataset, timeRange: { from: '', to: '' } };
  const filter = filterOf(str(v.filter));
  if (filter !== undefined) request.filter = filter;
  if (records) {
    const select = listOf(str(v.select), 'select');
    if (select) request.select = select;
    if (v.order !== undefined) request.orderBy = orderItems(str(v.order)!);
    return { request: request as QueryRequestInput, records, maxRows: limit ?? DEFAULT_RECORD_ROWS };
  }
  request.groupBy = [...(stat ?? []).map(statItem), ...(bucket ? [{ timeBucket: bucket }] : [])];
  if (metrics) request.metrics = metrics;
  const firstMetric = metrics?.[0] ?? 'flows';
  if (v.order !== undefined) request.orderBy = orderItems(str(v.order)!);
  else if (stat) request.orderBy = [{ by: firstMetric, dir: 'desc' }];
  else if (bucket) request.orderBy = [{ by: 'time_bucket', dir: 'asc' }];
  const rows = limit ?? (stat ? DEFAULT_TOP_ROWS : undefined);
  if (rows !== undefined) request.limit = rows;
  if (v.other === true) request.other = true;
  return { request: request as QueryRequestInput, records, maxRows: undefined };
}

async function tokenOf(v: ParsedValues, io: QueryIo): Promise<string | undefined> {
  const file = str(v['token-file']);
  if (file !== undefined && v.token !== undefined) throw usage('give --token or --token-file, not both');
  if (file !== undefined) {
    let text: string;
    try {
      text = await io.readFile(file);
    } catch {
      throw usage('--token-file: cannot read the file');
    }
    const token = text.trim();
    if (token === '' || /\s/.test(token)) throw usage('--token-file must hold one token (no spaces inside)');
    return token;
  }
  return str(v.token) ?? io.env.FLOWSEAL_TOKEN ?? undefined;
}

/** Times default to the dataset's own range (whole dataset), or `now` for the end of a given start. */
async function withTimes(client: FlowsealClient, request: QueryRequestInput, v: ParsedValues): Promise<QueryRequestInput> {
  let from = str(v.from);
  let to = str(v.to);
  if (from !== undefined && to === undefined) to = 'now';
  if (from === undefined) {
    const d = await client.dataset(request.dataset);
    if (d.timeRange.from === null || d.timeRange.to === null) throw usage(`dataset has no flows yet: give --from and --to`);
    from = d.timeRange.from;
    // `to` is exclusive and the listing gives the last flow's time: one second past it.
    to ??= new Date(Date.parse(d.timeRange.to) + 1000).toISOString();
  }
  return { ...request, timeRange: { from, to: to! } };
}

function outputFormat(v: ParsedValues): OutputFormat {
  const o = str(v.output) ?? 'table';
  if (!(OUTPUT_FORMATS as readonly string[]).includes(o)) throw usage(`--output must be one of ${OUTPUT_FORMATS.join(', ')}${suggestion(o, OUTPUT_FORMATS)}`);
  return o as OutputFormat;
}

async function pipeBody(res: Response, io: QueryIo): Promise<void> {
  if (!res.body) return;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    await io.write(value);
  }
}

/** One aggregate request in `format`; the stats go to stderr for the table. */
async function runAggregate(client: FlowsealClient, request: QueryRequestInput, format: OutputFormat, io: QueryIo): Promise<void> {
  if (format === 'table' || format === 'json') {
    const res = await client.query(request);
    if (format === 'json') await io.write(`${JSON.stringify(res)}\n`);
    else {
      await io.write(renderTable(res.columns, res.rows));
      io.error(statsLine(res.stats));
    }
    return;
  }
  const res = await client.query(request, { format });
  const stats = statsFromHeaders(res);
  await pipeBody(res, io);
  if (stats?.truncated) io.error(statsLine(stats));
}

/** A listing: JSON pages following the cursor, rendered here; binary formats are one request. */
async function runRecords(client: FlowsealClient, request: QueryRequestInput, maxRows: number, format: OutputFormat, io: QueryIo): Promise<void> {
  if (format === 'arrow' || format === 'parquet') {
    const res = await client.query({ ...request, limit: maxRows }, { format });
    const stats = statsFromHeaders(res);
    await pipeBody(res, io);
    if (stats?.nextCursor !== undefined) io.error('# more records exist: arrow and parquet output holds the first page only (use -o ndjson or csv to follow the cursor)\n');
    return;
  }
  let columns: ResultColumn[] | null = null;
  const rows: unknown[][] = [];
  let last: QueryStats | undefined;
  let requestId = '';
  let total = 0;
  for await (const page of client.records(request, { maxRows })) {
    const first = columns === null;
    columns ??= page.columns;
    total += page.rows.length;
    last = page.stats;
    requestId = page.requestId;
    if (format === 'csv') await io.write(renderCsv(first ? columns : null, page.rows, columns.length));
    else if (format === 'ndjson') await io.write(renderNdjson(columns, page.rows));
    else rows.push(...page.rows);
  }
  if (columns === null || last === undefined) return;
  const stats = { ...last, rows: total };
  if (format === 'json') {
    const merged: QueryResult = { columns, rows, stats, requestId };
    await io.write(`${JSON.stringify(merged)}\n`);
  } else if (format === 'table') {
    await io.write(renderTable(columns, rows));
    io.error(statsLine(stats));
  } else if (last.truncated || last.nextCursor !== undefined) io.error(statsLine(stats));
}

/** Runs `flowseal query`; returns the exit code. Usage errors are thrown (AppError, exit 2). */
export async function runQuery(v: ParsedValues, io: QueryIo): Promise<number> {
  const format = outputFormat(v);
  if ((format === 'arrow' || format === 'parquet') && io.stdoutIsTty) {
    throw usage(`refusing to write binary ${format} output to a terminal: redirect stdout to a file or a pipe`);
  }
  const { request, records, maxRows } = buildRequest(v);
  const token = await tokenOf(v, io);
  const url = str(v.url) ?? io.env.FLOWSEAL_URL ?? DEFAULT_API_URL;
  let client: FlowsealClient;
  try {
    client = new FlowsealClient({ baseUrl: url, ...(token ? { token } : {}), ...(io.fetch ? { fetch: io.fetch } : {}) });
  } catch {
    throw usage('--url must be an absolute http(s) URL');
  }
  const filterText = typeof request.filter === 'string' ? request.filter : undefined;
  try {
    const full = await withTimes(client, request, v);
    if (records) await runRecords(client, full, maxRows!, format, io);
    else await runAggregate(client, full, format, io);
    return 0;
  } catch (e) {
    if (isFlowsealApiError(e)) {
      io.error(renderApiError(e, filterText));
      return e.status >= 400 && e.status < 500 ? 2 : 1;
    }
    // fetch rejects with a TypeError when no answer came (refused, DNS, reset, TLS); anything
    // else is ours and goes up as it is.
    if (!(e instanceof TypeError)) throw e;
    // Name the server, never the token.
    const c = (e as { cause?: { code?: unknown; errors?: { code?: unknown }[] } }).cause;
    const cause = c?.code ?? c?.errors?.[0]?.code ?? (c instanceof Error ? c.message : undefined);
    io.error(`error: cannot reach the API at ${new URL(url).origin}${typeof cause === 'string' ? ` (${cause})` : ''}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
