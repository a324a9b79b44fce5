// Schema migrations, in order; kysely's Migrator records which ran in its own table.
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import { sql } from './kysely.js';

const migrations: Record<string, Migration> = {
  '0001_users': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('users')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('password_hash', 'text')
        .addColumn('home_dir', 'text')
        .addColumn('required_methods', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('permissions', 'text', (c) => c.notNull().defaultTo('{"/":["*"]}'))
        .addColumn('created_at', 'text', (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP`))
        .addColumn('updated_at', 'text', (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP`))
        .execute();
      await db.schema
        .createTable('user_keys')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('algorithm', 'text', (c) => c.notNull())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('comment', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('options', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('user_keys_user_fingerprint', ['user_id', 'fingerprint'])
        .execute();
    },
  },
  '0002_keys': {
    async up(db: Kysely<unknown>) {
      for (const table of ['host_keys', 'client_keys'] as const) {
        let builder = db.schema
          .createTable(table)
          .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
          .addColumn('algorithm', 'text', (c) => c.notNull())
          .addColumn('bits', 'integer', (c) => c.notNull())
          .addColumn('public_key', 'text', (c) => c.notNull())
          .addColumn('sha256', 'text', (c) => c.notNull())
          .addColumn('md5', 'text', (c) => c.notNull())
          .addColumn('private_sealed', 'text', (c) => c.notNull())
          .addColumn('comment', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('created_at', 'text', (c) => c.notNull());
        builder =
          table === 'host_keys'
            ? builder
                .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
                .addColumn('retired_at', 'text')
            : builder.addColumn('name', 'text', (c) => c.notNull().unique());
        await builder.execute();
      }
      await db.schema
        .createTable('pgp_keys')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('fingerprint', 'text', (c) => c.notNull().unique())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('user_ids', 'text', (c) => c.notNull())
        .addColumn('algorithm', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('public_armored', 'text', (c) => c.notNull())
        .addColumn('private_sealed', 'text')
        .execute();
    },
  },
  '0003_audit': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('audit_log')
        .addColumn('seq', 'integer', (c) => c.primaryKey())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('username', 'text')
        .addColumn('session_id', 'text')
        .addColumn('address', 'text')
        .addColumn('protocol', 'text')
        .addColumn('path', 'text')
        .addColumn('target', 'text')
        .addColumn('result', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('detail', 'text', (c) => c.notNull())
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
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
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('host', 'text', (c) => c.notNull())
        .addColumn('port', 'integer', (c) => c.notNull())
        .addColumn('username', 'text', (c) => c.notNull())
        .addColumn('password_sealed', 'text')
        .addColumn('client_key', 'text')
        .addColumn('host_key_algorithm', 'text')
        .addColumn('host_key_sha256', 'text')
        .addColumn('rename_uploads', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('read_back', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('transfer_jobs')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        // A partner in use cannot be removed: jobs name it (no cascade).
        .addColumn('partner_id', 'integer', (c) => c.notNull().references('partners.id'))
        .addColumn('direction', 'text', (c) => c.notNull())
        .addColumn('remote_dir', 'text', (c) => c.notNull())
        .addColumn('local_dir', 'text', (c) => c.notNull())
        .addColumn('pattern', 'text', (c) => c.notNull().defaultTo('*'))
        .addColumn('schedule', 'text')
        .addColumn('after_action', 'text', (c) => c.notNull().defaultTo('keep'))
        .addColumn('retries', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('backoff_ms', 'integer', (c) => c.notNull().defaultTo(30_000))
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('last_scheduled_at', 'text')
        .addColumn('lock_owner', 'text')
        .addColumn('lock_until', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('transfer_runs')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('job_id', 'integer', (c) => c.notNull().references('transfer_jobs.id').onDelete('cascade'))
        .addColumn('trigger', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .addColumn('files', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('bytes', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('duration_ms', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('error', 'text')
        .execute();
      await db.schema
        .createIndex('transfer_runs_job')
        .on('transfer_runs')
        .columns(['job_id', 'id'])
        .execute();
      await db.schema
        .createTable('transfer_ledger')
        .addColumn('job_id', 'integer', (c) => c.notNull().references('transfer_jobs.id').onDelete('cascade'))
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('mtime', 'integer', (c) => c.notNull())
        .addColumn('sha256', 'text')
        .addColumn('transferred_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('transfer_ledger_pk', ['job_id', 'path'])
        .execute();
    },
  },
  '0005_security': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('users')
        .addColumn('allowed_sources', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute();
      await db.schema
        .createTable('defender_hosts')
        .addColumn('address', 'text', (c) => c.primaryKey())
        .addColumn('score', 'real', (c) => c.notNull())
        .addColumn('window_start', 'text', (c) => c.notNull())
        .addColumn('banned_until', 'text')
        .addColumn('ban_count', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_reason', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('login_failures')
        .addColumn('user_name', 'text', (c) => c.primaryKey())
        .addColumn('count', 'integer', (c) => c.notNull())
        .addColumn('window_start', 'text', (c) => c.notNull())
        .addColumn('locked_until', 'text')
        .execute();
      await db.schema
        .createTable('user_totp')
        .addColumn('user_name', 'text', (c) => c.primaryKey())
        .addColumn('secret_sealed', 'text', (c) => c.notNull())
        .addColumn('last_step', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('recovery_hashes', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  // Host keys go pending → active → retired: a new key is announced first and presented only once promoted.
  // Existing keys keep what they were (active or retired); `active` stays in step for older readers.
  '0006_host_key_states': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('host_keys')
        .addColumn('state', 'text', (c) => c.notNull().defaultTo('active'))
        .execute();
      await db.schema.alterTable('host_keys').addColumn('activated_at', 'text').execute();
      await sql`UPDATE host_keys SET state = 'retired' WHERE active = 0`.execute(db);
      await sql`UPDATE host_keys SET activated_at = created_at WHERE active = 1`.execute(db);
    },
  },
  '0007_totp_previous_rule': {
    async up(db: Kysely<unknown>) {
      // `users totp disable` restores the login rule TOTP replaced (key OR password stays key OR password).
      await db.schema.alterTable('users').addColumn('required_methods_before_totp', 'text').execute();
    },
  },
  // Rules (events, conditions and actions as JSON), a change counter every process polls, and the outbox of
  // deliveries with their attempts. Deliveries keep their rule id without a foreign key: the history of a
  // removed rule stays readable, and the worker dead-letters what is still pending for it.
  '0008_rules': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('rules')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('description', 'text')
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('events', 'text', (c) => c.notNull())
        .addColumn('conditions', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('actions', 'text', (c) => c.notNull())
        .addColumn('schedule', 'text')
        .addColumn('hook_timeout_ms', 'integer')
        .addColumn('on_hook_failure', 'text')
        .addColumn('max_attempts', 'integer')
        .addColumn('secret_sealed', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('rule_version')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
      await sql`INSERT INTO rule_version (id, version) VALUES (1, 0)`.execute(db);
      await db.schema
        .createTable('deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('rule_id', 'integer', (c) => c.notNull())
        .addColumn('action_index', 'integer', (c) => c.notNull())
        .addColumn('event_name', 'text', (c) => c.notNull())
        .addColumn('fields', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', 'text', (c) => c.notNull())
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', 'text')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
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
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('delivery_id', 'text', (c) => c.notNull().references('deliveries.id').onDelete('cascade'))
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('ok', 'integer', (c) => c.notNull())
        .addColumn('latency_ms', 'integer', (c) => c.notNull())
        .addColumn('response_code', 'integer')
        .addColumn('error', 'text')
        .addColumn('output', 'text')
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
        .addColumn('pgp_policies', 'text', (c) => c.notNull().defaultTo('{}'))
        .execute();
      // A job's OpenPGP step (encrypt before a push, decrypt after a pull): JSON, null for none.
      await db.schema.alterTable('transfer_jobs').addColumn('pgp', 'text').execute();
    },
  },
  // The REST API's administrator accounts and API keys (hashes only). Numbered 0010: 0008/0009 are the rules'.
  '0010_api': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('api_admins')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('key_hash', 'text', (c) => c.notNull().unique())
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('last_used_at', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('api_sessions')
        .addColumn('id_hash', 'text', (c) => c.primaryKey())
        .addColumn('admin_name', 'text', (c) => c.notNull().references('api_admins.name').onDelete('cascade'))
        .addColumn('csrf_token', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  // Counting rules ("5 failed logins for one user within 10 minutes"): one row per rule and counted key,
  // shared by every process. Removing a rule removes its counters.
  '0011_rule_counters': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('rule_counters')
        .addColumn('rule_id', 'integer', (c) => c.notNull().references('rules.id').onDelete('cascade'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('hits', 'text', (c) => c.notNull())
        .addColumn('last_at', 'text', (c) => c.notNull())
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
  // Disk quotas (0: none) and the usage counted against them: regular files and their bytes in the home,
  // kept incrementally while a limited user writes, rebuilt from the disk by `ferry quota scan` and at start.
  '0012_quotas': {
    async up(db: Kysely<unknown>) {
      for (const column of ['quota_bytes', 'quota_files', 'used_bytes', 'used_files']) {
        await db.schema
          .alterTable('users')
          .addColumn(column, 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
      }
    },
  },
  // Account expiry: the last day (YYYY-MM-DD, UTC) the user may log in; null: never expires.
  '0013_account_expiry': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('users').addColumn('expires_on', 'text').execute();
    },
  },
  // Bandwidth limits per user, in bytes per second; 0: none.
  '0014_bandwidth': {
    async up(db: Kysely<unknown>) {
      for (const column of ['upload_rate', 'download_rate']) {
        await db.schema
          .alterTable('users')
          .addColumn(column, 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
      }
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
