// The OpenPGP keys of a rule's encrypt and decrypt actions, checked and turned into fingerprints when it is saved.
import { InvalidArgumentError } from '../errors.js';
import type { PgpKeyManager } from '../key-manager/pgp-keys.js';
import type { RuleAction } from '../store/automation-types.js';

/**
 * `action` with every key it names (name, fingerprint or key id) as its fingerprint; a key that does not exist,
 * or a signing key without its private half, is refused with `where` in the message. Decrypting needs a key with
 * a private half, named in decryptWith. Other actions come back as they are.
 */
export async function resolvePgpKeys(
  manager: () => PgpKeyManager,
  action: RuleAction,
  where: string,
): Promise<RuleAction> {
  if (action.kind !== 'encrypt' && action.kind !== 'decrypt') return action;
  // Only now: the Key Manager opens the master key, which rules without these actions never need.
  const keys = manager();
  const fingerprint = async (ref: string, field: string, needPrivate?: string) => {
    let key: Awaited<ReturnType<PgpKeyManager['resolve']>>;
    try {
      key = await keys.resolve(ref);
    } catch (err) {
      throw new InvalidArgumentError(`${where}.${field}: ${(err as Error).message}`);
    }
    if (needPrivate && !key.privateSealed) {
      throw new InvalidArgumentError(
        `${where}.${field}: OpenPGP key ${key.name} has no private half, so Ferry cannot ${needPrivate} with it`,
      );
    }
    return key.fingerprint;
  };
  if (action.kind === 'encrypt') {
    return {
      ...action,
      encryptTo: await Promise.all(action.encryptTo.map((r) => fingerprint(r, 'encryptTo'))),
      ...(action.signWith ? { signWith: await fingerprint(action.signWith, 'signWith', 'sign') } : {}),
    };
  }
  // Without it every private key Ferry holds would be tried: a partner could have Ferry open messages meant for
  // another partner's key. The operator names the keys this rule may use.
  if (!action.decryptWith?.length) {
    throw new InvalidArgumentError(
      `${where}.decryptWith: a decrypt action must name the key(s) it decrypts with (--decrypt-with KEY)`,
    );
  }
  if (!(await keys.list()).some((k) => k.privateSealed !== null)) {
    throw new InvalidArgumentError(
      `${where}: decrypt needs an OpenPGP key with a private half (ferry keys pgp generate or import one)`,
    );
  }
  return {
    ...action,
    decryptWith: await Promise.all(action.decryptWith.map((r) => fingerprint(r, 'decryptWith', 'decrypt'))),
    ...(action.verifyWith
      ? { verifyWith: await Promise.all(action.verifyWith.map((r) => fingerprint(r, 'verifyWith'))) }
      : {}),
  };
}
