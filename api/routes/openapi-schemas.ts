/**
 * zod schemas → OpenAPI 3.1 `components/schemas`. The schemas are put in one registry and
 * converted together (`z.toJSONSchema(registry)`), so a registered schema used inside another
 * (the recursive `QueryFilter` inside `QueryRequest`) is one component and a `$ref`. What zod
 * still puts aside — a recursive or shared schema nobody registered, under its `__shared`
 * pseudo-schema or a component's own `$defs` — is hoisted into components of its own, named
 * after the component and property that first use it (`QueryRequestFilter`), and every `$ref`
 * to it is rewritten. The result has no `$defs`, `$id` or `$schema`, and every `$ref` points
 * at a component that exists (checked; a dangling one throws).
 *
 * Owns: the conversion and the reference rewriting. Never: edits a schema's meaning, or
 * describes a field by hand.
 */
import { z } from 'zod';

export type JsonSchema = { [key: string]: unknown };

/** A schema and its component name. */
export interface SchemaEntry {
  readonly id: string;
  readonly schema: z.ZodType;
}

const PREFIX = '#/components/schemas/';
const SHARED = '__shared';

const isObject = (v: unknown): v is JsonSchema => typeof v === 'object' && v !== null && !Array.isArray(v);
const pascal = (s: string) => s.replace(/(^|[_\-\s]+)([a-zA-Z0-9])/g, (_, __, c: string) => c.toUpperCase());

/** Calls `visit` on every object inside `node` with the nearest enclosing property name (JSON Schema `properties` keys). */
function walk(node: unknown, visit: (o: JsonSchema, property: string | undefined) => void, property?: string): void {
  if (Array.isArray(node)) {
    for (const x of node) walk(x, visit, property);
    return;
  }
  if (!isObject(node)) return;
  visit(node, property);
  for (const [k, v] of Object.entries(node)) {
    if (k === 'properties' && isObject(v)) for (const [name, sub] of Object.entries(v)) walk(sub, visit, name);
    else walk(v, visit, property);
  }
}

/**
 * Components for `entries`, converted as the client sends them (`io: 'input'`: defaults
 * optional, transforms' input side) or as the server answers (`'output'`).
 * @throws TypeError when two entries share an id or a `$ref` would dangle (a programmer error).
 */
export function zodComponents(entries: readonly SchemaEntry[], io: 'input' | 'output'): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const e of entries) {
    if (registry.has(e.schema) || entries.filter((x) => x.id === e.id).length > 1) throw new TypeError(`schema ${e.id} registered twice`);
    registry.add(e.schema, { id: e.id });
  }
  const converted = z.toJSONSchema(registry, { io, unrepresentable: 'any', uri: (id) => `${PREFIX}${id}` }).schemas as Record<string, JsonSchema>;
  const out: Record<string, JsonSchema> = {};
  // Aside-defs by the reference text that reaches them: zod's `__shared#/$defs/x`, or a component's `#/$defs/x` / `#`.
  const aside = new Map<string, JsonSchema>();
  const sharedDefs = (converted[SHARED]?.$defs ?? {}) as Record<string, JsonSchema>;
  for (const [name, def] of Object.entries(sharedDefs)) aside.set(`${PREFIX}${SHARED}#/$defs/${name}`, def);
  for (const [id, schema] of Object.entries(converted)) {
    if (id === SHARED) continue;
    const { $schema: _s, $id: _i, $defs, ...rest } = schema;
    out[id] = rest;
    // Local references inside this component become global ones.
    const local = new Map<string, string>([['#', `${PREFIX}${id}`]]);
    for (const name of Object.keys(isObject($defs) ? $defs : {})) local.set(`#/$defs/${name}`, `${PREFIX}${SHARED}:${id}:${name}`);
    for (const [name, def] of Object.entries(isObject($defs) ? ($defs as Record<string, JsonSchema>) : {})) aside.set(`${PREFIX}${SHARED}:${id}:${name}`, def);
    const relocal = (o: JsonSchema) => {
      if (typeof o.$ref === 'string' && local.has(o.$ref)) o.$ref = local.get(o.$ref);
    };
    walk(rest, relocal);
    for (const name of Object.keys(isObject($defs) ? $defs : {})) walk(aside.get(`${PREFIX}${SHARED}:${id}:${name}`), relocal);
  }
  // Name each aside-def after the first component property that refers to it, breadth first.
  const names = new Map<string, string>();
  const queue: [string, JsonSchema][] = Object.entries(out);
  for (let i = 0; i < queue.length; i++) {
    const [owner, schema] = queue[i]!;
    walk(schema, (o, property) => {
      if (typeof o.$ref !== 'string' || !aside.has(o.$ref) || names.has(o.$ref)) return;
      let name = `${owner}${pascal(property ?? 'Item')}`;
      for (let n = 2; name in out || [...names.values()].includes(name); n++) name = `${owner}${pascal(property ?? 'Item')}${n}`;
      names.set(o.$ref, name);
      queue.push([name, aside.get(o.$ref)!]);
    });
  }
  for (const [ref, name] of names) out[name] = aside.get(ref)!;
  for (const schema of Object.values(out)) {
    walk(schema, (o) => {
      if (typeof o.$ref !== 'string') return;
      const named = names.get(o.$ref);
      const ref = named === undefined ? o.$ref : `${PREFIX}${named}`;
      if (!ref.startsWith(PREFIX) || !(ref.slice(PREFIX.length) in out)) throw new TypeError(`dangling $ref ${ref}`);
      o.$ref = ref;
    });
  }
  return out;
}

/**
 * Drops the components in `schemas` that nothing outside them refers to, directly or through
 * other components (a registered schema the request no longer uses, say), so the document
 * never carries an unused component.
 */
export function pruneUnusedSchemas(outside: unknown, schemas: Record<string, JsonSchema>): void {
  const used = new Set<string>();
  const queue: unknown[] = [outside];
  while (queue.length > 0) {
    walk(queue.pop(), (o) => {
      if (typeof o.$ref !== 'string' || !o.$ref.startsWith(PREFIX)) return;
      const name = o.$ref.slice(PREFIX.length);
      if (used.has(name) || !(name in schemas)) return;
      used.add(name);
      queue.push(schemas[name]);
    });
  }
  for (const name of Object.keys(schemas)) if (!used.has(name)) delete schemas[name];
}
