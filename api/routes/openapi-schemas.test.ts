/**
 * zod → components/schemas: registered schemas become `$ref`s, recursive and shared schemas
 * nobody registered are hoisted under readable names with every reference rewritten, nothing
 * zod-specific (`$defs`, `$id`, `$schema`) is left, and unused components are pruned.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { pruneUnusedSchemas, zodComponents } from './openapi-schemas.ts';
import type { JsonSchema } from './openapi-schemas.ts';
import { QueryFilter, QueryRequest } from '../../schemas/query.ts';

/** Every `$ref` inside `node`. */
function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const x of node) refs(x, out);
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

function assertSelfContained(components: Record<string, JsonSchema>): void {
  const text = JSON.stringify(components);
  for (const key of ['"$defs"', '"$id"', '"$schema"', '__shared']) assert.ok(!text.includes(key), `no ${key} left`);
  for (const r of refs(components)) {
    assert.match(r, /^#\/components\/schemas\/[A-Za-z0-9_]+$/);
    assert.ok(r.slice('#/components/schemas/'.length) in components, `${r} resolves`);
  }
}

test('the recursive QueryFilter is one component referring to itself; QueryRequest refers to it', () => {
  const c = zodComponents([{ id: 'QueryRequest', schema: QueryRequest }, { id: 'QueryFilter', schema: QueryFilter }], 'input');
  assert.deepEqual(Object.keys(c).sort(), ['QueryFilter', 'QueryRequest']);
  assertSelfContained(c);
  assert.ok(refs(c.QueryFilter).includes('#/components/schemas/QueryFilter'), 'and/or/not refer back');
  assert.ok(refs(c.QueryRequest).every((r) => r === '#/components/schemas/QueryFilter'));
});

test('an unregistered recursive schema is hoisted under the component and property that use it', () => {
  const c = zodComponents([{ id: 'QueryRequest', schema: QueryRequest }], 'input');
  assert.deepEqual(Object.keys(c).sort(), ['QueryRequest', 'QueryRequestFilter']);
  assertSelfContained(c);
});

test('recursion through z.lazy and getters, shared use, a second registered schema: all hoisted and resolved', () => {
  const Tree: z.ZodType<unknown> = z.lazy(() => z.object({ value: z.number(), children: z.array(Tree) }));
  const Node = z.object({ name: z.string(), get next(): z.ZodOptional<typeof Node> { return Node.optional(); } });
  const Leaf = z.object({ tree: Tree });
  const Top = z.object({ tree: Tree, first_node: Node, second: Node, leaf: Leaf });
  const c = zodComponents([{ id: 'Top', schema: Top }, { id: 'Leaf', schema: Leaf }], 'output');
  assertSelfContained(c);
  assert.deepEqual(Object.keys(c).sort(), ['Leaf', 'Top', 'TopFirstNode', 'TopTree']);
  assert.deepEqual((c.Top!.properties as Record<string, unknown>).second, { $ref: '#/components/schemas/TopFirstNode' });
  assert.deepEqual((c.Top!.properties as Record<string, unknown>).leaf, { $ref: '#/components/schemas/Leaf' });
  assert.deepEqual(refs(c.TopTree), ['#/components/schemas/TopTree']);
});

test('io decides the side shown: input makes defaulted fields optional, output requires them', () => {
  const S = z.strictObject({ a: z.number().default(1), b: z.string() });
  assert.deepEqual(zodComponents([{ id: 'S', schema: S }], 'input').S!.required, ['b']);
  assert.deepEqual(zodComponents([{ id: 'S', schema: S }], 'output').S!.required, ['a', 'b']);
});

test('one id twice, or one schema under two ids, is a programmer error', () => {
  const S = z.string();
  assert.throws(() => zodComponents([{ id: 'S', schema: S }, { id: 'S', schema: z.number() }], 'input'), TypeError);
  assert.throws(() => zodComponents([{ id: 'A', schema: S }, { id: 'B', schema: S }], 'input'), TypeError);
});

test('pruning keeps what the paths reach, directly or through other components, and drops the rest', () => {
  const schemas: Record<string, JsonSchema> = { A: { $ref: '#/components/schemas/B' }, B: { type: 'string' }, C: { $ref: '#/components/schemas/C' }, D: {} };
  pruneUnusedSchemas({ paths: { '/x': { get: { responses: { 200: { content: { 'application/json': { schema: { $ref: '#/components/schemas/A' } } } } } } } } }, schemas);
  assert.deepEqual(Object.keys(schemas).sort(), ['A', 'B']);
});
