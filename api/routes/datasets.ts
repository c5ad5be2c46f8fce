/**
 * `GET /v1/datasets` and `GET /v1/datasets/:id`: what a subject may query — ids, time range,
 * flow count, policy hashes, anonymization key ids, whether the runs' manifests verified under
 * a pinned processor key (`verified`; false when the API has none pinned) and how many runs were
 * left out for failing a check (`rejectedRuns`), and the column schema from schemas/columns.ts.
 *
 * Owns: the dataset description. Never: lists datasets outside the token's `datasets` claim or
 * reveals archive paths. Without the `records` scope the time range is widened to whole minutes
 * (first flow floored, last flow ceiled): exact first/last flow times would single out flows
 * that an aggregate-only caller may not see.
 */
import { Hono } from 'hono';
import { FLOW_COLUMNS, PARTITION_COLUMNS, SCHEMA_VERSION } from '../../schemas/columns.ts';
import { Scope } from '../../schemas/claims.ts';
import type { DatasetInfo, QueryEngine } from '../ports.ts';
import { principalOf, requireScope } from '../middleware/auth.ts';
import type { AppEnv } from '../middleware/context.ts';
import { resolveDataset } from './execute-query.ts';

const MINUTE_MS = 60_000;

/** `iso` floored (or ceiled) to the minute; null stays null. */
function toMinute(iso: string | null, round: 'floor' | 'ceil'): string | null {
  if (iso === null) return null;
  const ms = Date.parse(iso);
  return new Date(Math[round](ms / MINUTE_MS) * MINUTE_MS).toISOString();
}

function summary(d: DatasetInfo, exactTimes: boolean) {
  return {
    id: d.id,
    timeRange: exactTimes ? { from: d.timeStart, to: d.timeEnd } : { from: toMinute(d.timeStart, 'floor'), to: toMinute(d.timeEnd, 'ceil') },
    flows: d.flows,
    files: d.files,
    runs: d.runs,
    rejectedRuns: d.rejectedRuns,
    pendingRuns: d.pendingRuns,
    verified: d.verified,
    policyHashes: d.policyHashes,
    keyIds: d.keyIds,
  };
}

/** Column schema as published to clients (address halves are internal and not listed). */
export const PUBLIC_COLUMNS = FLOW_COLUMNS.filter((c) => !('derivedFrom' in c)).map((c) => ({
  name: c.name,
  type: c.duckdbType,
  nullable: c.nullable,
  queryable: c.queryable,
  description: c.description,
}));

/** Routes under `/v1/datasets`. */
export function datasetRoutes(engine: QueryEngine): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/', async (c) => {
    const p = principalOf(c);
    requireScope(p, Scope.DatasetsRead, Scope.Query);
    const all = await engine.listDatasets();
    const visible = all.filter((d) => p.datasets === null || p.datasets.has(d.id));
    c.get('audit').rows = visible.length;
    const exact = p.scopes.has(Scope.Records);
    return c.json({ datasets: visible.map((d) => summary(d, exact)), requestId: c.get('requestId') });
  });
  app.get('/:id', async (c) => {
    const p = principalOf(c);
    requireScope(p, Scope.DatasetsRead, Scope.Query);
    const id = c.req.param('id');
    const d = await resolveDataset(engine, p, id);
    c.get('audit').dataset = d.id;
    return c.json({
      ...summary(d, p.scopes.has(Scope.Records)),
      schemaVersion: SCHEMA_VERSION,
      partitions: PARTITION_COLUMNS,
      columns: PUBLIC_COLUMNS,
      requestId: c.get('requestId'),
    });
  });
  return app;
}
