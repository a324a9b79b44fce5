// `ferry serve --store postgres://…`: real OpenSSH logins and uploads, the audit trail in PostgreSQL, verified by
// `ferry audit verify --store`; and the offline commands and `ferry migrate` on the same database.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, postgresUnavailable } from '../src/store/postgres/test-database.js';
import { FERRY_BIN, runFerry } from './helpers/cli.js';
import { sftpBatch } from './helpers/openssh.js';

const unavailable = await postgresUnavailable();

test('ferry serve --store postgres:// serves OpenSSH uploads with the audit trail in PostgreSQL', {
  skip: unavailable,
}, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'ferry-pg-serve-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const db = await createTestDatabase();
  t.after(() => db.drop());
  const dataDir = join(work, 'data');
  const store = ['--data-dir', dataDir, '--store', db.url];

  const init = await runFerry(['init', ...store]);
  assert.equal(init.code, 0, init.stderr);
  const added = await runFerry(['users', 'add', 'alice', '--password-stdin', ...store], 'pg-secret-pw-1\n');
  assert.equal(added.code, 0, added.stderr);
  // The store is PostgreSQL: the data dir holds the master key and anchors, no SQLite file.
  const status = await runFerry(['migrate', '--status', '--json', ...store]);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(JSON.parse(status.stdout).pending.length, 0);
  await assert.rejects(readFile(join(dataDir, 'ferry.db')), { code: 'ENOENT' });

  const child = spawn(
    process.execPath,
    [
      FERRY_BIN,
      'serve',
      ...store,
      '--listen',
      '127.0.0.1',
      '--sftp-port',
      '0',
      '--http-listen',
      '127.0.0.1:0',
      '--workers',
      '2',
    ],
    { env: { ...process.env, FERRY_LOG_LEVEL: 'warn' } },
  );
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const seen = (d: Buffer) => {
      out += d.toString();
      const m = /SFTP listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });

  const body = randomBytes(2 * 1024 * 1024 + 13);
  await writeFile(join(work, 'up.bin'), body);
  // Four sessions at once, spread over both workers: their audit records go into one chain.
  const sessions = await Promise.all(
    [1, 2, 3, 4].map((n) =>
      sftpBatch({
        port,
        user: 'alice',
        password: 'pg-secret-pw-1',
        batch: `put up.bin /up-${n}.bin\nget /up-${n}.bin down-${n}.bin\n`,
        cwd: work,
      }),
    ),
  );
  for (const r of sessions) assert.equal(r.code, 0, r.stderr);
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  for (const n of [1, 2, 3, 4]) assert.equal(sha(await readFile(join(work, `down-${n}.bin`))), sha(body));
  const denied = await sftpBatch({ port, user: 'alice', password: 'wrong', batch: 'pwd\n' });
  assert.notEqual(denied.code, 0);

  await new Promise<void>((resolve) => {
    child.removeAllListeners('exit');
    child.on('exit', () => resolve());
    child.kill('SIGTERM');
  });

  const verify = await runFerry(['audit', 'verify', ...store]);
  assert.equal(verify.code, 0, verify.stderr + verify.stdout);
  assert.match(verify.stdout, /audit trail verified: \d+ record\(s\)/);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ action: string; n: number }>(
      'SELECT action, count(*)::int AS n FROM audit_log GROUP BY action',
    );
    const count = Object.fromEntries(rows.map((r) => [r.action, r.n]));
    assert.equal(count.upload, 4, 'four uploads in the PostgreSQL trail');
    assert.equal(count.download, 4);
    assert.ok((count.auth ?? 0) >= 5, 'logins, the failed one included');
    // An insider edits a stored record: verification now fails, naming it.
    await client.query(
      "UPDATE audit_log SET path = '/forged.bin' WHERE action = 'upload' AND path = '/up-2.bin'",
    );
  } finally {
    await client.end();
  }
  const forged = await runFerry(['audit', 'verify', ...store]);
  assert.notEqual(forged.code, 0, 'a changed record fails verification');
});

test('a PostgreSQL store that cannot be reached is one clear line, without the password', {
  skip: unavailable,
}, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'ferry-pg-down-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  // Port 1 on loopback: nothing listens there.
  const url = 'postgres://ferry:hunter2-secret@127.0.0.1:1/ferry';
  const r = await runFerry(['init', '--data-dir', join(work, 'data'), '--store', url]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /cannot reach the PostgreSQL server of postgres:\/\/ferry:\*\*\*@127\.0\.0\.1:1\/ferry/,
  );
  assert.doesNotMatch(r.stderr, /hunter2/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  await assert.rejects(readFile(join(work, 'data')), { code: 'ENOENT' }, 'no data dir left behind');
});
