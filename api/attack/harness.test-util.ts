/** Test harness for the attack regression tests (api/attack/plan-attacks.test.ts): a small archive, an app factory, a caller. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../app.ts';
import { createDuckDbEngine } from '../engine/duckdb-engine.ts';
import type { DuckDbEngine } from '../engine/duckdb-engine.ts';
import type { EngineStream, QueryEngine } from '../ports.ts';
import { createJoseVerifier } from '../auth/jose-verifier.ts';
import { createDevIssuer } from '../auth/dev-issuer.ts';
import type { DevIssuer } from '../auth/dev-issuer.ts';
import { createMemoryRateLimitStore } from '../rate-limit/memory-store.ts';
import { createMemoryAuditSink } from '../audit/memory-sink.ts';
import { ApiConfig } from '../../schemas/api-config.ts';
import { makeArchive } from '../../test/support/make-archive.ts';
import type { FlowRowInput } from '../../test/support/make-archive.ts';

export interface Harness {
  dir: string;
  /** The DuckDB engine, wrapped so that streams the app leaks are closed by `close()`. */
  engine: QueryEngine;
  duckdb: DuckDbEngine;
  dev: DevIssuer;
  close(): Promise<void>;
}

export async function makeHarness(rows: FlowRowInput[]): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'flowseal-attack-'));
  await makeArchive(dir, { dataset: 'lab', rows });
  const duckdb = await createDuckDbEngine({ archiveDir: dir, threads: 1, memoryLimit: '256MB' });
  // Streams a hole leaks would keep their connection and its 20 ms re-interrupt timer forever
  // (the test process would never exit): track every stream and close it at the end.
  const open = new Set<EngineStream>();
  const engine: QueryEngine = {
    listDatasets: () => duckdb.listDatasets(),
    async execute(plan, opts) {
      const s = await duckdb.execute(plan, opts);
      open.add(s);
      return s;
    },
  };
  const files = new Map<string, string>();
  const dev = await createDevIssuer({ read: async (n) => files.get(n) ?? null, write: async (n, t) => void files.set(n, t) });
  return {
    dir,
    engine,
    duckdb,
    dev,
    async close() {
      for (const s of open) await s.close().catch(() => undefined);
      await duckdb.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function makeApp(h: Harness, config: Record<string, unknown> = {}, extra: { audit?: ReturnType<typeof createMemoryAuditSink> | { write(e: unknown): Promise<void> } } = {}) {
  const audit = extra.audit ?? createMemoryAuditSink();
  const a = createApp({
    engine: h.engine,
    verifier: createJoseVerifier({ issuers: [{ issuer: h.dev.issuer, audience: h.dev.audience, algorithms: ['ES256'], jwks: h.dev.jwks }] }),
    rateLimit: createMemoryRateLimitStore(),
    audit: audit as never,
    config: ApiConfig.parse({ rateLimit: { burst: 1000, perMinute: 1000 }, ...config }),
    logger: { info: () => {}, error: () => {} },
  });
  const raw = async (path: string, body?: unknown, opts: { sub?: string; scopes?: string[]; headers?: Record<string, string> } = {}): Promise<Response> => {
    const token = await h.dev.signToken(opts.sub ?? 'alice', opts.scopes ?? ['query', 'records'], 600);
    return a.request(path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...(opts.headers ?? {}) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
  };
  const call = async (path: string, body?: unknown, opts: { sub?: string; scopes?: string[]; headers?: Record<string, string> } = {}) => {
    const res = await raw(path, body, opts);
    const text = await res.text();
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    return { status: res.status, json, text, headers: res.headers };
  };
  return { app: a, raw, call, audit };
}
