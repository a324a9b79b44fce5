// Repository interfaces every store driver (SQLite now, PostgreSQL for cluster mode) implements.
import type { PermissionMap } from '../core/types.js';

export const AUTH_METHODS = ['password', 'publickey'] as const;
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
  disabled?: boolean;
}

export type UserPatch = Partial<Omit<NewUser, 'name'>>;

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

export interface HostKeyRecord extends StoredKeyPair {
  readonly active: boolean;
  readonly retiredAt: Date | null;
}

export interface ClientKeyRecord extends StoredKeyPair {
  readonly name: string;
}

export type NewKeyPair = Omit<StoredKeyPair, 'id' | 'createdAt'>;

export interface HostKeyRepository {
  /** All host keys, oldest first (retired ones included). */
  list(): Promise<HostKeyRecord[]>;
  add(key: NewKeyPair): Promise<HostKeyRecord>;
  /** Marks a key retired: servers stop presenting it. False when no active key has this id. */
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

export interface Store {
  readonly users: UserRepository;
  readonly hostKeys: HostKeyRepository;
  readonly clientKeys: ClientKeyRepository;
  readonly pgpKeys: PgpKeyRepository;
  close(): Promise<void>;
}
