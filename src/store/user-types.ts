// Accounts: users, their login rule, permissions and SSH public keys, and the repository that keeps them.
import type { PermissionMap } from '../permission-vocabulary.js';
import type { PgpPolicies } from '../util/pgp-policy.js';
import type { TransferQuotas } from '../util/transfer-quota.js';

export const AUTH_METHODS = ['password', 'publickey', 'keyboard-interactive'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** The protocols a user may be limited to: SSH's three channel kinds, the web client and FTPS. */
export const PROTOCOLS = ['sftp', 'scp', 'ssh', 'https', 'ftps'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** Whether the user may use this protocol: an empty list (the default) allows every one. */
export function protocolAllowed(
  user: { readonly protocols?: readonly Protocol[] },
  protocol: Protocol,
): boolean {
  const list = user.protocols ?? [];
  return list.length === 0 || list.includes(protocol);
}

/** Where an account's password is checked: absent or null, Ferry's own hash; 'ldap', the directory. */
export const AUTH_SOURCES = ['ldap'] as const;
export type AuthSource = (typeof AUTH_SOURCES)[number];

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
  /** Per-folder OpenPGP policies; keys are referenced by fingerprint. */
  readonly pgpPolicies: PgpPolicies;
  /** Disk quota and usage; absent on records built outside the store (tests), meaning no quota. */
  readonly quota?: UserQuota;
  /** The last day (YYYY-MM-DD, UTC) the user may log in; null or absent: never expires. */
  readonly expiresOn?: string | null;
  /** The last successful login (recorded at most once an hour); null or absent: never. */
  readonly lastLoginAt?: Date | null;
  /**
   * Set by the session lookup (never stored): nobody has logged in for `inactivityDisableDays`, so every login is
   * refused as for a disabled account until an administrator enables it again.
   */
  readonly inactive?: boolean;
  /** Bytes per second each session may upload / download (0 or absent: no limit). */
  readonly uploadRate?: number;
  readonly downloadRate?: number;
  /** Bytes the user may upload / download / move in total per UTC day or month; absent kinds: no limit. */
  readonly transferQuotas?: TransferQuotas;
  /** The protocols the user may use; empty or absent: all of them. */
  readonly protocols?: readonly Protocol[];
  /** When the password was last set; null or absent: before password policies (count from createdAt). */
  readonly passwordChangedAt?: Date | null;
  /** The next password login must change the password (`users set --must-change-password`). */
  readonly mustChangePassword?: boolean;
  /** 'ldap': provisioned from the directory, which alone checks its password; absent or null: local. */
  readonly authSource?: AuthSource | null;
  /** The directory groups recorded at the last external login (empty for local accounts). */
  readonly externalGroups?: readonly string[];
  /** Encrypted storage of the user's new files: true, false, or null/absent for the server's setting. */
  readonly storageEncryption?: boolean | null;
  /**
   * Set by the session lookup (never stored on the user's row): the virtual folders mounted in the user's view,
   * their own and their groups', already merged (store/effective-user.ts).
   */
  readonly folders?: readonly MountedFolder[];
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** A virtual folder as one user's sessions mount it. */
export interface MountedFolder {
  readonly name: string;
  /** Canonical virtual path of the mount point. */
  readonly virtualPath: string;
  /** The folder's directory on the server: its root. */
  readonly root: string;
  /** 0: no limit; counted for the folder, whoever writes. */
  readonly quotaBytes: number;
  readonly quotaFiles: number;
}

/** Limits (0: none) and what counts against them: the regular files in the home and their bytes. */
export interface UserQuota {
  readonly limitBytes: number;
  readonly limitFiles: number;
  readonly usedBytes: number;
  readonly usedFiles: number;
}

export interface NewUser {
  name: string;
  passwordHash?: string | null;
  homeDir?: string | null;
  requiredMethods?: readonly AuthMethod[];
  permissions?: PermissionMap;
  allowedSources?: readonly string[];
  disabled?: boolean;
  /** Empty or absent: every protocol. */
  protocols?: readonly Protocol[];
  authSource?: AuthSource | null;
  externalGroups?: readonly string[];
}

export type UserPatch = Partial<Omit<NewUser, 'name'>> & {
  requiredMethodsBeforeTotp?: readonly AuthMethod[] | null;
  pgpPolicies?: PgpPolicies;
  /** 0 removes the limit. */
  quotaBytes?: number;
  quotaFiles?: number;
  /** YYYY-MM-DD; null: never expires. */
  expiresOn?: string | null;
  lastLoginAt?: Date | null;
  /** Bytes per second; 0 removes the limit. */
  uploadRate?: number;
  downloadRate?: number;
  /** Replaces the user's own transfer quotas ({}: none of its own). */
  transferQuotas?: TransferQuotas;
  passwordChangedAt?: Date | null;
  mustChangePassword?: boolean;
  /** Encrypted storage of the user's new files: true, false, or null for the server's setting. */
  storageEncryption?: boolean | null;
};

export interface NewPublicKey {
  algorithm: string;
  blob: Buffer;
  comment: string;
  fingerprint: string;
  options: string;
}

/** How sessions look users up: the effective record (groups' defaults filled in) in a serving process. */
export type UserLookup = Pick<UserRepository, 'findByName'>;

/** The columns users can be listed by. */
export const USER_SORT_COLUMNS = ['name', 'created', 'updated'] as const;
export type UserSortColumn = (typeof USER_SORT_COLUMNS)[number];

export interface UserPageOrder {
  readonly by: UserSortColumn;
  readonly descending: boolean;
}

/** Where a page ends: its last user's sort value (ISO time, or the name itself) and name. */
export interface UserPagePosition {
  readonly key: string;
  readonly name: string;
}

export interface UserRepository {
  create(user: NewUser): Promise<UserRecord>;
  findByName(name: string): Promise<UserRecord | undefined>;
  list(): Promise<UserRecord[]>;
  /** Up to `limit` users whose names sort after `after` (all from the first without it), by name: keyset paging. */
  page(after: string | undefined, limit: number): Promise<UserRecord[]>;
  /**
   * Up to `limit` users in `order` (the column, then the name, both descending with `descending`) after the
   * position of the previous page's last user: keyset paging under any of the sort columns.
   */
  sortedPage(order: UserPageOrder, after: UserPagePosition | undefined, limit: number): Promise<UserRecord[]>;
  /** Returns the updated record, or undefined when the user does not exist. */
  update(name: string, patch: UserPatch): Promise<UserRecord | undefined>;
  remove(name: string): Promise<boolean>;
  addPublicKey(name: string, key: NewPublicKey): Promise<UserRecord>;
  /** Removes the key with this fingerprint; false when the user has no such key. */
  removePublicKey(name: string, fingerprint: string): Promise<boolean>;
  /**
   * Adds to the user's usage in one atomic statement, shared by every process: refused (false, nothing changed)
   * when a positive amount would pass a limit. Negative amounts always apply, floored at 0. `limits` (the
   * effective ones, say a group's) replace the user's own stored limits in that check.
   */
  changeUsage(
    name: string,
    bytes: number,
    files: number,
    limits?: { readonly bytes: number; readonly files: number },
  ): Promise<boolean>;
  /** Replaces the usage (a scan of the home). */
  setUsage(name: string, bytes: number, files: number): Promise<void>;
  /** The hashes of the user's most recent passwords, newest first, at most `limit`. */
  recentPasswordHashes(name: string, limit: number): Promise<string[]>;
  /** Records a password's hash as the newest and keeps only the newest `keep` (0: none). */
  rememberPasswordHash(name: string, hash: string, keep: number): Promise<void>;
}
