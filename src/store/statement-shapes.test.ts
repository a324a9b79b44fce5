import assert from 'node:assert/strict';
import { test } from 'node:test';
import Sqlite from 'better-sqlite3';
import type { Kysely as KyselyType } from 'kysely';
import { Kysely, PostgresDialect, SqliteDialect } from './kysely.js';
import type { Database } from './schema.js';
import { rowValues, StatementShapes, shapesOf, slot, slotRows, slots } from './statement-shapes.js';

interface Db {
  items: { id: string; n: number; note: string | null };
}

function sqliteDb(t: { after: (fn: () => unknown) => void }): KyselyType<Db> {
  const file = new Sqlite(':memory:');
  file.exec('CREATE TABLE items (id TEXT PRIMARY KEY, n INTEGER NOT NULL, note TEXT)');
  const db = new Kysely<Db>({ dialect: new SqliteDialect({ database: file }) });
  t.after(() => db.destroy());
  return db;
}

const COLUMNS = ['id', 'n', 'note'] as const;

test('a shape is built once and runs with each call’s values, constants kept, as the builder’s own query would', async (t) => {
  const db = sqliteDb(t);
  const shapes = new StatementShapes();
  let builds = 0;
  const insert = (rows: { id: string; n: number; note: string | null }[]) =>
    shapes.run(
      db as unknown as KyselyType<Database>,
      `insert:${rows.length}`,
      () => {
        builds++;
        return db.insertInto('items').values(slotRows(COLUMNS, rows.length));
      },
      rowValues(COLUMNS, rows),
    );
  assert.equal(
    (
      await insert([
        { id: 'a', n: 1, note: null },
        { id: 'b', n: 2, note: 'x' },
      ])
    ).affected,
    2,
  );
  assert.equal(
    (
      await insert([
        { id: 'c', n: 3, note: 'y' },
        { id: 'd', n: 4, note: null },
      ])
    ).affected,
    2,
  );
  assert.equal((await insert([{ id: 'e', n: 5, note: null }])).affected, 1);
  assert.equal(builds, 2, 'one build per row count');
  // An UPDATE with a constant (the null and the 'done' literal) among its slots, and an IN list of slots.
  const touch = (note: string, ids: string[]) =>
    shapes.run(
      db as unknown as KyselyType<Database>,
      `touch:${ids.length}`,
      () =>
        db
          .updateTable('items')
          .set((eb) => ({ note: slot(0), n: eb('n', '+', 10) }))
          .where('id', 'in', slots(1, ids.length))
          .where('note', 'is not', null)
          .returning(['id', 'n', 'note']),
      [note, ...ids],
    );
  const first = await touch('done', ['b', 'c', 'd']);
  assert.deepEqual(first.rows, [
    { id: 'b', n: 12, note: 'done' },
    { id: 'c', n: 13, note: 'done' },
  ]);
  const second = await touch('again', ['a', 'b', 'e']);
  assert.deepEqual(second.rows, [{ id: 'b', n: 22, note: 'again' }]);
  assert.deepEqual(await db.selectFrom('items').selectAll().orderBy('id').execute(), [
    { id: 'a', n: 1, note: null },
    { id: 'b', n: 22, note: 'again' },
    { id: 'c', n: 13, note: 'done' },
    { id: 'd', n: 4, note: null },
    { id: 'e', n: 5, note: null },
  ]);
  assert.equal(shapes.size, 3);
});

test('a run with the wrong number of values is refused before it reaches the database', async (t) => {
  const db = sqliteDb(t);
  const shapes = new StatementShapes();
  const build = () => db.selectFrom('items').select('id').where('id', '=', slot(0)).limit(slot(1));
  await assert.rejects(
    shapes.run(db as unknown as KyselyType<Database>, 'one', build, ['a']),
    /statement 'one' takes 2 values, given 1/,
  );
  assert.deepEqual(
    (await shapes.run(db as unknown as KyselyType<Database>, 'one', build, ['a', 5])).rows,
    [],
  );
});

test('each dialect compiles its own shapes: PostgreSQL numbers its parameters, SQLite does not', async (t) => {
  const lite = sqliteDb(t);
  // Compiling needs no connection: the pool is never asked for one.
  const pg = new Kysely<Db>({ dialect: new PostgresDialect({ pool: {} as never }) });
  const build = (db: KyselyType<Db>) => () =>
    db
      .updateTable('items')
      .set({ note: slot(0) })
      .where('id', 'in', slots(1, 2))
      .where('n', '=', 7);
  const onLite = shapesOf(lite as unknown as KyselyType<Database>).query('q', build(lite), ['x', 'a', 'b']);
  const onPg = shapesOf(pg as unknown as KyselyType<Database>).query('q', build(pg), ['x', 'a', 'b']);
  assert.equal(onLite.sql, 'update "items" set "note" = ? where "id" in (?, ?) and "n" = ?');
  assert.equal(onPg.sql, 'update "items" set "note" = $1 where "id" in ($2, $3) and "n" = $4');
  assert.deepEqual(onLite.parameters, ['x', 'a', 'b', 7]);
  assert.deepEqual(onPg.parameters, ['x', 'a', 'b', 7]);
  // A transaction's or connection's Kysely shares its store's shapes.
  const own = shapesOf(lite as unknown as KyselyType<Database>);
  await lite.connection().execute(async (conn) => {
    assert.equal(shapesOf(conn as unknown as KyselyType<Database>), own);
  });
  await lite.transaction().execute(async (trx) => {
    assert.equal(shapesOf(trx as unknown as KyselyType<Database>), own);
  });
});

test('the cache keeps at most its capacity, the oldest shape leaving first', (t) => {
  const db = sqliteDb(t);
  const shapes = new StatementShapes(2);
  let builds = 0;
  const ask = (name: string) =>
    shapes.query(name, () => {
      builds++;
      return db.selectFrom('items').select('id').where('id', '=', slot(0));
    }, ['a']);
  ask('one');
  ask('two');
  ask('three');
  assert.equal(shapes.size, 2);
  ask('three');
  ask('two');
  assert.equal(builds, 3);
  ask('one');
  assert.equal(builds, 4, 'the first name had left and was built again');
});
