/**
 * The API's error answer `{ error: { code, message, requestId, details? } }` as a zod schema,
 * for the OpenAPI document and for tests that parse real answers (api/middleware/error-handler.ts
 * writes it).
 *
 * Owns: the envelope's wire shape. Never: widens `code` beyond schemas/errors.ts.
 */
import { z } from 'zod';
import { ErrorCode } from './errors.ts';

const CODES = Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]];

export const ErrorEnvelope = z.strictObject({
  error: z.strictObject({
    code: z.enum(CODES).meta({ description: 'Stable error code (schemas/errors.ts); switch on it, not on the message.' }),
    message: z.string().meta({ description: 'What was wrong, for people; never echoes sensitive input such as addresses.' }),
    requestId: z.string().meta({ description: 'Equals the `X-Request-Id` response header; quote it when reporting a problem.' }),
    details: z
      .record(z.string(), z.unknown())
      .optional()
      .meta({ description: 'Non-sensitive specifics: `issues` (each with `path` or `param` and `message`), `position` and `expected` for filter syntax errors, `retryAfterSec` for 429/503, ...' }),
  }),
});
export type ErrorEnvelope = z.infer<typeof ErrorEnvelope>;
