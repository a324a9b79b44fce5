// Schema migrations, in order, for SQLite and PostgreSQL; kysely's Migrator records which ran in its own table.
import type { ColumnDefinitionBuilder, Expression, Kysely, Migration, MigrationProvider } from 'kysely';
import { sql } from './kysely.js';

export type StoreDialect = 'sqlite' | 'postgres';

/**
 * The column types of one dialect. Both keep the representation the repositories read and write, so the
 * repositories stay one dialect-neutral code: times are ISO-8601 UTC text (they sort as text, and every
 * comparison in the repositories is between such strings), flags are 0/1 integers. On PostgreSQL, integers
 * are `bigint` (sizes and byte counts pass 2^31; the driver reads them back as numbers), ids are identity
 * columns, and text compares byte-wise (`COLLATE "C"`) like SQLite, whatever the database's locale, so
 * listings and keyset pages come out in the same order on both.
 */
interface ColumnTypes {
  readonly int: 'integer' | 'bigint';
  readonly real: 'real' | 'double precision';
  readonly text: 'text' | Expression<unknown>;
  /** An id the database assigns. */
  readonly identity: (c: ColumnDefinitionBuilder) => ColumnDefinitionBuilder;
  /** The current time as ISO-8601 UTC text. */
  readonly now: Expression<unknown>;
}

const COLUMN_TYPES: Readonly<Record<StoreDialect, ColumnTypes>> = {
  sqlite: {
    int: 'integer',
    real: 'real',
    text: 'text',
    identity: (c) => c.primaryKey().autoIncrement(),
    now: sql`CURRENT_TIMESTAMP`,
  },
  postgres: {
    int: 'bigint',
    real: 'double precision',
    text: sql`text collate "C"`,
    identity: (c) => c.primaryKey().generatedByDefaultAsIdentity(),
    now: sql`to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
  },
};

const migrationsFor = (t: ColumnTypes): Record<string, Migration> => ({
  '0001_users': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('users')
        .addColumn('id', t.int, t.identity)
        .addColumn('name', t.text, (c) => c.notNull().unique())
        .addColumn('password_hash', t.text)
        .addColumn('home_dir', t.text)
        .addColumn('required_methods', t.text, (c) => c.notNull().defaultTo('[]'))
        .addColumn('disabled', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('permissions', t.text, (c) => c.notNull().defaultTo('{"/":["*"]}'))
        .addColumn('created_at', t.text, (c) => c.notNull().defaultTo(t.now))
        .addColumn('updated_at', t.text, (c) => c.notNull().defaultTo(t.now))
        .execute();
      await db.schema
        .createTable('user_keys')
        .addColumn('id', t.int, t.identity)
        .addColumn('user_id', t.int, (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('algorithm', t.text, (c) => c.notNull())
        .addColumn('public_key', t.text, (c) => c.notNull())
        .addColumn('comment', t.text, (c) => c.notNull().defaultTo(''))
        .addColumn('fingerprint', t.text, (c) => c.notNull())
        .addColumn('options', t.text, (c) => c.notNull().defaultTo(''))
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addUniqueConstraint('user_keys_user_fingerprint', ['user_id', 'fingerprint'])
        .execute();
    },
  },
  '0002_keys': {
    async up(db: Kysely<unknown>) {
      for (const table of ['host_keys', 'client_keys'] as const) {
        let builder = db.schema
          .createTable(table)
          .addColumn('id', t.int, t.identity)
          .addColumn('algorithm', t.text, (c) => c.notNull())
          .addColumn('bits', t.int, (c) => c.notNull())
          .addColumn('public_key', t.text, (c) => c.notNull())
          .addColumn('sha256', t.text, (c) => c.notNull())
          .addColumn('md5', t.text, (c) => c.notNull())
          .addColumn('private_sealed', t.text, (c) => c.notNull())
          .addColumn('comment', t.text, (c) => c.notNull().defaultTo(''))
          .addColumn('created_at', t.text, (c) => c.notNull());
        builder =
          table === 'host_keys'
            ? builder
                .addColumn('active', t.int, (c) => c.notNull().defaultTo(1))
                .addColumn('retired_at', t.text)
            : builder.addColumn('name', t.text, (c) => c.notNull().unique());
        await builder.execute();
      }
      await db.schema
        .createTable('pgp_keys')
        .addColumn('id', t.int, t.identity)
        .addColumn('name', t.text, (c) => c.notNull().unique())
        .addColumn('fingerprint', t.text, (c) => c.notNull().unique())
        .addColumn('key_id', t.text, (c) => c.notNull())
        .addColumn('user_ids', t.text, (c) => c.notNull())
        .addColumn('algorithm', t.text, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addColumn('expires_at', t.text)
        .addColumn('public_armored', t.text, (c) => c.notNull())
        .addColumn('private_sealed', t.text)
        .execute();
    },
  },
  '0003_audit': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('audit_log')
        .addColumn('seq', t.int, (c) => c.primaryKey())
        .addColumn('at', t.text, (c) => c.notNull())
        .addColumn('action', t.text, (c) => c.notNull())
        .addColumn('username', t.text)
        .addColumn('session_id', t.text)
        .addColumn('address', t.text)
        .addColumn('protocol', t.text)
        .addColumn('path', t.text)
        .addColumn('target', t.text)
        .addColumn('result', t.text, (c) => c.notNull())
        .addColumn('reason', t.text)
        .addColumn('detail', t.text, (c) => c.notNull())
        .addColumn('prev_hash', t.text, (c) => c.notNull())
        .addColumn('hash', t.text, (c) => c.notNull())
        .execute();
      // Queries filter by time, user and action and page by seq (keyset), hence the trailing seq.
      await db.schema.createIndex('audit_log_at').on('audit_log').columns(['at', 'seq']).execute();
      await db.schema.createIndex('audit_log_user').on('audit_log').columns(['username', 'seq']).execute();
      await db.schema.createIndex('audit_log_action').on('audit_log').columns(['action', 'seq']).execute();
    },
  },
  '0004_transfers': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('partners')
        .addColumn('id', t.int, t.identity)
        .addColumn('name', t.text, (c) => c.notNull().unique())
        .addColumn('host', t.text, (c) => c.notNull())
        .addColumn('port', t.int, (c) => c.notNull())
        .addColumn('username', t.text, (c) => c.notNull())
        .addColumn('password_sealed', t.text)
        .addColumn('client_key', t.text)
        .addColumn('host_key_algorithm', t.text)
        .addColumn('host_key_sha256', t.text)
        .addColumn('rename_uploads', t.int, (c) => c.notNull().defaultTo(1))
        .addColumn('read_back', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addColumn('updated_at', t.text, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('transfer_jobs')
        .addColumn('id', t.int, t.identity)
        .addColumn('name', t.text, (c) => c.notNull().unique())
        // A partner in use cannot be removed: jobs name it (no cascade).
        .addColumn('partner_id', t.int, (c) => c.notNull().references('partners.id'))
        .addColumn('direction', t.text, (c) => c.notNull())
        .addColumn('remote_dir', t.text, (c) => c.notNull())
        .addColumn('local_dir', t.text, (c) => c.notNull())
        .addColumn('pattern', t.text, (c) => c.notNull().defaultTo('*'))
        .addColumn('schedule', t.text)
        .addColumn('after_action', t.text, (c) => c.notNull().defaultTo('keep'))
        .addColumn('retries', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('backoff_ms', t.int, (c) => c.notNull().defaultTo(30_000))
        .addColumn('enabled', t.int, (c) => c.notNull().defaultTo(1))
        .addColumn('last_scheduled_at', t.text)
        .addColumn('lock_owner', t.text)
        .addColumn('lock_until', t.text)
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addColumn('updated_at', t.text, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('transfer_runs')
        .addColumn('id', t.int, t.identity)
        .addColumn('job_id', t.int, (c) => c.notNull().references('transfer_jobs.id').onDelete('cascade'))
        .addColumn('trigger', t.text, (c) => c.notNull())
        .addColumn('attempts', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('status', t.text, (c) => c.notNull())
        .addColumn('started_at', t.text, (c) => c.notNull())
        .addColumn('finished_at', t.text)
        .addColumn('files', t.text, (c) => c.notNull().defaultTo('[]'))
        .addColumn('bytes', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('duration_ms', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('error', t.text)
        .execute();
      await db.schema
        .createIndex('transfer_runs_job')
        .on('transfer_runs')
        .columns(['job_id', 'id'])
        .execute();
      await db.schema
        .createTable('transfer_ledger')
        .addColumn('job_id', t.int, (c) => c.notNull().references('transfer_jobs.id').onDelete('cascade'))
        .addColumn('path', t.text, (c) => c.notNull())
        .addColumn('size', t.int, (c) => c.notNull())
        .addColumn('mtime', t.int, (c) => c.notNull())
        .addColumn('sha256', t.text)
        .addColumn('transferred_at', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('transfer_ledger_pk', ['job_id', 'path'])
        .execute();
    },
  },
  '0005_security': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('users')
        .addColumn('allowed_sources', t.text, (c) => c.notNull().defaultTo('[]'))
        .execute();
      await db.schema
        .createTable('defender_hosts')
        .addColumn('address', t.text, (c) => c.primaryKey())
        .addColumn('score', t.real, (c) => c.notNull())
        .addColumn('window_start', t.text, (c) => c.notNull())
        .addColumn('banned_until', t.text)
        .addColumn('ban_count', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('last_reason', t.text, (c) => c.notNull().defaultTo(''))
        .addColumn('updated_at', t.text, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('login_failures')
        .addColumn('user_name', t.text, (c) => c.primaryKey())
        .addColumn('count', t.int, (c) => c.notNull())
        .addColumn('window_start', t.text, (c) => c.notNull())
        .addColumn('locked_until', t.text)
        .execute();
      await db.schema
        .createTable('user_totp')
        .addColumn('user_name', t.text, (c) => c.primaryKey())
        .addColumn('secret_sealed', t.text, (c) => c.notNull())
        .addColumn('last_step', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('recovery_hashes', t.text, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .execute();
    },
  },
  // Host keys go pending → active → retired: a new key is announced first and presented only once promoted.
  // Existing keys keep what they were (active or retired); `active` stays in step for older readers.
  '0006_host_key_states': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('host_keys')
        .addColumn('state', t.text, (c) => c.notNull().defaultTo('active'))
        .execute();
      await db.schema.alterTable('host_keys').addColumn('activated_at', t.text).execute();
      await sql`UPDATE host_keys SET state = 'retired' WHERE active = 0`.execute(db);
      await sql`UPDATE host_keys SET activated_at = created_at WHERE active = 1`.execute(db);
    },
  },
  '0007_totp_previous_rule': {
    async up(db: Kysely<unknown>) {
      // `users totp disable` restores the login rule TOTP replaced (key OR password stays key OR password).
      await db.schema.alterTable('users').addColumn('required_methods_before_totp', t.text).execute();
    },
  },
  // Rules (events, conditions and actions as JSON), a change counter every process polls, and the outbox of
  // deliveries with their attempts. Deliveries keep their rule id without a foreign key: the history of a
  // removed rule stays readable, and the worker dead-letters what is still pending for it.
  '0008_rules': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('rules')
        .addColumn('id', t.int, t.identity)
        .addColumn('name', t.text, (c) => c.notNull().unique())
        .addColumn('description', t.text)
        .addColumn('enabled', t.int, (c) => c.notNull().defaultTo(1))
        .addColumn('events', t.text, (c) => c.notNull())
        .addColumn('conditions', t.text, (c) => c.notNull().defaultTo('{}'))
        .addColumn('actions', t.text, (c) => c.notNull())
        .addColumn('schedule', t.text)
        .addColumn('hook_timeout_ms', t.int)
        .addColumn('on_hook_failure', t.text)
        .addColumn('max_attempts', t.int)
        .addColumn('secret_sealed', t.text)
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addColumn('updated_at', t.text, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('rule_version')
        .addColumn('id', t.int, (c) => c.primaryKey())
        .addColumn('version', t.int, (c) => c.notNull())
        .execute();
      await sql`INSERT INTO rule_version (id, version) VALUES (1, 0)`.execute(db);
      await db.schema
        .createTable('deliveries')
        .addColumn('id', t.text, (c) => c.primaryKey())
        .addColumn('rule_id', t.int, (c) => c.notNull())
        .addColumn('action_index', t.int, (c) => c.notNull())
        .addColumn('event_name', t.text, (c) => c.notNull())
        .addColumn('fields', t.text, (c) => c.notNull())
        .addColumn('status', t.text, (c) => c.notNull())
        .addColumn('attempts', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', t.text, (c) => c.notNull())
        .addColumn('lease_owner', t.text)
        .addColumn('lease_until', t.text)
        .addColumn('last_error', t.text)
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addColumn('finished_at', t.text)
        .execute();
      // The worker's claim reads due rows by status and time; listings by rule, newest first.
      await db.schema
        .createIndex('deliveries_due')
        .on('deliveries')
        .columns(['status', 'next_attempt_at'])
        .execute();
      await db.schema
        .createIndex('deliveries_rule')
        .on('deliveries')
        .columns(['rule_id', 'created_at'])
        .execute();
      await db.schema.createIndex('deliveries_created').on('deliveries').column('created_at').execute();
      await db.schema
        .createTable('delivery_attempts')
        .addColumn('id', t.int, t.identity)
        .addColumn('delivery_id', t.text, (c) => c.notNull().references('deliveries.id').onDelete('cascade'))
        .addColumn('attempt', t.int, (c) => c.notNull())
        .addColumn('at', t.text, (c) => c.notNull())
        .addColumn('ok', t.int, (c) => c.notNull())
        .addColumn('latency_ms', t.int, (c) => c.notNull())
        .addColumn('response_code', t.int)
        .addColumn('error', t.text)
        .addColumn('output', t.text)
        .execute();
      await db.schema
        .createIndex('delivery_attempts_delivery')
        .on('delivery_attempts')
        .columns(['delivery_id', 'id'])
        .execute();
    },
  },
  // OpenPGP as policy and in flows: per-folder policies on users (folder → policy, JSON), a step on jobs.
  '0009_pgp_policies': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('users')
        .addColumn('pgp_policies', t.text, (c) => c.notNull().defaultTo('{}'))
        .execute();
      // A job's OpenPGP step (encrypt before a push, decrypt after a pull): JSON, null for none.
      await db.schema.alterTable('transfer_jobs').addColumn('pgp', t.text).execute();
    },
  },
  // The REST API's administrator accounts and API keys (hashes only). Numbered 0010: 0008/0009 are the rules'.
  '0010_api': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('api_admins')
        .addColumn('name', t.text, (c) => c.primaryKey())
        .addColumn('password_hash', t.text, (c) => c.notNull())
        .addColumn('role', t.text, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addColumn('updated_at', t.text, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('api_keys')
        .addColumn('id', t.int, t.identity)
        .addColumn('name', t.text, (c) => c.notNull().unique())
        .addColumn('role', t.text, (c) => c.notNull())
        .addColumn('key_hash', t.text, (c) => c.notNull().unique())
        .addColumn('prefix', t.text, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addColumn('expires_at', t.text)
        .addColumn('last_used_at', t.text)
        .addColumn('created_by', t.text, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('api_sessions')
        .addColumn('id_hash', t.text, (c) => c.primaryKey())
        .addColumn('admin_name', t.text, (c) => c.notNull().references('api_admins.name').onDelete('cascade'))
        .addColumn('csrf_token', t.text, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addColumn('expires_at', t.text, (c) => c.notNull())
        .execute();
    },
  },
  // Counting rules ("5 failed logins for one user within 10 minutes"): one row per rule and counted key,
  // shared by every process. Removing a rule removes its counters.
  '0011_rule_counters': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('rule_counters')
        .addColumn('rule_id', t.int, (c) => c.notNull().references('rules.id').onDelete('cascade'))
        .addColumn('key', t.text, (c) => c.notNull())
        .addColumn('hits', t.text, (c) => c.notNull())
        .addColumn('last_at', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('rule_counters_pk', ['rule_id', 'key'])
        .execute();
      // Pruning a rule's expired keys and evicting its least recently hit ones read by rule and time.
      await db.schema
        .createIndex('rule_counters_last')
        .on('rule_counters')
        .columns(['rule_id', 'last_at'])
        .execute();
    },
  },
  // One-time codes for REST API administrators: user_totp's columns in a table of their own (an admin and an SFTP
  // user may share a name), removed with the account.
  '0012_admin_totp': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('api_admin_totp')
        .addColumn('admin_name', t.text, (c) =>
          c.primaryKey().references('api_admins.name').onDelete('cascade'),
        )
        .addColumn('secret_sealed', t.text, (c) => c.notNull())
        .addColumn('last_step', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('recovery_hashes', t.text, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .execute();
    },
  },
  // Disk quotas (0: none) and the usage counted against them: regular files and their bytes in the home,
  // kept incrementally while a limited user writes, rebuilt from the disk by `ferry quota scan` and at start.
  '0013_quotas': {
    async up(db: Kysely<unknown>) {
      for (const column of ['quota_bytes', 'quota_files', 'used_bytes', 'used_files']) {
        await db.schema
          .alterTable('users')
          .addColumn(column, t.int, (c) => c.notNull().defaultTo(0))
          .execute();
      }
    },
  },
  // Account expiry: the last day (YYYY-MM-DD, UTC) the user may log in; null: never expires.
  '0014_account_expiry': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('users').addColumn('expires_on', t.text).execute();
    },
  },
  // Bandwidth limits per user, in bytes per second; 0: none.
  '0015_bandwidth': {
    async up(db: Kysely<unknown>) {
      for (const column of ['upload_rate', 'download_rate']) {
        await db.schema
          .alterTable('users')
          .addColumn(column, t.int, (c) => c.notNull().defaultTo(0))
          .execute();
      }
    },
  },
  // Allowed protocols per user: a JSON array of sftp, scp, ssh, https, ftps; empty: all (existing users keep working).
  '0016_user_protocols': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('users')
        .addColumn('protocols', t.text, (c) => c.notNull().defaultTo('[]'))
        .execute();
    },
  },
  // The node registry: one row per serving process (a `serve`, or each of its workers), refreshed by heartbeats.
  '0017_nodes': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('nodes')
        .addColumn('node_id', t.text, (c) => c.notNull())
        .addColumn('run_id', t.text, (c) => c.notNull())
        .addColumn('pid', t.int, (c) => c.notNull())
        .addColumn('version', t.text, (c) => c.notNull())
        .addColumn('host', t.text, (c) => c.notNull())
        .addColumn('started_at', t.text, (c) => c.notNull())
        .addColumn('heartbeat_at', t.text, (c) => c.notNull())
        .addColumn('heartbeat_ms', t.int, (c) => c.notNull())
        .addColumn('listeners', t.text, (c) => c.notNull().defaultTo('[]'))
        .addColumn('sessions', t.int, (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('nodes_pk', ['node_id', 'pid'])
        .execute();
    },
  },
  // The SSH algorithm profile Ferry's client offers each partner (src/ssh-algorithms.ts). Partners already
  // trusted by an ECDSA host key get 'compat', the one profile that accepts it, so they keep working.
  '0018_partner_algorithms': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('partners')
        .addColumn('algorithms', t.text, (c) => c.notNull().defaultTo('modern'))
        .execute();
      await sql`UPDATE partners SET algorithms = 'compat' WHERE host_key_algorithm LIKE 'ecdsa-sha2-%'`.execute(
        db,
      );
    },
  },
  // X.509 certificates of the Key Manager (the HTTP API's TLS): the PEM chain, the leaf's names, dates and
  // fingerprint for listings, the private key sealed like the other keys.
  '0019_certificates': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('certificates')
        .addColumn('id', t.int, t.identity)
        .addColumn('name', t.text, (c) => c.notNull().unique())
        .addColumn('algorithm', t.text, (c) => c.notNull())
        .addColumn('subject', t.text, (c) => c.notNull())
        .addColumn('issuer', t.text, (c) => c.notNull())
        .addColumn('alt_names', t.text, (c) => c.notNull())
        .addColumn('fingerprint', t.text, (c) => c.notNull())
        .addColumn('not_before', t.text, (c) => c.notNull())
        .addColumn('not_after', t.text, (c) => c.notNull())
        .addColumn('chain_pem', t.text, (c) => c.notNull())
        .addColumn('private_sealed', t.text, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .execute();
    },
  },
  // Partners over FTPS: the protocol ('sftp', 'ftps' explicit, 'ftps-implicit') and an optional CA file that
  // verifies an FTPS partner's certificate (else its SHA-256 is pinned in host_key_sha256, algorithm 'x509').
  '0020_partner_protocol': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('partners')
        .addColumn('protocol', t.text, (c) => c.notNull().defaultTo('sftp'))
        .execute();
      await db.schema.alterTable('partners').addColumn('tls_ca_file', t.text).execute();
    },
  },
  // Cluster mode: every node's logged-in SSH sessions (counted per user across nodes, listed and killed from any
  // node) and the partials being written (one writer per upload name across nodes).
  '0021_live_sessions': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('live_sessions')
        .addColumn('session_id', t.text, (c) => c.primaryKey())
        .addColumn('node_id', t.text, (c) => c.notNull())
        .addColumn('run_id', t.text, (c) => c.notNull())
        .addColumn('pid', t.int, (c) => c.notNull())
        .addColumn('username', t.text, (c) => c.notNull())
        .addColumn('remote_address', t.text, (c) => c.notNull())
        .addColumn('protocol', t.text, (c) => c.notNull())
        .addColumn('client', t.text)
        .addColumn('connected_at', t.text, (c) => c.notNull())
        .addColumn('bytes_up', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('bytes_down', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('files_up', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('files_down', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('kill_requested_at', t.text)
        .execute();
      await db.schema.createIndex('live_sessions_user').on('live_sessions').column('username').execute();
      await db.schema
        .createIndex('live_sessions_process')
        .on('live_sessions')
        .columns(['node_id', 'run_id', 'pid'])
        .execute();
      await db.schema
        .createTable('upload_claims')
        .addColumn('claim_key', t.text, (c) => c.primaryKey())
        .addColumn('node_id', t.text, (c) => c.notNull())
        .addColumn('run_id', t.text, (c) => c.notNull())
        .addColumn('pid', t.int, (c) => c.notNull())
        .addColumn('claimed_at', t.text, (c) => c.notNull())
        .execute();
    },
  },
  // OpenSSH certificates: trusted user CAs, revoked certificates (checked at every login, so a change takes effect
  // at once in every process) and a host certificate per host key.
  '0022_ssh_certificates': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('user_cas')
        .addColumn('id', t.int, t.identity)
        .addColumn('name', t.text, (c) => c.notNull().unique())
        .addColumn('algorithm', t.text, (c) => c.notNull())
        .addColumn('public_key', t.text, (c) => c.notNull())
        .addColumn('fingerprint', t.text, (c) => c.notNull().unique())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('cert_revocations')
        .addColumn('id', t.int, t.identity)
        .addColumn('kind', t.text, (c) => c.notNull())
        .addColumn('value', t.text, (c) => c.notNull())
        .addColumn('ca_fingerprint', t.text, (c) => c.notNull().defaultTo(''))
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addUniqueConstraint('cert_revocations_entry', ['kind', 'value', 'ca_fingerprint'])
        .execute();
      await db.schema.alterTable('host_keys').addColumn('certificate', t.text).execute();
    },
  },
  // Accounts of an external identity source (LDAP/Active Directory, src/auth/ldap/): auth_source 'ldap' (null:
  // a local account) and the directory groups recorded at the last login, a JSON array of names.
  '0023_external_users': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('users').addColumn('auth_source', t.text).execute();
      await db.schema
        .alterTable('users')
        .addColumn('external_groups', t.text, (c) => c.notNull().defaultTo('[]'))
        .execute();
    },
  },
  // Groups: defaults their members inherit (home template, permissions, protocols, networks, OpenPGP policies,
  // quota, rates) and each user's memberships (one primary, secondaries in order). Numbered 0024 by assignment.
  '0024_groups': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('groups')
        .addColumn('id', t.int, t.identity)
        .addColumn('name', t.text, (c) => c.notNull().unique())
        .addColumn('description', t.text, (c) => c.notNull().defaultTo(''))
        .addColumn('home_template', t.text)
        .addColumn('permissions', t.text, (c) => c.notNull().defaultTo('{}'))
        .addColumn('protocols', t.text, (c) => c.notNull().defaultTo('[]'))
        .addColumn('allowed_sources', t.text, (c) => c.notNull().defaultTo('[]'))
        .addColumn('pgp_policies', t.text, (c) => c.notNull().defaultTo('{}'))
        .addColumn('quota_bytes', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('quota_files', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('upload_rate', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('download_rate', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addColumn('updated_at', t.text, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('user_groups')
        .addColumn('user_id', t.int, (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('group_id', t.int, (c) => c.notNull().references('groups.id'))
        // 0: the primary group; 1, 2, ...: secondary groups in the order they were added.
        .addColumn('position', t.int, (c) => c.notNull())
        .addPrimaryKeyConstraint('user_groups_pk', ['user_id', 'group_id'])
        .execute();
      await db.schema.createIndex('user_groups_group').on('user_groups').column('group_id').execute();
    },
  },
  // Cluster mode: the node that wrote each audit record (null for CLI processes and older records).
  '0025_audit_node': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('audit_log').addColumn('node', t.text).execute();
    },
  },
  // The defender's allow and deny lists managed at run time (CLI, REST API), on top of the config's: an address or
  // a CIDR per row, read by every serving process so a change applies to the next connection on every node.
  '0026_defender_lists': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('defender_lists')
        .addColumn('list', t.text, (c) => c.notNull())
        .addColumn('cidr', t.text, (c) => c.notNull())
        .addColumn('note', t.text, (c) => c.notNull().defaultTo(''))
        .addColumn('created_by', t.text, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('defender_lists_pk', ['list', 'cidr'])
        .execute();
    },
  },
  // When each user last logged in (null: never), for disabling accounts nobody has used for inactivityDisableDays.
  '0027_last_login': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('users').addColumn('last_login_at', t.text).execute();
    },
  },
  // S3 multipart uploads left open: the parts stored so far, so any node continues an upload whose node died.
  '0028_s3_uploads': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('s3_uploads')
        .addColumn('bucket', t.text, (c) => c.notNull())
        .addColumn('key', t.text, (c) => c.notNull())
        .addColumn('upload_id', t.text, (c) => c.notNull())
        .addColumn('part_size', t.int, (c) => c.notNull())
        .addColumn('parts', t.text, (c) => c.notNull())
        .addColumn('length', t.int, (c) => c.notNull())
        .addColumn('sha256_state', t.text, (c) => c.notNull())
        .addColumn('metadata', t.text, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addColumn('updated_at', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('s3_uploads_pk', ['bucket', 'key'])
        .execute();
      await db.schema.createIndex('s3_uploads_updated').on('s3_uploads').column('updated_at').execute();
    },
  },
  // Transfer quotas: bytes a user (or a group's members) may upload, download or move in total per UTC day or
  // month, as JSON `{"upload": {"bytes": N, "period": "day"}, ...}` ('{}': none), and what each user moved per
  // UTC day (a month is the sum of its days). Numbered 0029 by assignment.
  '0029_transfer_quotas': {
    async up(db: Kysely<unknown>) {
      for (const table of ['users', 'groups']) {
        await db.schema
          .alterTable(table)
          .addColumn('transfer_quotas', t.text, (c) => c.notNull().defaultTo('{}'))
          .execute();
      }
      await db.schema
        .createTable('transfer_usage')
        .addColumn('user_id', t.int, (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('day', t.text, (c) => c.notNull())
        .addColumn('uploaded', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('downloaded', t.int, (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('transfer_usage_pk', ['user_id', 'day'])
        .execute();
    },
  },
  // Password policy: when each password was set (null: before this migration; its age counts from the account's
  // creation), whether the next login must change it, and the argon2id hashes of recent passwords (no reuse of the
  // last N). Numbered 0030 by assignment.
  '0030_password_policy': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('users').addColumn('password_changed_at', t.text).execute();
      await db.schema
        .alterTable('users')
        .addColumn('must_change_password', t.int, (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createTable('password_history')
        .addColumn('id', t.int, t.identity)
        .addColumn('user_id', t.int, (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('password_hash', t.text, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('password_history_user').on('password_history').column('user_id').execute();
    },
  },
  // Virtual folders (numbered 0031 by assignment): named directories with their own quota and usage, and their
  // mounts at a virtual path for a user or a group with the permissions that apply inside. A mount goes with its
  // user or group; a folder is removed only once nobody mounts it.
  '0031_virtual_folders': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('folders')
        .addColumn('id', t.int, t.identity)
        .addColumn('name', t.text, (c) => c.notNull().unique())
        .addColumn('path', t.text, (c) => c.notNull())
        .addColumn('description', t.text, (c) => c.notNull().defaultTo(''))
        .addColumn('quota_bytes', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('quota_files', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('used_bytes', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('used_files', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addColumn('updated_at', t.text, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('folder_mounts')
        .addColumn('id', t.int, t.identity)
        .addColumn('folder_id', t.int, (c) => c.notNull().references('folders.id'))
        // Exactly one of user_id and group_id is set.
        .addColumn('user_id', t.int, (c) => c.references('users.id').onDelete('cascade'))
        .addColumn('group_id', t.int, (c) => c.references('groups.id').onDelete('cascade'))
        .addColumn('virtual_path', t.text, (c) => c.notNull())
        .addColumn('permissions', t.text, (c) => c.notNull().defaultTo('[]'))
        .addUniqueConstraint('folder_mounts_user_path', ['user_id', 'virtual_path'])
        .addUniqueConstraint('folder_mounts_group_path', ['group_id', 'virtual_path'])
        .execute();
      await db.schema.createIndex('folder_mounts_folder').on('folder_mounts').column('folder_id').execute();
    },
  },
  // The web client's signed-in sessions: its cookie is valid only while its row is here, so an administrator ends
  // one from any node by removing the row (every request reads it), and the live session view lists them.
  '0032_web_sessions': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('web_sessions')
        .addColumn('session_id', t.text, (c) => c.primaryKey())
        .addColumn('username', t.text, (c) => c.notNull())
        .addColumn('remote_address', t.text, (c) => c.notNull())
        .addColumn('node_id', t.text)
        .addColumn('pid', t.int, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addColumn('expires_at', t.text, (c) => c.notNull())
        .addColumn('bytes_up', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('bytes_down', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('files_up', t.int, (c) => c.notNull().defaultTo(0))
        .addColumn('files_down', t.int, (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('web_sessions_expiry').on('web_sessions').column('expires_at').execute();
    },
  },
  // Transparent encrypted storage per user: 1 on, 0 off, null: the server's storage.encryption.enabled.
  '0033_user_storage_encryption': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('users').addColumn('storage_encryption', t.int).execute();
    },
  },
});

/** The migrations of one dialect: the same names, in the same order, on both. */
export function migrationProviderFor(dialect: StoreDialect): MigrationProvider {
  const migrations = migrationsFor(COLUMN_TYPES[dialect]);
  return { getMigrations: async () => migrations };
}

/** SQLite's migrations (the names are what `ferry migrate --status` lists for either dialect). */
export const migrationProvider: MigrationProvider = migrationProviderFor('sqlite');
