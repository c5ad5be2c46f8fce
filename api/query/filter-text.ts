/**
 * A filter given as text (`filter` as a string in a POST body, `?filter=` on GETs): JSON when
 * it starts with `{` (the structured filter, as the GETs always took it), otherwise an
 * nfdump-style expression (api/query/nfdump-filter.ts). Either way the result is the
 * structured filter, validated later with the request.
 *
 * Owns: the one entry point the request parser uses. Never: echoes the text in errors.
 */
import { resolveFilterInput } from './nfdump-filter.ts';

/**
 * @throws AppError ERR_QUERY_INVALID (malformed JSON), ERR_QUERY_FILTER_SYNTAX (with the
 *   position and what was expected), ERR_QUERY_FILTER_INVALID (too long, deep or large).
 */
export function parseFilterText(text: string, limits?: { readonly maxNodes: number; readonly maxTerms: number }): unknown {
  return resolveFilterInput(text, limits);
}
