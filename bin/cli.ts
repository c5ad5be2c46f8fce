/**
 * The `flowseal` command line: parses arguments and dispatches to the components.
 *
 * Owns: usage text, exit codes (0 ok, 2 usage/config, 3 corrupt input, 1 other) and turning
 * AppErrors into one clear line on stderr. Never: prints raw traffic data; every component
 * module is imported lazily so `--help` is instant.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AppError, exitCodeFor, isAppError } from '../schemas/errors.ts';
import { SEGMENT_MAX_RECORD_BYTES } from '../schemas/spool.ts';

interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run: (values: Record<string, string | boolean | string[] | undefined>, positionals: string[]) => Promise<number>;
}

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const err = (s: string) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function required(values: Record<string, unknown>, name: string): string {
  const v = str(values[name]);
  if (!v) throw new AppError('ERR_BAD_REQUEST', `--${name} is required`);
  return v;
}

function positiveInt(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) throw new AppError('ERR_BAD_REQUEST', `--${name} must be a positive integer`);
  return n;
}

/** Spool segments are decrypted whole in the processor's memory: keep them modest. */
function segmentBytes(text: string): number {
  const n = positiveInt(text, 'segment-bytes');
  if (n > SEGMENT_MAX_RECORD_BYTES) throw new AppError('ERR_BAD_REQUEST', `--segment-bytes must be at most ${SEGMENT_MAX_RECORD_BYTES} (32 MiB)`);
  return n;
}

const commands: Record<string, Command> = {
  demo: {
    summary: 'Anonymize the bundled captures, serve the API on 127.0.0.1 and print a token and curl lines',
    usage: 'flowseal demo [--dir <dir>] [--port <n>] [--no-serve]',
    options: { dir: { type: 'string' }, port: { type: 'string' }, 'no-serve': { type: 'boolean' } },
    run: async (v) => {
      const { runDemo } = await import('./demo.ts');
      return runDemo({ dir: str(v.dir) ?? 'demo-data', port: Number(str(v.port) ?? 8787), serve: !v['no-serve'] });
    },
  },
  pipeline: {
    summary: 'Ingest a capture and run the sealed processor as two processes with the encrypted spool between them',
    usage: 'flowseal pipeline <capture...|-> --archive <dir> [--policy <file>] [--dataset <name>] [--spool <dir>] [--signing-key env:NAME|file:PATH]',
    options: { archive: { type: 'string' }, policy: { type: 'string' }, dataset: { type: 'string' }, spool: { type: 'string' }, 'signing-key': { type: 'string' } },
    run: async (v, p) => {
      if (p.length === 0) throw new AppError('ERR_BAD_REQUEST', 'pipeline takes one or more capture paths (or - for stdin)');
      const { runPipeline } = await import('./pipeline.ts');
      return runPipeline({
        captures: p,
        archiveDir: required(v, 'archive'),
        policyPath: str(v.policy),
        dataset: str(v.dataset) ?? 'default',
        spoolDir: str(v.spool),
        signingKey: str(v['signing-key']),
      });
    },
  },
  ingest: {
    summary: 'Capture side: seal packets from a pcap/pcapng file (or - for stdin) into the spool',
    usage: 'flowseal ingest pcap <file|-> --spool <dir> [--run-id <id>] [--segment-bytes <n>]',
    options: { spool: { type: 'string' }, 'run-id': { type: 'string' }, 'segment-bytes': { type: 'string' } },
    run: async (v, p) => {
      if (p[0] !== 'pcap' || p.length !== 2) throw new AppError('ERR_BAD_REQUEST', 'usage: flowseal ingest pcap <file|-> --spool <dir>');
      const { runIngestPcap } = await import('../ingest/ingest-pcap.ts');
      const res = await runIngestPcap({
        input: p[1]!,
        spoolDir: required(v, 'spool'),
        ...(str(v['run-id']) ? { runId: str(v['run-id'])! } : {}),
        ...(str(v['segment-bytes']) ? { segmentMaxBytes: segmentBytes(str(v['segment-bytes'])!) } : {}),
        log: (o: object) => err(JSON.stringify({ component: 'ingest', ...o })),
      });
      err(JSON.stringify({ component: 'ingest', event: 'done', ...res }));
      return 0;
    },
  },
  process: {
    summary: 'Sealed side: hold the spool key in memory, decrypt, decode, build flows, anonymize, write Parquet',
    usage:
      'flowseal process --spool <dir> --archive <dir> [--policy <file>] [--dataset <name>] [--signing-key stdin|env:NAME|file:PATH] [--until-run <id[,id...]>] [--idle-timeout <seconds>]',
    options: {
      'signing-key': { type: 'string' },
      'idle-timeout': { type: 'string' },
      spool: { type: 'string' },
      archive: { type: 'string' },
      policy: { type: 'string' },
      dataset: { type: 'string' },
      'until-run': { type: 'string' },
    },
    run: async (v) => {
      const { runProcessorCommand } = await import('../sealed-processor/main.ts');
      return runProcessorCommand({
        spoolDir: required(v, 'spool'),
        archiveDir: required(v, 'archive'),
        policyPath: str(v.policy),
        dataset: str(v.dataset) ?? 'default',
        untilRun: str(v['until-run']),
        signingKey: str(v['signing-key']),
        ...(str(v['idle-timeout']) ? { idleTimeoutMs: positiveInt(str(v['idle-timeout'])!, 'idle-timeout') * 1000 } : {}),
      });
    },
  },
  'signing-key': {
    summary: 'Manifest signing key: generate a seed (to your secret store) or print its public JWK for the API config',
    usage: 'flowseal signing-key generate | flowseal signing-key public --signing-key stdin|env:NAME|file:PATH',
    options: { 'signing-key': { type: 'string' } },
    run: async (v, p) => {
      const { runSigningKeyCommand } = await import('../sealed-processor/main.ts');
      return runSigningKeyCommand(p, str(v['signing-key']), out);
    },
  },
  serve: {
    summary: 'Serve the query API over an archive',
    usage: 'flowseal serve --archive <dir> [--config <file>] [--host <addr>] [--port <n>]',
    options: { archive: { type: 'string' }, config: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' } },
    run: async (v) => {
      const { runServe } = await import('./serve.ts');
      return runServe({
        archiveDir: required(v, 'archive'),
        configPath: str(v.config),
        host: str(v.host),
        port: str(v.port) ? Number(str(v.port)) : undefined,
      });
    },
  },
  token: {
    summary: 'DEV ONLY: mint a bearer token signed by the local development issuer',
    usage: 'flowseal token --sub <name> --scope "<scopes>" [--ttl <seconds>] [--dev-issuer <dir>]',
    options: { sub: { type: 'string' }, scope: { type: 'string' }, ttl: { type: 'string' }, 'dev-issuer': { type: 'string' } },
    run: async (v) => {
      const { runToken } = await import('./serve.ts');
      return runToken({
        sub: required(v, 'sub'),
        scope: str(v.scope) ?? 'datasets:read query',
        ttlSec: Number(str(v.ttl) ?? 3600),
        devIssuerDir: str(v['dev-issuer']),
        print: out,
      });
    },
  },
  anonymize: {
    summary: 'Key holder tool: map addresses, MACs or names exactly as a primitive or a policy does',
    usage: 'flowseal anonymize --method <m> --key <hex|@file> [--policy <file>] <value...>',
    options: {},
    run: async () => 0,
  },
  policy: {
    summary: 'Validate an anonymization policy file and print its canonical hash',
    usage: 'flowseal policy check <file>',
    options: {},
    run: async () => 0,
  },
};

function globalHelp(): string {
  const lines = ['flowseal — sealed capture, anonymization and query-by-API for traffic traces', '', 'Usage: flowseal <command> [options]', '', 'Commands:'];
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(10)} ${c.summary}`);
  lines.push('', 'Run `flowseal <command> --help` for the options of one command; `flowseal --version` prints the version.');
  return lines.join('\n');
}

/** Runs the CLI; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    const { readFileSync } = await import('node:fs');
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    out(`flowseal ${pkg.version}`);
    return 0;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    out(globalHelp());
    return name ? 0 : 2;
  }
  const cmd = commands[name];
  if (!cmd) {
    err(`flowseal: unknown command '${name}'\n\n${globalHelp()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    out(`${cmd.summary}\n\nUsage: ${cmd.usage}`);
    return 0;
  }
  try {
    if (name === 'anonymize' || name === 'policy') {
      const mod = await import('../sealed-processor/anonymize/cli.ts');
      const io = {
        stdout: out,
        stderr: err,
        readFile: async (p: string) => (await import('node:fs/promises')).readFile(p),
      };
      if (name === 'anonymize') return await mod.runAnonymizeCommand(rest, io);
      if (rest[0] !== 'check') throw new AppError('ERR_BAD_REQUEST', `usage: ${cmd.usage}`);
      return await mod.runPolicyCheckCommand(rest.slice(1), io);
    }
    const { values, positionals } = parseArgs({ args: rest, options: cmd.options, allowPositionals: true, strict: true });
    return await cmd.run(values as Record<string, string | boolean | undefined>, positionals);
  } catch (e) {
    if (isAppError(e)) {
      err(`flowseal ${name}: ${e.code}: ${e.message}`);
      return exitCodeFor(e.code);
    }
    if (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      err(`flowseal ${name}: ${e.message}\nUsage: ${cmd.usage}`);
      return 2;
    }
    err(`flowseal ${name}: internal error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
