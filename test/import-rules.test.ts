/**
 * The dependency rules of the trust boundaries (shared/DESIGN.md), checked on every
 * production module's imports (static `import`/`export ... from` and dynamic `import()`):
 *
 * - `schemas/` depends on nothing of ours outside `schemas/` (it is the shared vocabulary);
 * - `api/` never imports `ingest/` or `sealed-processor/` (the API holds no key and no raw data);
 * - `ingest/` never imports `sealed-processor/` or `api/` (the capture side cannot decrypt);
 * - `sealed-processor/` never imports `api/` or `ingest/`;
 * - `client/` (the TS client, also for browsers) imports only `client/` and `schemas/`, and
 *   those `schemas/` imports (like its npm ones) are `import type` only, so no zod or server code
 *   runs in a client;
 * - nothing in those five imports `bin/` or `test/`.
 *
 * Test files (`*.test.ts`, `*.test-util.ts`) are exempt: a test may play the other side of a
 * boundary (e.g. ingest's tests open segments with the processor's reader).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const AREAS = ['schemas', 'api', 'ingest', 'sealed-processor', 'client'] as const;
type Area = (typeof AREAS)[number];

const FORBIDDEN: Record<Area, readonly string[]> = {
  schemas: ['api', 'ingest', 'sealed-processor', 'bin', 'test', 'bench', 'scripts'],
  api: ['ingest', 'sealed-processor', 'bin', 'test', 'bench', 'scripts'],
  ingest: ['sealed-processor', 'api', 'bin', 'test', 'bench', 'scripts'],
  'sealed-processor': ['api', 'ingest', 'bin', 'test', 'bench', 'scripts'],
  client: ['api', 'ingest', 'sealed-processor', 'bin', 'test', 'bench', 'scripts'],
};
/** Areas that may import only themselves and these. */
const ONLY: Partial<Record<Area, readonly string[]>> = { schemas: ['schemas'], client: ['client', 'schemas'] };

/** Module specifiers imported by `source` (static and dynamic), without comments. */
export function importSpecifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const out: string[] = [];
  for (const m of code.matchAll(/(?:^|[;\s])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]/g)) out.push(m[1]!);
  for (const m of code.matchAll(/(?:^|[;\s])import\s*['"]([^'"]+)['"]/g)) out.push(m[1]!);
  for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
  return out;
}

function productionFiles(area: Area): string[] {
  return (readdirSync(join(ROOT, area), { recursive: true, encoding: 'utf8' }) as string[])
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.test-util.ts') && !f.split('/').includes('node_modules'))
    .map((f) => join(ROOT, area, f));
}

test('the import parser sees static, re-export, side-effect and dynamic imports, not comments', () => {
  const src = `import { a } from '../x.ts';\nimport type { B } from "./b.ts";\nexport { c } from '../../c.ts';\nimport './side.ts';\n// import { d } from '../commented.ts';\n/* import e from '../block.ts' */\nconst m = await import('../lazy.ts');\nimport {\n  f,\n  g,\n} from '../multi.ts';`;
  assert.deepEqual(importSpecifiers(src).sort(), ['../../c.ts', '../lazy.ts', '../multi.ts', '../x.ts', './b.ts', './side.ts'].sort());
});

for (const area of AREAS) {
  test(`${area}/ imports nothing from ${FORBIDDEN[area].join(', ')}`, () => {
    const violations: string[] = [];
    const files = productionFiles(area);
    assert.ok(files.length > 0);
    for (const file of files) {
      for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) {
        if (!spec.startsWith('.')) continue;
        const target = relative(ROOT, resolve(dirname(file), spec));
        const top = target.split('/')[0]!;
        const only = ONLY[area];
        if (target.startsWith('..') || FORBIDDEN[area].includes(top) || (only !== undefined && !only.includes(top))) {
          violations.push(`${relative(ROOT, file)} imports ${spec} (${target})`);
        }
      }
    }
    assert.deepEqual(violations, []);
  });
}

test('client/ imports schemas/ and npm packages as types only, and no node: module', () => {
  const violations: string[] = [];
  for (const file of productionFiles('client')) {
    const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
    for (const m of code.matchAll(/(?:^|[;\s])(import|export)(\s+type)?\s[^'"`;]*?from\s*['"]([^'"]+)['"]/g)) {
      const [, , isType, spec] = m;
      const inClient = spec!.startsWith('./');
      if (!inClient && !isType) violations.push(`${relative(ROOT, file)}: ${spec} (a run-time import)`);
    }
    for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)|(?:^|[;\s])import\s*['"]([^'"]+)['"]/g)) {
      violations.push(`${relative(ROOT, file)}: ${m[1] ?? m[2]} (dynamic or side-effect import)`);
    }
  }
  assert.deepEqual(violations, []);
});
