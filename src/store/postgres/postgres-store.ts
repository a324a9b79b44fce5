// The cluster store: PostgreSQL through a `pg` pool and kysely, migrated on open under an advisory lock.
import type { Kysely as KyselyDb } from 'kysely';
import pg from 'pg';
import { FerryError } from '../../errors.js';
import { Kysely, Migrator, PostgresDialect, sql } from '../kysely.js';
import { migrationProviderFor } from '../migrations.js';
import { repositoriesOf } from '../repositories.js';
import type { Database } from '../schema.js';
import {
  assertSchemaKnown,
  type MigrationEntry,
  migrationEntry,
  type SchemaStatus,
  schemaStatusOf,
} from '../sqlite/schema-version.js';
import type { Store } from '../types.js';
import { describePostgresError, redactUrl } from './errors.js';
import { postgresNotifications } from './notifications.js';

export interface PostgresStoreOptions {
  /** Open without writing anything: no migration, and every transaction read-only (offline read commands). */
  readonly readonly?: boolean;
  /** Connections in the pool (default 10). */
  readonly maxConnections?: number;
}

/**
 * The advisory lock key under which a node migrates: the first of two nodes starting together migrates, the
 * second waits and then finds nothing pending. An arbitrary constant ("ferrymig" as ASCII).
 */
const MIGRATION_LOCK_KEY = 0x66657272796d6967n;

/** int8 (counts, ids, byte sizes) as numbers, like SQLite gives them: every value Ferry stores is below 2^53. */
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

function newPool(url: string, options: PostgresStoreOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    types,
    // A server that does not answer is an error within seconds, not a hung command.
    connectionTimeoutMillis: 10_000,
    ...(options.readonly ? { options: '-c default_transaction_read_only=on' } : {}),
  });
  // An idle connection the server drops (restart, failover) must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  return pool;
}

/** What a database has applied, read without changing it (a missing table means nothing applied yet). */
export async function appliedPostgresMigrations(db: KyselyDb<Database>): Promise<MigrationEntry[]> {
  const table = await sql<{ t: string | null }>`SELECT to_regclass('kysely_migration')::text AS t`.execute(
    db,
  );
  if (!table.rows[0]?.t) return [];
  const { rows } = await sql<{ name: string; timestamp: string }>`
    SELECT name, timestamp FROM kysely_migration ORDER BY name`.execute(db);
  return rows.map(migrationEntry);
}

/**
 * Applies what is pending, holding a session advisory lock on one connection meanwhile: a second node starting
 * at the same time waits here, then finds everything applied. (kysely's Migrator also takes a transaction-level
 * advisory lock; this one also covers creating its bookkeeping table and the check for a newer schema.)
 */
async function migrate(db: KyselyDb<Database>, where: string): Promise<void> {
  await db.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`.execute(conn);
    try {
      assertSchemaKnown(where, await schemaStatusOf(await appliedPostgresMigrations(conn)));
      const { error } = await new Migrator({
        db,
        provider: migrationProviderFor('postgres'),
      }).migrateToLatest();
      if (error) throw error;
    } finally {
      await sql`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.execute(conn);
    }
  });
}

/** The database `url` names as a plain kysely instance (no migration): for whole-store copies. */
export function openPostgresDatabase(url: string, options: PostgresStoreOptions = {}): KyselyDb<Database> {
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: newPool(url, options) }) });
}

/** The schema status of the database `url` names, read through a read-only connection. */
export async function postgresSchemaStatus(url: string): Promise<SchemaStatus> {
  const where = redactUrl(url);
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: newPool(url, { readonly: true, maxConnections: 1 }) }),
  });
  try {
    return await schemaStatusOf(await appliedPostgresMigrations(db));
  } catch (err) {
    throw describePostgresError(where, err);
  } finally {
    await db.destroy();
  }
}

/** Opens the PostgreSQL database `url` names (which must exist), applying pending migrations unless read-only. */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  const where = redactUrl(url);
  const pool = newPool(url, options);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    if (options.readonly) {
      const status = await schemaStatusOf(await appliedPostgresMigrations(db));
      assertSchemaKnown(where, status);
      if (status.pending.length > 0)
        throw new FerryError(
          'ERR_IO',
          `${where} has migrations pending (${status.pending.map((m) => m.name).join(', ')}), which a read-only open cannot apply; run ferry migrate --store URL first`,
        );
    } else {
      await migrate(db, where);
    }
  } catch (err) {
    await db.destroy();
    throw describePostgresError(where, err);
  }
  // SQLite's BEGIN IMMEDIATE excluded every other writer; here each repository takes only the locks it needs.
  const writes = { beginWrite: ['BEGIN'], isBusy: isRetryable };
  const repositories = repositoriesOf(db, {
    writes,
    // The chain head is read and extended in one transaction holding the table's EXCLUSIVE lock (readers still
    // read): two nodes appending at once take turns, so the chain stays one line.
    audit: { beginWrite: ['BEGIN', 'LOCK TABLE audit_log IN EXCLUSIVE MODE'], isBusy: isRetryable },
    nodes: { beginWrite: ['BEGIN', 'LOCK TABLE nodes IN SHARE ROW EXCLUSIVE MODE'], isBusy: isRetryable },
    // A session admission counts the user's sessions then inserts, an upload claim reads its holder then takes
    // it: each takes its table's lock, so two nodes cannot both admit the last session or both claim one name.
    sessions: {
      beginWrite: ['BEGIN', 'LOCK TABLE live_sessions, upload_claims IN SHARE ROW EXCLUSIVE MODE'],
      isBusy: isRetryable,
    },
    rowLocks: true,
  });
  if (options.readonly) return repositories;
  const notifications = postgresNotifications(url, pool);
  return {
    ...repositories,
    notifications,
    close: async () => {
      await notifications.close();
      await repositories.close();
    },
  };
}

/** Serialization failures and deadlocks: the transaction is retried from the start. */
function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === '40001' || code === '40P01';
}
