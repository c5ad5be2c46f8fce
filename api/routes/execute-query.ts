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
import { QueryFilter, QueryRequest } from '../../schemas/query.ts';
import type { QueryStats } from '../../schemas/query.ts';
import type { ApiConfig } from '../../schemas/api-config.ts';
import { batchRowCount } from '../ports.ts';
import type { DatasetInfo, QueryEngine, RateLimitStore, ResultStream, RowTextLayout } from '../ports.ts';
import { PLAN_VERSION, planIsPerConnection, planQuery } from '../query/plan.ts';
import type { PlannedQuery, QueryPlan } from '../query/plan.ts';
import { assertCursorMatches } from '../query/cursor.ts';
import type { CursorCodec, CursorPosition } from '../query/cursor.ts';
import { assertFilterDepth } from '../query/filter-depth.ts';
import { parseFilterText } from '../query/filter-text.ts';
import { requireScope } from '../middleware/auth.ts';
import type { AuditFacts } from '../middleware/context.ts';
import { reserveRecordRows } from './record-budget.ts';
import type { AdmissionController } from '../admission/admission-controller.ts';
import { assertAffordable, estimateQueryCost } from '../admission/query-cost.ts';
import { openWithinDeadline } from '../admission/run-within-deadline.ts';

export interface ExecuteDeps {
  readonly engine: QueryEngine;
  readonly rateLimit: RateLimitStore;
  readonly config: ApiConfig;
  readonly now: () => number;
  readonly admission: AdmissionController;
  readonly cursors: CursorCodec;
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
  /** The answer's text row layout, when it is rendered as text (the engine may then render rows itself). */
  readonly rowText?: RowTextLayout;
}

type FilterLimits = { readonly maxFilterNodes: number; readonly maxFilterTerms: number };

/**
 * Validates a request body against `QueryRequest`. A text `filter` (an nfdump-style
 * expression, or JSON when it starts with `{`) is parsed into the structured filter first; the
 * structured filter's nesting depth and size are checked iteratively before schema validation,
 * so a deeply nested body cannot exhaust the stack inside the schema validator.
 * @throws AppError ERR_QUERY_FILTER_SYNTAX for a text filter that does not parse (with its
 *   position), ERR_QUERY_FILTER_INVALID for a filter nested deeper than 16 levels or too large,
 *   ERR_QUERY_INVALID with issue paths and codes (input values are not echoed).
 */
export function parseQueryRequest(body: unknown, limits: FilterLimits): QueryRequest {
  if (body !== null && typeof body === 'object' && !Array.isArray(body) && Object.hasOwn(body, 'filter')) {
    let filter = (body as { filter?: unknown }).filter;
    if (typeof filter === 'string') {
      filter = parseFilterText(filter, { maxNodes: limits.maxFilterNodes, maxTerms: limits.maxFilterTerms });
      body = { ...body, filter };
    }
    assertFilterDepth(filter, undefined, { maxNodes: limits.maxFilterNodes, maxTerms: limits.maxFilterTerms });
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

function structuredFilter(req: QueryRequest): QueryFilter | null {
  if (req.filter === undefined) return null;
  // parseQueryRequest turned a text filter into the structured one; a caller skipping it gets it parsed here.
  return typeof req.filter === 'string' ? QueryFilter.parse(parseFilterText(req.filter)) : req.filter;
}

/**
 * Plans and starts a request; fills `facts` for the audit entry (see `executePlan`).
 * @throws AppError as `executePlan`, ERR_QUERY_CURSOR_INVALID, planning errors.
 */
export async function executeQuery(deps: ExecuteDeps, principal: Principal, req: QueryRequest, ctx: ExecuteContext): Promise<ResultStream> {
  ctx.facts.dataset = req.dataset;
  ctx.facts.query = req;
  requireScope(principal, Scope.Query);
  const filter = structuredFilter(req);
  let position: CursorPosition | null = null;
  if (req.cursor !== undefined) {
    if (req.groupBy !== undefined) throw new AppError(ErrorCode.QueryInvalid, 'cursor applies to record listings only (no groupBy)');
    position = await deps.cursors.decode(req.cursor, deps.now());
  }
  const planFor = (budgetRows?: number): PlannedQuery =>
    planQuery(req, {
      now: deps.now(),
      limits: deps.config.limits,
      filter,
      ...(budgetRows !== undefined ? { budgetRows } : {}),
      ...(position ? { fixedTimes: { fromMs: position.fromMs, toMs: position.toMs }, after: [...position.after] } : {}),
    });
  const planned = planFor();
  if (position) await assertCursorMatches(planned.plan, position);
  return executePlan(deps, principal, planned, ctx, (rows) => planFor(rows));
}

/**
 * Runs a plan received from another node (the edge gateway): the plan is turned back into the
 * request it stands for and planned again here — the same validation, filter limits, caps and
 * minimum group size as any request (the stricter of the sender's minimum and ours), its
 * absolute time range kept — so a plan can ask for nothing a request could not. A position
 * (`after`) comes only from a cursor this node issued, never from the plan.
 * @throws AppError ERR_QUERY_INVALID for a plan that does not validate, as `executeQuery` otherwise.
 */
/** The largest absolute millisecond time a JavaScript Date holds (ECMA-262 §21.4.1.22). */
const MAX_DATE_MS = 8.64e15;

export async function executeForwardedPlan(deps: ExecuteDeps, principal: Principal, body: unknown, ctx: ExecuteContext): Promise<ResultStream> {
  requireScope(principal, Scope.Query);
  const bad = (what: string): AppError => new AppError(ErrorCode.QueryInvalid, `invalid query plan: ${what}`);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw bad('expected { plan, cursor? }');
  const envelope = body as { plan?: unknown; cursor?: unknown };
  const raw = envelope.plan;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw bad('plan must be an object');
  const p = raw as Record<string, unknown>;
  if (p.version !== PLAN_VERSION) throw bad(`version must be ${PLAN_VERSION}`);
  const fromMs = p.fromMs;
  const toMs = p.toMs;
  if (!Number.isSafeInteger(fromMs) || !Number.isSafeInteger(toMs)) throw bad('fromMs and toMs must be integers');
  if (Math.abs(fromMs as number) > MAX_DATE_MS || Math.abs(toMs as number) > MAX_DATE_MS) throw bad('fromMs and toMs must be within ±8.64e15 (the range of a date)');
  if (p.mode !== 'final' && p.mode !== 'partial') throw bad('mode must be final or partial');
  if (p.kind !== 'records' && p.kind !== 'aggregate') throw bad('kind must be records or aggregate');
  const minGroupSize = p.minGroupSize;
  if (!Number.isSafeInteger(minGroupSize) || (minGroupSize as number) < 1) throw bad('minGroupSize must be a positive integer');
  const records = p.kind === 'records';
  // A listing's position comes only from a cursor this server sealed: a bare `after` would let
  // the caller compare rows against server-side values (file names), so it is refused, not ignored.
  if (p.after !== null && p.after !== undefined) throw bad('after is set by the server from a cursor; send { plan, cursor }');
  // The request this plan stands for; validated like one (filter limits first).
  const request: Record<string, unknown> = {
    dataset: p.dataset,
    timeRange: { from: new Date(fromMs as number).toISOString(), to: new Date(toMs as number).toISOString() },
    ...(p.filter !== null && p.filter !== undefined ? { filter: p.filter } : {}),
    ...(Array.isArray(p.order) && p.order.length > 0 ? { orderBy: p.order } : {}),
    ...(typeof p.limit === 'number' ? { limit: p.limit } : {}),
    ...(records
      ? { ...(Array.isArray(p.select) && p.select.length > 0 ? { select: p.select } : {}) }
      : {
          groupBy: p.groupBy,
          metrics: p.metrics,
          ...(p.other === true ? { other: true } : {}),
          ...(typeof p.fill === 'boolean' ? { fill: p.fill } : {}),
          ...(p.having !== null && typeof p.having === 'object' && Object.keys(p.having).length > 0 ? { having: p.having } : {}),
        }),
  };
  const req = parseQueryRequest(request, deps.config.limits);
  ctx.facts.dataset = req.dataset;
  ctx.facts.query = { plan: req };
  const filter = structuredFilter(req);
  let position: CursorPosition | null = null;
  if (envelope.cursor !== undefined) {
    if (typeof envelope.cursor !== 'string' || !records) throw bad('cursor applies to record listings only');
    position = await deps.cursors.decode(envelope.cursor, deps.now());
  }
  const limits = { ...deps.config.limits, minGroupSize: Math.max(deps.config.limits.minGroupSize, minGroupSize as number) };
  const planFor = (budgetRows?: number): PlannedQuery =>
    planQuery(req, {
      now: deps.now(),
      limits,
      filter,
      mode: p.mode as QueryPlan['mode'],
      fixedTimes: position ? { fromMs: position.fromMs, toMs: position.toMs } : { fromMs: fromMs as number, toMs: toMs as number },
      ...(budgetRows !== undefined ? { budgetRows } : {}),
      ...(position ? { after: [...position.after] } : {}),
    });
  const planned = planFor();
  if (position) await assertCursorMatches(planned.plan, position);
  return executePlan(deps, principal, planned, ctx, (rows) => planFor(rows));
}

/**
 * Starts a plan. Record listings and aggregates whose keys identify single connections need
 * scope `records` and reserve their rows from the subject's record budget before running (the
 * unused part is refunded when the answer has been read, also on failure). The returned stream
 * holds an admission slot until it is read to the end or closed; `finish()` gives the stats.
 * @throws AppError ERR_FORBIDDEN, ERR_DATASET_NOT_FOUND, ERR_QUERY_TOO_EXPENSIVE,
 *   ERR_RATE_LIMITED (rate, record budget, or the subject's queue share), ERR_OVERLOADED,
 *   ERR_QUERY_TIMEOUT (deadline passed waiting or starting), engine errors.
 */
async function executePlan(
  deps: ExecuteDeps,
  principal: Principal,
  first: PlannedQuery,
  ctx: ExecuteContext,
  withBudget: (rows: number) => PlannedQuery,
): Promise<ResultStream> {
  const { engine, config, now } = deps;
  const { facts } = ctx;
  let planned = first;
  facts.timeRange = { from: new Date(planned.plan.fromMs).toISOString(), to: new Date(planned.plan.toMs).toISOString() };
  const perConnection = planIsPerConnection(planned.plan);
  if (perConnection) requireScope(principal, Scope.Records);
  const dataset = await resolveDataset(engine, principal, planned.plan.dataset);
  const estimate = estimateQueryCost(planned.plan, dataset, config.admission);
  assertAffordable(estimate, config.admission);

  const reservation = perConnection ? await reserveRecordRows(deps.rateLimit, config.limits, principal, Math.max(1, planned.plan.limit), now) : null;
  if (reservation && reservation.rows < planned.plan.limit) planned = withBudget(reservation.rows);
  const plan: QueryPlan = planned.plan;
  let used = 0;
  let settled: Promise<number | undefined> | null = null;
  const settle = (): Promise<number | undefined> => {
    settled ??= reservation ? reservation.settle(used).catch(() => undefined) : Promise.resolve(undefined);
    return settled;
  };
  let stream;
  const started = now();
  try {
    const ticket = await deps.admission.acquire({
      subject: `${principal.issuer}|${principal.subject}`,
      lane: estimate.lane,
      deadlineAt: ctx.deadlineAt,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    stream = await openWithinDeadline({ engine, plan, deadlineAt: ctx.deadlineAt, now, ticket, ...(ctx.signal ? { signal: ctx.signal } : {}), ...(ctx.rowText ? { rowText: ctx.rowText } : {}) });
  } catch (err) {
    // Refused or failed before any row: give the whole reservation back.
    await settle();
    throw err;
  }
  const engineStream = stream;
  let finished = false;
  return {
    columns: engineStream.columns,
    batches: {
      async *[Symbol.asyncIterator]() {
        try {
          for await (const batch of engineStream.batches) {
            used += batchRowCount(batch);
            yield batch;
          }
          finished = true;
        } finally {
          facts.rows = used;
          await settle();
        }
      },
    },
    async finish(): Promise<QueryStats> {
      if (!finished) {
        await engineStream.close();
        await settle();
      }
      const es = engineStream.stats();
      const remaining = await settle();
      const nextCursor = plan.kind === 'records' && es.lastSortKey !== undefined ? await deps.cursors.encode(plan, es.lastSortKey, now()) : undefined;
      return {
        rows: used,
        truncated: es.truncated,
        elapsedMs: Math.max(0, now() - started),
        ...(plan.kind === 'aggregate' ? { minGroupSize: plan.minGroupSize } : {}),
        ...(es.suppressedGroups !== undefined ? { suppressedGroups: es.suppressedGroups } : {}),
        ...(remaining !== undefined ? { recordBudgetRemaining: remaining } : {}),
        ...(nextCursor !== undefined ? { nextCursor } : {}),
        ...(planned.limitCapped ? { limitCapped: planned.limitCapped } : {}),
        timeRange: { from: new Date(plan.fromMs).toISOString(), to: new Date(plan.toMs).toISOString() },
      };
    },
  };
}
