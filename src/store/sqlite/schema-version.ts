// Schema versions: which migrations a database has applied, which this code would apply, and refusing a newer database.
import { existsSync } from 'node:fs';
import SqliteDatabase from 'better-sqlite3';
import { FerryError } from '../../errors.js';
import { migrationProvider } from '../migrations.js';

/** Kysely's Migrator records each applied migration here (name, ISO timestamp). */
const MIGRATION_TABLE = 'kysely_migration';
const MIGRATION_NAME = /^(\d{4})_[a-z0-9_]+$/;

export interface MigrationEntry {
  /** The number before the underscore: 5 for `0005_security`. */
  readonly version: number;
  readonly name: string;
  /** When it was applied (ISO), for applied migrations. */
  readonly appliedAt?: string;
}

export interface SchemaStatus {
  readonly applied: readonly MigrationEntry[];
  /** Known to this code, not yet applied to the database. */
  readonly pending: readonly MigrationEntry[];
  /** Applied to the database but unknown to this code: the database was upgraded by a newer Ferry. */
  readonly unknown: readonly MigrationEntry[];
  /** Highest version this code knows. */
  readonly codeVersion: number;
  /** Highest version applied to the database (0 for a new one). */
  readonly databaseVersion: number;
}

export function migrationVersion(name: string): number {
  const match = MIGRATION_NAME.exec(name);
  if (!match) throw new FerryError('ERR_INVALID_ARGUMENT', `migration name '${name}' is not NNNN_name`);
  return Number(match[1]);
}

/** The migrations this code knows, in the order they apply. */
export async function knownMigrations(): Promise<MigrationEntry[]> {
  const names = Object.keys(await migrationProvider.getMigrations()).sort();
  return names.map((name) => ({ version: migrationVersion(name), name }));
}

/** Reads what a database has applied without changing it (a missing table means nothing applied yet). */
export function appliedMigrations(sqlite: SqliteDatabase.Database): MigrationEntry[] {
  const table = sqlite
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?")
    .get(MIGRATION_TABLE);
  if (!table) return [];
  const rows = sqlite.prepare(`SELECT name, timestamp FROM ${MIGRATION_TABLE} ORDER BY name`).all() as {
    name: string;
    timestamp: string;
  }[];
  return rows.map(migrationEntry);
}

/** An applied migration as kysely recorded it (name, ISO timestamp). */
export function migrationEntry(row: { name: string; timestamp: string }): MigrationEntry {
  return {
    version: MIGRATION_NAME.test(row.name) ? migrationVersion(row.name) : Number.NaN,
    name: row.name,
    appliedAt: row.timestamp,
  };
}

export async function schemaStatus(sqlite: SqliteDatabase.Database): Promise<SchemaStatus> {
  return schemaStatusOf(appliedMigrations(sqlite));
}

/** The status of a database (of either driver) that has applied `applied`. */
export async function schemaStatusOf(applied: readonly MigrationEntry[]): Promise<SchemaStatus> {
  const known = await knownMigrations();
  const appliedNames = new Set(applied.map((m) => m.name));
  const knownNames = new Set(known.map((m) => m.name));
  const maxVersion = (list: readonly MigrationEntry[]) =>
    list.reduce((max, m) => (Number.isFinite(m.version) ? Math.max(max, m.version) : max), 0);
  return {
    applied,
    pending: known.filter((m) => !appliedNames.has(m.name)),
    unknown: applied.filter((m) => !knownNames.has(m.name)),
    codeVersion: maxVersion(known),
    databaseVersion: maxVersion(applied),
  };
}

/** Reads a database file's schema status read-only; a file that does not exist has everything pending. */
export async function schemaStatusOfFile(file: string): Promise<SchemaStatus> {
  if (!existsSync(file)) {
    const known = await knownMigrations();
    return {
      applied: [],
      pending: known,
      unknown: [],
      codeVersion: known.at(-1)?.version ?? 0,
      databaseVersion: 0,
    };
  }
  const sqlite = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
  try {
    return await schemaStatus(sqlite);
  } finally {
    sqlite.close();
  }
}

/** A database a newer Ferry migrated: this code would misread it, and migrations never run backwards. */
export class SchemaTooNewError extends FerryError {
  constructor(file: string, status: SchemaStatus) {
    const names = status.unknown.map((m) => m.name).join(', ');
    super(
      'ERR_UNSUPPORTED',
      `${file} has schema version ${status.databaseVersion} (${names}) but this Ferry knows only up to ${status.codeVersion}: run the newer Ferry, or restore a backup taken before the upgrade`,
    );
  }
}

/** Throws SchemaTooNewError when the database has migrations this code does not know. */
export function assertSchemaKnown(file: string, status: SchemaStatus): void {
  if (status.unknown.length > 0) throw new SchemaTooNewError(file, status);
}
