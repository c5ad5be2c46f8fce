/**
 * A filter given as text (`filter` as a string in a POST body, `?filter=` on GETs): JSON when
 * it starts with `{` (the structured filter, as the GETs always took it), otherwise an
 * nfdump-style expression (api/query/nfdump-filter.ts). Either way the result is the
 * structured filter, validated later with the request.
 *
 * Owns: telling the two apart. Never: echoes the text in errors.
 */
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { FILTER_TEXT_MAX } from '../../schemas/query.ts';

/**
 * @throws AppError ERR_QUERY_INVALID (malformed JSON, text too long), ERR_QUERY_FILTER_SYNTAX.
 */
export function parseFilterText(text: string): unknown {
  if (text.length > FILTER_TEXT_MAX) throw new AppError(ErrorCode.QueryInvalid, `filter is longer than ${FILTER_TEXT_MAX} characters`);
  if (text.trimStart().startsWith('{')) {
    try {
      return JSON.parse(text);
    } catch {
      throw new AppError(ErrorCode.QueryInvalid, 'filter starting with { must be JSON (the structured filter)');
    }
  }
  throw new AppError(ErrorCode.QueryFilterSyntax, 'filter expressions are not available yet', { details: { position: 0, expected: ['{'] } });
}
