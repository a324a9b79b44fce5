// Table shapes shared by the SQLite and PostgreSQL drivers (kysely typing).
import type { Generated } from 'kysely';
import type {
  ApiAdminsTable,
  ApiAdminTotpTable,
  ApiKeysTable,
  ApiSessionsTable,
  DefenderHostsTable,
  DefenderListsTable,
  DeliveriesTable,
  DeliveryAttemptsTable,
  LiveSessionsTable,
  LoginFailuresTable,
  NodesTable,
  RuleCountersTable,
  RulesTable,
  RuleVersionTable,
  S3UploadsTable,
  UploadClaimsTable,
  UserTotpTable,
  WebSessionsTable,
} from './schema-services.js';

// The services' tables are part of this module's typing too: importers name them from here.
export type * from './schema-services.js';

export interface UsersTable {
  id: Generated<number>;
  name: string;
  password_hash: string | null;
  home_dir: string | null;
  /** JSON array of AuthMethod. */
  required_methods: string;
  disabled: number;
  /** JSON object: virtual dir → permissions. */
  permissions: string;
  /** JSON array of CIDRs; empty: anywhere. */
  allowed_sources: Generated<string>;
  /** JSON array of AuthMethod: the rule before TOTP was enabled; null without TOTP. */
  required_methods_before_totp: Generated<string | null>;
  /** JSON object: virtual folder → OpenPGP policy (util/pgp-policy.ts). */
  pgp_policies: Generated<string>;
  /** Disk quota in bytes and in files; 0: none. */
  quota_bytes: Generated<number>;
  quota_files: Generated<number>;
  /** What counts against the quota (regular files in the home); only kept while a quota is set. */
  used_bytes: Generated<number>;
  used_files: Generated<number>;
  /** YYYY-MM-DD: the last day (UTC) the user may log in; null: never. */
  expires_on: Generated<string | null>;
  /** ISO time of the last successful login (kept to the hour); null: never. */
  last_login_at: Generated<string | null>;
  /** Bytes per second a session of the user may upload / download; 0: no limit. */
  upload_rate: Generated<number>;
  download_rate: Generated<number>;
  /** JSON array of Protocol; empty: all. */
  protocols: Generated<string>;
  /** 'ldap' for an account provisioned from the directory; null: a local account. */
  auth_source: Generated<string | null>;
  /** JSON object: transfer kind → { bytes, period } (util/transfer-quota.ts); '{}': none of its own. */
  transfer_quotas: Generated<string>;
  /** ISO time the password was last set; null: before password policies (its age counts from created_at). */
  password_changed_at: Generated<string | null>;
  /** 1: the next password login must change the password. */
  must_change_password: Generated<number>;
  /** JSON array of the directory groups recorded at the last external login. */
  external_groups: Generated<string>;
  /** Transparent encrypted storage of new files: 1 on, 0 off, null: the server's setting. */
  storage_encryption: Generated<number | null>;
  created_at: string;
  updated_at: string;
}

export interface GroupsTable {
  id: Generated<number>;
  name: string;
  description: Generated<string>;
  /** Absolute path with `%username%` placeholders; null: members get the default home. */
  home_template: string | null;
  /** JSON object: virtual dir → permissions (only the folders the group names). */
  permissions: Generated<string>;
  /** JSON arrays: protocols and CIDRs; empty: no default. */
  protocols: Generated<string>;
  allowed_sources: Generated<string>;
  /** JSON object: virtual folder → OpenPGP policy. */
  pgp_policies: Generated<string>;
  /** 0: no default. */
  quota_bytes: Generated<number>;
  quota_files: Generated<number>;
  upload_rate: Generated<number>;
  download_rate: Generated<number>;
  /** JSON object as users.transfer_quotas; '{}': no default. */
  transfer_quotas: Generated<string>;
  created_at: string;
  updated_at: string;
}

/** Bytes each user moved per UTC day, counted as they move (a month is the sum of its days). */
export interface TransferUsageTable {
  user_id: number;
  /** YYYY-MM-DD (UTC). */
  day: string;
  uploaded: Generated<number>;
  downloaded: Generated<number>;
}

/** The argon2id hashes of a user's recent passwords (passwordPolicy.history), newest by id. */
export interface PasswordHistoryTable {
  id: Generated<number>;
  user_id: number;
  password_hash: string;
  created_at: string;
}

export interface UserGroupsTable {
  user_id: number;
  group_id: number;
  /** 0: primary; 1, 2, ...: secondary, in order. */
  position: number;
}

export interface FoldersTable {
  id: Generated<number>;
  name: string;
  /** Absolute directory: the folder's root. */
  path: string;
  description: Generated<string>;
  /** 0: no limit. */
  quota_bytes: Generated<number>;
  quota_files: Generated<number>;
  used_bytes: Generated<number>;
  used_files: Generated<number>;
  created_at: string;
  updated_at: string;
}

export interface FolderMountsTable {
  id: Generated<number>;
  folder_id: number;
  /** Exactly one of the two is set. */
  user_id: number | null;
  group_id: number | null;
  virtual_path: string;
  /** JSON array of permissions. */
  permissions: Generated<string>;
}

export interface UserKeysTable {
  id: Generated<number>;
  user_id: number;
  algorithm: string;
  /** Base64 of the public key blob. */
  public_key: string;
  comment: string;
  fingerprint: string;
  options: string;
  created_at: string;
}

interface KeyPairColumns {
  id: Generated<number>;
  algorithm: string;
  bits: number;
  public_key: string;
  sha256: string;
  md5: string;
  private_sealed: string;
  comment: string;
  created_at: string;
}

export interface HostKeysTable extends KeyPairColumns {
  /** 1 while state is 'active' (kept for readers from before the states). */
  active: number;
  retired_at: string | null;
  state: Generated<HostKeyStateColumn>;
  activated_at: string | null;
  /** Base64 of an OpenSSH host certificate for this key (`ferry keys host cert import`), or null. */
  certificate: string | null;
}

export type HostKeyStateColumn = 'pending' | 'active' | 'retired';

export interface ClientKeysTable extends KeyPairColumns {
  name: string;
}

export interface PgpKeysTable {
  id: Generated<number>;
  name: string;
  fingerprint: string;
  key_id: string;
  /** JSON array of user id strings. */
  user_ids: string;
  algorithm: string;
  created_at: string;
  expires_at: string | null;
  public_armored: string;
  private_sealed: string | null;
}

/** Trusted user certificate authorities (OpenSSH certificates): the CA's public key blob in base64. */
export interface UserCasTable {
  id: Generated<number>;
  name: string;
  algorithm: string;
  public_key: string;
  fingerprint: string;
  created_at: string;
}

/** Revoked user certificates: by serial of one CA (its fingerprint), by key id, or by the certified key's fingerprint. */
export interface CertRevocationsTable {
  id: Generated<number>;
  kind: 'serial' | 'key-id' | 'fingerprint';
  value: string;
  /** The CA's SHA256 fingerprint for kind 'serial'; empty for the others. */
  ca_fingerprint: string;
  created_at: string;
}

/** X.509 certificates with their private keys (TLS of the HTTP API): the chain in PEM, the key sealed. */
export interface CertificatesTable {
  id: Generated<number>;
  name: string;
  algorithm: string;
  subject: string;
  issuer: string;
  alt_names: string;
  fingerprint: string;
  not_before: string;
  not_after: string;
  chain_pem: string;
  private_sealed: string;
  created_at: string;
}

/** The audit trail: an append-only hash chain; `seq` is assigned by the writer, not by the database. */
export interface AuditLogTable {
  seq: number;
  at: string;
  action: string;
  username: string | null;
  session_id: string | null;
  address: string | null;
  protocol: string | null;
  path: string | null;
  target: string | null;
  result: string;
  reason: string | null;
  /** Canonical JSON object text. */
  detail: string;
  prev_hash: string;
  hash: string;
  /** The cluster node that wrote the record (`--node-id`); null for CLI processes and records before 0025. */
  node: string | null;
}

export interface PartnersTable {
  id: Generated<number>;
  name: string;
  host: string;
  port: number;
  username: string;
  password_sealed: string | null;
  client_key: string | null;
  host_key_algorithm: string | null;
  host_key_sha256: string | null;
  rename_uploads: number;
  read_back: number;
  algorithms: string;
  protocol: Generated<string>;
  tls_ca_file: string | null;
  created_at: string;
  updated_at: string;
}

export interface TransferJobsTable {
  id: Generated<number>;
  name: string;
  partner_id: number;
  direction: string;
  remote_dir: string;
  local_dir: string;
  pattern: string;
  schedule: string | null;
  after_action: string;
  retries: number;
  backoff_ms: number;
  enabled: number;
  last_scheduled_at: string | null;
  /** The run lock: who holds it and until when (a lease, so a crashed holder does not block forever). */
  lock_owner: string | null;
  lock_until: string | null;
  /** JSON JobPgpOptions, or null: the job's OpenPGP step. */
  pgp: Generated<string | null>;
  created_at: string;
  updated_at: string;
}

export interface TransferRunsTable {
  id: Generated<number>;
  job_id: number;
  trigger: string;
  attempts: number;
  status: string;
  started_at: string;
  finished_at: string | null;
  /** JSON array of TransferRunFile. */
  files: string;
  bytes: number;
  duration_ms: number;
  error: string | null;
}

export interface TransferLedgerTable {
  job_id: number;
  path: string;
  size: number;
  mtime: number;
  sha256: string | null;
  transferred_at: string;
}

export interface Database {
  s3_uploads: S3UploadsTable;
  nodes: NodesTable;
  live_sessions: LiveSessionsTable;
  upload_claims: UploadClaimsTable;
  rules: RulesTable;
  rule_version: RuleVersionTable;
  deliveries: DeliveriesTable;
  delivery_attempts: DeliveryAttemptsTable;
  rule_counters: RuleCountersTable;
  api_admins: ApiAdminsTable;
  api_sessions: ApiSessionsTable;
  web_sessions: WebSessionsTable;
  api_admin_totp: ApiAdminTotpTable;
  api_keys: ApiKeysTable;
  defender_hosts: DefenderHostsTable;
  defender_lists: DefenderListsTable;
  login_failures: LoginFailuresTable;
  user_totp: UserTotpTable;
  users: UsersTable;
  user_keys: UserKeysTable;
  groups: GroupsTable;
  user_groups: UserGroupsTable;
  folders: FoldersTable;
  folder_mounts: FolderMountsTable;
  transfer_usage: TransferUsageTable;
  password_history: PasswordHistoryTable;
  host_keys: HostKeysTable;
  client_keys: ClientKeysTable;
  pgp_keys: PgpKeysTable;
  certificates: CertificatesTable;
  user_cas: UserCasTable;
  cert_revocations: CertRevocationsTable;
  audit_log: AuditLogTable;
  partners: PartnersTable;
  transfer_jobs: TransferJobsTable;
  transfer_runs: TransferRunsTable;
  transfer_ledger: TransferLedgerTable;
}
