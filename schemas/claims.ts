/**
 * Access-token claims (RFC 9068 JWT profile) as the query API reads them, and the
 * `Principal` the API derives from them.
 *
 * Owns: which claims matter (`sub`, `scope`, `groups`, `datasets`) and the scope names (the
 * dataset id syntax is the archive contract's, schemas/archive.ts). Never: verifies signatures (api/auth does) or keeps the token itself.
 */
import { z } from 'zod';
import { DatasetId } from './archive.ts';

/** Scopes the API understands (space-separated in the `scope` claim, RFC 8693 §4.2). */
export const Scope = {
  /** List and describe datasets. */
  DatasetsRead: 'datasets:read',
  /** Run aggregate queries (also allows listing datasets). */
  Query: 'query',
  /**
   * Additionally list individual flow records: queries without groupBy, and group-bys whose keys
   * identify single connections (both exact addresses plus a port).
   */
  Records: 'records',
} as const;
export type Scope = (typeof Scope)[keyof typeof Scope];

export { DatasetId };

/** Claims after signature verification. Unknown claims are allowed and ignored. */
export const AccessTokenClaims = z.looseObject({
  iss: z.string().min(1),
  sub: z.string().min(1).max(256),
  aud: z.union([z.string(), z.array(z.string())]),
  exp: z.number(),
  nbf: z.number().optional(),
  iat: z.number().optional(),
  scope: z.string().max(4096).optional(),
  groups: z.array(z.string().max(256)).max(256).optional(),
  /** When present, the only datasets this subject may see. */
  datasets: z.array(DatasetId).max(1024).optional(),
});
export type AccessTokenClaims = z.infer<typeof AccessTokenClaims>;

/** Who is calling, as the API uses it after authentication. */
export interface Principal {
  readonly issuer: string;
  readonly subject: string;
  readonly scopes: ReadonlySet<string>;
  readonly groups: readonly string[];
  /** `null` means every dataset. */
  readonly datasets: ReadonlySet<string> | null;
  /** Token expiry, seconds since the epoch. */
  readonly expiresAt: number;
}

/** Builds the principal from verified claims. */
export function principalFromClaims(claims: AccessTokenClaims): Principal {
  const scopes = new Set((claims.scope ?? '').split(' ').filter((s) => s.length > 0));
  return {
    issuer: claims.iss,
    subject: claims.sub,
    scopes,
    groups: claims.groups ?? [],
    datasets: claims.datasets ? new Set(claims.datasets) : null,
    expiresAt: claims.exp,
  };
}
