/**
 * End to end: a processor given an operator signing key (`--signing-key file:...`) publishes
 * manifests that an API pinning the public key (`manifestKeys`) verifies; a run written into
 * the same archive by anyone else (own key, or no manifest at all) is not readable; without a
 * pinned key the API says the dataset is unverified.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNodeServer } from '../api/adapters/node.ts';
import { loadOrCreateDevIssuer } from '../api/adapters/dev-issuer-files.ts';
import { signerFromSeed } from '../sealed-processor/sinks/manifest-signer.ts';
import { fixturePath } from './support/capture-facts.ts';
import { makeArchive } from './support/make-archive.ts';
import { runFlowseal } from './support/run-flowseal.ts';

describe('manifests signed by the operator key, pinned in the API', () => {
  let dir: string;
  let archive: string;
  let publicJwk: string;
  let flows = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowseal-signed-'));
    archive = join(dir, 'archive');
    const gen = await runFlowseal(['signing-key', 'generate']);
    assert.equal(gen.code, 0, gen.stderr);
    assert.match(gen.stdout.trim(), /^[0-9a-f]{64}$/);
    await writeFile(join(dir, 'signing.key'), gen.stdout, { mode: 0o400 });
    const pub = await runFlowseal(['signing-key', 'public', '--signing-key', `file:${join(dir, 'signing.key')}`]);
    assert.equal(pub.code, 0, pub.stderr);
    publicJwk = pub.stdout.trim();
    assert.ok(!publicJwk.includes(gen.stdout.trim()), 'the public JWK does not contain the seed');
    const r = await runFlowseal(['pipeline', fixturePath('http-lo.pcap'), '--archive', archive, '--dataset', 'lab', '--signing-key', `file:${join(dir, 'signing.key')}`]);
    assert.equal(r.code, 0, r.stderr.slice(-800));
    const signingEvent = r.stderr.split('\n').find((l) => l.includes('"manifest-signing"'));
    assert.ok(signingEvent?.includes(JSON.parse(publicJwk).kid), signingEvent ?? "no manifest-signing event");
    // Somebody with write access to the archive adds a run signed by a key of their own, and
    // the files of a run with no manifest.
    const forger = await signerFromSeed(new Uint8Array(32).fill(0x42), true);
    const row = { time_start: '2026-01-01T10:00:00Z', src_addr: '10.9.9.9', dst_addr: '10.9.9.8' };
    await makeArchive(archive, { dataset: 'lab', rows: Array(50).fill(row), runId: 'forged', signer: forger });
    await makeArchive(archive, { dataset: 'lab', rows: Array(60).fill(row), runId: 'partial', manifest: false });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function listing(config: Record<string, unknown>) {
    const configPath = join(dir, `api-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(configPath, JSON.stringify(config));
    const logged: string[] = [];
    const log = (m: string, f?: Record<string, unknown>) => void logged.push(`${m} ${JSON.stringify(f ?? {})}`);
    const server = await startNodeServer({ archiveDir: archive, configPath, port: 0, devIssuerDir: join(dir, 'issuer'), auditLogPath: join(dir, 'audit.ndjson'), logger: { info: log, error: log } });
    try {
      const token = await (await loadOrCreateDevIssuer(join(dir, 'issuer'))).signToken('reader', ['datasets:read'], 600);
      const res = await fetch(`${server.url}/v1/datasets`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      return { body: (await res.json()) as { datasets: Record<string, unknown>[] }, logged };
    } finally {
      await server.close();
    }
  }

  test('pinned: the processor run verifies, the forged run is refused and logged, the partial run is invisible', async () => {
    const { body, logged } = await listing({ manifestKeys: { keys: [JSON.parse(publicJwk)] } });
    const [lab] = body.datasets;
    assert.equal(lab!.verified, true);
    assert.equal(lab!.runs, 1);
    assert.equal(lab!.rejectedRuns, 1);
    flows = lab!.flows as number;
    assert.ok(flows > 0 && flows < 50, `only the processor's flows: ${flows}`);
    assert.ok(logged.some((l) => l.includes('ERR_ARCHIVE_RUN_REJECTED') && l.includes('"forged"') && l.includes('"signature"')), logged.join('\n'));
  });

  test('a pinned key file (JWKS) works the same; a private key there is refused at start', async () => {
    await writeFile(join(dir, 'manifest-keys.json'), JSON.stringify({ keys: [JSON.parse(publicJwk)] }));
    const { body } = await listing({ manifestKeys: { file: join(dir, 'manifest-keys.json') } });
    assert.equal(body.datasets[0]!.verified, true);
    await writeFile(join(dir, 'bad-keys.json'), JSON.stringify({ keys: [{ ...JSON.parse(publicJwk), d: 'AAAA' }] }));
    await assert.rejects(listing({ manifestKeys: { file: join(dir, 'bad-keys.json') } }), (e: Error & { code?: string }) => e.code === 'ERR_CONFIG_INVALID' && /no private part/.test(e.message));
  });

  test('unpinned: listed as unverified, and the forged run (self-consistent) is indistinguishable', async () => {
    const { body, logged } = await listing({});
    const [lab] = body.datasets;
    assert.equal(lab!.verified, false);
    assert.equal(lab!.runs, 2, 'without a pinned key a self-signed forgery is accepted: that is what "unverified" means');
    assert.ok(logged.some((l) => l.includes('no manifest signing key pinned')));
  });

  test('the processor refuses a malformed signing key before reading anything', async () => {
    await writeFile(join(dir, 'short.key'), 'abcd');
    const r = await runFlowseal(['pipeline', fixturePath('http-lo.pcap'), '--archive', join(dir, 'a2'), '--signing-key', `file:${join(dir, 'short.key')}`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /ERR_KEY_INVALID: manifest signing key/);
  });
});
