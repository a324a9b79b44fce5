// `ferry store copy`: a SQLite installation moved into PostgreSQL, audit chain included and verified, then served from.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { COPIED_TABLES, UNCOPIED_TABLES } from '../src/store/copy.js';
import { createTestDatabase, postgresUnavailable } from '../src/store/postgres/test-database.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { runFerry } from './helpers/cli.js';

const unavailable = await postgresUnavailable();

test('store copy names every table the migrations create', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-copy-tables-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'ferry.db');
  await (await openSqliteStore(file)).close();
  const sqlite = new SqliteDatabase(file, { readonly: true });
  const tables = (
    sqlite
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'kysely_%'",
      )
      .all() as { name: string }[]
  ).map((r) => r.name);
  sqlite.close();
  assert.deepEqual([...tables].sort(), [...COPIED_TABLES, ...UNCOPIED_TABLES].sort());
});

test('ferry store copy moves a SQLite installation into PostgreSQL with its audit chain', {
  skip: unavailable,
}, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'ferry-copy-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const db = await createTestDatabase();
  t.after(() => db.drop());
  const dataDir = join(work, 'data');
  assert.equal((await runFerry(['init', '--data-dir', dataDir])).code, 0);
  for (const name of ['alice', 'bob', 'carol']) {
    const r = await runFerry(
      ['users', 'add', name, '--password-stdin', '--data-dir', dataDir],
      `pw-${name}-123456\n`,
    );
    assert.equal(r.code, 0, r.stderr);
  }
  const rule = await runFerry(
    [
      'rules',
      'add',
      'hook',
      '--on',
      'upload',
      '--action',
      'webhook',
      '--url',
      'https://example.com/hook',
      '--secret-stdin',
      '--data-dir',
      dataDir,
    ],
    'webhook-signing-secret-1',
  );
  assert.equal(rule.code, 0, rule.stderr);
  const before = await runFerry(['audit', 'verify', '--data-dir', dataDir]);
  assert.equal(before.code, 0, before.stderr);
  const head = /head: seq (\d+) hash ([0-9a-f]+)/.exec(before.stdout);
  assert.ok(head, before.stdout);

  const copy = await runFerry([
    'store',
    'copy',
    '--from',
    join(dataDir, 'ferry.db'),
    '--to',
    db.url,
    '--data-dir',
    dataDir,
  ]);
  assert.equal(copy.code, 0, copy.stderr);
  assert.match(
    copy.stdout,
    new RegExp(`audit chain verified in the copy: \\d+ record\\(s\\), head seq ${head[1]} hash ${head[2]}`),
  );
  assert.match(copy.stdout, /^users\s+4$/m, 'admin and three users');

  // The copy is the installation: users, their passwords (argon2 hashes), rules, the chain, new ids after the old.
  const store = ['--data-dir', dataDir, '--store', db.url];
  const users = await runFerry(['users', 'list', '--json', ...store]);
  assert.deepEqual(
    (JSON.parse(users.stdout) as { name: string }[]).map((u) => u.name),
    ['admin', 'alice', 'bob', 'carol'],
  );
  assert.match((await runFerry(['rules', 'list', ...store])).stdout, /hook/);
  const added = await runFerry(['users', 'add', 'dave', '--password-stdin', ...store], 'pw-dave-1234567\n');
  assert.equal(added.code, 0, added.stderr);
  const verify = await runFerry(['audit', 'verify', ...store]);
  assert.equal(verify.code, 0, verify.stderr);
  const range = /seq 1\.\.(\d+) from the first record/.exec(verify.stdout);
  assert.ok(
    range && Number(range[1]) > Number(head[1]),
    `the chain continues after the copy: ${verify.stdout}`,
  );
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: number; name: string }>(
      'SELECT id::int AS id, name FROM users ORDER BY id',
    );
    assert.deepEqual(
      rows.map((r) => [r.id, r.name]),
      [
        [1, 'admin'],
        [2, 'alice'],
        [3, 'bob'],
        [4, 'carol'],
        [5, 'dave'],
      ],
    );
  } finally {
    await client.end();
  }

  // A second copy into the now non-empty database is refused and changes nothing.
  const again = await runFerry([
    'store',
    'copy',
    '--from',
    join(dataDir, 'ferry.db'),
    '--to',
    db.url,
    '--data-dir',
    dataDir,
  ]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /target store is not empty \(users: 5/);
  assert.equal(again.stderr.trim().split('\n').length, 1);
  const after = await runFerry(['users', 'list', '--json', ...store]);
  assert.equal((JSON.parse(after.stdout) as unknown[]).length, 5);

  // And back: the PostgreSQL store into a new SQLite file, which then serves the same users and chain.
  const back = join(work, 'back.db');
  const reverse = await runFerry(['store', 'copy', '--from', db.url, '--to', back, '--data-dir', dataDir]);
  assert.equal(reverse.code, 0, reverse.stderr);
  const backStore = ['--data-dir', dataDir, '--store', `sqlite:${back}`];
  const backUsers = await runFerry(['users', 'list', '--json', ...backStore]);
  assert.equal((JSON.parse(backUsers.stdout) as unknown[]).length, 5);
  const backVerify = await runFerry(['audit', 'verify', ...backStore]);
  assert.equal(backVerify.code, 0, backVerify.stderr);
});
