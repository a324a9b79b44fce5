// Partners, transfer jobs, their runs and the ledger of transferred files.

/** How Ferry reaches a partner: SFTP, explicit FTPS (AUTH TLS) or implicit FTPS (TLS from the first byte). */
export type PartnerProtocol = 'sftp' | 'ftps' | 'ftps-implicit';

/**
 * A remote SFTP or FTPS server Ferry logs in to; secrets sealed, its identity (SSH host key, or the TLS
 * certificate's SHA-256) pinned only after a person confirmed it.
 */
export interface PartnerRecord {
  readonly id: number;
  readonly name: string;
  readonly protocol: PartnerProtocol;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  /** MasterKey.seal output of the password (label 'partner-password'), or null. */
  readonly passwordSealed: string | null;
  /** Name of a client key in the Key Manager, or null. */
  readonly clientKey: string | null;
  /**
   * The pinned host key (`ssh-ed25519`, ...) and its SHA256 fingerprint; null until trusted. For FTPS the
   * algorithm is 'x509' and the fingerprint the certificate's SHA-256 as `AA:BB:...` (openssl's form).
   */
  readonly hostKeyAlgorithm: string | null;
  readonly hostKeySha256: string | null;
  /** FTPS: a PEM file of CA certificates that verifies the partner's certificate and host name (no pin needed). */
  readonly tlsCaFile: string | null;
  /** Uploads go to a temporary name renamed on completion (false for servers that forbid rename). */
  readonly renameUploads: boolean;
  /** Without check-file on the server, read every transferred file back to compare SHA-256. */
  readonly readBack: boolean;
  /** The SSH algorithm profile Ferry's client offers it (src/ssh-algorithms.ts); 'compat' adds NIST ECDH and ECDSA. */
  readonly algorithms: 'modern' | 'compat';
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export type NewPartner = Omit<PartnerRecord, 'id' | 'createdAt' | 'updatedAt' | 'protocol' | 'tlsCaFile'> & {
  /** Default 'sftp'. */
  readonly protocol?: PartnerProtocol;
  readonly tlsCaFile?: string | null;
};
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

/** A job's OpenPGP step; keys by fingerprint (40 hex, upper case). */
export interface JobPgpOptions {
  /** Push: each file is encrypted for these keys and sent as NAME.pgp (NAME.asc with armor). */
  readonly encryptTo?: readonly string[];
  readonly signWith?: string;
  readonly armor?: boolean;
  /** Pull: each NAME.pgp/.gpg/.asc fetched is decrypted into NAME (the ciphertext removed). */
  readonly decrypt?: boolean;
  /** Pull with decrypt: the message must carry a valid signature by one of these keys. */
  readonly verifyWith?: readonly string[];
}

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
  /** The OpenPGP step, absent or null for none. */
  readonly pgp?: JobPgpOptions | null;
  /** The last schedule slot the scheduler handled (missed-run detection after downtime). */
  readonly lastScheduledAt: Date | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export type NewTransferJob = Omit<TransferJobRecord, 'id' | 'createdAt' | 'updatedAt' | 'lastScheduledAt'>;
export type TransferJobPatch = Partial<
  Pick<TransferJobRecord, 'enabled' | 'schedule' | 'lastScheduledAt' | 'retries' | 'backoffMs' | 'pgp'>
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
  /**
   * Claims the schedule slot `slot` for the caller: sets the last handled slot to `mark` (the slot, or later to
   * cover missed ones) only while it is before `slot`. One atomic statement: of every process firing a slot,
   * exactly one gets true, however late the others fire it.
   */
  claimSlot(name: string, slot: Date, mark: Date): Promise<boolean>;
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
  /** Newest first; with `beforeId`, only runs older than that one (paging). */
  history(job: string, limit: number, beforeId?: number): Promise<TransferRunRecord[]>;
  ledger(job: string): Promise<Map<string, LedgerEntry>>;
  remember(job: string, entry: LedgerEntry): Promise<void>;
}
