/**
 * The principal built from verified claims: a `datasets` claim, even an empty one, is an
 * allow-list (an empty list allows nothing, never everything); no claim means no restriction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccessTokenClaims, principalFromClaims } from './claims.ts';

const base = { iss: 'https://idp.test', sub: 'ann', aud: 'flowseal-api', iat: 1, exp: 2, scope: 'query  records' };

test('datasets: an empty list allows no dataset; a list allows exactly its ids; absent allows all', () => {
  const none = principalFromClaims(AccessTokenClaims.parse({ ...base, datasets: [] }));
  assert.ok(none.datasets !== null, 'an empty allow-list is not "no restriction"');
  assert.deepEqual([...none.datasets], []);
  const two = principalFromClaims(AccessTokenClaims.parse({ ...base, datasets: ['lab', 'campus'] }));
  assert.deepEqual([...two.datasets!].sort(), ['campus', 'lab']);
  assert.equal(principalFromClaims(AccessTokenClaims.parse(base)).datasets, null);
});

test('scopes split on any run of spaces; groups default to none', () => {
  const p = principalFromClaims(AccessTokenClaims.parse(base));
  assert.deepEqual([...p.scopes].sort(), ['query', 'records']);
  assert.deepEqual(p.groups, []);
  assert.deepEqual([p.issuer, p.subject, p.expiresAt], ['https://idp.test', 'ann', 2]);
});
