// Schema migrations 0022 to 0033 (SSH certificates, external users, groups, defender lists, S3 uploads, transfer quotas, password policy, virtual folders, web sessions, storage encryption); forward-only: a migration that has shipped is never edited.
import type { Kysely, Migration } from 'kysely';
import type { ColumnTypes } from './migration-types.js';

export const migrations0022to0033 = (t: ColumnTypes): Record<string, Migration> => ({
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
