// Repository interfaces every store driver (SQLite now, PostgreSQL for cluster mode) implements; the one file
// other modules import from store/, so each domain's records (in the files below) are re-exported here.
import type { ApiAdminRepository, ApiKeyRepository, ApiSessionRepository } from './api-types.js';
import type { AuditRepository } from './audit-types.js';
import type { DeliveryRepository, RuleCounterRepository, RuleRepository } from './automation-types.js';
import type { FolderRepository } from './folder-types.js';
import type { GroupRepository } from './group-types.js';
import type {
  CertificateRepository,
  CertRevocationRepository,
  ClientKeyRepository,
  HostKeyRepository,
  PgpKeyRepository,
  UserCaRepository,
} from './key-types.js';
import type {
  LiveSessionRepository,
  UploadClaimRepository,
  WebSessionRepository,
} from './live-session-types.js';
import type { NodeRepository } from './node-types.js';
import type { S3UploadRepository } from './s3-upload-types.js';
import type {
  AccountSecurityRepository,
  DefenderListRepository,
  DefenderRepository,
  TotpRepository,
} from './security-types.js';
import type { PartnerRepository, TransferJobRepository, TransferRunRepository } from './transfer-types.js';
import type { TransferUsageRepository } from './transfer-usage-types.js';
import type { UserRepository } from './user-types.js';

export * from './api-types.js';
export * from './audit-types.js';
export * from './automation-types.js';
export * from './folder-types.js';
export * from './group-types.js';
export * from './key-types.js';
export * from './live-session-types.js';
export * from './node-types.js';
export * from './s3-upload-types.js';
export * from './security-types.js';
export * from './transfer-types.js';
export * from './transfer-usage-types.js';
export * from './user-types.js';

export interface StoreNotifications {
  /** Calls `onMessage` with each payload sent on `channel` by any process (this one included) until unlistened. */
  listen(channel: string, onMessage: (payload: string) => void): Promise<() => Promise<void>>;
  notify(channel: string, payload: string): Promise<void>;
}

export interface Store {
  readonly defender: DefenderRepository;
  /** The defender's allow and deny entries added at run time (read by every serving process). */
  readonly defenderLists: DefenderListRepository;
  readonly accounts: AccountSecurityRepository;
  readonly users: UserRepository;
  /** Groups and each user's memberships (the defaults members inherit). */
  readonly groups: GroupRepository;
  /** Virtual folders and where they are mounted for users and groups. */
  readonly folders: FolderRepository;
  /** Bytes each user moved per day and month, against their transfer quotas (shared by every process). */
  readonly transferUsage: TransferUsageRepository;
  readonly hostKeys: HostKeyRepository;
  readonly clientKeys: ClientKeyRepository;
  readonly pgpKeys: PgpKeyRepository;
  /** X.509 certificates with sealed keys (the HTTP API's TLS). */
  readonly certificates: CertificateRepository;
  /** Trusted OpenSSH user certificate authorities. */
  readonly userCas: UserCaRepository;
  /** Revoked OpenSSH user certificates. */
  readonly certRevocations: CertRevocationRepository;
  readonly audit: AuditRepository;
  readonly partners: PartnerRepository;
  readonly transferJobs: TransferJobRepository;
  readonly transferRuns: TransferRunRepository;
  readonly rules: RuleRepository;
  readonly deliveries: DeliveryRepository;
  /** The shared counters of counting rules (`count` condition). */
  readonly ruleCounters: RuleCounterRepository;
  /** REST API administrator accounts and API keys. */
  readonly apiAdmins: ApiAdminRepository;
  readonly apiKeys: ApiKeyRepository;
  /** Console logins of administrator accounts (shared by every process). */
  readonly apiSessions: ApiSessionRepository;
  /** One-time codes of administrator accounts (SFTP users' are in `accounts`). */
  readonly apiAdminTotp: TotpRepository;
  /** The serving processes of every node, with their heartbeats (cluster mode). */
  readonly nodes: NodeRepository;
  /** Every node's logged-in SSH sessions: per-user limits, the live view and kills across nodes. */
  readonly liveSessions: LiveSessionRepository;
  /** Partials being written, one writer per upload name across nodes. */
  readonly uploadClaims: UploadClaimRepository;
  /** S3 multipart uploads left open, so any node continues one whose node died (storage backend s3). */
  readonly s3Uploads: S3UploadRepository;
  /** The web client's signed-in sessions (any node honours them; ended by removing the row). */
  readonly webSessions: WebSessionRepository;
  /**
   * Messages between the processes sharing the store, delivered within milliseconds (PostgreSQL's LISTEN/NOTIFY);
   * absent on SQLite, whose users poll the store instead. A notification only says "look now": what it is about
   * is always read from the store, so a lost one costs a poll interval, never correctness.
   */
  readonly notifications?: StoreNotifications;
  /** How many secrets of each kind are sealed with the master key (kinds with none included, as 0). */
  countSealedSecrets(): Promise<Record<string, number>>;
  close(): Promise<void>;
}
