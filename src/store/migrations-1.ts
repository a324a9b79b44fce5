// Schema migrations 0001 to 0008 (users, keys, audit, transfers, security, host key states, TOTP, rules); forward-only: a migration that has shipped is never edited.
import type { Kysely, Migration } from 'kysely';
import { sql } from './kysely.js';
import type { ColumnTypes } from './migration-types.js';

export const migrations0001to0008 = (t: ColumnTypes): Record<string, Migration> => ({
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
});
