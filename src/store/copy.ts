// Copies every row of one store into another, empty one (SQLite → PostgreSQL and back): same tables, same values.
import type { Kysely } from 'kysely';
import { FerryError } from '../errors.js';
import { sql } from './kysely.js';
import type { StoreDialect } from './migrations.js';
import type { Database } from './schema.js';

/**
 * Every table, parents before children (foreign keys hold at each insert). A test checks this against the tables
 * the migrations create (less UNCOPIED_TABLES), so a new table cannot be forgotten. `rule_version` is the one row the migrations insert.
 */
export const COPIED_TABLES = [
  'users',
  'user_keys',
  'host_keys',
  'client_keys',
  'pgp_keys',
  'audit_log',
  'partners',
  'transfer_jobs',
  'transfer_runs',
  'transfer_ledger',
  'defender_hosts',
  'defender_lists',
  'login_failures',
  'user_totp',
  'rules',
  'rule_version',
  'deliveries',
  'delivery_attempts',
  'rule_counters',
  'api_admins',
  'api_keys',
  'api_sessions',
  'api_admin_totp',
  'certificates',
  'groups',
  'user_groups',
  'folders',
  'folder_mounts',
  'transfer_usage',
  'password_history',
  'user_cas',
  'cert_revocations',
  's3_uploads',
] as const satisfies readonly (keyof Database)[];

/**
 * Tables left behind: the node registry, its processes' live sessions and upload claims describe the processes
 * serving the source store now, not data (the nodes register again when they start on the target); web client
 * users sign in again after the move.
 */
export const UNCOPIED_TABLES = [
  'nodes',
  'live_sessions',
  'upload_claims',
  'web_sessions',
] as const satisfies readonly (keyof Database)[];

export type CopiedTable = (typeof COPIED_TABLES)[number];

/** Tables whose `id` the database assigns: on PostgreSQL their identity continues after the copied ids. */
const IDENTITY_TABLES: readonly CopiedTable[] = [
  'users',
  'user_keys',
  'host_keys',
  'client_keys',
  'pgp_keys',
  'partners',
  'transfer_jobs',
  'transfer_runs',
  'rules',
  'delivery_attempts',
  'api_keys',
  'certificates',
  'groups',
  'folders',
  'folder_mounts',
  'user_cas',
  'cert_revocations',
  'password_history',
];

/** Rows per read and per INSERT: 200 rows of at most ~16 columns stay under both drivers' parameter limits. */
const CHUNK = 200;

/** Ordered by a unique key so chunks never skip or repeat a row. */
const ORDER: Partial<Record<CopiedTable, readonly string[]>> = {
  audit_log: ['seq'],
  transfer_ledger: ['job_id', 'path'],
  defender_hosts: ['address'],
  defender_lists: ['list', 'cidr'],
  login_failures: ['user_name'],
  user_totp: ['user_name'],
  rule_counters: ['rule_id', 'key'],
  api_admins: ['name'],
  api_sessions: ['id_hash'],
  api_admin_totp: ['admin_name'],
  user_groups: ['user_id', 'group_id'],
  s3_uploads: ['bucket', 'key'],
  transfer_usage: ['user_id', 'day'],
};

export async function countRows(db: Kysely<Database>): Promise<Record<CopiedTable, number>> {
  const counts = {} as Record<CopiedTable, number>;
  for (const table of COPIED_TABLES) {
    const row = await db.selectFrom(table).select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow();
    counts[table] = Number(row.n);
  }
  return counts;
}

/**
 * Copies every row of `source` into `target` in one transaction on the target, which must be migrated and hold
 * nothing yet (a half-copied store is never left behind). Returns the rows copied per table.
 */
export async function copyStoreRows(
  source: Kysely<Database>,
  target: Kysely<Database>,
  targetDialect: StoreDialect,
): Promise<Record<CopiedTable, number>> {
  const existing = await countRows(target);
  const nonEmpty = COPIED_TABLES.filter((t) => t !== 'rule_version' && existing[t] > 0);
  if (nonEmpty.length > 0)
    throw new FerryError(
      'ERR_ALREADY_EXISTS',
      `the target store is not empty (${nonEmpty.map((t) => `${t}: ${existing[t]}`).join(', ')}); copy only into a new, empty database`,
    );
  return target.transaction().execute(async (trx) => {
    const copied = {} as Record<CopiedTable, number>;
    for (const table of COPIED_TABLES) {
      if (table === 'rule_version') await trx.deleteFrom('rule_version').execute();
      copied[table] = 0;
      const order = ORDER[table] ?? ['id'];
      const key = order.length === 1 ? order[0] : undefined;
      let after: unknown;
      for (let offset = 0; ; offset += CHUNK) {
        let q = source.selectFrom(table).selectAll();
        // Keyset pages on a one-column key (the audit log may hold millions of rows); the few composite-key
        // tables are small and page by offset.
        if (key !== undefined && after !== undefined) q = q.where(sql.ref(key), '>', after as never);
        for (const column of order) q = q.orderBy(sql.ref(column));
        q = q.limit(CHUNK);
        if (key === undefined) q = q.offset(offset);
        const rows = (await q.execute()) as Record<string, unknown>[];
        if (rows.length === 0) break;
        await trx
          .insertInto(table)
          .values(rows as never)
          .execute();
        copied[table] += rows.length;
        if (key !== undefined) after = rows.at(-1)?.[key];
        if (rows.length < CHUNK) break;
      }
    }
    if (targetDialect === 'postgres')
      for (const table of IDENTITY_TABLES)
        await sql`SELECT setval(pg_get_serial_sequence(${table}, 'id'), coalesce((SELECT max(id) FROM ${sql.table(table)}), 0) + 1, false)`.execute(
          trx,
        );
    return copied;
  });
}
