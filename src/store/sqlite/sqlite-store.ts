// The embedded store: one SQLite file (WAL) through better-sqlite3 and kysely, migrated on open.
import { accessSync, chmodSync, constants } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import SqliteDatabase from 'better-sqlite3';
import { FerryError } from '../../errors.js';
import { Kysely, Migrator, SqliteDialect } from '../kysely.js';
import { migrationProvider } from '../migrations.js';
import { repositoriesOf } from '../repositories.js';
import type { Database } from '../schema.js';
import type { Store } from '../types.js';
import { assertSchemaKnown, schemaStatus } from './schema-version.js';
import { cachingDatabase } from './statement-cache.js';

// better-sqlite3 reads this once, when its native part loads (at the first open): a read-only copy without its
// WAL index (a backup on a read-only mount) can only be opened as an `immutable` URI. Our file names are absolute
// paths, never `file:` strings, so enabling URIs changes nothing else.
process.env.SQLITE_USE_URI ??= '1';

export interface SqliteStoreOptions {
  /** Open without writing anything: no migration, no chmod, no journal mode change (offline read commands). */
  readonly readonly?: boolean;
}

/** A SQLite error turned into one line naming the file and what to do. */
function describeSqliteError(file: string, err: unknown): FerryError {
  const code = String((err as { code?: unknown } | undefined)?.code ?? '');
  const reason = err instanceof Error ? err.message : String(err);
  const message =
    code === 'SQLITE_NOTADB'
      ? `${file} is not a Ferry store (SQLite: ${reason}); check --data-dir, or restore ferry.db from a backup`
      : code === 'SQLITE_CORRUPT'
        ? `${file} is damaged (SQLite: ${reason}); restore ferry.db from a backup`
        : code === 'EROFS' || code === 'SQLITE_READONLY_DIRECTORY'
          ? `cannot write ${file}: the file system is read-only; this command changes the store and needs a writable data dir`
          : code === 'SQLITE_READONLY' ||
              code.startsWith('SQLITE_CANTOPEN') ||
              code === 'SQLITE_PERM' ||
              code === 'EACCES' ||
              code === 'EPERM'
            ? `cannot open ${file} for writing (SQLite: ${reason}); check the owner and mode of the file and its directory, or that the file system is not mounted read-only`
            : `cannot open ${file}: ${reason}`;
  return new FerryError('ERR_IO', message, { cause: err });
}

function directoryIsWritable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function openReadOnly(file: string): SqliteDatabase.Database {
  try {
    const sqlite = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
    sqlite.pragma('schema_version');
    return sqlite;
  } catch (err) {
    // A WAL database needs its -shm index, which a read-only directory cannot hold: read it as immutable.
    if ((err as { code?: unknown }).code !== 'SQLITE_CANTOPEN' || directoryIsWritable(dirname(file)))
      throw err;
  }
  const sqlite = new SqliteDatabase(`file:${pathToFileURL(file).pathname}?mode=ro&immutable=1`, {
    readonly: true,
    fileMustExist: true,
  });
  sqlite.pragma('schema_version');
  return sqlite;
}

function openWritable(file: string): SqliteDatabase.Database {
  const sqlite = new SqliteDatabase(file);
  try {
    chmodSync(file, 0o600);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    return sqlite;
  } catch (err) {
    sqlite.close();
    throw err;
  }
}

/** Opens (creating it when missing, unless read-only) the store file; its directory must exist. */
export async function openSqliteStore(file: string, options: SqliteStoreOptions = {}): Promise<Store> {
  let sqlite: SqliteDatabase.Database;
  try {
    sqlite = options.readonly ? openReadOnly(file) : openWritable(file);
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    // Temporary tables and statement journals in memory: SQLite would otherwise create them in /tmp, which
    // Landlock (applied to serving processes) forbids; the write then fails with "unable to open database file".
    sqlite.pragma('temp_store = MEMORY');
  } catch (err) {
    throw describeSqliteError(file, err);
  }
  try {
    // Migrations only go forward: a database a newer Ferry migrated is refused before anything touches it.
    assertSchemaKnown(file, await schemaStatus(sqlite));
  } catch (err) {
    sqlite.close();
    throw err;
  }
  // Every query's statement is prepared once and reused (statement-cache.ts): preparing cost more than running.
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingDatabase(sqlite) }) });
  const migrator = new Migrator({ db, provider: migrationProvider });
  if (options.readonly) {
    let pending: number;
    try {
      pending = (await migrator.getMigrations()).filter((m) => m.executedAt === undefined).length;
    } catch (err) {
      await db.destroy();
      throw describeSqliteError(file, err);
    }
    if (pending > 0) {
      await db.destroy();
      // Written by an older Ferry: upgrade it first when we can (the same as any writing command would).
      if (directoryIsWritable(dirname(file))) return openSqliteStore(file);
      throw new FerryError(
        'ERR_IO',
        `${file} was written by an older Ferry and needs upgrading, which a read-only open cannot do; run a writing command (e.g. ferry serve) on a writable copy first`,
      );
    }
  } else {
    const { error } = await migrator.migrateToLatest();
    if (error) {
      await db.destroy();
      throw describeSqliteError(file, error);
    }
  }
  // Writers that read before they write open with BEGIN IMMEDIATE (see write-transaction.ts).
  const writes = {
    beginWrite: ['BEGIN IMMEDIATE'],
    isBusy: (err: unknown) =>
      String((err as { code?: unknown } | undefined)?.code ?? '').startsWith('SQLITE_BUSY'),
  };
  return repositoriesOf(db, {
    writes,
    audit: { ...writes, changeCounter: 'PRAGMA data_version' },
    nodes: writes,
    sessions: writes,
    rowLocks: false,
  });
}
