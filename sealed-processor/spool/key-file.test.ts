import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base64UrlDecode, computeKeyId, ProcessorPublicKeyFile } from '../../schemas/spool.ts';
import { generateProcessorKeys } from './keys.ts';
import { writePublicKey } from './key-file.ts';
import { readRecipientKey } from '../../ingest/spool/recipient-key.ts';

test('processor-key.json holds exactly the public fields, and the ingest side accepts it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-keyfile-'));
  try {
    const keys = await generateProcessorKeys(() => Date.UTC(2026, 0, 2));
    const path = await writePublicKey(join(dir, 'spool'), keys);
    const text = await readFile(path, 'utf8');
    const json = JSON.parse(text) as Record<string, unknown>;
    assert.deepEqual(Object.keys(json).sort(), ['createdAt', 'keyId', 'publicKey', 'suite', 'version']);
    assert.deepEqual(Object.keys(json.suite as object).sort(), ['aead', 'aeadId', 'kdf', 'kdfId', 'kem', 'kemId']);
    ProcessorPublicKeyFile.parse(json);
    assert.equal(json.createdAt, '2026-01-02T00:00:00.000Z');
    const pub = base64UrlDecode(json.publicKey as string);
    assert.deepEqual(pub, keys.publicKey);
    assert.equal(pub.length, 32);
    assert.equal(json.keyId, await computeKeyId(pub));
    // Nothing else of key size in the file: the only 43-char base64url string is the public key.
    assert.deepEqual(text.match(/[A-Za-z0-9_-]{40,}/g), [json.publicKey]);
    assert.ok(text.length < 600);
    assert.deepEqual(await readdir(join(dir, 'spool')), ['processor-key.json']);
    assert.equal((await stat(path)).mode & 0o777, 0o644);
    const recipient = await readRecipientKey(join(dir, 'spool'));
    assert.equal(recipient.keyId, keys.keyId);
    // Replacing the key is atomic and leaves no temp file.
    const keys2 = await generateProcessorKeys();
    await writePublicKey(join(dir, 'spool'), keys2);
    assert.equal((await readRecipientKey(join(dir, 'spool'))).keyId, keys2.keyId);
    assert.deepEqual(await readdir(join(dir, 'spool')), ['processor-key.json']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
