/**
 * `POST /v1/query` (JSON body, schemas/query.ts), `POST /v1/plan` (a plan from the edge), and
 * the convenience GETs that build the same request from query-string parameters
 * (schemas/http-params.ts, api/routes/get-params.ts):
 * `GET /v1/datasets/:id/records?from=&to=&filter=&limit=&select=&order=&cursor=`,
 * `GET /v1/datasets/:id/top?from=&to=&by=dst_port&metric=bytes&n=10&other=&filter=`,
 * `GET /v1/datasets/:id/timeseries?from=&to=&bucket=1h&metric=flows&by=&fill=&filter=`.
 *
 * Every query route answers JSON, NDJSON, CSV, Arrow or Parquet by `?format=` or `Accept`
 * (routes/format.ts), streamed past the render buffer, JSON rows as objects with `?shape=objects`.
 *
 * Owns: request decoding for queries. Never: passes a string it has not validated with the
 * query schema to the compiler.
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { principalOf } from '../middleware/auth.ts';
import { readJsonBody } from '../middleware/body.ts';
import type { AppEnv } from '../middleware/context.ts';
import { executeForwardedPlan, executeQuery, parseQueryRequest } from './execute-query.ts';
import type { ExecuteDeps } from './execute-query.ts';
import { createCursorCodec } from '../query/cursor.ts';
import { parseRecordsParams, parseTimeseriesParams, parseTopParams } from './get-params.ts';
import { createAdmissionController } from '../admission/admission-controller.ts';
import { negotiateFormat, renderStream, rowTextFor } from './format.ts';
import type { ResultStream, RowTextLayout } from '../ports.ts';


/** `?shape=arrays` (default) or `objects`: JSON rows as arrays aligned with `columns`, or objects keyed by column name. */
function shapeParam(c: Context<AppEnv>): 'arrays' | 'objects' {
  const v = c.req.query('shape');
  if (v === undefined || v === '' || v === 'arrays') return 'arrays';
  if (v === 'objects') return 'objects';
  throw new AppError(ErrorCode.QueryInvalid, 'shape must be one of arrays, objects');
}



/**
 * Query routes, mounted at `/v1`. Without `deps.admission` they get their own controller from
 * `config.admission`. The deadline is the context's `deadlineAt` (api/middleware/deadline.ts),
 * or `queryTimeoutMs` from now when no such middleware runs.
 */
export function queryRoutes(deps: Omit<ExecuteDeps, 'admission' | 'cursors'> & { admission?: ExecuteDeps['admission']; cursors?: ExecuteDeps['cursors'] }): Hono<AppEnv> {
  const full: ExecuteDeps = {
    ...deps,
    admission: deps.admission ?? createAdmissionController(deps.config.admission, deps.now),
    cursors: deps.cursors ?? createCursorCodec(null),
  };
  const app = new Hono<AppEnv>();
  /** Renders a started answer in the negotiated format; the audit learns how it ended. */
  const answer = async (c: Context<AppEnv>, format: ReturnType<typeof negotiateFormat>, start: (rowText: RowTextLayout | undefined) => Promise<ResultStream>): Promise<Response> => {
    // A HEAD would start a query whose body nobody reads (holding its slot): refused up front.
    if (c.req.method === 'HEAD') throw new AppError(ErrorCode.BadRequest, 'HEAD is not supported on query routes; use GET');
    const shape = shapeParam(c);
    const stream = await start(rowTextFor(format, shape));
    const facts = c.get('audit');
    let ended!: (o: { rows: number; error?: unknown }) => void;
    facts.streamEnd = new Promise((resolve) => (ended = resolve));
    const out = await renderStream(stream, format, {
      shape,
      requestId: c.get('requestId'),
      maxBufferBytes: full.config.limits.streamBufferBytes,
      maxParquetRows: full.config.limits.maxParquetRows,
      onEnd: (o) => {
        facts.rows = o.rows;
        facts.streamEnded = true;
        ended(o);
      },
    });
    // If the answer is withheld after all (the audit cannot be written), its query is stopped.
    facts.cancelStream = () => void out.body.cancel().catch(() => undefined);
    // Through the context, so headers set by earlier middleware (request id, rate limit) stay.
    return c.body(out.body, out.status as 200, { 'Content-Type': out.contentType, Vary: 'Accept', ...out.headers });
  };
  const run = async (c: Context<AppEnv>, body: unknown) => {
    // Negotiated first: a format that cannot be produced costs no query.
    const format = negotiateFormat(c.req.query('format'), c.req.header('Accept'));
    const req = parseQueryRequest(body, full.config.limits);
    const deadlineAt = c.get('deadlineAt') ?? full.now() + full.config.limits.queryTimeoutMs;
    return answer(c, format, (rowText) => executeQuery(full, principalOf(c), req, { requestId: c.get('requestId'), facts: c.get('audit'), deadlineAt, signal: c.req.raw.signal, ...(rowText ? { rowText } : {}) }));
  };
  app.post('/query', async (c) => run(c, await readJsonBody(c)));
  // A plan from the edge gateway (api/adapters/worker.ts): `{ plan, cursor? }`, re-based on
  // this node's limits and run for the caller's own token like any query.
  app.post('/plan', async (c) => {
    const format = negotiateFormat(c.req.query('format'), c.req.header('Accept'));
    const body = await readJsonBody(c);
    const deadlineAt = c.get('deadlineAt') ?? full.now() + full.config.limits.queryTimeoutMs;
    return answer(c, format, (rowText) => executeForwardedPlan(full, principalOf(c), body, { requestId: c.get('requestId'), facts: c.get('audit'), deadlineAt, signal: c.req.raw.signal, ...(rowText ? { rowText } : {}) }));
  });
  // The one-line GETs: parameters decoded and checked by schemas/http-params.ts, errors naming
  // the parameter (api/routes/get-params.ts), then the same path as POST /v1/query.
  const params = (c: Context<AppEnv>): URLSearchParams => new URL(c.req.url).searchParams;
  app.get('/datasets/:id/records', async (c) => run(c, parseRecordsParams(params(c), c.req.param('id'))));
  app.get('/datasets/:id/top', async (c) => run(c, parseTopParams(params(c), c.req.param('id'))));
  app.get('/datasets/:id/timeseries', async (c) => run(c, parseTimeseriesParams(params(c), c.req.param('id'))));
  return app;
}
