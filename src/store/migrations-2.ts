// Schema migrations 0009 to 0021 (OpenPGP policies, the API, rule counters, quotas, account expiry, bandwidth, protocols, nodes, certificates, live sessions); forward-only: a migration that has shipped is never edited.
import type { Kysely, Migration } from 'kysely';
import { sql } from './kysely.js';
import type { ColumnTypes } from './migration-types.js';

export const migrations0009to0021 = (t: ColumnTypes): Record<string, Migration> => ({
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
});
