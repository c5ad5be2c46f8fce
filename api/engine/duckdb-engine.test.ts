import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDuckDbEngine } from './duckdb-engine.ts';
import type { DuckDbEngine } from './duckdb-engine.ts';
import { AppError } from '../../schemas/errors.ts';
import { makeArchive } from '../../test/support/make-archive.ts';
import { microsToIso } from './json-value.ts';

let root: string;
let archive: string;
let engine: DuckDbEngine;
const opts = { maxRows: 100, timeoutMs: 10_000 };
function runQ(e: DuckDbEngine, q: { sql: string; params: readonly (string | number | bigint | boolean | readonly string[])[] }, o: { maxRows: number; timeoutMs: number }) {
  return e.runSql(q.sql, q.params, o);
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'flowseal-engine-'));
  archive = join(root, 'archive');
  await makeArchive(archive, { dataset: 'lab', rows: [{ time_start: '2026-01-01T10:00:00Z', src_addr: '10.0.0.1', dst_addr: '10.0.0.2' }] });
  writeFileSync(join(root, 'outside.csv'), 'a,b\n1,2\n');
  // A sibling whose name starts with the archive's: a prefix check without the trailing `/`
  // would let it through.
  mkdirSync(`${archive}-secret`);
  writeFileSync(`${archive}-secret/data.csv`, 'a,b\n1,2\n');
  engine = await createDuckDbEngine({ archiveDir: archive, threads: 1 });
});
after(async () => {
  await engine.close();
  rmSync(root, { recursive: true, force: true });
});

async function blocked(sql: string): Promise<void> {
  await assert.rejects(engine.runSql(sql, [], opts), (err: unknown) => {
    assert.ok(err instanceof AppError);
    assert.ok(!err.message.includes('/'), 'error message must not contain paths');
    // refused by the sandbox, not by some unrelated failure
    assert.match(String((err.cause as Error | undefined)?.message), /Permission Error|locked|disabled/);
    return true;
  }, sql);
}

test('archive files are readable through the sandbox', async () => {
  await engine.listDatasets();
  const r = await runQ(engine, { sql: 'SELECT count(*) AS n FROM read_parquet($1, hive_partitioning = true)', params: [engine.datasetFiles('lab')] }, opts);
  assert.deepEqual(r.rows, [[1]]);
});

test('sandbox: no reads or writes outside the archive, no ATTACH, SET, INSTALL, LOAD', async () => {
  await blocked("SELECT * FROM read_csv('/etc/passwd')");
  await blocked(`SELECT * FROM read_csv('${join(root, 'outside.csv')}')`);
  await blocked(`SELECT * FROM read_csv('${archive}/../outside.csv')`);
  await blocked(`SELECT * FROM read_csv('${archive}-secret/data.csv')`);
  await blocked("SELECT * FROM read_text('file:///etc/hostname')");
  await blocked(`ATTACH '${join(root, 'x.duckdb')}' AS x`);
  await blocked(`COPY (SELECT 42) TO '${join(root, 'leak.csv')}'`);
  assert.equal(existsSync(join(root, 'leak.csv')), false);
  await blocked('SET enable_external_access = true');
  await blocked("SET allowed_directories = ['/']");
  await blocked('SET lock_configuration = false');
  await blocked('SET threads = 64');
  await blocked('INSTALL httpfs');
  await blocked('LOAD httpfs');
  // the engine stays usable afterwards
  const r = await engine.runSql('SELECT 1 AS one', [], opts);
  assert.deepEqual(r.rows, [[1]]);
});

test('dataset listing comes from the archive and ignores invalid names', async () => {
  const ds = await engine.listDatasets();
  assert.deepEqual(ds.map((d) => d.id), ['lab']);
  assert.throws(() => engine.datasetFiles('../x'), TypeError);
});

test('BIGINT/UBIGINT are JSON-safe, TIMESTAMP is ISO with Z', async () => {
  const r = await runQ(engine, {
    sql: "SELECT 18446744073709551615::UBIGINT AS big, 9007199254740993::BIGINT AS over, 42::UBIGINT AS small, TIMESTAMP '2026-01-01 00:00:00.123456' AS ts, $1 AS p",
    params: [0xffff_ffff_ffff_ffffn],
  }, opts);
  assert.deepEqual(r.rows[0], ['18446744073709551615', '9007199254740993', 42, '2026-01-01T00:00:00.123456Z', '18446744073709551615']);
  assert.equal(r.columns[0].type, 'UBIGINT');
  assert.equal(microsToIso(-1n), '1969-12-31T23:59:59.999999Z');
});

test('row cap marks truncation; deadline interrupts with ERR_QUERY_TIMEOUT', async () => {
  const capped = await engine.runSql('SELECT * FROM range(5000)', [], { maxRows: 10, timeoutMs: 10_000 });
  assert.equal(capped.rows.length, 10);
  assert.equal(capped.truncated, true);
  const exact = await engine.runSql('SELECT * FROM range(10)', [], { maxRows: 10, timeoutMs: 10_000 });
  assert.equal(exact.truncated, false);
  await assert.rejects(
    engine.runSql('SELECT count(*) FROM range(100000000000) a WHERE a.range % 7 = 3', [], { maxRows: 10, timeoutMs: 50 }),
    (err: unknown) => err instanceof AppError && err.code === 'ERR_QUERY_TIMEOUT',
  );
});

async function allowedDirectories(e: DuckDbEngine): Promise<string[]> {
  const r = await runQ(e, { sql: "SELECT unnest(current_setting('allowed_directories')) AS d ORDER BY d", params: [] }, opts);
  return r.rows.map((row) => String(row[0]));
}

async function spillDirectory(e: DuckDbEngine): Promise<string> {
  const r = await runQ(e, { sql: "SELECT current_setting('temp_directory')", params: [] }, opts);
  return String(r.rows[0][0]);
}

test('every query connection has the Parquet metadata cache on (set globally before the lockdown)', async () => {
  for (let i = 0; i < 3; i++) {
    const r = await runQ(engine, { sql: "SELECT current_setting('parquet_metadata_cache')", params: [] }, opts);
    assert.equal(r.rows[0][0], true);
  }
});

test('sandbox: allowed_directories is the archive plus a private, empty spill directory removed on close', async () => {
  // DuckDB's default temp directory is <cwd>/.tmp, which it would add to allowed_directories.
  const cwdTmp = join(process.cwd(), '.tmp');
  assert.deepEqual((await allowedDirectories(engine)).filter((d) => d.startsWith(cwdTmp)), []);
  const spill = await spillDirectory(engine);
  assert.ok(spill.startsWith(tmpdir()) && !spill.startsWith(`${archive}/`), 'spill directory is outside the archive');
  assert.deepEqual(await allowedDirectories(engine), [`${archive}/`, `${spill}/`].sort());
  assert.ok(existsSync(spill));
  // a second engine gets its own directory, and close() removes it
  const other = await createDuckDbEngine({ archiveDir: archive, threads: 1 });
  const otherSpill = await spillDirectory(other);
  assert.notEqual(otherSpill, spill);
  assert.deepEqual(readdirSync(otherSpill), []);
  await other.close();
  assert.equal(existsSync(otherSpill), false);
});

test('sandbox: with spill disabled allowed_directories is exactly the archive; <cwd>/.tmp stays unreachable', async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'flowseal-engine-cwd-'));
  const before = process.cwd();
  process.chdir(cwd);
  try {
    mkdirSync(join(cwd, '.tmp'));
    writeFileSync(join(cwd, '.tmp', 'secret.txt'), 'outside');
    const locked = await createDuckDbEngine({ archiveDir: archive, threads: 1, spill: false });
    try {
      assert.deepEqual(await allowedDirectories(locked), [`${archive}/`]);
      assert.equal(await spillDirectory(locked), '');
      await assert.rejects(runQ(locked, { sql: `SELECT content FROM read_text('${join(cwd, '.tmp', 'secret.txt')}')`, params: [] }, opts), AppError);
      await assert.rejects(runQ(locked, { sql: `COPY (SELECT 1) TO '${join(cwd, '.tmp', 'w.csv')}'`, params: [] }, opts), AppError);
      assert.equal(existsSync(join(cwd, '.tmp', 'w.csv')), false);
    } finally {
      await locked.close();
    }
    // the default engine, started from this cwd, cannot reach <cwd>/.tmp either
    const spilling = await createDuckDbEngine({ archiveDir: archive, threads: 1 });
    try {
      await assert.rejects(runQ(spilling, { sql: `SELECT content FROM read_text('${join(cwd, '.tmp', 'secret.txt')}')`, params: [] }, opts), AppError);
    } finally {
      await spilling.close();
    }
  } finally {
    process.chdir(before);
    rmSync(cwd, { recursive: true, force: true });
  }
});
