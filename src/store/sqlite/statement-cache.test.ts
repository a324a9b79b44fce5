import assert from 'node:assert/strict';
import { test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import type { Generated } from 'kysely';
import { Kysely, SqliteDialect, sql } from '../kysely.js';
import { cachingDatabase } from './statement-cache.js';

/** A real in-memory database whose prepare() calls are counted (the cache must save them). */
function countingDatabase(): { db: SqliteDatabase.Database; prepared: () => number } {
  const db = new SqliteDatabase(':memory:');
  let prepared = 0;
  const prepare = db.prepare.bind(db);
  db.prepare = ((source: string) => {
    prepared++;
    return prepare(source);
  }) as typeof db.prepare;
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)');
  return { db, prepared: () => prepared };
}

test('a query run again reuses its prepared statement, with fresh parameters each time', (t) => {
  const { db, prepared } = countingDatabase();
  const cached = cachingDatabase(db);
  t.after(() => cached.close());
  for (const name of ['a', 'b', 'c']) cached.prepare('INSERT INTO t (name) VALUES (?)').run([name]);
  const select = 'SELECT name FROM t WHERE id = ?';
  assert.deepEqual(cached.prepare(select).all([2]), [{ name: 'b' }]);
  assert.deepEqual(cached.prepare(select).all([3]), [{ name: 'c' }]);
  assert.equal(prepared(), 2, 'one prepare per distinct SQL text');
  assert.equal(cached.cachedStatements, 2);
});

test('the cache is bounded and evicts the least recently used statement', (t) => {
  const { db, prepared } = countingDatabase();
  const cached = cachingDatabase(db, 2);
  t.after(() => cached.close());
  const a = 'SELECT 1 AS n';
  const b = 'SELECT 2 AS n';
  const c = 'SELECT 3 AS n';
  cached.prepare(a);
  cached.prepare(b);
  cached.prepare(a); // a is now the most recent: b goes first
  cached.prepare(c);
  assert.equal(cached.cachedStatements, 2);
  assert.equal(prepared(), 3);
  cached.prepare(a);
  assert.equal(prepared(), 3, 'a was kept');
  assert.deepEqual(cached.prepare(b).all([]), [{ n: 2 }]);
  assert.equal(prepared(), 4, 'b was evicted and prepared again');
  assert.equal(cached.cachedStatements, 2);
});

test('a statement still iterating is not handed out again: the second query gets its own', (t) => {
  const { db } = countingDatabase();
  const cached = cachingDatabase(db);
  t.after(() => cached.close());
  db.exec("INSERT INTO t (name) VALUES ('a'), ('b')");
  const select = 'SELECT name FROM t WHERE id >= ? ORDER BY id';
  const outer = cached.prepare(select).iterate([1]);
  const names: string[] = [];
  for (const row of outer as Iterable<{ name: string }>) {
    // Without the busy check this throws "This statement is busy executing a query".
    names.push(`${row.name}:${(cached.prepare(select).all([2]) as { name: string }[]).map((r) => r.name)}`);
  }
  assert.deepEqual(names, ['a:b', 'b:b']);
});

test('a cached statement sees a schema change made after it was prepared (a migration)', (t) => {
  const { db } = countingDatabase();
  const cached = cachingDatabase(db);
  t.after(() => cached.close());
  db.exec("INSERT INTO t (name) VALUES ('a')");
  const select = 'SELECT * FROM t';
  assert.deepEqual(cached.prepare(select).all([]), [{ id: 1, name: 'a' }]);
  db.exec("ALTER TABLE t ADD COLUMN mode TEXT NOT NULL DEFAULT 'x'");
  assert.deepEqual(cached.prepare(select).all([]), [{ id: 1, name: 'a', mode: 'x' }]);
});

test('kysely over the cache: transactions, inserts and selects give the same answers as without it', async (t) => {
  const { db, prepared } = countingDatabase();
  const kysely = new Kysely<{ t: { id: Generated<number>; name: string } }>({
    dialect: new SqliteDialect({ database: cachingDatabase(db) }),
  });
  t.after(() => kysely.destroy());
  for (let i = 0; i < 20; i++) {
    await kysely.transaction().execute(async (trx) => {
      await trx
        .insertInto('t')
        .values({ name: `n${i}` })
        .execute();
    });
  }
  const rows = await kysely.selectFrom('t').select('name').where('id', '>', 18).orderBy('id').execute();
  assert.deepEqual(rows, [{ name: 'n18' }, { name: 'n19' }]);
  const count = await sql<{ n: number }>`SELECT count(*) AS n FROM t`.execute(kysely);
  assert.deepEqual(count.rows, [{ n: 20 }]);
  // begin, insert, commit, the select and the count: 5 texts however many transactions ran.
  assert.equal(prepared(), 5);
});
