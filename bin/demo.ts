/**
 * `flowseal demo` (what `npm start` runs): the whole system on an embedded default with no
 * configuration. Anonymizes the bundled real captures through the two-process pipeline into
 * `<dir>/archive`, starts the query API on 127.0.0.1 with the local development issuer, and
 * prints a token and curl lines that work when pasted.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MANIFEST_DIR } from '../schemas/archive.ts';
import { runPipeline } from './pipeline.ts';
import { runServe, devIssuerDirFor } from './serve.ts';
import { loadOrCreateDevIssuer } from '../api/adapters/dev-issuer-files.ts';

const FIXTURES = fileURLToPath(new URL('../test/fixtures/', import.meta.url));

export interface DemoOptions {
  dir: string;
  port: number;
  serve: boolean;
}

export async function runDemo(opts: DemoOptions): Promise<number> {
  const dir = resolve(opts.dir);
  const archive = join(dir, 'archive');
  await rm(archive, { recursive: true, force: true });
  const captures = (await readdir(FIXTURES)).filter((f) => /\.(pcap|pcapng)$/.test(f)).sort();
  process.stderr.write(`flowseal demo: anonymizing ${captures.length} bundled captures into ${archive}\n`);
  // One pipeline, one processor: every capture shares the run's in-memory anonymization key.
  const code = await runPipeline({ captures: captures.map((c) => join(FIXTURES, c)), archiveDir: archive, dataset: 'demo', stdio: 'pipe' });
  if (code !== 0) {
    process.stderr.write(`flowseal demo: the pipeline failed (exit ${code})\n`);
    return code;
  }
  if (!opts.serve) return 0;
  const { from, to } = await archiveTimeRange(join(archive, 'demo', MANIFEST_DIR));
  const issuer = await loadOrCreateDevIssuer(devIssuerDirFor(undefined));
  const token = await issuer.signToken('demo-researcher', ['datasets:read', 'query', 'records'], 8 * 3600);
  return runServe({
    archiveDir: archive,
    port: opts.port,
    onReady: (url) => {
      const range = `"timeRange":{"from":"${from}","to":"${to}"}`;
      const q = `{"dataset":"demo",${range},"groupBy":["protocol"],"metrics":["flows","packets","bytes","distinct_dst_port"],"orderBy":[{"by":"bytes","dir":"desc"}],"limit":10}`;
      const lines = [
        '',
        `flowseal demo is serving the anonymized archive at ${url}`,
        '',
        'A development token (valid 8 hours; signed by the local DEV issuer in .flowseal/dev-issuer):',
        `  export TOKEN='${token}'`,
        '',
        'Try:',
        `  curl -s -H "Authorization: Bearer $TOKEN" ${url}/v1/datasets`,
        `  curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '${q}' ${url}/v1/query`,
        `  curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"dataset":"demo",${range},"filter":{"protocol":6},"limit":5}' ${url}/v1/query`,
        `  curl -s -H "Authorization: Bearer $TOKEN" '${url}/v1/datasets/demo/top?from=${from}&to=${to}&by=dst_port&metric=bytes&n=5'`,
        '',
        'Groups of fewer than 5 flows are withheld (minGroupSize; see stats.suppressedGroups).',
        'Stop with Ctrl-C.',
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    },
  });
}

/** The whole days covering every run in the archive (from the run manifests). */
async function archiveTimeRange(manifestDir: string): Promise<{ from: string; to: string }> {
  let min = Infinity;
  let max = -Infinity;
  for (const name of await readdir(manifestDir).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue;
    const m = JSON.parse(await readFile(join(manifestDir, name), 'utf8')) as { manifest: { timeStart: string | null; timeEnd: string | null } };
    if (m.manifest.timeStart) min = Math.min(min, Date.parse(m.manifest.timeStart));
    if (m.manifest.timeEnd) max = Math.max(max, Date.parse(m.manifest.timeEnd));
  }
  if (!Number.isFinite(min)) min = max = Date.now();
  const day = 86_400_000;
  const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
  return { from: iso(Math.floor(min / day) * day), to: iso(Math.floor(max / day) * day + day) };
}
