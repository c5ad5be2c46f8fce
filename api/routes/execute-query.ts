/**
 * Runs one validated query for one principal: dataset access, scopes, cost estimate (refused
 * over the maximum before anything else happens), record budget (reserved before the query,
 * unused rows refunded after), admission (a slot in the cost's lane, waiting in the fair queue
 * if need be), compile, engine within the request's deadline, result shaping. Shared by
 * `POST /v1/query` and the convenience GETs. `stats.elapsedMs` counts from admission request
 * to result, queue wait included.
 *
 * Owns: the access, cost and cap policy around a query. Never: builds SQL (api/query does),
 * lets a dataset id reach the engine before it is validated and found in the listing, or runs
 * a query without an admission slot.
 */
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { DatasetId, Scope } from '../../schemas/claims.ts';
import type { Principal } from '../../schemas/claims.ts';
import { QueryRequest } from '../../schemas/query.ts';
import type { QueryResponse } from '../../schemas/query.ts';
import type { ApiConfig } from '../../schemas/api-config.ts';
import type { DatasetInfo, QueryEngine, RateLimitStore } from '../ports.ts';
import { compileQuery } from '../query/compile-query.ts';
import type { CompiledQuery } from '../query/compile-query.ts';
import { identifiesConnections } from '../query/connection-keys.ts';
import { assertFilterDepth } from '../query/filter-depth.ts';
import { shapeResult } from '../query/shape-result.ts';
import { requireScope } from '../middleware/auth.ts';
import type { AuditFacts } from '../middleware/context.ts';
import { reserveRecordRows } from './record-budget.ts';
import type { AdmissionController } from '../admission/admission-controller.ts';
import { assertAffordable, estimateQueryCost } from '../admission/query-cost.ts';
import { runWithinDeadline } from '../admission/run-within-deadline.ts';

export interface ExecuteDeps {
  readonly engine: QueryEngine;
  readonly rateLimit: RateLimitStore;
  readonly config: ApiConfig;
  readonly now: () => number;
  readonly admission: AdmissionController;
}

/** The request around one query. */
export interface ExecuteContext {
  readonly requestId: string;
  /** Audit facts to fill in. */
  readonly facts: AuditFacts;
  /** When the whole request must be answered, ms since the epoch. */
  readonly deadlineAt: number;
  /** The request's abort signal (client gone): leaves the queue, interrupts the engine. */
  readonly signal?: AbortSignal;
}

/**
 * Validates a request body against `QueryRequest`. The filter's nesting depth is checked first,
 * iteratively, so a deeply nested body cannot exhaust the stack inside the schema validator.
 * @throws AppError ERR_QUERY_FILTER_INVALID for a filter nested deeper than 16 levels,
 *   ERR_QUERY_INVALID with issue paths and codes (input values are not echoed).
 */
export function parseQueryRequest(body: unknown, limits: { readonly maxFilterNodes: number; readonly maxFilterTerms: number }): QueryRequest {
  if (body !== null && typeof body === 'object' && !Array.isArray(body) && Object.hasOwn(body, 'filter')) {
    assertFilterDepth((body as { filter?: unknown }).filter, undefined, { maxNodes: limits.maxFilterNodes, maxTerms: limits.maxFilterTerms });
  }
  const parsed = QueryRequest.safeParse(body);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.slice(0, 20).map((i) => ({
    path: i.path.map((s) => String(s).slice(0, 64)).join('.'),
    code: i.code,
    // zod names the unknown keys in its message: they are the caller's text, never echoed.
    message: i.code === 'unrecognized_keys' ? `${i.keys.length} unknown key(s)` : i.message.slice(0, 160),
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

/** Compiles with the row cap of this request (the record budget's reservation, or the config cap). */
function compileCapped(req: QueryRequest, limits: ApiConfig["limits"], rowCap: number, files: readonly string[]): CompiledQuery {
  const isRecords = req.groupBy === undefined;
  return compileQuery(
    req,
    {
      recordRows: isRecords ? rowCap : limits.maxRecordRows,
      groupRows: isRecords ? limits.maxGroupRows : rowCap,
      minGroupSize: limits.minGroupSize,
      maxTimeRangeDays: limits.maxTimeRangeDays,
      maxFilterNodes: limits.maxFilterNodes,
    },
    files,
  );
}

/**
 * Runs the query; fills `facts` for the audit entry. Record listings and aggregates whose keys
 * identify single connections need scope `records` and reserve their rows from the subject's
 * record budget before running (the unused part is refunded afterwards, also on failure).
 * @throws AppError ERR_FORBIDDEN, ERR_DATASET_NOT_FOUND, ERR_QUERY_TOO_EXPENSIVE,
 *   ERR_RATE_LIMITED (rate, record budget, or the subject's queue share), ERR_OVERLOADED,
 *   ERR_QUERY_TIMEOUT (deadline passed waiting or running), compiler and engine errors.
 */
export async function executeQuery(deps: ExecuteDeps, principal: Principal, req: QueryRequest, ctx: ExecuteContext): Promise<QueryResponse> {
  const { engine, config, now } = deps;
  const { requestId, facts } = ctx;
  const limits = config.limits;
  facts.dataset = req.dataset;
  facts.query = req;
  requireScope(principal, Scope.Query);
  const isRecords = req.groupBy === undefined;
  const perConnection = req.groupBy === undefined || identifiesConnections(req.groupBy);
  if (perConnection) requireScope(principal, Scope.Records);
  const dataset = await resolveDataset(engine, principal, req.dataset);
  const estimate = estimateQueryCost(req, dataset, config.admission);
  assertAffordable(estimate, config.admission);

  const cap = isRecords ? limits.maxRecordRows : limits.maxGroupRows;
  const reservation = perConnection ? await reserveRecordRows(deps.rateLimit, limits, principal, Math.min(req.limit ?? cap, cap), now) : null;
  let settled = false;
  try {
    const started = now();
    const ticket = await deps.admission.acquire({
      subject: `${principal.issuer}|${principal.subject}`,
      lane: estimate.lane,
      deadlineAt: ctx.deadlineAt,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    // Compiled only with a slot: a wide filter takes milliseconds of CPU to compile, which
    // refused requests should not cost. The ticket is the runner's from here on.
    let compiled: CompiledQuery;
    try {
      compiled = compileCapped(req, limits, reservation?.rows ?? cap, engine.datasetFiles(req.dataset));
    } catch (err) {
      ticket.release();
      throw err;
    }
    const result = await runWithinDeadline({
      engine,
      query: compiled,
      maxRows: compiled.limit + 1,
      deadlineAt: ctx.deadlineAt,
      now,
      ticket,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    const shaped = shapeResult(compiled, result);
    const used = shaped.rows.length;
    facts.rows = used;
    const elapsedMs = Math.max(0, now() - started);
    let recordBudgetRemaining: number | undefined;
    if (reservation) {
      settled = true;
      recordBudgetRemaining = await reservation.settle(used);
    }
    const aggregate = compiled.kind === 'aggregate';
    return {
      columns: shaped.columns,
      rows: shaped.rows,
      stats: {
        rows: used,
        truncated: shaped.truncated,
        elapsedMs,
        ...(aggregate ? { minGroupSize: limits.minGroupSize } : {}),
        ...(shaped.suppressedGroups !== undefined ? { suppressedGroups: shaped.suppressedGroups } : {}),
        ...(recordBudgetRemaining !== undefined ? { recordBudgetRemaining } : {}),
      },
      requestId,
    };
  } catch (err) {
    // Failed before settling (refused, compile or engine error): give the whole reservation back.
    if (reservation && !settled) await reservation.settle(0).catch(() => undefined);
    throw err;
  }
}
