/**
 * The types the flowseal client speaks: the query request as a caller writes it (the zod
 * schema's *input* type, schemas/query.ts), the response as the server sends it, the dataset
 * descriptions and the convenience-GET parameters.
 *
 * Owns: the client's public types. Never: imports anything at run time (every import here is
 * `import type`, erased on compilation), so the client carries no zod and no server code into a
 * browser bundle.
 *
 * A few request and stats fields of the v1 contract are being added to schemas/query.ts in
 * parallel (string filters, cursors, top-N `other`, `fill`, `having`, `nextCursor`,
 * `limitCapped`). `WithContract` adds each of them only while the schema lacks it, so once
 * the schema has a field its own (stricter) type wins and nothing here needs to change.
 */
import type { z } from 'zod';
import type { QueryFilter, QueryRequest, QueryResponse, QueryStats as SchemaStats, ResultColumn } from '../schemas/query.ts';
import type { Scope } from '../schemas/claims.ts';

/** The fields of `E` that `T` does not have yet, optional. */
type Missing<T, E> = { [K in Exclude<keyof E, keyof T>]?: E[K] };

type SchemaRequest = z.input<typeof QueryRequest>;

/** Request fields of the v1 contract (see the module comment). */
interface ContractRequestFields {
  /** Structured filter, or an nfdump-style expression (`"proto tcp and dst port 443"`). */
  filter: z.input<typeof QueryFilter> | string;
  /** Opaque cursor from a previous page's `stats.nextCursor`. */
  cursor: string;
  /** Top-N: one more row for everything outside the top N (`is_other` true, keys null). */
  other: boolean;
  /** Zero-filled time buckets (server default: true when the only grouping is a time bucket). */
  fill: boolean;
  /** Post-aggregation filter: `{ bytes: { min: 1000 } }`. */
  having: Record<string, { min?: number; max?: number }>;
}

/**
 * The body of `POST /v1/query` as a caller writes it. Times are ISO-8601 with an offset, or
 * relative to the server's clock (`now`, `-1h`, `-30m`, `-7d`).
 */
export type QueryRequestInput = Omit<SchemaRequest, 'filter'> & { filter?: SchemaRequest['filter'] | string } & Missing<SchemaRequest, ContractRequestFields>;

/** A filter as the convenience GETs take it: an nfdump-style expression or the structured object. */
export type FilterInput = string | z.input<typeof QueryFilter>;

interface ContractStatsFields {
  /** Present when more rows follow: send it as `cursor` to get the next page. */
  nextCursor: string;
  /** The server applied a smaller limit than requested, and why. */
  limitCapped: { requested: number; applied: number; reason: string };
}

/** `stats` of a query answer. */
export type QueryStats = SchemaStats & Missing<SchemaStats, ContractStatsFields>;

/** A JSON query answer with rows as arrays aligned with `columns`. */
export type QueryResult = Omit<QueryResponse, 'stats'> & { stats: QueryStats };

/** A JSON query answer with rows as objects keyed by column name (`shape: 'objects'`). */
export type QueryObjectsResult = Omit<QueryResult, 'rows'> & { rows: Record<string, unknown>[] };

export type { ResultColumn, Scope };

/** Answer formats the API offers (`?format=`). */
export type QueryFormat = 'json' | 'ndjson' | 'csv' | 'arrow' | 'parquet';

/** Media type of each format (what the client sends as `Accept`). */
export const FORMAT_MEDIA_TYPES: Readonly<Record<QueryFormat, string>> = {
  json: 'application/json',
  ndjson: 'application/x-ndjson',
  csv: 'text/csv',
  arrow: 'application/vnd.apache.arrow.stream',
  parquet: 'application/vnd.apache.parquet',
};

/** One dataset as `GET /v1/datasets` lists it (mirrors api/routes/datasets.ts). */
export interface DatasetSummary {
  id: string;
  /** First and last flow time; widened to whole minutes without the `records` scope. Null when empty. */
  timeRange: { from: string | null; to: string | null };
  flows: number | null;
  files: number;
  runs: number;
  rejectedRuns: number;
  pendingRuns: number;
  /** Every run's manifest verified under a pinned processor key. */
  verified: boolean;
  policyHashes: string[];
  keyIds: string[];
}

export interface DatasetList {
  datasets: DatasetSummary[];
  requestId: string;
}

export interface DatasetColumn {
  name: string;
  type: string;
  nullable: boolean;
  queryable: boolean;
  description: string;
}

/** `GET /v1/datasets/{id}`: the summary plus the column schema. */
export interface DatasetDetail extends DatasetSummary {
  schemaVersion: number;
  partitions: string[];
  columns: DatasetColumn[];
  requestId: string;
}

/** Common parameters of the convenience GETs. */
interface GetParamsBase {
  dataset: string;
  /** ISO-8601 with offset or relative (`-1h`, `now`). */
  from: string;
  to: string;
  filter?: FilterInput;
}

/** `GET /v1/datasets/{id}/top`. */
export interface TopParams extends GetParamsBase {
  /** Group-by columns (`dst_port`, `proto`, `src_net/24`); default `dst_port`. */
  by?: string | readonly string[];
  /** Metrics; the first one orders the rows. Default `flows`. */
  metric?: string | readonly string[];
  /** Rows, default 10. */
  n?: number;
  /** Add the "everything else" row. */
  other?: boolean;
}

/** `GET /v1/datasets/{id}/timeseries`. */
export interface TimeseriesParams extends GetParamsBase {
  /** Bucket width (`1s`, `10s`, `1m`, `5m`, `15m`, `1h`, `6h`, `1d`); default `1h`. */
  bucket?: string;
  metric?: string | readonly string[];
  /** Optional stacking column. */
  by?: string;
  /** Zero-filled buckets (server default true). */
  fill?: boolean;
}
