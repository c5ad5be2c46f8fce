/**
 * Test helper: the real query API (api/adapters/node.ts, the server `flowseal serve` runs) on
 * a free 127.0.0.1 port over a small synthetic archive (test/support/make-archive.ts), with
 * the DEV issuer for tokens and an optional config file. For the client, CLI and notebook
 * tests, which talk to it over HTTP exactly as a user's program would.
 *
 * Also `CONTRACT`: which parts of the v1 query contract the server in this checkout accepts
 * (probed on its request schema), so tests of features still being merged skip with a reason
 * instead of failing.
 *
 * Owns: fixture data and server lifetime for those tests. Never: used by production code.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNodeServer } from '../../api/adapters/node.ts';
import { loadOrCreateDevIssuer } from '../../api/adapters/dev-issuer-files.ts';
import { QueryRequest } from '../../schemas/query.ts';
import { makeArchive } from './make-archive.ts';
import type { FlowRowInput } from './make-archive.ts';

/** 240 deterministic flows over three hours of 2026-02-01, IPv4 and IPv6, several ports. */
export function sampleRows(): FlowRowInput[] {
  let s = 7;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const rows: FlowRowInput[] = [];
  for (let i = 0; i < 240; i++) {
    const v6 = rnd() < 0.25;
    const t = Date.parse('2026-02-01T10:00:00Z') + Math.floor(rnd() * 3 * 3_600_000);
    rows.push({
      time_start: new Date(t).toISOString(),
      time_end: new Date(t + Math.floor(rnd() * 4000)).toISOString(),
      protocol: pick([6, 6, 6, 17, 1]),
      src_addr: v6 ? pick(['2001:db8::1', '2001:db8::2', '2001:db8:0:1::5']) : pick(['10.0.0.1', '10.0.1.7', '10.1.2.3', '192.168.1.10']),
      dst_addr: v6 ? pick(['2001:db8:aaaa::1', '2001:db8:aaaa:1::2']) : pick(['198.51.100.1', '198.51.100.2', '203.0.113.9']),
      src_port: 30000 + Math.floor(rnd() * 1000),
      dst_port: pick([53, 80, 443, 443, 443, 8080]),
      packets_fwd: 1 + Math.floor(rnd() * 20),
      bytes_fwd: 40 + Math.floor(rnd() * 5000),
      packets_rev: Math.floor(rnd() * 20),
      bytes_rev: Math.floor(rnd() * 9000),
      end_reason: pick(['idle', 'fin', 'rst']),
    });
  }
  return rows;
}

/** The sample's whole day, as absolute times. */
export const SAMPLE_FROM = '2026-02-01T00:00:00Z';
export const SAMPLE_TO = '2026-02-02T00:00:00Z';

export interface TestApi {
  readonly url: string;
  /** A DEV-issuer token for `sub` (default a fresh subject per call, so rate limits do not mix). */
  token(scopes: readonly string[], sub?: string): Promise<string>;
  readonly dir: string;
  close(): Promise<void>;
}

let subjects = 0;

/** Starts the API over dataset `lab` (the sample rows); `config` is the API config (schemas/api-config.ts). */
export async function startTestApi(options: { config?: Record<string, unknown>; rows?: readonly FlowRowInput[] } = {}): Promise<TestApi> {
  const dir = mkdtempSync(join(tmpdir(), 'flowseal-test-api-'));
  try {
    const archive = join(dir, 'archive');
    await makeArchive(archive, { dataset: 'lab', rows: options.rows ?? sampleRows() });
    const devDir = join(dir, 'dev-issuer');
    let configPath: string | undefined;
    if (options.config) {
      configPath = join(dir, 'api.json');
      writeFileSync(configPath, JSON.stringify(options.config));
    }
    const server = await startNodeServer({
      archiveDir: archive,
      ...(configPath ? { configPath } : {}),
      host: '127.0.0.1',
      port: 0,
      devIssuerDir: devDir,
      auditLogPath: join(dir, 'audit.ndjson'),
      logger: { info: () => {}, error: () => {} },
    });
    const issuer = await loadOrCreateDevIssuer(devDir);
    return {
      url: server.url,
      dir,
      token: (scopes, sub) => issuer.signToken(sub ?? `tester-${process.pid}-${++subjects}`, [...scopes], 600),
      async close() {
        await server.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

const PROBE = { dataset: 'lab', timeRange: { from: SAMPLE_FROM, to: SAMPLE_TO } };
const accepts = (body: Record<string, unknown>) => QueryRequest.safeParse({ ...PROBE, ...body }).success;

/** Parts of the v1 query contract this checkout's request schema accepts. */
export const CONTRACT = {
  cursor: accepts({ cursor: 'probe' }),
  stringFilter: accepts({ filter: 'proto tcp' }),
  relativeTimes: accepts({ timeRange: { from: '-1h', to: 'now' } }),
  other: accepts({ groupBy: ['dst_port'], other: true }),
} as const;

/** A node:test `skip` value: false when the server accepts `feature`, else the reason. */
export function skipUnlessContract(feature: keyof typeof CONTRACT, what: string): string | false {
  return CONTRACT[feature] ? false : `needs ${what} (schemas/query.ts QueryRequest does not accept it in this checkout yet: the lead's issue-7 work)`;
}
