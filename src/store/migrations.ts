// Schema migrations, in order, for SQLite and PostgreSQL; kysely's Migrator records which ran in its own table.
import type { Migration, MigrationProvider } from 'kysely';
import { COLUMN_TYPES, type ColumnTypes, type StoreDialect } from './migration-types.js';
import { migrations0001to0008 } from './migrations-1.js';
import { migrations0009to0021 } from './migrations-2.js';
import { migrations0022to0033 } from './migrations-3.js';

export type { StoreDialect } from './migration-types.js';

/** Every migration by name, in the order they run (kysely runs them sorted by name; the names are numbered). */
const migrationsFor = (t: ColumnTypes): Record<string, Migration> => ({
  ...migrations0001to0008(t),
  ...migrations0009to0021(t),
  ...migrations0022to0033(t),
});

/** The migrations of one dialect: the same names, in the same order, on both. */
export function migrationProviderFor(dialect: StoreDialect): MigrationProvider {
  const migrations = migrationsFor(COLUMN_TYPES[dialect]);
  return { getMigrations: async () => migrations };
}

/** SQLite's migrations (the names are what `ferry migrate --status` lists for either dialect). */
export const migrationProvider: MigrationProvider = migrationProviderFor('sqlite');
