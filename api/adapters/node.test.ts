import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { startNodeServer } from './node.ts';
import { loadOrCreateDevIssuer } from './dev-issuer-files.ts';
import { makeArchive } from '../../test/support/make-archive.ts';

const quiet = { info: () => {}, error: () => {} };

test('Node server with the dev issuer: health, datasets, NDJSON audit, 0600 key files', async () => {
  const root = mkdtempSync(join(tmpdir(), 'flowseal-node-'));
  try {
    const archive = join(root, 'archive');
    await makeArchive(archive, { dataset: 'lab', rows: [{ time_start: '2026-01-01T10:00:00Z', src_addr: '10.0.0.1', dst_addr: '10.0.0.2' }] });
    const devDir = join(root, 'dev-issuer');
    const auditLog = join(root, 'audit', 'audit.ndjson');
    const lines: string[] = [];
    const server = await startNodeServer({ archiveDir: archive, port: 0, devIssuerDir: devDir, auditLogPath: auditLog, logger: { info: (m) => void lines.push(m), error: () => {} } });
    try {
      assert.ok(lines.some((l) => /DEV issuer/.test(l)), 'must say it trusts the dev issuer');
      assert.equal(statSync(join(devDir, 'private.jwk.json')).mode & 0o777, 0o600);
      const health = await fetch(`${server.url}/healthz`);
      assert.equal(health.status, 200);
      const dev = await loadOrCreateDevIssuer(devDir);
      const token = await dev.signToken('carol', ['datasets:read'], 60);
      const res = await fetch(`${server.url}/v1/datasets`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { datasets: { id: string }[] };
      assert.deepEqual(body.datasets.map((d) => d.id), ['lab']);
    } finally {
      await server.close();
    }
    const audit = readFileSync(auditLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(audit.length, 1, '/healthz is not audited');
    assert.equal(audit[0].subject, 'carol');
    assert.equal(audit[0].status, 200);
    assert.equal(audit[0].clientAddress, '127.0.0.1', 'the client address from the socket');
    assert.ok(!readFileSync(auditLog, 'utf8').includes('Bearer'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('Node server with a configured issuer whose JWKS is a file; dev tokens are then refused', async () => {
  const root = mkdtempSync(join(tmpdir(), 'flowseal-node-'));
  try {
    const archive = join(root, 'archive');
    await makeArchive(archive, { dataset: 'lab', rows: [{ time_start: '2026-01-01T10:00:00Z', src_addr: '10.0.0.1', dst_addr: '10.0.0.2' }] });
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    writeFileSync(join(root, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), alg: 'EdDSA', kid: 'e1' }] }));
    writeFileSync(join(root, 'api.yaml'), ['issuers:', '  - issuer: https://idp.example', '    audience: flowseal-api', '    algorithms: [EdDSA]', '    jwks: { file: jwks.json }', `auditLogPath: ${join(root, 'audit.ndjson')}`].join('\n'));
    const server = await startNodeServer({ archiveDir: archive, configPath: join(root, 'api.yaml'), port: 0, devIssuerDir: join(root, 'dev'), logger: quiet });
    try {
      const token = await new SignJWT({ scope: 'query' }).setProtectedHeader({ alg: 'EdDSA', kid: 'e1', typ: 'JWT' }).setIssuer('https://idp.example').setAudience('flowseal-api').setSubject('dave').setIssuedAt().setExpirationTime('5m').sign(privateKey);
      const ok = await fetch(`${server.url}/v1/datasets/lab`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(ok.status, 200);
      const dev = await loadOrCreateDevIssuer(join(root, 'dev'));
      const refused = await fetch(`${server.url}/v1/datasets`, { headers: { Authorization: `Bearer ${await dev.signToken('eve', ['query'], 60)}` } });
      assert.equal(refused.status, 401);
    } finally {
      await server.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('audit fails closed: an unwritable audit path stops the start; a log that breaks later withholds answers with 503', async () => {
  const root = mkdtempSync(join(tmpdir(), 'flowseal-audit-'));
  try {
    const archive = join(root, 'archive');
    await makeArchive(archive, { dataset: 'lab', rows: [{ time_start: '2026-01-01T10:00:00Z', src_addr: '10.0.0.1', dst_addr: '10.0.0.2' }] });
    const devDir = join(root, 'dev-issuer');
    // A directory where the file should be (EISDIR) and a file where its directory should be
    // (EEXIST from mkdir): root can write anywhere else, so these are failures root cannot bypass.
    writeFileSync(join(root, 'plain-file'), '');
    for (const [bad, why] of [[root, 'EISDIR'], [join(root, 'plain-file', 'audit.ndjson'), 'EEXIST']] as const) {
      await assert.rejects(
        startNodeServer({ archiveDir: archive, port: 0, devIssuerDir: devDir, auditLogPath: bad, logger: quiet }),
        (e: { code?: string; message?: string }) => e.code === 'ERR_AUDIT_UNAVAILABLE' && e.message!.includes(bad) && e.message!.includes(why),
      );
    }
    const auditDir = join(root, 'audit');
    const auditLog = join(auditDir, 'audit.ndjson');
    const errors: string[] = [];
    const server = await startNodeServer({ archiveDir: archive, port: 0, devIssuerDir: devDir, auditLogPath: auditLog, logger: { info: () => {}, error: (m) => void errors.push(m) } });
    try {
      const token = await (await loadOrCreateDevIssuer(devDir)).signToken('carol', ['datasets:read'], 60);
      const get = () => fetch(`${server.url}/v1/datasets`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal((await get()).status, 200);
      // The log is replaced by a directory (a full or read-only disk behaves the same way).
      rmSync(auditLog);
      mkdirSync(auditLog);
      const res = await get();
      assert.equal(res.status, 503);
      const text = await res.text();
      assert.equal(JSON.parse(text).error.code, 'ERR_AUDIT_UNAVAILABLE');
      assert.ok(!text.includes('lab'), 'the unaudited answer is withheld');
      assert.ok(errors.some((m) => /audit sink failed/.test(m)));
      rmSync(auditLog, { recursive: true });
      assert.equal((await get()).status, 200, 'answers resume once the log can be written');
    } finally {
      await server.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('Node server: X-Forwarded-For is believed only from a trusted proxy, and then recorded as the client address', async () => {
  const root = mkdtempSync(join(tmpdir(), 'flowseal-proxy-'));
  try {
    const archive = join(root, 'archive');
    await makeArchive(archive, { dataset: 'lab', rows: [{ time_start: '2026-01-01T10:00:00Z', src_addr: '10.0.0.1', dst_addr: '10.0.0.2' }] });
    const devDir = join(root, 'dev-issuer');
    const token = await (await loadOrCreateDevIssuer(devDir)).signToken('carol', ['datasets:read'], 60);
    const forwarded = { Authorization: `Bearer ${token}`, 'X-Forwarded-For': '192.0.2.99, 203.0.113.5' };
    for (const [trustedProxies, expected] of [[[], '127.0.0.1'], [['127.0.0.0/8'], '203.0.113.5']] as const) {
      const configPath = join(root, 'api.json');
      const auditLog = join(root, `audit-${expected}.ndjson`);
      writeFileSync(configPath, JSON.stringify({ trustedProxies, auditLogPath: auditLog }));
      const server = await startNodeServer({ archiveDir: archive, configPath, port: 0, devIssuerDir: devDir, logger: quiet });
      try {
        assert.equal((await fetch(`${server.url}/v1/datasets`, { headers: forwarded })).status, 200);
      } finally {
        await server.close();
      }
      const [entry] = readFileSync(auditLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(entry.clientAddress, expected, `trustedProxies ${JSON.stringify(trustedProxies)}`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('Node server: a client that never finishes its headers is cut off, and connections are capped', async () => {
  const root = mkdtempSync(join(tmpdir(), 'flowseal-slow-'));
  const { connect } = await import('node:net');
  try {
    const archive = join(root, 'archive');
    await makeArchive(archive, { dataset: 'lab', rows: [{ time_start: '2026-01-01T10:00:00Z', src_addr: '10.0.0.1', dst_addr: '10.0.0.2' }] });
    const configPath = join(root, 'api.json');
    writeFileSync(configPath, JSON.stringify({ server: { headersTimeoutMs: 1000, maxConnections: 16 }, auditLogPath: join(root, 'audit.ndjson') }));
    const server = await startNodeServer({ archiveDir: archive, configPath, port: 0, devIssuerDir: join(root, 'dev'), logger: quiet });
    const { port } = new URL(server.url);
    const open = (): Promise<import('node:net').Socket> =>
      new Promise((ok, fail) => {
        const s = connect(Number(port), '127.0.0.1', () => ok(s));
        s.on('error', fail);
      });
    const closed = (s: import('node:net').Socket): Promise<number> => {
      const t0 = Date.now();
      s.resume(); // read what the server says (a 408), so its close is seen
      return new Promise((ok) => s.on('close', () => ok(Date.now() - t0)));
    };
    try {
      // Slowloris: one header line, then silence. Cut off after headersTimeoutMs (checked every second).
      const slow = await open();
      slow.on('error', () => undefined);
      slow.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      const ended = closed(slow);
      const ms = await Promise.race([ended, new Promise<number>((r) => setTimeout(() => r(-1), 10_000))]);
      assert.ok(ms >= 0, 'the server closed a connection whose headers never ended');
      // At most maxConnections held at once: the 17th idle socket is closed at accept.
      const held = await Promise.all(Array.from({ length: 16 }, open));
      const extra = await open();
      extra.on('error', () => undefined);
      const extraMs = await Promise.race([closed(extra), new Promise<number>((r) => setTimeout(() => r(-1), 5000))]);
      assert.ok(extraMs >= 0 && extraMs < 900, `the connection over the cap was closed at once (${extraMs} ms)`);
      for (const s of held) s.destroy();
    } finally {
      await server.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
