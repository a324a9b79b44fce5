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

export interface Database {
  users: UsersTable;
  user_keys: UserKeysTable;
}
