/**
 * Request body guards: size cap (413 ERR_PAYLOAD_TOO_LARGE, checked on the declared length and
 * on the bytes actually streamed), JSON media type (415), and JSON parsing (400).
 *
 * Owns: reading request bodies. Never: echoes body content in errors.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { AppEnv } from './context.ts';

/** Middleware factory: caps request bodies at `maxBytes`. */
export function limitBody(maxBytes: number): MiddlewareHandler<AppEnv> {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new AppError(ErrorCode.PayloadTooLarge, `request body larger than ${maxBytes} bytes`, { details: { maxBytes } });
    },
  });
}

/**
 * Reads a JSON body.
 * @throws AppError ERR_UNSUPPORTED_MEDIA_TYPE unless `Content-Type` is JSON, ERR_QUERY_INVALID
 *   when the body is not valid JSON.
 */
export async function readJsonBody(c: Context<AppEnv>): Promise<unknown> {
  const type = (c.req.header('Content-Type') ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
    throw new AppError(ErrorCode.UnsupportedMediaType, 'Content-Type must be application/json');
  }
  let text: string;
  try {
    text = await c.req.text();
  } catch (err) {
    // The client hung up (or the stream broke) mid-body: its request, not our fault.
    if (err instanceof AppError) throw err;
    throw new AppError(ErrorCode.BadRequest, 'request body could not be read to its end', { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError(ErrorCode.QueryInvalid, 'request body is not valid JSON');
  }
}
