// Login security state: defender scores, bans and allow/deny lists, account lockout counters and TOTP secrets.

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

/** The defender's two lists: `allow` (never banned or limited per address), `deny` (always refused). */
export const DEFENDER_LISTS = ['allow', 'deny'] as const;
export type DefenderListName = (typeof DEFENDER_LISTS)[number];

/** An address or CIDR an administrator put on a list at run time (the config's entries are not stored). */
export interface DefenderListEntry {
  readonly list: DefenderListName;
  /** `192.0.2.7`, `10.0.0.0/8`, `2001:db8::/32`, as validated and normalized by the admin service. */
  readonly cidr: string;
  readonly note: string;
  /** The actor who added it (`api:deploy`, `cli:root`). */
  readonly createdBy: string;
  readonly createdAt: Date;
}

export interface DefenderListRepository {
  /** Every entry of both lists, by list then CIDR. */
  list(): Promise<DefenderListEntry[]>;
  /** False when the list already holds the CIDR (nothing changed). */
  add(entry: DefenderListEntry): Promise<boolean>;
  /** False when the list does not hold the CIDR. */
  remove(list: DefenderListName, cidr: string): Promise<boolean>;
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

/** TOTP secrets of one kind of account (SFTP users, API administrators), keyed by the account's name. */
export interface TotpRepository {
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

export interface AccountSecurityRepository extends TotpRepository {
  failures(user: string): Promise<LoginFailures | undefined>;
  recordFailure(user: string, now: Date, windowSeconds: number): Promise<LoginFailures>;
  lock(user: string, until: Date): Promise<void>;
  clearFailures(user: string): Promise<void>;
}
