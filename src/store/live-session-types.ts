// Cluster mode's shared view of logged-in SSH sessions and of partials being written, each row owned by one process.

/** The serving process a row belongs to (a node's id, its run and the process id, as in the node registry). */
export interface ProcessRef {
  readonly nodeId: string;
  readonly runId: string;
  readonly pid: number;
}

/** A logged-in session as every node sees it. */
export interface SharedSession extends ProcessRef {
  readonly id: string;
  readonly username: string;
  readonly remoteAddress: string;
  readonly protocol: string;
  readonly client: string | null;
  readonly connectedAt: Date;
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly filesUp: number;
  readonly filesDown: number;
  /** When another node asked for it to be ended; undefined while nobody has. */
  readonly killRequestedAt?: Date | undefined;
}

/** A session's counters, as its process last published them. */
export type SessionCounters = Pick<
  SharedSession,
  'id' | 'protocol' | 'bytesUp' | 'bytesDown' | 'filesUp' | 'filesDown'
>;

/** Why a session was refused: the user's sessions open on every live node, this one not counted. */
export interface SessionRefusal {
  readonly open: number;
}

/**
 * The sessions of every node. Rows of a process that is no longer live (its node-registry row gone, or silent for
 * MISSED_HEARTBEATS of its own heartbeat interval) do not count and are swept away, so nobody needs to clean up
 * after a crashed node. A process's own rows count from the start, before its registration.
 */
export interface LiveSessionRepository {
  /**
   * Records a session unless its user already has `limit` sessions on live processes; then nothing is stored and
   * the count is returned. Counting and inserting are one write transaction, so two nodes admitting the same
   * user at once cannot both take the last place.
   */
  open(session: SharedSession, limit: number, now: Date): Promise<SessionRefusal | undefined>;
  /** Publishes the counters of a process' sessions (unchanged ones need not be given). */
  update(counters: readonly SessionCounters[]): Promise<void>;
  /** Removes a session (it ended). */
  close(id: string): Promise<void>;
  /** The sessions of live processes, oldest first. */
  list(now: Date): Promise<SharedSession[]>;
  /** One session of a live process, or undefined. */
  get(id: string, now: Date): Promise<SharedSession | undefined>;
  /** Whether the session's row is still there, its process live or not (a kill waits for it to go). */
  exists(id: string): Promise<boolean>;
  /** Marks a session for its process to end; false when no such session exists. */
  requestKill(id: string, now: Date): Promise<boolean>;
  /** The sessions of this process that another asked to end. */
  killRequests(owner: ProcessRef): Promise<string[]>;
  /**
   * Removes every row of processes silent for SWEEP_AFTER_HEARTBEATS (long after they stopped counting), and of
   * `owner` (at its start and its clean stop).
   */
  sweep(now: Date, owner?: ProcessRef): Promise<void>;
}

/** Who holds a partial: another live process, or nobody (the claim was taken). */
export interface UploadClaimRepository {
  /**
   * Claims `key` for `owner` unless a live process (other than `owner` itself) holds it; a claim of a dead process
   * is taken over. Returns the live holder when refused.
   */
  claim(key: string, owner: ProcessRef, now: Date): Promise<ProcessRef | undefined>;
  /** Gives a claim back (only the owner's). */
  release(key: string, owner: ProcessRef): Promise<void>;
  /** Removes the claims of processes silent for SWEEP_AFTER_HEARTBEATS, and all of `owner`'s (start, clean stop). */
  sweep(now: Date, owner?: ProcessRef): Promise<void>;
}

/** A signed-in web client login (its cookie works only while its row exists and has not expired). */
export interface WebSessionRecord {
  readonly id: string;
  readonly username: string;
  readonly remoteAddress: string;
  /** The node that signed it in (null outside cluster mode's registry) and its process. */
  readonly nodeId: string | null;
  readonly pid: number;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly filesUp: number;
  readonly filesDown: number;
}

/** What one transfer adds to its web session's counters. */
export type WebSessionTraffic = Pick<WebSessionRecord, 'bytesUp' | 'bytesDown' | 'filesUp' | 'filesDown'>;

/**
 * The web client's logins, shared by every process and node: the cookie is checked against its row on each
 * request, so removing the row (sign-out, an administrator's kill on any node) ends the session everywhere at once.
 */
export interface WebSessionRepository {
  open(session: WebSessionRecord): Promise<void>;
  /** The session while its row exists and has not expired. */
  get(id: string, now: Date): Promise<WebSessionRecord | undefined>;
  /** Adds a transfer's bytes and files to the counters (a session already ended is left alone). */
  addTraffic(id: string, traffic: WebSessionTraffic): Promise<void>;
  /** Ends a session: the removed row (expired or not), or undefined when there was none. */
  close(id: string): Promise<WebSessionRecord | undefined>;
  /** Unexpired sessions, oldest first. */
  list(now: Date): Promise<WebSessionRecord[]>;
  removeExpired(now: Date): Promise<number>;
}
