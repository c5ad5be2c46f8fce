/**
 * The `flowseal` command as a user runs it: help texts (every command of the command table,
 * every option with its default, examples), usage errors with "did you mean", token scopes,
 * stdin capture input, and damaged captures (clear code, non-zero exit, records before the
 * damage kept).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { DEFAULT_POLICY } from '../schemas/policy.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { FLOWSEAL_BIN, runFlowseal } from './support/run-flowseal.ts';
import { archiveTotals } from './support/archive-facts.ts';
import { fixturePath } from './support/capture-facts.ts';
import { COMMANDS } from '../bin/cli.ts';
import { closest, parseCommandArgs } from '../bin/args.ts';
import { Scope } from '../schemas/claims.ts';

const SUBCOMMANDS = Object.keys(COMMANDS);

async function packetsIn(archive: string, dataset: string): Promise<number> {
  return (await archiveTotals(archive, dataset)).packets;
}

describe('flowseal CLI', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowseal-cli-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('--help lists every subcommand and each has its own --help', async () => {
    const r = await runFlowseal(['--help']);
    assert.equal(r.code, 0);
    assert.ok(SUBCOMMANDS.length >= 10);
    for (const s of SUBCOMMANDS) assert.match(r.stdout, new RegExp(`^  ${s}\\b`, 'm'));
  });

  for (const [name, cmd] of Object.entries(COMMANDS)) {
    test(`${name} --help: usage, every option with its default (or required), examples`, async () => {
      const h = await runFlowseal([name, '--help']);
      assert.equal(h.code, 0, h.stderr);
      assert.match(h.stdout, new RegExp(`Usage: flowseal ${name}`));
      const lines = h.stdout.split('\n');
      for (const [opt, spec] of Object.entries(cmd.options)) {
        const at = lines.findIndex((l) => new RegExp(`^  (-\\w, |    )--${opt}\\b`).test(l));
        assert.ok(at >= 0, `--${opt} is listed`);
        // A long label puts its description on the next line.
        const entry = `${lines[at]}\n${lines[at + 1] ?? ''}`;
        assert.match(entry, spec.required ? /\(required\)/ : /\(default: [^)]+\)/, `--${opt} says its default`);
        if (spec.short) assert.match(lines[at]!, new RegExp(`-${spec.short}, --${opt}`));
      }
      assert.ok(h.stdout.includes('\nExamples:\n'), 'an Examples section');
      const examples = h.stdout.slice(h.stdout.indexOf('\nExamples:\n'));
      assert.match(examples, new RegExp(`^  .*\\bflowseal ${name}\\b`, 'm'), 'at least one example invocation');
    });
  }

  test('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await runFlowseal([flag]);
      assert.equal(r.code, 0);
      assert.equal(r.stdout.trim(), `flowseal ${pkg.version}`);
    }
  });

  test('usage errors exit 2 with a message', async () => {
    const none = await runFlowseal([]);
    assert.equal(none.code, 2);
    const unknown = await runFlowseal(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    assert.doesNotMatch(unknown.stderr, /did you mean/, 'no suggestion for a word close to nothing');
    const missing = await runFlowseal(['pipeline', fixturePath('http-lo.pcap')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--archive is required/);
    const badFlag = await runFlowseal(['serve', '--archive', dir, '--bogus']);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /unknown option '--bogus'/);
    const badDataset = await runFlowseal(['pipeline', fixturePath('http-lo.pcap'), '--archive', join(dir, 'a'), '--dataset', '../x']);
    assert.notEqual(badDataset.code, 0);
  });

  test('a mistyped command or option: exit 2, "did you mean" on stderr, nothing on stdout', async () => {
    const [cmdTypo, optTypo, versionTypo] = await Promise.all([runFlowseal(['qurey']), runFlowseal(['serve', '--archiv', dir]), runFlowseal(['--verison'])]);
    for (const r of [cmdTypo, optTypo, versionTypo]) {
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
    }
    assert.match(cmdTypo.stderr, /unknown command 'qurey'; did you mean 'query'\?/);
    assert.match(optTypo.stderr, /unknown option '--archiv'; did you mean --archive\?/);
    assert.match(versionTypo.stderr, /did you mean --version\?/);
  });

  test('every command suggests each of its own options back from a one-letter slip', () => {
    // The parser main() runs for every command, in process: one child per option would be slow.
    for (const [name, cmd] of Object.entries(COMMANDS)) {
      for (const opt of Object.keys(cmd.options).filter((o) => o.length >= 4)) {
        const typo = `--${opt}${opt.endsWith('x') ? 'y' : 'x'}`;
        assert.throws(
          () => parseCommandArgs([typo], cmd.options),
          (e: Error & { code?: string }) => e.code === 'ERR_BAD_REQUEST' && e.message === `unknown option '${typo}'; did you mean --${opt}?`,
          `${name} ${typo}`,
        );
      }
    }
    for (const [typo, want] of [['serv', 'serve'], ['pipelin', 'pipeline'], ['tokn', 'token'], ['signing-kye', 'signing-key']] as const) {
      assert.equal(closest(typo, Object.keys(COMMANDS)), want, typo);
    }
  });

  test('pipeline reads a capture from stdin', async () => {
    const archive = join(dir, 'stdin-archive');
    const input = await readFile(fixturePath('http-lo.pcap'));
    const r = await runFlowseal(['pipeline', '-', '--archive', archive, '--dataset', 'live'], { input });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await packetsIn(archive, 'live'), 68);
  });

  test('several captures in one pipeline share one anonymization key', async () => {
    const archive = join(dir, 'multi-archive');
    const r = await runFlowseal(['pipeline', fixturePath('http-lo.pcap'), fixturePath('sll2-any.pcap'), '--archive', archive, '--dataset', 'multi']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await packetsIn(archive, 'multi'), 68 + 19);
    const manifests = await readdir(join(archive, 'multi', 'manifests'));
    assert.equal(manifests.length, 2);
    const keyIds = new Set<string>();
    for (const m of manifests) keyIds.add(JSON.parse(await readFile(join(archive, 'multi', 'manifests', m), 'utf8')).manifest.keyId);
    assert.equal(keyIds.size, 1);
  });

  test('a shared key from the environment gives the same anonymization domain across runs', async () => {
    const archive = join(dir, 'domain-archive');
    const policy = join(dir, 'env-policy.json');
    await writeFile(policy, JSON.stringify({ ...DEFAULT_POLICY, keySource: { type: 'env', name: 'FLOWSEAL_TEST_KEY' } }));
    const env = { FLOWSEAL_TEST_KEY: 'ab'.repeat(32) };
    for (const ds of ['one', 'two']) {
      const r = await runFlowseal(['pipeline', fixturePath('sll2-any.pcap'), '--archive', archive, '--dataset', ds, '--policy', policy], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /abab/, 'the key never reaches a log line');
    }
    const random = await runFlowseal(['pipeline', fixturePath('sll2-any.pcap'), '--archive', archive, '--dataset', 'three']);
    assert.equal(random.code, 0, random.stderr);
    const keyId = async (ds: string) => {
      const [m] = await readdir(join(archive, ds, 'manifests'));
      return JSON.parse(await readFile(join(archive, ds, 'manifests', m!), 'utf8')).manifest.keyId as string;
    };
    assert.equal(await keyId('one'), await keyId('two'));
    assert.notEqual(await keyId('one'), await keyId('three'));
    const missing = await runFlowseal(['pipeline', fixturePath('sll2-any.pcap'), '--archive', archive, '--dataset', 'four', '--policy', policy]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /ERR_KEY_INVALID/);
  });

  test('a truncated capture: ERR_CAPTURE_TRUNCATED, exit 3, the records before the damage are archived', async () => {
    const archive = join(dir, 'trunc-archive');
    const whole = await readFile(fixturePath('http-lo.pcap'));
    const input = whole.subarray(0, Math.floor(whole.length * 0.6));
    const r = await runFlowseal(['pipeline', '-', '--archive', archive, '--dataset', 'cut'], { input });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /ERR_CAPTURE_TRUNCATED/);
    // Whole records before the cut, counted from the pcap framing (24-byte file header, then
    // 16-byte record headers with the little-endian captured length at offset 8).
    let complete = 0;
    for (let o = 24; o + 16 <= input.length && o + 16 + input.readUInt32LE(o + 8) <= input.length; o += 16 + input.readUInt32LE(o + 8)) complete++;
    assert.ok(complete > 10 && complete < 68);
    assert.equal(await packetsIn(archive, 'cut'), complete, 'exactly the records before the damage are archived');
  });

  test('not a capture at all: ERR_CAPTURE_BAD_MAGIC, exit 3, nothing archived', async () => {
    const archive = join(dir, 'bad-archive');
    const r = await runFlowseal(['pipeline', '-', '--archive', archive, '--dataset', 'bad'], { input: new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n'.repeat(10)) });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /ERR_CAPTURE_BAD_MAGIC/);
    assert.equal(await packetsIn(archive, 'bad'), 0);
  });

  test('Ctrl-C on a file pipeline aborts: exit 130, nothing published', async () => {
    const archive = join(dir, 'abort-archive');
    const spool = join(dir, 'abort-spool');
    const child = spawn(process.execPath, [FLOWSEAL_BIN, 'pipeline', fixturePath('http-lo.pcap'), '--archive', archive, '--dataset', 'abort', '--spool', spool], { stdio: 'ignore' });
    // The pipeline handles signals before it starts the processor, whose key appears next.
    const deadline = Date.now() + 30_000;
    while (!existsSync(join(spool, 'processor-key.json'))) {
      if (Date.now() > deadline) throw new Error('the pipeline never started its processor');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGINT');
    const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? 1)));
    assert.equal(code, 130);
    assert.equal(await packetsIn(archive, 'abort'), 0);
  });

  test('ingest without a running processor says so', async () => {
    const r = await runFlowseal(['ingest', 'pcap', fixturePath('http-lo.pcap'), '--spool', join(dir, 'empty-spool')]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /ERR_SPOOL_NO_PUBLIC_KEY/);
  });

  test('token mints a JWT for the dev issuer', async () => {
    const r = await runFlowseal(['token', '--sub', 'alice', '--scope', 'query records', '--dev-issuer', join(dir, 'iss')]);
    assert.equal(r.code, 0, r.stderr);
    const [h, p] = r.stdout.trim().split('.');
    assert.equal(JSON.parse(Buffer.from(h!, 'base64url').toString()).alg, 'ES256');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.scope, 'query records');
    assert.ok(claims.exp > claims.iat);
    const long = await runFlowseal(['token', '--sub', 'alice', '--scope', 'query', '--ttl', '86401', '--dev-issuer', join(dir, 'iss')]);
    assert.equal(long.code, 2, 'a token the API would refuse (lifetime over 24 h) is not minted');
    assert.match(long.stderr, /ERR_BAD_REQUEST: --ttl .* at most 86400/);
  });

  test('token: --scope is required and every scope must be a known one', async () => {
    const iss = ['--dev-issuer', join(dir, 'iss')];
    const allowed = Object.values(Scope).join(', ');
    const none = await runFlowseal(['token', '--sub', 'alice', ...iss]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--scope is required/);
    assert.ok(none.stderr.includes(allowed), 'names the allowed scopes');
    assert.equal(none.stdout, '', 'no token minted');
    const typo = await runFlowseal(['token', '--sub', 'alice', '--scope', 'query recrods', ...iss]);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /unknown scope 'recrods' \(did you mean 'records'\?\)/);
    assert.ok(typo.stderr.includes(allowed));
    assert.equal(typo.stdout, '');
    const empty = await runFlowseal(['token', '--sub', 'alice', '--scope', ' ', ...iss]);
    assert.equal(empty.code, 2);
    const commas = await runFlowseal(['token', '--sub', 'alice', '--scope', 'datasets:read,query', ...iss]);
    assert.equal(commas.code, 0, commas.stderr);
    assert.equal(JSON.parse(Buffer.from(commas.stdout.trim().split('.')[1]!, 'base64url').toString()).scope, 'datasets:read query');
  });
});
