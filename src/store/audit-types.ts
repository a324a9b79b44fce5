// The audit trail as stored: actions, records, the chain head, pages and prune cuts.

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
  'pgp',
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
  /**
   * The node (`ferry serve --node-id`) that wrote the record; absent for records of CLI processes and those
   * written before nodes were recorded. Absent, it is left out of the hash, so older chains verify as they did.
   */
  readonly node?: string;
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
