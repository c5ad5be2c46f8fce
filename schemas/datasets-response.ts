/**
 * What `GET /v1/datasets` and `GET /v1/datasets/{id}` answer, as zod schemas: the OpenAPI
 * document shows them, and a test parses the routes' real answers with them (strict objects,
 * so a field added to or dropped from api/routes/datasets.ts without an edit here fails it).
 *
 * Owns: the dataset description's wire shape. Never: carries an archive path or key material
 * (key ids are one-way fingerprints, see shared/DESIGN.md).
 */
import { z } from 'zod';
import { DatasetId } from './archive.ts';
import { PARTITION_COLUMNS } from './columns.ts';
import { RecordColumn } from './query.ts';

const Count = z.int().min(0);
/** An ISO-8601 time (`Z`), or null while the dataset has no flow. */
const Time = z.iso.datetime({ offset: true }).nullable();

/** One dataset as listed. */
export const DatasetSummary = z.strictObject({
  id: DatasetId,
  timeRange: z
    .strictObject({ from: Time, to: Time })
    .meta({ description: 'First and last flow time. Without the `records` scope widened to whole minutes (first floored, last ceiled): exact times would single out flows.' }),
  flows: Count.nullable().meta({ description: 'Flows in the committed runs; null when unknown.' }),
  files: Count.meta({ description: 'Parquet files in the committed runs.' }),
  runs: Count.meta({ description: 'Committed runs (each a signed manifest).' }),
  rejectedRuns: Count.meta({ description: 'Runs left out because their manifest or files failed a check.' }),
  pendingRuns: Count.meta({ description: 'Runs not checked yet; listed after a later refresh.' }),
  verified: z.boolean().meta({ description: "Whether every run's manifest verified under a pinned processor key (false when none is pinned)." }),
  policyHashes: z.array(z.string()).meta({ description: 'Hashes of the anonymization policies the runs were written under.' }),
  keyIds: z.array(z.string()).meta({ description: 'Anonymization key ids (one-way fingerprints): partners sharing one have matching pseudonyms.' }),
});
export type DatasetSummary = z.infer<typeof DatasetSummary>;

/** `GET /v1/datasets`: the datasets the token may see. */
export const DatasetList = z.strictObject({
  datasets: z.array(DatasetSummary),
  requestId: z.string(),
});
export type DatasetList = z.infer<typeof DatasetList>;

/** One column of the published flow schema (address halves are internal and not listed). */
export const PublicColumn = z.strictObject({
  name: RecordColumn,
  type: z.string().meta({ description: 'DuckDB / Parquet type, e.g. UBIGINT, VARCHAR, TIMESTAMP.' }),
  nullable: z.boolean(),
  queryable: z.boolean().meta({ description: 'Usable in filters and group keys.' }),
  description: z.string(),
});
export type PublicColumn = z.infer<typeof PublicColumn>;

/** `GET /v1/datasets/{id}`: the summary plus the column schema. */
export const DatasetDetail = z.strictObject({
  ...DatasetSummary.shape,
  schemaVersion: z.int().min(1),
  partitions: z.array(z.enum(PARTITION_COLUMNS)).meta({ description: 'Hive partition keys of the archive layout.' }),
  columns: z.array(PublicColumn),
  requestId: z.string(),
});
export type DatasetDetail = z.infer<typeof DatasetDetail>;
