/**
 * `flowseal anonymize` and `flowseal policy check`: run one primitive (or a whole policy)
 * on addresses, MACs or names given on the command line; validate a policy file.
 *
 * Without --policy, `--key` is the primitive's own key (not HKDF'd): ipcrypt-pfx,
 * cryptopan (AES key ‖ pad), ipcrypt-ndx and mac take 32 bytes, ipcrypt-det and ipcrypt-nd
 * 16, name any length ≥ 16. With --policy, `--key` is the 32-byte master key and each input
 * is treated as the source field of a flow (address → src_addr, MAC → src_mac, otherwise a
 * name → dns_qname), so special ranges, internal networks and HKDF subkeys all apply.
 *
 * Owns: argument handling and output formatting. IO is injected (no node:*). Never prints
 * the key; error messages name the input position, not its value.
 */
import { AppError, ErrorCode, exitCodeFor, isAppError } from '../../schemas/errors.ts';
import { parsePolicy, policyHash, type AddressSpec } from '../../schemas/policy.ts';
import { newRawFlow } from '../flows/flow-record.ts';
import { METHOD_KEY_BYTES, createAddressMethod } from './address-methods.ts';
import { createFlowAnonymizer } from './flow-anonymizer.ts';
import { formatAddressWords, isV4MappedWords, parseAddress } from '../../schemas/ip-address.ts';
import { parseKeyArg } from './key.ts';
import { createMacMapper, formatMac, parseMac } from './mac.ts';
import { createNameMapper } from './names.ts';

/** IO the commands need. */
export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  readFile: (p: string) => Promise<string | Uint8Array>;
}

const ANON_METHODS = ['ipcrypt-pfx', 'cryptopan', 'ipcrypt-det', 'ipcrypt-nd', 'ipcrypt-ndx', 'truncate', 'mac', 'name'] as const;

export const ANONYMIZE_HELP = `Usage: flowseal anonymize --method <m> --key <hex|@file> [options] <input...>
       flowseal anonymize --policy <file> --key <hex|@file> <input...>

Methods: ${ANON_METHODS.join(', ')}
  --key          hex (or @file with hex or raw bytes). Without --policy: the primitive key
                 (pfx/cryptopan/ndx/mac 32 bytes, det/nd 16 bytes, name >= 16 bytes;
                 cryptopan = AES key then pad). With --policy: the 32-byte master key.
  --policy       apply a policy file's full rules (special ranges, internal networks).
  --prefix-v4 N  truncate: IPv4 prefix kept (default 24)
  --prefix-v6 N  truncate: IPv6 prefix kept (default 48)
  --keep-suffix S  name: keep this public suffix (repeatable)
Prints one result per input line, in input order ("null" when the policy drops it).`;

export const POLICY_CHECK_HELP = 'Usage: flowseal policy check <file.json|file.yaml>\nPrints "ok <policy hash>" or the validation errors (exit 2).';

interface Args {
  method?: string;
  key?: string;
  policy?: string;
  prefixV4?: number;
  prefixV6?: number;
  keepSuffixes: string[];
  help: boolean;
  inputs: string[];
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { keepSuffixes: [], help: false, inputs: [] };
  const int = (v: string | undefined, flag: string, max: number): number => {
    if (v === undefined || !/^[0-9]{1,3}$/.test(v) || Number(v) > max) throw new AppError(ErrorCode.BadRequest, `${flag} needs an integer 0..${max}`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i];
    const eq = t.startsWith('--') ? t.indexOf('=') : -1;
    const flag = eq > 0 ? t.slice(0, eq) : t;
    const val = (): string => {
      if (eq > 0) return t.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new AppError(ErrorCode.BadRequest, `${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--help': case '-h': a.help = true; break;
      case '--method': a.method = val(); break;
      case '--key': a.key = val(); break;
      case '--policy': a.policy = val(); break;
      case '--prefix-v4': a.prefixV4 = int(val(), flag, 32); break;
      case '--prefix-v6': a.prefixV6 = int(val(), flag, 128); break;
      case '--keep-suffix': a.keepSuffixes.push(val()); break;
      case '--': a.inputs.push(...argv.slice(i + 1)); i = argv.length; break;
      default:
        if (t.startsWith('--')) throw new AppError(ErrorCode.BadRequest, `unknown option ${flag}`);
        a.inputs.push(t);
    }
  }
  return a;
}

function textOf(c: string | Uint8Array): string {
  return typeof c === 'string' ? c : new TextDecoder().decode(c);
}

async function readPolicy(path: string, io: CliIo) {
  let content: string | Uint8Array;
  try {
    content = await io.readFile(path);
  } catch (cause) {
    throw new AppError(ErrorCode.PolicyInvalid, 'cannot read the policy file', { cause });
  }
  const lower = path.toLowerCase();
  const fmt = lower.endsWith('.json') ? 'json' : lower.endsWith('.yaml') || lower.endsWith('.yml') ? 'yaml' : undefined;
  return parsePolicy(textOf(content), fmt);
}

function fail(io: CliIo, cmd: string, e: unknown): number {
  if (isAppError(e)) {
    io.stderr(`flowseal ${cmd}: ${e.code}: ${e.message}`);
    return exitCodeFor(e.code);
  }
  throw e;
}

/** `flowseal anonymize …`; returns the exit code (0 ok, 2 usage/key/input errors). */
export async function runAnonymizeCommand(argv: string[], io: CliIo): Promise<number> {
  try {
    const a = parseArgs(argv);
    if (a.help) { io.stdout(ANONYMIZE_HELP); return 0; }
    if (a.key === undefined) throw new AppError(ErrorCode.BadRequest, '--key is required (see --help)');
    if (a.inputs.length === 0) throw new AppError(ErrorCode.BadRequest, 'no input given (see --help)');
    const key = await parseKeyArg(a.key, io.readFile);
    const lines = a.policy !== undefined ? await withPolicy(a, key, io) : direct(a, key);
    for (const l of lines) io.stdout(l);
    return 0;
  } catch (e) {
    return fail(io, 'anonymize', e);
  }
}

async function withPolicy(a: Args, key: Uint8Array, io: CliIo): Promise<string[]> {
  if (key.length !== 32) throw new AppError(ErrorCode.KeyInvalid, 'with --policy, --key must be a 32-byte master key');
  const policy = await readPolicy(a.policy as string, io);
  const anon = createFlowAnonymizer(policy, key);
  return a.inputs.map((input) => {
    const raw = newRawFlow();
    const addr = parseAddress(input);
    const mac = addr === null ? parseMac(input) : null;
    if (addr !== null) {
      raw.ipVersion = addr.version;
      if (addr.version === 4) raw.srcV4 = addr.v4;
      else raw.src6.set(addr.v6);
      return String(anon.anonymizeFlow(raw).src_addr);
    }
    if (mac !== null) {
      raw.srcMacHi = mac.hi;
      raw.srcMacLo = mac.lo;
      return String(anon.anonymizeFlow(raw).src_mac);
    }
    raw.dnsQname = input;
    return String(anon.anonymizeFlow(raw).dns_qname);
  });
}

function direct(a: Args, key: Uint8Array): string[] {
  const m = a.method;
  if (m === undefined || !(ANON_METHODS as readonly string[]).includes(m)) {
    throw new AppError(ErrorCode.BadRequest, `--method must be one of ${ANON_METHODS.join(', ')}`);
  }
  if (m === 'mac') {
    if (key.length !== 32) throw new AppError(ErrorCode.KeyInvalid, 'mac needs a 32-byte key');
    const mm = createMacMapper(key);
    return a.inputs.map((input, i) => {
      const p = parseMac(input);
      if (p === null) throw new AppError(ErrorCode.BadRequest, `input #${i + 1} is not a MAC address`);
      return formatMac(mm.mapOui(p.hi), mm.mapNic(p.lo));
    });
  }
  if (m === 'name') {
    if (key.length < 16) throw new AppError(ErrorCode.KeyInvalid, 'name needs a key of at least 16 bytes');
    const nm = createNameMapper(key, a.keepSuffixes);
    return a.inputs.map((input, i) => {
      const r = nm.map(input);
      if (r === null) throw new AppError(ErrorCode.BadRequest, `input #${i + 1} is not a valid host name (length or label limits)`);
      return r;
    });
  }
  const spec: AddressSpec = { method: m as AddressSpec['method'], prefixV4: a.prefixV4, prefixV6: a.prefixV6 };
  const need = METHOD_KEY_BYTES[spec.method];
  if (need > 0 && key.length !== need) throw new AppError(ErrorCode.KeyInvalid, `${m} needs a ${need}-byte key, got ${key.length} bytes`);
  let method;
  try {
    method = createAddressMethod(spec, key, { random: (n) => globalThis.crypto.getRandomValues(new Uint8Array(n)), cache: false });
  } catch (cause) {
    throw new AppError(ErrorCode.KeyInvalid, cause instanceof Error ? cause.message : 'bad key', { cause });
  }
  // Direct mode applies the bare primitive (published vectors): no special ranges, no
  // internal networks, no reserved outputs; IPv4-mapped input is IPv4 (draft §3.2 output).
  const w = new Uint32Array(4);
  return a.inputs.map((input, i) => {
    const p = parseAddress(input);
    if (p === null) throw new AppError(ErrorCode.BadRequest, `input #${i + 1} is not an IP address`);
    const words = p.version === 4 ? Uint32Array.of(0, 0, 0xffff, p.v4) : p.v6;
    if (!method.yieldsAddress) return method.token(words);
    if (isV4MappedWords(words)) method.mapV4(words[3], w);
    else method.mapV6(words, w);
    return formatAddressWords(w);
  });
}

/** `flowseal policy check <file>`: prints "ok <hash>" (exit 0) or the issues (exit 2). */
export async function runPolicyCheckCommand(argv: string[], io: CliIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { io.stdout(POLICY_CHECK_HELP); return 0; }
  if (argv.length !== 1) { io.stderr(POLICY_CHECK_HELP); return 2; }
  try {
    const policy = await readPolicy(argv[0], io);
    io.stdout(`ok ${policyHash(policy)}`);
    return 0;
  } catch (e) {
    if (isAppError(e) && e.code === ErrorCode.PolicyInvalid) {
      const issues = (e.details?.issues as Array<{ path: string; message: string }> | undefined) ?? [];
      if (issues.length === 0) io.stderr(`policy invalid: ${e.message}`);
      for (const i of issues) io.stderr(`policy invalid: ${i.path}: ${i.message}`);
      return 2;
    }
    return fail(io, 'policy check', e);
  }
}
