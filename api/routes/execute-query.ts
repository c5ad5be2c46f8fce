/**
 * Runs one validated query for one principal: dataset access, scopes, record budget, compile,
 * engine, result shaping. Shared by `POST /v1/query` and the convenience GETs.
 *
 * Owns: the access and cap policy around a query. Never: builds SQL (api/query does) or lets a
 * dataset id reach the engine before it is validated and found in the listing.
 */
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { DatasetId, Scope } from '../../schemas/claims.ts';
import type { Principal } from '../../schemas/claims.ts';
import { QueryRequest } from '../../schemas/query.ts';
import type { QueryResponse } from '../../schemas/query.ts';
import type { ApiConfig } from '../../schemas/api-config.ts';
import type { DatasetInfo, QueryEngine, RateLimitStore } from '../ports.ts';
import { compileQuery } from '../query/compile-query.ts';
import { shapeResult } from '../query/shape-result.ts';
import { requireScope } from '../middleware/auth.ts';
import type { AuditFacts } from '../middleware/context.ts';

export interface ExecuteDeps {
  readonly engine: QueryEngine;
  readonly rateLimit: RateLimitStore;
  readonly config: ApiConfig;
  readonly now: () => number;
}

/**
 * Validates a request body against `QueryRequest`.
 * @throws AppError ERR_QUERY_INVALID with issue paths and codes (input values are not echoed).
 */
export function parseQueryRequest(body: unknown): QueryRequest {
  const parsed = QueryRequest.safeParse(body);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.slice(0, 20).map((i) => ({
    path: i.path.map((s) => String(s).slice(0, 64)).join('.'),
    code: i.code,
    message: i.message.slice(0, 160),
  }));
  throw new AppError(ErrorCode.QueryInvalid, `invalid query at ${issues.map((i) => i.path || '(root)').join(', ').slice(0, 300)}`, { details: { issues } });
}

/**
 * The dataset `id` if it is well-formed, exists, and the principal may see it.
 * @throws AppError ERR_DATASET_NOT_FOUND otherwise (hidden datasets look absent).
 */
export async function resolveDataset(engine: QueryEngine, principal: Principal, id: string): Promise<DatasetInfo> {
  const notFound = new AppError(ErrorCode.DatasetNotFound, 'no such dataset');
  if (!DatasetId.safeParse(id).success) throw notFound;
  if (principal.datasets !== null && !principal.datasets.has(id)) throw notFound;
  const found = (await engine.listDatasets()).find((d) => d.id === id);
  if (!found) throw notFound;
  return found;
}

/** Runs the query; fills `facts` for the audit entry. */
export async function executeQuery(deps: ExecuteDeps, principal: Principal, req: QueryRequest, requestId: string, facts: AuditFacts): Promise<QueryResponse> {
  const { engine, config, now } = deps;
  const limits = config.limits;
  facts.dataset = req.dataset;
  facts.query = req;
  requireScope(principal, Scope.Query);
  const isRecords = req.groupBy === undefined;
  if (isRecords) requireScope(principal, Scope.Records);
  await resolveDataset(engine, principal, req.dataset);

  const budgetKey = `records|${principal.issuer}|${principal.subject}`;
  const budgetSpec = { capacity: limits.maxRowsPerPeriod, refillPerMs: limits.maxRowsPerPeriod / (limits.recordPeriodSec * 1000) };
  let recordRows = limits.maxRecordRows;
  if (isRecords) {
    const state = await deps.rateLimit.take(budgetKey, 0, budgetSpec, now());
    if (state.remaining < 1) {
      const retry = Math.max(1, Math.ceil((1 - state.remaining) / budgetSpec.refillPerMs / 1000));
      throw new AppError(ErrorCode.RateLimited, 'record budget for this period is used up; use aggregates or wait', { details: { retryAfterSec: retry } });
    }
    recordRows = Math.min(recordRows, Math.floor(state.remaining));
  }

  const started = now();
  const compiled = compileQuery(
    req,
    { recordRows, groupRows: limits.maxGroupRows, minGroupSize: limits.minGroupSize, maxTimeRangeDays: limits.maxTimeRangeDays, maxFilterNodes: limits.maxFilterNodes },
    engine.datasetGlob(req.dataset),
  );
  const result = await engine.run(compiled, { maxRows: compiled.limit + 1, timeoutMs: limits.queryTimeoutMs });
  const shaped = shapeResult(compiled, result);
  facts.rows = shaped.rows.length;

  let recordBudgetRemaining: number | undefined;
  if (isRecords) {
    const after = await deps.rateLimit.take(budgetKey, shaped.rows.length, budgetSpec, now(), { force: true });
    recordBudgetRemaining = Math.max(0, Math.floor(after.remaining));
  }
  return {
    columns: shaped.columns,
    rows: shaped.rows,
    stats: {
      rows: shaped.rows.length,
      truncated: shaped.truncated,
      elapsedMs: Math.max(0, now() - started),
      ...(shaped.suppressedGroups !== undefined ? { suppressedGroups: shaped.suppressedGroups } : {}),
      ...(recordBudgetRemaining !== undefined ? { recordBudgetRemaining } : {}),
    },
    requestId,
  };
}
