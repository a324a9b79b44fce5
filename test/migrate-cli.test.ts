// `ferry migrate`: versioned, forward-only migrations, their status, and a database newer than the code refused.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { knownMigrations } from '../src/store/sqlite/schema-version.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { runFerry } from './helpers/cli.js';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-migrate-'));
});
after(() => rm(work, { recursive: true, force: true }));

function ferry(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runFerry(args);
}

test('migrations are numbered NNNN_name, in strictly increasing order', async () => {
  const known = await knownMigrations();
  assert.ok(known.length >= 5);
  known.forEach((m, i) => {
    assert.match(m.name, /^\d{4}_[a-z0-9_]+$/);
    if (i > 0) assert.ok(m.version > known[i - 1]!.version, `${m.name} after ${known[i - 1]!.name}`);
  });
});

test('migrate --status lists pending migrations, migrate applies them, and a second run has nothing to do', async () => {
  const dataDir = join(work, 'fresh');
  // A store file no migration has touched yet (as an older Ferry's first open would leave one).
  await mkdir(dataDir, { mode: 0o700 });
  new SqliteDatabase(join(dataDir, 'ferry.db')).close();
  const last = (await knownMigrations()).at(-1)!;
  let r = await ferry(['migrate', '--status', '--data-dir', dataDir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /schema version 0; this Ferry knows up to \d+/);
  assert.match(r.stdout, /^pending +1 +0001_users$/m);
  r = await ferry(['migrate', '--data-dir', dataDir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`applied 0001_users, .*${last.name}; schema version ${last.version}`));
  r = await ferry(['migrate', '--data-dir', dataDir]);
  assert.match(r.stdout, /up to date at schema version/);
  r = await ferry(['migrate', '--status', '--json', '--data-dir', dataDir]);
  const status = JSON.parse(r.stdout);
  assert.equal(status.pending.length, 0);
  assert.equal(status.databaseVersion, last.version);
  assert.ok(status.applied.every((m: { appliedAt?: string }) => m.appliedAt));
});

test('a database a newer Ferry migrated is refused with one line, by every command and by the store', async () => {
  const dataDir = join(work, 'newer');
  assert.equal((await ferry(['init', '--data-dir', dataDir])).code, 0);
  const file = join(dataDir, 'ferry.db');
  const db = new SqliteDatabase(file);
  db.prepare("INSERT INTO kysely_migration (name, timestamp) VALUES ('0999_from_the_future', ?)").run(
    new Date().toISOString(),
  );
  db.close();
  for (const args of [['migrate'], ['users', 'list'], ['migrate', '--status']]) {
    const r = await ferry([...args, '--data-dir', dataDir]);
    assert.equal(r.code, 1, args.join(' '));
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0]!,
      /has schema version 999 \(0999_from_the_future\) but this Ferry knows only up to \d+/,
    );
  }
  await assert.rejects(openSqliteStore(file), { code: 'ERR_UNSUPPORTED' });
});

test('migrate --help shows the default data dir and an example', async () => {
  const r = await ferry(['migrate', '--help']);
  assert.match(r.stdout, /default \.\/data/);
  assert.match(r.stdout, /Example:\n {2}ferry migrate/);
});
