// Table shapes shared by the SQLite and PostgreSQL drivers (kysely typing).
import type { Generated } from 'kysely';

export interface UsersTable {
  id: Generated<number>;
  name: string;
  password_hash: string | null;
  home_dir: string | null;
  /** JSON array of AuthMethod. */
  required_methods: string;
  disabled: number;
  /** JSON object: virtual dir → permissions. */
  permissions: string;
  created_at: string;
  updated_at: string;
}

export interface UserKeysTable {
  id: Generated<number>;
  user_id: number;
  algorithm: string;
  /** Base64 of the public key blob. */
  public_key: string;
  comment: string;
  fingerprint: string;
  options: string;
  created_at: string;
}

interface KeyPairColumns {
  id: Generated<number>;
  algorithm: string;
  bits: number;
  public_key: string;
  sha256: string;
  md5: string;
  private_sealed: string;
  comment: string;
  created_at: string;
}

export interface HostKeysTable extends KeyPairColumns {
  active: number;
  retired_at: string | null;
}

export interface ClientKeysTable extends KeyPairColumns {
  name: string;
}

export interface PgpKeysTable {
  id: Generated<number>;
  name: string;
  fingerprint: string;
  key_id: string;
  /** JSON array of user id strings. */
  user_ids: string;
  algorithm: string;
  created_at: string;
  expires_at: string | null;
  public_armored: string;
  private_sealed: string | null;
}

export interface Database {
  users: UsersTable;
  user_keys: UserKeysTable;
  host_keys: HostKeysTable;
  client_keys: ClientKeysTable;
  pgp_keys: PgpKeysTable;
}
