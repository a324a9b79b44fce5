// Repository interfaces every store driver (SQLite now, PostgreSQL for cluster mode) implements.
import type { PermissionMap } from '../permission-vocabulary.js';

export const AUTH_METHODS = ['password', 'publickey', 'keyboard-interactive'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

export interface UserPublicKey {
  /** SSH key type as in authorized_keys: ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa, ... */
  readonly algorithm: string;
  /** The public key blob (RFC 4253 wire format). */
  readonly blob: Buffer;
  readonly comment: string;
  /** SHA256:... as `ssh-keygen -lf` prints it. */
  readonly fingerprint: string;
  /** authorized_keys options text as given (kept for display; honoured where Ferry supports them). */
  readonly options: string;
  readonly createdAt: Date;
}

export interface UserRecord {
  readonly id: number;
  readonly name: string;
  readonly passwordHash: string | null;
  /** Absolute home directory; null means the default `<dataDir>/homes/<name>`. */
  readonly homeDir: string | null;
  /** Empty: any one accepted method logs in. Otherwise every listed method must succeed (multi-factor). */
  readonly requiredMethods: readonly AuthMethod[];
  readonly disabled: boolean;
  readonly permissions: PermissionMap;
  /** CIDRs the user may log in from; empty means anywhere. */
  readonly allowedSources: readonly string[];
  /** The login rule `users totp enable` replaced, restored by `users totp disable`; null without TOTP. */
  readonly requiredMethodsBeforeTotp?: readonly AuthMethod[] | null;
  readonly publicKeys: readonly UserPublicKey[];
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface NewUser {
  name: string;
  passwordHash?: string | null;
  homeDir?: string | null;
  requiredMethods?: readonly AuthMethod[];
  permissions?: PermissionMap;
  allowedSources?: readonly string[];
  disabled?: boolean;
}

export type UserPatch = Partial<Omit<NewUser, 'name'>> & {
  requiredMethodsBeforeTotp?: readonly AuthMethod[] | null;
};

export interface NewPublicKey {
  algorithm: string;
  blob: Buffer;
  comment: string;
  fingerprint: string;
  options: string;
}

export interface UserRepository {
  create(user: NewUser): Promise<UserRecord>;
  findByName(name: string): Promise<UserRecord | undefined>;
  list(): Promise<UserRecord[]>;
  /** Returns the updated record, or undefined when the user does not exist. */
  update(name: string, patch: UserPatch): Promise<UserRecord | undefined>;
  remove(name: string): Promise<boolean>;
  addPublicKey(name: string, key: NewPublicKey): Promise<UserRecord>;
  /** Removes the key with this fingerprint; false when the user has no such key. */
  removePublicKey(name: string, fingerprint: string): Promise<boolean>;
}

/** An SSH key pair Ferry holds (host key or client key); the private half is sealed with the master key. */
export interface StoredKeyPair {
  readonly id: number;
  readonly algorithm: string;
  readonly bits: number;
  /** Public key blob (wire format). */
  readonly publicBlob: Buffer;
  readonly sha256: string;
  readonly md5: string;
  /** MasterKey.seal output of the private key (PKCS#8 DER or OpenSSH text, as keys/ defines). */
  readonly privateSealed: string;
  readonly comment: string;
  readonly createdAt: Date;
}

/** pending: announced to clients, not presented; active: presented (the earliest promoted of its type); retired: neither. */
export type HostKeyState = 'pending' | 'active' | 'retired';

export interface HostKeyRecord extends StoredKeyPair {
  readonly state: HostKeyState;
  /** state === 'active'. */
  readonly active: boolean;
  /** When the key was promoted (or created active); null while pending. */
  readonly activatedAt: Date | null;
  readonly retiredAt: Date | null;
}

export interface ClientKeyRecord extends StoredKeyPair {
  readonly name: string;
}

export type NewKeyPair = Omit<StoredKeyPair, 'id' | 'createdAt'>;

export interface HostKeyRepository {
  /** All host keys, oldest first (retired ones included). */
  list(): Promise<HostKeyRecord[]>;
  add(key: NewKeyPair, state: 'pending' | 'active'): Promise<HostKeyRecord>;
  /** pending → active. False when no pending key has this id (so concurrent promoters promote once). */
  promote(id: number): Promise<boolean>;
  /** pending or active → retired: servers stop presenting and announcing it. False when none has this id. */
  retire(id: number): Promise<boolean>;
}

export interface ClientKeyRepository {
  list(): Promise<ClientKeyRecord[]>;
  get(name: string): Promise<ClientKeyRecord | undefined>;
  add(name: string, key: NewKeyPair): Promise<ClientKeyRecord>;
  remove(name: string): Promise<boolean>;
}

export interface PgpKeyRecord {
  readonly id: number;
  readonly name: string;
  readonly fingerprint: string;
  readonly keyId: string;
  readonly userIds: readonly string[];
  readonly algorithm: string;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
  readonly publicArmored: string;
  /** Sealed armored private key, or null for a public-only key. */
  readonly privateSealed: string | null;
}

export type NewPgpKey = Omit<PgpKeyRecord, 'id'>;

export interface PgpKeyRepository {
  list(): Promise<PgpKeyRecord[]>;
  get(name: string): Promise<PgpKeyRecord | undefined>;
  add(key: NewPgpKey): Promise<PgpKeyRecord>;
  remove(name: string): Promise<boolean>;
}

/** What an audit record is about (the `action` column). */
export const AUDIT_ACTIONS = [
  'connect',
  'auth',
  'disconnect',
  'upload',
  'download',
  'delete',
  'rename',
  'mkdir',
  'rmdir',
  'setstat',
  'symlink',
  'link',
  'copy',
  'checksum',
  'admin',
  'security',
  'checkpoint',
  'prune',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/**
 * One record of the audit trail exactly as stored; audit/ defines how `hash` covers every other field.
 * Read back from a store, values are whatever the row holds (verification is audit/'s job, not the store's).
 */
export interface AuditRecord {
  readonly seq: number;
  /** ISO 8601 UTC with milliseconds (Date#toISOString). */
  readonly at: string;
  readonly action: AuditAction;
  readonly user: string | null;
  readonly sessionId: string | null;
  readonly address: string | null;
  readonly protocol: string | null;
  readonly path: string | null;
  readonly target: string | null;
  readonly result: string;
  readonly reason: string | null;
  /** Canonical JSON text of the record's details (kept as text so every stored byte is hashed). */
  readonly detail: string;
  readonly prevHash: string;
  readonly hash: string;
}

export interface AuditChainHead {
  readonly seq: number;
  readonly hash: string;
  /** The newest checkpoint record's seq, when the chain holds one (read in the same transaction). */
  readonly lastCheckpointSeq?: number;
}

/** A filtered slice of the trail in seq order; `afterSeq` is the keyset cursor for paging. */
export interface AuditPageQuery {
  readonly afterSeq?: number;
  readonly throughSeq?: number;
  readonly user?: string;
  readonly actions?: readonly AuditAction[];
  /** ISO timestamp, inclusive. */
  readonly since?: string;
  /** ISO timestamp, exclusive. */
  readonly until?: string;
  readonly limit: number;
}

/** Where a retention prune cut the chain: the first kept seq and the hash it must link to. */
export interface AuditCut {
  readonly firstKeptSeq: number;
  readonly prevHash: string;
  readonly deleted: number;
}

export interface AuditRepository {
  /**
   * Reads the chain head and inserts what `build` returns in ONE write transaction that excludes every
   * other writer, in this process or another, so two writers can never fork the chain. `build` must be
   * synchronous and may be called again if the transaction is retried.
   */
  append(build: (head: AuditChainHead | undefined) => AuditRecord[]): Promise<AuditRecord[]>;
  page(query: AuditPageQuery): Promise<AuditRecord[]>;
  /** The newest `count` records, oldest first. */
  tail(count: number): Promise<AuditRecord[]>;
  /** The newest record with this action, e.g. the latest retention record. */
  latest(action: AuditAction): Promise<AuditRecord | undefined>;
  /** First and last seq of the records with `since <= at < until` (either bound optional). */
  seqRange(since?: string, until?: string): Promise<{ first: number; last: number } | undefined>;
  /**
   * In one write transaction: deletes every record up to the newest one older than `before`, then
   * inserts what `build` returns (the retention record). Returns undefined, calling nothing, when no
   * record is older than `before`.
   */
  prune(
    before: string,
    build: (cut: AuditCut, head: AuditChainHead) => AuditRecord[],
  ): Promise<{ cut: AuditCut; records: AuditRecord[] } | undefined>;
}

/** A remote SFTP server Ferry logs in to; secrets sealed, host key pinned only after a person confirmed it. */
export interface PartnerRecord {
  readonly id: number;
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  /** MasterKey.seal output of the password (label 'partner-password'), or null. */
  readonly passwordSealed: string | null;
  /** Name of a client key in the Key Manager, or null. */
  readonly clientKey: string | null;
  /** The pinned host key (`ssh-ed25519`, ...) and its SHA256 fingerprint; null until trusted. */
  readonly hostKeyAlgorithm: string | null;
  readonly hostKeySha256: string | null;
  /** Uploads go to a temporary name renamed on completion (false for servers that forbid rename). */
  readonly renameUploads: boolean;
  /** Without check-file on the server, read every transferred file back to compare SHA-256. */
  readonly readBack: boolean;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export type NewPartner = Omit<PartnerRecord, 'id' | 'createdAt' | 'updatedAt'>;
export type PartnerPatch = Partial<Omit<NewPartner, 'name'>>;

export interface PartnerRepository {
  create(partner: NewPartner): Promise<PartnerRecord>;
  get(name: string): Promise<PartnerRecord | undefined>;
  list(): Promise<PartnerRecord[]>;
  update(name: string, patch: PartnerPatch): Promise<PartnerRecord | undefined>;
  /** False when no such partner; ERR_INVALID_ARGUMENT while a job uses it. */
  remove(name: string): Promise<boolean>;
}

export type TransferDirection = 'pull' | 'push';

export interface TransferJobRecord {
  readonly id: number;
  readonly name: string;
  readonly partner: string;
  readonly direction: TransferDirection;
  readonly remoteDir: string;
  readonly localDir: string;
  /** Comma-separated glob patterns matched against file names ('*' when empty). */
  readonly pattern: string;
  /** Cron expression (croner: 5 or 6 fields), or null for a job run only by hand. */
  readonly schedule: string | null;
  /** What happens to a source file once transferred: 'keep' (ledger), 'delete' or 'move:DIR'. */
  readonly after: string;
  readonly retries: number;
  readonly backoffMs: number;
  readonly enabled: boolean;
  /** The last schedule slot the scheduler handled (missed-run detection after downtime). */
  readonly lastScheduledAt: Date | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export type NewTransferJob = Omit<TransferJobRecord, 'id' | 'createdAt' | 'updatedAt' | 'lastScheduledAt'>;
export type TransferJobPatch = Partial<
  Pick<TransferJobRecord, 'enabled' | 'schedule' | 'lastScheduledAt' | 'retries' | 'backoffMs'>
>;

export interface TransferJobRepository {
  /** ERR_NOT_FOUND when the partner does not exist; ERR_ALREADY_EXISTS for a duplicate name. */
  create(job: NewTransferJob): Promise<TransferJobRecord>;
  get(name: string): Promise<TransferJobRecord | undefined>;
  list(): Promise<TransferJobRecord[]>;
  update(name: string, patch: TransferJobPatch): Promise<TransferJobRecord | undefined>;
  remove(name: string): Promise<boolean>;
  /**
   * Takes the job's run lock for `owner` until `until` when it is free or its lease ran out (a crashed
   * process); one atomic statement, so two processes can never both hold it. False when held.
   */
  acquireLock(name: string, owner: string, until: Date, now: Date): Promise<boolean>;
  /** Extends a held lease; false when `owner` no longer holds it. */
  renewLock(name: string, owner: string, until: Date): Promise<boolean>;
  releaseLock(name: string, owner: string): Promise<void>;
}

export type TransferRunStatus = 'running' | 'ok' | 'failed';

export interface TransferRunFile {
  readonly path: string;
  readonly bytes: number;
  readonly resumedFrom: number;
  readonly sha256: string | null;
  /** How integrity was established: 'size', 'check-file' or 'read-back'. */
  readonly verified: string;
  readonly durationMs: number;
}

export interface TransferRunRecord {
  readonly id: number;
  readonly job: string;
  /** 'manual', 'schedule' or 'catch-up' (a run missed while Ferry was down). */
  readonly trigger: string;
  readonly attempts: number;
  readonly status: TransferRunStatus;
  readonly startedAt: Date;
  readonly finishedAt: Date | null;
  readonly files: readonly TransferRunFile[];
  readonly bytes: number;
  readonly durationMs: number;
  readonly error: string | null;
}

export interface TransferRunResult {
  readonly status: Exclude<TransferRunStatus, 'running'>;
  readonly attempts: number;
  readonly files: readonly TransferRunFile[];
  readonly bytes: number;
  readonly durationMs: number;
  readonly error: string | null;
}

/** What the ledger remembers of a transferred source file, so it is not transferred again. */
export interface LedgerEntry {
  readonly path: string;
  readonly size: number;
  /** Modification time in whole seconds (SFTP v3 precision). */
  readonly mtime: number;
  readonly sha256: string | null;
}

export interface TransferRunRepository {
  start(job: string, trigger: string, at: Date): Promise<TransferRunRecord>;
  finish(id: number, result: TransferRunResult, at: Date): Promise<void>;
  /** Newest first. */
  history(job: string, limit: number): Promise<TransferRunRecord[]>;
  ledger(job: string): Promise<Map<string, LedgerEntry>>;
  remember(job: string, entry: LedgerEntry): Promise<void>;
}

/** A remote address's standing with the defender. */
export interface DefenderHost {
  readonly address: string;
  readonly score: number;
  readonly windowStart: Date;
  readonly bannedUntil: Date | null;
  /** How many times the address was banned: each ban lasts longer. */
  readonly banCount: number;
  readonly lastReason: string;
  readonly updatedAt: Date;
}

export interface DefenderRepository {
  /**
   * Adds `points` to the address's score (restarting the window when it has passed) and returns the row.
   * Atomic per statement, so several processes may score the same address.
   */
  score(
    address: string,
    points: number,
    reason: string,
    now: Date,
    windowSeconds: number,
  ): Promise<DefenderHost>;
  /** Bans the address until `until` unless it already is; false when another writer banned it first. */
  ban(address: string, until: Date, expectedBanCount: number): Promise<boolean>;
  get(address: string): Promise<DefenderHost | undefined>;
  list(): Promise<DefenderHost[]>;
  /** Lifts a ban and clears the score; false when the address is unknown. */
  unban(address: string): Promise<boolean>;
}

/** Failed logins of one account in the current window (account lockout). */
export interface LoginFailures {
  readonly count: number;
  readonly windowStart: Date;
  readonly lockedUntil: Date | null;
}

export interface TotpRecord {
  /** The base32 secret, sealed with the master key. */
  readonly secretSealed: string;
  /** The last time step a code was accepted for: a code is never accepted twice. */
  readonly lastStep: number;
  /** argon2id hashes of the unused recovery codes. */
  readonly recoveryHashes: readonly string[];
  readonly createdAt: Date;
}

export interface AccountSecurityRepository {
  failures(user: string): Promise<LoginFailures | undefined>;
  recordFailure(user: string, now: Date, windowSeconds: number): Promise<LoginFailures>;
  lock(user: string, until: Date): Promise<void>;
  clearFailures(user: string): Promise<void>;
  getTotp(user: string): Promise<TotpRecord | undefined>;
  setTotp(user: string, totp: { secretSealed: string; recoveryHashes: readonly string[] }): Promise<void>;
  removeTotp(user: string): Promise<boolean>;
  /**
   * Moves lastStep forward to `step` only if it is greater, in one conditional UPDATE: false means the code (or a
   * later one) was already used, also when several logins present it at the same moment.
   */
  advanceTotpStep(user: string, step: number): Promise<boolean>;
  /**
   * Compare-and-set of the unused recovery hashes: replaced by `next` only if they still are `expected`, in one
   * conditional UPDATE. False means another login changed them first (or TOTP was removed or re-enrolled).
   */
  replaceRecoveryHashes(user: string, expected: readonly string[], next: readonly string[]): Promise<boolean>;
}

export interface Store {
  readonly defender: DefenderRepository;
  readonly accounts: AccountSecurityRepository;
  readonly users: UserRepository;
  readonly hostKeys: HostKeyRepository;
  readonly clientKeys: ClientKeyRepository;
  readonly pgpKeys: PgpKeyRepository;
  readonly audit: AuditRepository;
  readonly partners: PartnerRepository;
  readonly transferJobs: TransferJobRepository;
  readonly transferRuns: TransferRunRepository;
  /** How many secrets of each kind are sealed with the master key (kinds with none included, as 0). */
  countSealedSecrets(): Promise<Record<string, number>>;
  close(): Promise<void>;
}
