/**
 * The `flowseal` command line: parses arguments and dispatches to the components.
 *
 * Owns: the command table (each command's options with their defaults, and examples, from
 * which `--help` is generated), exit codes (0 ok, 2 usage/config, 3 corrupt input or data lost,
 * 4 `pipeline --strict` with more than 1 % of the packets not turned into flows, 1 other),
 * "did you mean" for unknown commands and options, and turning AppErrors into one clear line on
 * stderr. Never: prints raw traffic data or a token it was given; every component module is
 * imported lazily so `--help` is instant.
 */
import { AppError, exitCodeFor, isAppError } from '../schemas/errors.ts';
import { SEGMENT_MAX_RECORD_BYTES } from '../schemas/spool.ts';
import { Scope } from '../schemas/claims.ts';
import { closest, commandHelp, parseCommandArgs, parseDuration, suggestion } from './args.ts';
import type { OptionSpecs, ParsedValues } from './args.ts';
import { QUERY_EXAMPLES, QUERY_NOTES, QUERY_OPTIONS } from './query-options.ts';
import { INGEST_USAGE, SPOOL_QUOTA_OPTIONS, spoolQuota } from './ingest.ts';

export interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly options: OptionSpecs;
  /** Whole command lines, each starting with `flowseal <command>`. */
  readonly examples: readonly string[];
  readonly notes?: readonly string[];
  readonly run: (values: ParsedValues, positionals: string[], argv: string[]) => Promise<number>;
}

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const err = (s: string) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function required(values: ParsedValues, name: string): string {
  const v = str(values[name]);
  if (!v) throw new AppError('ERR_BAD_REQUEST', `--${name} is required`);
  return v;
}

function positiveInt(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) throw new AppError('ERR_BAD_REQUEST', `--${name} must be a positive integer`);
  return n;
}

const KNOWN_SCOPES: readonly string[] = Object.values(Scope);

/**
 * The scopes of `--scope` (space- or comma-separated), each a known one.
 * @throws AppError ERR_BAD_REQUEST naming the allowed scopes.
 */
export function tokenScopes(text: string | undefined): string[] {
  const allowed = KNOWN_SCOPES.join(', ');
  if (text === undefined) throw new AppError('ERR_BAD_REQUEST', `--scope is required: one or more of ${allowed}`);
  const scopes = text.split(/[\s,]+/).filter(Boolean);
  if (scopes.length === 0) throw new AppError('ERR_BAD_REQUEST', `--scope is empty: give one or more of ${allowed}`);
  for (const s of scopes) {
    if (KNOWN_SCOPES.includes(s)) continue;
    const near = closest(s, KNOWN_SCOPES);
    throw new AppError('ERR_BAD_REQUEST', `--scope: unknown scope '${s.slice(0, 40)}'${near ? ` (did you mean '${near}'?)` : ''}; allowed: ${allowed}`);
  }
  return [...new Set(scopes)];
}

const SIGNING_KEY_SOURCES = 'stdin, env:NAME or file:PATH';

/** `--publish-every` of `process` and `pipeline` (rolling publication, like nfcapd's -t). */
const PUBLISH_EVERY_OPTION = {
  type: 'string',
  value: '<duration>',
  default: '5m',
  description: 'Publish the flows a live run emitted in each interval as its own committed part (300, 90s, 5m, 1h)',
} as const;

/** Every command; `--help` and the CLI test iterate this table. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  demo: {
    summary: 'Anonymize the bundled captures, serve the API on 127.0.0.1 and print a token and curl lines',
    usage: 'flowseal demo [--dir <dir>] [--port <n>] [--no-serve]',
    options: {
      dir: { type: 'string', value: '<dir>', default: 'demo-data', description: 'Working directory; the archive goes to <dir>/archive (replaced)' },
      port: { type: 'string', value: '<n>', default: '8787', description: 'Port of the API on 127.0.0.1 (0 picks a free one)' },
      'no-serve': { type: 'boolean', default: 'off', description: 'Build the archive and exit without serving' },
    },
    examples: ['flowseal demo', 'flowseal demo --dir /tmp/fs-demo --port 0', 'flowseal demo --no-serve'],
    run: async (v) => {
      const { runDemo } = await import('./demo.ts');
      return runDemo({ dir: str(v.dir) ?? 'demo-data', port: Number(str(v.port) ?? 8787), serve: !v['no-serve'] });
    },
  },
  pipeline: {
    summary: 'Ingest captures or NetFlow/IPFIX export and run the sealed processor as two processes with the encrypted spool between them',
    usage:
      'flowseal pipeline <capture...|-> --archive <dir> [--policy <file>] [--dataset <name>] [--spool <dir>] [--signing-key env:NAME|file:PATH]\n' +
      '         [--publish-every <duration>] [--spool-max <size> [--spool-full pause|drop-oldest]]\n' +
      '       flowseal pipeline --netflow-listen <addr:port> --archive <dir> [...]\n' +
      '       flowseal pipeline --netflow-pcap <file|-> [--netflow-port <n>] --archive <dir> [...]',
    options: {
      'netflow-listen': { type: 'string', value: '<addr:port>', default: 'none', description: 'Collect NetFlow/IPFIX on this UDP address (IPv4:port or [IPv6]:port) until SIGINT/SIGTERM, then publish' },
      'netflow-pcap': { type: 'string', value: '<file|->', default: 'none', description: 'Replay the NetFlow/IPFIX export in this capture' },
      'netflow-port': { type: 'string', value: '<n>', default: 'any UDP port', description: 'With --netflow-pcap: only datagrams to this port' },
      archive: { type: 'string', value: '<dir>', required: true, description: 'Archive root the anonymized Parquet is published into' },
      policy: { type: 'string', value: '<file>', default: 'the built-in default policy', description: 'Anonymization policy (JSON or YAML)' },
      dataset: { type: 'string', value: '<name>', default: 'default', description: 'Dataset the runs are published under' },
      spool: { type: 'string', value: '<dir>', default: 'a temporary directory, removed afterwards', description: 'Encrypted spool directory between the two processes' },
      'signing-key': { type: 'string', value: '<source>', default: 'a key generated for this run only', description: `Manifest signing key: ${SIGNING_KEY_SOURCES}` },
      'publish-every': PUBLISH_EVERY_OPTION,
      ...SPOOL_QUOTA_OPTIONS,
      strict: { type: 'boolean', default: 'off', description: 'Exit 4 when more than 1 % of the captured packets were not turned into flows (the summary on stderr says why, by link type and reason)' },
    },
    examples: [
      'flowseal pipeline capture.pcapng --archive /srv/archive --dataset campus',
      'flowseal pipeline --strict mirror-port.pcap --archive /srv/archive',
      'tcpdump -i eth0 -U -w - | flowseal pipeline - --archive /srv/archive --policy policy.yaml',
      'flowseal pipeline --netflow-listen 0.0.0.0:2055 --archive /srv/archive --dataset routers --publish-every 1m',
      'flowseal pipeline --netflow-pcap export.pcap --netflow-port 2055 --archive /srv/archive',
    ],
    run: async (v, p) => {
      const netflow = str(v['netflow-listen']) !== undefined || str(v['netflow-pcap']) !== undefined;
      if (p.length === 0 && !netflow) throw new AppError('ERR_BAD_REQUEST', 'pipeline takes one or more capture paths (or - for stdin), --netflow-listen or --netflow-pcap');
      const { runPipeline } = await import('./pipeline.ts');
      return runPipeline({
        captures: p,
        netflowListen: str(v['netflow-listen']),
        netflowPcap: str(v['netflow-pcap']),
        netflowPort: str(v['netflow-port']),
        archiveDir: required(v, 'archive'),
        policyPath: str(v.policy),
        dataset: str(v.dataset) ?? 'default',
        spoolDir: str(v.spool),
        signingKey: str(v['signing-key']),
        ...(str(v['publish-every']) ? { publishEveryMs: parseDuration(str(v['publish-every'])!, 'publish-every') } : {}),
        spoolQuota: spoolQuota(v),
        strict: v.strict === true,
      });
    },
  },
  ingest: {
    summary: 'Capture side: seal packets from a pcap/pcapng capture, or NetFlow/IPFIX datagrams (UDP or a capture of them), into the spool',
    usage: INGEST_USAGE,
    options: {
      spool: { type: 'string', value: '<dir>', required: true, description: "Spool directory holding the processor's public key" },
      'run-id': { type: 'string', value: '<id>', default: 'generated from the time and random bytes', description: 'Run id (1-64 of A-Z a-z 0-9 _ -)' },
      'segment-bytes': { type: 'string', value: '<n>', default: '8388608 (8 MiB)', description: `Segment size before sealing, at most ${SEGMENT_MAX_RECORD_BYTES}` },
      listen: { type: 'string', value: '<addr:port>', default: '127.0.0.1:2055', description: 'netflow: UDP address to collect on, IPv4:port or [IPv6]:port (port 0: any free one)' },
      pcap: { type: 'string', value: '<file|->', default: 'none: listen on UDP', description: 'netflow: read the datagrams from a capture of export traffic instead' },
      port: { type: 'string', value: '<n>', default: 'any UDP port', description: 'netflow --pcap: only datagrams to this destination port' },
      'recv-buffer': { type: 'string', value: '<bytes>', default: '33554432 (32 MiB; the kernel caps it at net.core.rmem_max)', description: 'netflow --listen: socket receive buffer to ask for' },
      'queue-datagrams': { type: 'string', value: '<n>', default: '65536', description: 'netflow --listen: datagrams queued between socket and disk before drops (counted)' },
      'segment-seconds': { type: 'string', value: '<s>', default: '60 for netflow --listen, else off', description: 'pcap, netflow --listen: seal a segment holding records this old even if it is not full (a quiet live source; 0: by size only)' },
      ...SPOOL_QUOTA_OPTIONS,
      'progress-interval': { type: 'string', value: '<s>', default: '1', description: 'Seconds between progress reports on stderr (status line on a terminal, else NDJSON); 0: none' },
      quiet: { type: 'boolean', default: 'off', description: 'No progress reports (the final summary is still printed)' },
    },
    examples: [
      'flowseal ingest pcap capture.pcapng --spool /var/spool/flowseal',
      'tcpdump -i eth0 -U -w - | flowseal ingest pcap - --spool /var/spool/flowseal --run-id eth0-monday',
      'flowseal ingest netflow --listen 0.0.0.0:2055 --spool /var/spool/flowseal',
      'flowseal ingest netflow --listen [::]:4739 --spool /var/spool/flowseal --recv-buffer 67108864',
      'flowseal ingest netflow --pcap export.pcap --port 2055 --spool /var/spool/flowseal',
    ],
    run: async (v, p) => {
      const { runIngestCommand } = await import('./ingest.ts');
      return runIngestCommand(v, p);
    },
  },
  process: {
    summary: 'Sealed side: hold the spool key in memory, decrypt, decode, build flows, anonymize, write Parquet',
    usage:
      'flowseal process --spool <dir> --archive <dir> [--policy <file>] [--dataset <name>] [--signing-key stdin|env:NAME|file:PATH] [--until-run <id[,id...]>] [--idle-timeout <seconds>]',
    options: {
      spool: { type: 'string', value: '<dir>', required: true, description: 'Spool directory (the public key is written into it)' },
      archive: { type: 'string', value: '<dir>', required: true, description: 'Archive root to publish into' },
      policy: { type: 'string', value: '<file>', default: 'the built-in default policy', description: 'Anonymization policy (JSON or YAML)' },
      dataset: { type: 'string', value: '<name>', default: 'default', description: 'Dataset the runs are published under' },
      'signing-key': { type: 'string', value: '<source>', default: 'a key generated at each start', description: `Manifest signing key: ${SIGNING_KEY_SOURCES}` },
      'until-run': { type: 'string', value: '<id[,id...]>', default: 'none: run until stopped', description: 'Exit once these runs are published' },
      'idle-timeout': { type: 'string', value: '<seconds>', default: '60', description: 'Publish a run whose capture side went quiet this long' },
      'publish-every': PUBLISH_EVERY_OPTION,
    },
    examples: ['flowseal process --spool /var/spool/flowseal --archive /srv/archive --dataset campus', 'flowseal process --spool s --archive a --signing-key file:/run/secrets/flowseal-signing.key --until-run r1'],
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
        ...(str(v['publish-every']) ? { publishEveryMs: parseDuration(str(v['publish-every'])!, 'publish-every') } : {}),
      });
    },
  },
  'signing-key': {
    summary: 'Manifest signing key: generate a seed (to your secret store) or print its public JWK for the API config',
    usage: 'flowseal signing-key generate | flowseal signing-key public --signing-key stdin|env:NAME|file:PATH',
    options: { 'signing-key': { type: 'string', value: '<source>', default: 'none (required by public)', description: `The key to read: ${SIGNING_KEY_SOURCES}` } },
    examples: ['flowseal signing-key generate > /run/secrets/flowseal-signing.key', 'flowseal signing-key public --signing-key file:/run/secrets/flowseal-signing.key'],
    run: async (v, p) => {
      const { runSigningKeyCommand } = await import('../sealed-processor/main.ts');
      return runSigningKeyCommand(p, str(v['signing-key']), out);
    },
  },
  serve: {
    summary: 'Serve the query API over an archive',
    usage: 'flowseal serve --archive <dir> [--config <file>] [--host <addr>] [--port <n>]',
    options: {
      archive: { type: 'string', value: '<dir>', required: true, description: 'Archive root to serve (read only)' },
      config: { type: 'string', value: '<file>', default: 'none: built-in defaults, DEV issuer only', description: 'API config (YAML or JSON, schemas/api-config.ts)' },
      host: { type: 'string', value: '<addr>', default: "the config's host, else 127.0.0.1", description: 'Listen address' },
      port: { type: 'string', value: '<n>', default: "the config's port, else 8787", description: 'Listen port (0 picks a free one)' },
    },
    examples: ['flowseal serve --archive demo-data/archive', 'flowseal serve --archive /srv/archive --config api.yaml --host 0.0.0.0 --port 8080'],
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
    usage: 'flowseal token --sub <name> --scope "<scope...>" [--ttl <seconds>] [--dev-issuer <dir>]',
    options: {
      sub: { type: 'string', value: '<name>', required: true, description: 'Subject (who the token is for)' },
      scope: { type: 'string', value: '"<scope...>"', required: true, description: `Scopes, space- or comma-separated, from: ${KNOWN_SCOPES.join(', ')}` },
      ttl: { type: 'string', value: '<seconds>', default: '3600', description: 'Lifetime, at most 86400' },
      'dev-issuer': { type: 'string', value: '<dir>', default: '$FLOWSEAL_DEV_ISSUER_DIR, else .flowseal/dev-issuer', description: 'DEV issuer key directory (created if missing)' },
    },
    examples: ['flowseal token --sub alice --scope "datasets:read query"', 'flowseal token --sub bob --scope "datasets:read query records" --ttl 600 > tok.txt'],
    run: async (v) => {
      const scopes = tokenScopes(str(v.scope));
      const { runToken } = await import('./serve.ts');
      return runToken({
        sub: required(v, 'sub'),
        scope: scopes.join(' '),
        ttlSec: Number(str(v.ttl) ?? 3600),
        devIssuerDir: str(v['dev-issuer']),
        print: out,
      });
    },
  },
  query: {
    summary: 'Run a query against a flowseal API and print the answer (table, JSON, NDJSON, CSV, Arrow, Parquet)',
    usage: 'flowseal query --dataset <id> [--from <time>] [--to <time>] [-s <col,...>] [--bucket <w>] [-m <metric,...>] [--filter <expr>] [-n <rows>] [--records] [-o <format>]',
    options: QUERY_OPTIONS,
    examples: QUERY_EXAMPLES,
    notes: QUERY_NOTES,
    run: async (v) => {
      const { runQuery } = await import('./query.ts');
      const { readFile } = await import('node:fs/promises');
      // A reader that went away (`| head`) ends the output, not the command with a stack trace.
      let readerGone = false;
      const gone = (e: unknown) => (e as { code?: string } | null)?.code === 'EPIPE';
      process.stdout.on('error', (e) => {
        if (!gone(e)) throw e;
        readerGone = true;
      });
      return runQuery(v, {
        write: (chunk) =>
          readerGone ? Promise.resolve() : new Promise<void>((res, rej) => process.stdout.write(chunk, (e) => (e && !gone(e) ? rej(e) : res()))),
        error: err,
        stdoutIsTty: process.stdout.isTTY === true,
        env: process.env,
        readFile: (p) => readFile(p, 'utf8'),
      });
    },
  },
  anonymize: {
    summary: 'Key holder tool: map addresses, MACs or names exactly as a primitive or a policy does',
    usage: 'flowseal anonymize --method <m> --key <hex|@file> [--policy <file>] <value...>',
    options: {
      method: { type: 'string', value: '<m>', default: 'none (required without --policy)', description: 'ipcrypt-pfx, cryptopan, ipcrypt-det, ipcrypt-nd, ipcrypt-ndx, truncate, mac, name' },
      key: { type: 'string', value: '<hex|@file>', required: true, description: "The primitive's key, or with --policy the 32-byte master key" },
      policy: { type: 'string', value: '<file>', default: 'none: the bare primitive', description: "Apply a policy's full rules (special ranges, internal networks)" },
      'prefix-v4': { type: 'string', value: '<n>', default: '24', description: 'truncate: IPv4 prefix kept' },
      'prefix-v6': { type: 'string', value: '<n>', default: '48', description: 'truncate: IPv6 prefix kept' },
      'keep-suffix': { type: 'string', value: '<suffix>', multiple: true, default: 'none', description: 'name: keep this public suffix (repeatable)' },
    },
    examples: ['flowseal anonymize --method ipcrypt-pfx --key @pfx.key 192.0.2.1 2001:db8::1', 'flowseal anonymize --policy policy.yaml --key @master.key 10.1.2.3 00:11:22:33:44:55 www.example.org'],
    run: async (_v, _p, argv) => {
      const mod = await import('../sealed-processor/anonymize/cli.ts');
      return mod.runAnonymizeCommand(argv, await anonymizeIo());
    },
  },
  policy: {
    summary: 'Validate an anonymization policy file and print its canonical hash',
    usage: 'flowseal policy check <file>',
    options: {},
    examples: ['flowseal policy check test/fixtures/policies/campus.yaml'],
    run: async (_v, p, argv) => {
      if (p[0] !== 'check') throw new AppError('ERR_BAD_REQUEST', 'usage: flowseal policy check <file>');
      const mod = await import('../sealed-processor/anonymize/cli.ts');
      return mod.runPolicyCheckCommand(argv.slice(argv.indexOf('check') + 1), await anonymizeIo());
    },
  },
};

async function anonymizeIo() {
  const { readFile } = await import('node:fs/promises');
  return { stdout: out, stderr: err, readFile: (p: string) => readFile(p) };
}

function globalHelp(): string {
  const lines = ['flowseal — sealed capture, anonymization and query-by-API for traffic traces', '', 'Usage: flowseal <command> [options]', '', 'Commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(11)} ${c.summary}`);
  lines.push('', 'Run `flowseal <command> --help` for the options of one command; `flowseal --version` prints the version.');
  return lines.join('\n');
}

/** `--help`/`-h` before any `--` terminator. */
function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
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
  const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!cmd) {
    const shown = name.slice(0, 40);
    const hint = name.startsWith('-') ? suggestion(name, ['--help', '--version']) : suggestion(name, Object.keys(COMMANDS), (c) => `'${c}'`);
    err(`flowseal: unknown ${name.startsWith('-') ? 'option' : 'command'} '${shown}'${hint}\nRun \`flowseal --help\` for the commands.`);
    return 2;
  }
  if (wantsHelp(rest)) {
    out(commandHelp(cmd));
    return 0;
  }
  try {
    const { values, positionals } = parseCommandArgs(rest, cmd.options);
    return await cmd.run(values, positionals, rest);
  } catch (e) {
    if (isAppError(e)) {
      err(`flowseal ${name}: ${e.code}: ${e.message}${e.code === 'ERR_BAD_REQUEST' ? `\nUsage: ${cmd.usage}` : ''}`);
      return exitCodeFor(e.code);
    }
    err(`flowseal ${name}: internal error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
