// REST API access: administrator accounts (separate from SFTP users) and API keys, each with one role.

/** admin: everything; operator: users, partners, jobs, sessions; auditor: read-only audit, sessions, status. */
export const API_ROLES = ['admin', 'operator', 'auditor'] as const;
export type ApiRole = (typeof API_ROLES)[number];

export interface ApiAdminRecord {
  readonly name: string;
  /** argon2id PHC string. */
  readonly passwordHash: string;
  readonly role: ApiRole;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface ApiKeyRecord {
  readonly id: number;
  readonly name: string;
  readonly role: ApiRole;
  /** Hex SHA-256 of the whole key (`ferry_…`): the key itself is never stored. */
  readonly keyHash: string;
  /** The key's first characters, shown in lists so a person can tell keys apart. */
  readonly prefix: string;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
  readonly lastUsedAt: Date | null;
  /** The actor that made it (`cli:alice`, `api:deploy`). */
  readonly createdBy: string;
}

/** A console login: the cookie holds the id, the store only its SHA-256 (so a copy of the store opens nothing). */
export interface ApiSessionRecord {
  readonly idHash: string;
  readonly adminName: string;
  /** Sent back by the console in X-CSRF-Token on every change (synchronizer token, kept server-side). */
  readonly csrfToken: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

export interface ApiSessionRepository {
  add(session: ApiSessionRecord): Promise<void>;
  find(idHash: string): Promise<ApiSessionRecord | undefined>;
  remove(idHash: string): Promise<boolean>;
  /** Ends every session of an account (password changed, account removed). */
  removeForAdmin(adminName: string): Promise<number>;
  removeExpired(now: Date): Promise<number>;
}

export interface ApiAdminRepository {
  /** ERR_ALREADY_EXISTS when the name is taken. */
  add(admin: { name: string; passwordHash: string; role: ApiRole }, now?: Date): Promise<ApiAdminRecord>;
  get(name: string): Promise<ApiAdminRecord | undefined>;
  list(): Promise<ApiAdminRecord[]>;
  setPassword(name: string, passwordHash: string, now?: Date): Promise<boolean>;
  /** False when there is no such account. */
  setRole(name: string, role: ApiRole, now?: Date): Promise<boolean>;
  remove(name: string): Promise<boolean>;
}

export interface ApiKeyRepository {
  /** ERR_ALREADY_EXISTS when the name is taken. */
  add(key: Omit<ApiKeyRecord, 'id' | 'createdAt' | 'lastUsedAt'>, now?: Date): Promise<ApiKeyRecord>;
  findByHash(keyHash: string): Promise<ApiKeyRecord | undefined>;
  list(): Promise<ApiKeyRecord[]>;
  /** Records a use; at most one write per key and minute would do, so callers may skip it (see api-access.ts). */
  touch(id: number, at: Date): Promise<void>;
  remove(name: string): Promise<boolean>;
}
