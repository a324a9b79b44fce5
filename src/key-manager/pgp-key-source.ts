// The keys and policies a user's OpenPGP folder decorator (vfs/pgp/) asks for, served from the Key Manager and the store.
import { FerryError } from '../errors.js';
import type { UserLookup } from '../store/types.js';
import type { PgpPolicies } from '../util/pgp-policy.js';
import type { Secret } from '../util/secret.js';
import type { PgpKeyManager } from './pgp-keys.js';

/** Matches vfs/pgp's PgpKeyMaterial (a module this one does not import). */
export interface PgpKeyMaterial {
  publicKeys(fingerprints: readonly string[]): Promise<string[]>;
  privateKey(fingerprint: string): Promise<Secret<string>>;
  decryptionKeys(fingerprints?: readonly string[]): Promise<Secret<string>[]>;
}

/** Matches vfs/pgp's PgpKeySource: the key material and one user's folder policies. */
export interface UserPgpKeys extends PgpKeyMaterial {
  policies(): Promise<PgpPolicies>;
}

/**
 * Keys are looked up when a file needs them (a key removed since the policy was set fails that upload with
 * ERR_NOT_FOUND); the master key is opened only by what needs a private half. The policies are `known` when
 * the caller read the user already (a session whose identity carries them), else read from the store.
 */
export function userPgpKeys(
  username: string,
  users: UserLookup,
  keys: () => PgpKeyManager,
  known?: PgpPolicies,
): UserPgpKeys {
  return {
    async policies() {
      return known ?? (await users.findByName(username))?.pgpPolicies ?? {};
    },
    ...pgpKeyMaterial(keys),
  };
}

/** Keys by fingerprint for OpenPGP steps (folders, jobs); the manager is made (and the master key opened) per use. */
export function pgpKeyMaterial(keys: () => PgpKeyManager): PgpKeyMaterial {
  return {
    async publicKeys(fingerprints) {
      const manager = keys();
      return Promise.all(fingerprints.map(async (fp) => (await manager.resolve(fp)).publicArmored));
    },
    async privateKey(fingerprint) {
      const manager = keys();
      return manager.privateArmoredOf(await manager.resolve(fingerprint));
    },
    async decryptionKeys(fingerprints) {
      const manager = keys();
      // Those named (the recipients of a folder, say) whose private half Ferry holds, or every such key.
      const chosen = (
        fingerprints ? await Promise.all(fingerprints.map((fp) => manager.resolve(fp))) : await manager.list()
      ).filter((k) => k.privateSealed !== null);
      if (chosen.length === 0)
        throw new FerryError('ERR_NOT_FOUND', 'no OpenPGP key with a private half to decrypt with');
      return Promise.all(chosen.map((k) => manager.privateArmoredOf(k)));
    },
  };
}
