/**
 * `flowseal process` entry: loads the policy and the anonymization master key, then runs the
 * supervisor. This is the IO shell of the sealed side.
 *
 * Key sources (policy `keySource`): `random` (default; generated in memory, never written:
 * pseudonyms are consistent within this process only), `stdin` (read once at start; exposure:
 * whoever starts the processor), `env` (exposure: the process environment, visible to the same
 * user via /proc/<pid>/environ and to anything that inherits it), `file` (exposure: the file
 * and its backups; use a tmpfs and tight permissions). The key is never logged; only its
 * one-way key id is.
 */
import { readFile } from 'node:fs/promises';
import { AppError, ErrorCode } from '../schemas/errors.ts';
import { DEFAULT_POLICY, parsePolicy, type Policy } from '../schemas/policy.ts';
import { generateMasterKey, keyIdOf, resolveMasterKey } from './anonymize/key.ts';
import { loadManifestSigner, parseSigningKeyArg } from './sinks/manifest-signer.ts';
import { runSupervisor } from './supervisor.ts';

export const PROCESSOR_VERSION = 'flowseal-processor/0.1.0';

export interface ProcessorCommandOptions {
  spoolDir: string;
  archiveDir: string;
  policyPath?: string | undefined;
  dataset: string;
  /** Comma-separated run ids: exit once all of them are finished. */
  untilRun?: string | undefined;
  /** A run whose capture side is gone (stale heartbeat) and idle this long is published. */
  idleTimeoutMs?: number;
  /** `--signing-key`: `stdin`, `env:NAME` or `file:PATH` (see sinks/manifest-signer.ts); default ephemeral. */
  signingKey?: string | undefined;
  /** `--publish-every`: a live run publishes a part this often (ms); default 5 minutes. */
  publishEveryMs?: number;
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

const keyIo = {
  readStdin,
  getEnv: (name: string) => process.env[name],
  readFile: async (path: string) => new Uint8Array(await readFile(path)),
};

/** Resolves the master key named by the policy (IO for anonymize/key.ts `resolveMasterKey`). */
export function loadMasterKey(policy: Policy): Promise<Uint8Array> {
  return resolveMasterKey(policy.keySource ?? { type: 'random' }, keyIo);
}

/**
 * `flowseal signing-key generate` prints a fresh 32-byte Ed25519 seed as hex (store it in a
 * secret store or a 0400 file; flowseal never writes it); `flowseal signing-key public
 * --signing-key SRC` prints the public JWK to pin in the API config (`manifestKeys.keys`).
 */
export async function runSigningKeyCommand(args: readonly string[], source: string | undefined, print: (s: string) => void): Promise<number> {
  if (args[0] === 'generate' && args.length === 1 && source === undefined) {
    const seed = generateMasterKey();
    print(Buffer.from(seed).toString('hex'));
    seed.fill(0);
    return 0;
  }
  if (args[0] === 'public' && args.length === 1 && source !== undefined) {
    const signer = await loadManifestSigner(parseSigningKeyArg(source), keyIo);
    print(JSON.stringify(signer.publicJwk));
    return 0;
  }
  throw new AppError(ErrorCode.BadRequest, 'usage: flowseal signing-key generate | flowseal signing-key public --signing-key stdin|env:NAME|file:PATH');
}

export async function loadPolicy(path: string | undefined): Promise<Policy> {
  if (!path) return DEFAULT_POLICY;
  const text = await readFile(path, 'utf8').catch(() => {
    throw new AppError(ErrorCode.PolicyInvalid, `cannot read policy file ${path}`);
  });
  return parsePolicy(text, /\.ya?ml$/i.test(path) ? 'yaml' : 'json');
}

export async function runProcessorCommand(opts: ProcessorCommandOptions): Promise<number> {
  if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(opts.dataset)) {
    throw new AppError(ErrorCode.BadRequest, 'dataset names are lowercase letters, digits, - and _ (max 64)');
  }
  const policy = await loadPolicy(opts.policyPath);
  const signingSource = opts.signingKey === undefined ? undefined : parseSigningKeyArg(opts.signingKey);
  if (signingSource?.type === 'stdin' && policy.keySource?.type === 'stdin') {
    throw new AppError(ErrorCode.BadRequest, 'the anonymization key and --signing-key cannot both come from stdin');
  }
  const masterKey = await loadMasterKey(policy);
  const manifestSigner = await loadManifestSigner(signingSource, keyIo);
  const log = (e: Record<string, unknown>) => process.stderr.write(`${JSON.stringify({ component: 'processor', time: new Date().toISOString(), ...e })}\n`);
  log({ event: 'policy', anonymizationKeyId: keyIdOf(masterKey) });
  // Without a configured key, manifests are signed by a key that dies with this process:
  // readers cannot tell them from forgeries (the API lists them as unverified).
  log({ event: 'manifest-signing', key: manifestSigner.configured ? manifestSigner.publicJwk.kid : 'ephemeral' });
  return runSupervisor({
    spoolDir: opts.spoolDir,
    archiveDir: opts.archiveDir,
    dataset: opts.dataset,
    policy,
    masterKey,
    processorVersion: PROCESSOR_VERSION,
    manifestSigner,
    untilRuns: opts.untilRun ? opts.untilRun.split(',').filter(Boolean) : undefined,
    ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
    ...(opts.publishEveryMs !== undefined ? { publishEveryMs: opts.publishEveryMs } : {}),
    log,
  });
}
