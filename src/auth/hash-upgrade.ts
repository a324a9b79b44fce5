// After a login that verified an imported hash of another server (bcrypt, PBKDF2): store the password as
// argon2id, so the weaker hash is gone from the store after each user's first login.
import type { UserLookup, UserRecord, UserRepository } from '../store/types.js';
import type { Secret } from '../util/secret.js';
import { foreignScheme } from './foreign-hashes.js';
import { hashPassword } from './password.js';

export async function upgradeForeignHash(
  /** Without `update` (a read-only lookup) nothing is re-hashed: the imported hash keeps working. */
  users: UserLookup & { readonly update?: UserRepository['update'] },
  user: UserRecord,
  password: Secret<string>,
): Promise<void> {
  if (!foreignScheme(user.passwordHash) || !users.update) return;
  // Failing to re-hash must not fail a login whose password was right: the next login tries again.
  try {
    await users.update(user.name, { passwordHash: await hashPassword(password) });
  } catch {}
}
