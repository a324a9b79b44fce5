// Table shapes of the services' tables (kysely typing, both drivers): the defender, one-time codes, rules and their
// deliveries, API and web sessions, cluster nodes and their sessions, S3 uploads.
import type { Generated } from 'kysely';

export interface DefenderHostsTable {
  address: string;
  score: number;
  window_start: string;
  banned_until: string | null;
  ban_count: number;
  last_reason: string;
  updated_at: string;
}

export interface DefenderListsTable {
  list: string;
  cidr: string;
  note: string;
  created_by: string;
  created_at: string;
}

export interface LoginFailuresTable {
  user_name: string;
  count: number;
  window_start: string;
  locked_until: string | null;
}

export interface UserTotpTable {
  user_name: string;
  secret_sealed: string;
  last_step: number;
  /** JSON array of argon2id hashes. */
  recovery_hashes: string;
  created_at: string;
}

/** TOTP of REST API administrators: user_totp's columns, keyed by the account (removed with it). */
export interface ApiAdminTotpTable {
  admin_name: string;
  secret_sealed: string;
  last_step: number;
  /** JSON array of argon2id hashes. */
  recovery_hashes: string;
  created_at: string;
}

export interface RulesTable {
  id: Generated<number>;
  name: string;
  description: string | null;
  enabled: number;
  /** JSON array of rule event names. */
  events: string;
  /** JSON object: RuleConditions. */
  conditions: string;
  /** JSON array: RuleAction. */
  actions: string;
  schedule: string | null;
  hook_timeout_ms: number | null;
  on_hook_failure: string | null;
  max_attempts: number | null;
  /** The webhook secret, sealed with the master key (label 'rule-secret'). */
  secret_sealed: string | null;
  created_at: string;
  updated_at: string;
}

export interface ApiAdminsTable {
  name: string;
  password_hash: string;
  role: string;
  created_at: string;
  updated_at: string;
}

/** One row (id 1): bumped with every rule change, so processes notice changes made by others. */
export interface RuleVersionTable {
  id: number;
  version: number;
}

/** The outbox: one row per action of a matching rule per event. */
export interface DeliveriesTable {
  id: string;
  rule_id: number;
  action_index: number;
  event_name: string;
  /** JSON object of string fields. */
  fields: string;
  status: string;
  attempts: number;
  next_attempt_at: string;
  lease_owner: string | null;
  lease_until: string | null;
  last_error: string | null;
  created_at: string;
  finished_at: string | null;
}

/** The events a counting rule has counted for one key within its window (see RuleCounterRepository). */
export interface RuleCountersTable {
  rule_id: number;
  key: string;
  /** JSON array of the counted events' times (epoch milliseconds), at most the rule's threshold less one. */
  hits: string;
  /** ISO time of the newest hit: the window has passed for the whole key once this is older than it. */
  last_at: string;
}

export interface DeliveryAttemptsTable {
  id: Generated<number>;
  delivery_id: string;
  attempt: number;
  at: string;
  ok: number;
  latency_ms: number;
  response_code: number | null;
  error: string | null;
  output: string | null;
}

export interface ApiKeysTable {
  id: Generated<number>;
  name: string;
  role: string;
  key_hash: string;
  prefix: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  created_by: string;
}

export interface ApiSessionsTable {
  id_hash: string;
  admin_name: string;
  csrf_token: string;
  created_at: string;
  expires_at: string;
}

/** A signed-in web client (/files) login: listed with the live sessions, and ended by removing the row. */
export interface WebSessionsTable {
  session_id: string;
  username: string;
  remote_address: string;
  /** The node and process that signed it in (any node accepts its cookie afterwards). */
  node_id: string | null;
  pid: number;
  created_at: string;
  expires_at: string;
  bytes_up: number;
  bytes_down: number;
  files_up: number;
  files_down: number;
}

/** One serving process of a node, kept alive by its heartbeats (see NodeRepository). */
export interface NodesTable {
  node_id: string;
  run_id: string;
  pid: number;
  version: string;
  host: string;
  started_at: string;
  heartbeat_at: string;
  heartbeat_ms: number;
  /** JSON: [{ name, address, port }]. */
  listeners: string;
  sessions: number;
}

/** A logged-in SSH session of one node's process (see LiveSessionRepository). */
export interface LiveSessionsTable {
  session_id: string;
  node_id: string;
  run_id: string;
  pid: number;
  username: string;
  remote_address: string;
  protocol: string;
  client: string | null;
  connected_at: string;
  bytes_up: number;
  bytes_down: number;
  files_up: number;
  files_down: number;
  /** Set by another node's kill request; the owning process ends the connection. */
  kill_requested_at: string | null;
}

/** A partial upload being written by one node's process (see UploadClaimRepository). */
export interface UploadClaimsTable {
  claim_key: string;
  node_id: string;
  run_id: string;
  pid: number;
  claimed_at: string;
}

/** An S3 multipart upload left open for a continuation (parts, digest state and metadata as JSON text). */
export interface S3UploadsTable {
  bucket: string;
  key: string;
  upload_id: string;
  part_size: number;
  parts: string;
  length: number;
  sha256_state: string;
  metadata: string;
  created_at: string;
  updated_at: string;
}
