/**
 * The data every runtime is tested on: a small synthetic archive (written with
 * test/support/make-archive.ts), an API config with a small burst so the rate limit is reached
 * in a few requests, the DEV issuer's key directory, and the answers the suite expects —
 * computed here in plain JS from the rows, independently of the SQL the API runs.
 *
 * Owns: fixture data and expected totals. Never: used by production code.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeArchive } from '../support/make-archive.ts';
import type { FlowRowInput } from '../support/make-archive.ts';
import { loadOrCreateDevIssuer } from '../../api/adapters/dev-issuer-files.ts';
import type { DevIssuer } from '../../api/auth/dev-issuer.ts';

export const SUITE_DATASET = 'xrt';
export const SUITE_FROM = '2026-03-01T00:00:00Z';
export const SUITE_TO = '2026-03-02T00:00:00Z';

/** Rate-limit settings of the fixture config: `burst` requests pass, the next one is refused. */
export const SUITE_RATE_LIMIT = { perMinute: 1, burst: 6, queryCost: 2 } as const;

/**
 * The per-address limit on unauthenticated requests: small, and refilled fast (2 a second), so
 * the suite reaches it in a few requests and every check after it finds the bucket full again.
 */
export const SUITE_UNAUTHENTICATED = { unauthenticatedBurst: 4, unauthenticatedPerMinute: 120 } as const;

/** Six flows over two hours: three HTTPS (TCP 443), two DNS (UDP 53), one ICMP echo. */
export const SUITE_ROWS: readonly FlowRowInput[] = [
  { time_start: '2026-03-01T10:05:00Z', time_end: '2026-03-01T10:05:03Z', protocol: 6, src_addr: '10.1.0.1', dst_addr: '192.0.2.10', src_port: 40001, dst_port: 443, packets_fwd: 10, bytes_fwd: 1_000, packets_rev: 12, bytes_rev: 9_000 },
  { time_start: '2026-03-01T10:20:00Z', time_end: '2026-03-01T10:21:00Z', protocol: 6, src_addr: '10.1.0.2', dst_addr: '192.0.2.10', src_port: 40002, dst_port: 443, packets_fwd: 20, bytes_fwd: 2_500, packets_rev: 30, bytes_rev: 40_000 },
  { time_start: '2026-03-01T11:02:00Z', time_end: '2026-03-01T11:02:01Z', protocol: 6, src_addr: '10.1.0.3', dst_addr: '192.0.2.11', src_port: 40003, dst_port: 443, packets_fwd: 5, bytes_fwd: 400, packets_rev: 4, bytes_rev: 800 },
  { time_start: '2026-03-01T10:30:00Z', protocol: 17, src_addr: '10.1.0.1', dst_addr: '192.0.2.53', src_port: 50001, dst_port: 53, packets_fwd: 1, bytes_fwd: 70, packets_rev: 1, bytes_rev: 150, tcp_flags_fwd: 0 },
  { time_start: '2026-03-01T11:30:00Z', protocol: 17, src_addr: '10.1.0.4', dst_addr: '192.0.2.53', src_port: 50002, dst_port: 53, packets_fwd: 1, bytes_fwd: 80, packets_rev: 1, bytes_rev: 200, tcp_flags_fwd: 0 },
  { time_start: '2026-03-01T11:45:00Z', protocol: 1, src_addr: '10.1.0.5', dst_addr: '192.0.2.1', src_port: 0, dst_port: 0, icmp_type: 8, icmp_code: 0, packets_fwd: 1, bytes_fwd: 84, packets_rev: 1, bytes_rev: 84, tcp_flags_fwd: 0 },
];

/** Expected `groupBy: ['protocol']` rows `[protocol, flows, packets, bytes]`, protocol ascending. */
export function expectedByProtocol(): [number, number, number, number][] {
  const by = new Map<number, [number, number, number, number]>();
  for (const r of SUITE_ROWS) {
    const p = r.protocol ?? 6;
    const acc = by.get(p) ?? [p, 0, 0, 0];
    acc[1] += 1;
    acc[2] += (r.packets_fwd ?? 1) + (r.packets_rev ?? 0);
    acc[3] += (r.bytes_fwd ?? 60) + (r.bytes_rev ?? 0);
    by.set(p, acc);
  }
  return [...by.values()].sort((a, b) => a[0] - b[0]);
}

/** Expected `[dst_port, bytes]` for the top-N-by-bytes convenience GET, largest first. */
export function expectedTopPortsByBytes(n: number): [number, number][] {
  const by = new Map<number, number>();
  for (const r of SUITE_ROWS) by.set(r.dst_port ?? 443, (by.get(r.dst_port ?? 443) ?? 0) + (r.bytes_fwd ?? 60) + (r.bytes_rev ?? 0));
  return [...by.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
}

export interface SuiteFixture {
  readonly archiveDir: string;
  readonly configPath: string;
  readonly devIssuerDir: string;
  readonly auditLogPath: string;
  readonly issuer: DevIssuer;
  /** The API config as JSON text (what `configPath` holds), for the edge's FLOWSEAL_CONFIG. */
  readonly edgeConfigJson: string;
}

/**
 * Writes the archive, the DEV issuer keys and the config under `dir`. The same config (issuer
 * with inline public keys, limits, rate limit) serves the origins and the edge.
 */
export async function writeSuiteFixture(dir: string): Promise<SuiteFixture> {
  const archiveDir = join(dir, 'archive');
  const devIssuerDir = join(dir, 'dev-issuer');
  const auditLogPath = join(dir, 'audit', 'node.ndjson');
  await makeArchive(archiveDir, { dataset: SUITE_DATASET, rows: SUITE_ROWS, runId: 'xrt1' });
  const issuer = await loadOrCreateDevIssuer(devIssuerDir);
  const config = {
    host: '127.0.0.1',
    issuers: [{ issuer: issuer.issuer, audience: issuer.audience, algorithms: ['ES256'], jwks: issuer.jwks }],
    rateLimit: { ...SUITE_RATE_LIMIT, ...SUITE_UNAUTHENTICATED },
    // Explicit: the fixture's groups are smaller than the default minimum group size.
    limits: { maxTimeRangeDays: 7, minGroupSize: 1 },
    auditLogPath,
  };
  const configPath = join(dir, 'api.json');
  mkdirSync(join(dir, 'audit'), { recursive: true });
  const edgeConfigJson = JSON.stringify({ ...config, auditLogPath: undefined });
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  return { archiveDir, configPath, devIssuerDir, auditLogPath, issuer, edgeConfigJson };
}
