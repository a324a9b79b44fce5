// A store's database as kysely sees it, for whole-store operations (ferry store copy) rather than repositories.
import SqliteDatabase from 'better-sqlite3';
import type { Kysely as KyselyDb } from 'kysely';
import { Kysely, SqliteDialect } from './kysely.js';
import type { StoreDialect } from './migrations.js';
import { openPostgresDatabase, openPostgresStore } from './postgres/postgres-store.js';
import type { Database } from './schema.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';

export interface StoreDatabase {
  readonly db: KyselyDb<Database>;
  readonly dialect: StoreDialect;
  close(): Promise<void>;
}

const isPostgres = (location: string) => /^postgres(ql)?:\/\//.test(location);

/**
 * Opens the store at `location` (a postgres:// URL or a SQLite file), migrated to this Ferry's schema first:
 * `readonly` leaves a source as it is (an older SQLite file is still upgraded, as any open would).
 */
export async function openStoreDatabase(location: string, readonly: boolean): Promise<StoreDatabase> {
  if (isPostgres(location)) {
    await (await openPostgresStore(location, { readonly })).close();
    const db = openPostgresDatabase(location, { readonly });
    return { db, dialect: 'postgres', close: () => db.destroy() };
  }
  await (await openSqliteStore(location, { readonly })).close();
  const sqlite = new SqliteDatabase(location, { readonly, fileMustExist: true });
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { db, dialect: 'sqlite', close: () => db.destroy() };
}
