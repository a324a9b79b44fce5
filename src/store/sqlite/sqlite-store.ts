// The embedded store: one SQLite file (WAL) through better-sqlite3 and kysely, migrated on open.
import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { FerryError } from '../../errors.js';
import { KyselyAuditRepository } from '../audit-repository.js';
import {
  KyselyClientKeyRepository,
  KyselyHostKeyRepository,
  KyselyPgpKeyRepository,
} from '../key-repositories.js';
import { Kysely, Migrator, SqliteDialect } from '../kysely.js';
import { migrationProvider } from '../migrations.js';
import type { Database } from '../schema.js';
import { KyselyAccountSecurityRepository, KyselyDefenderRepository } from '../security-repositories.js';
import {
  KyselyPartnerRepository,
  KyselyTransferJobRepository,
  KyselyTransferRunRepository,
} from '../transfer-repositories.js';
import type { Store } from '../types.js';
import { KyselyUserRepository } from '../user-repository.js';
import { assertSchemaKnown, schemaStatus } from './schema-version.js';

export async function openSqliteStore(file: string): Promise<Store> {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const sqlite = new SqliteDatabase(file);
  chmodSync(file, 0o600);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  try {
    // Migrations only go forward: a database a newer Ferry migrated is refused before anything touches it.
    assertSchemaKnown(file, await schemaStatus(sqlite));
  } catch (err) {
    sqlite.close();
    throw err;
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  const { error } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  if (error) {
    await db.destroy();
    throw new FerryError('ERR_IO', `cannot migrate ${file}: ${(error as Error).message}`, { cause: error });
  }
  return {
    users: new KyselyUserRepository(db),
    hostKeys: new KyselyHostKeyRepository(db),
    clientKeys: new KyselyClientKeyRepository(db),
    pgpKeys: new KyselyPgpKeyRepository(db),
    defender: new KyselyDefenderRepository(db),
    accounts: new KyselyAccountSecurityRepository(db),
    audit: new KyselyAuditRepository(db, {
      beginWrite: ['BEGIN IMMEDIATE'],
      isBusy: (err) => String((err as { code?: unknown } | undefined)?.code ?? '').startsWith('SQLITE_BUSY'),
    }),
    partners: new KyselyPartnerRepository(db),
    transferJobs: new KyselyTransferJobRepository(db),
    transferRuns: new KyselyTransferRunRepository(db),
    close: () => db.destroy(),
  };
}
