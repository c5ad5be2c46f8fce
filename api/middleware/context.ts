/**
 * The Hono environment shared by the API's middleware and routes: request id, client address,
 * the request's deadline, authenticated principal, and the audit facts routes fill in
 * (dataset, validated query, rows returned).
 *
 * Owns: the variable names and their types. Never: stores the bearer token.
 */
import type { Principal } from '../../schemas/claims.ts';

/** What a route reports for the audit entry of its request. */
export interface AuditFacts {
  dataset: string | null;
  query: unknown;
  /**
   * The absolute time range the query ran over once planned (relative times resolved, a
   * cursor's pinned range applied): what was read, whatever the request said.
   */
  timeRange?: { from: string; to: string };
  rows: number | null;
  /** Set by the error handler. */
  errorCode: string | null;
  /** Set by the error handler: why a token was refused, for the audit log only. */
  errorReason: string | null;
  /** A query answer still streaming when the handler returned: resolves when it has ended (rows, or the error). */
  streamEnd?: Promise<{ rows: number; error?: unknown }>;
  /** Set once the answer has ended (then `rows` is final). */
  streamEnded?: boolean;
  /** Stops a started answer that will not be sent (its query and admission slot end). */
  cancelStream?: () => void;
}

export interface AppEnv {
  Variables: {
    requestId: string;
    /** Normalised client address (api/middleware/client-address.ts); null when unknown. */
    clientAddress: string | null;
    /** When the whole request must be answered, ms since the epoch (api/middleware/deadline.ts). */
    deadlineAt: number;
    principal: Principal | undefined;
    audit: AuditFacts;
  };
}
