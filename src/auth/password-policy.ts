// Password policy (config `passwordPolicy`): the rules a new password must meet, no reuse of the last N, and when
// a password is too old (or flagged) so that the next login must change it.
import { InvalidArgumentError } from '../errors.js';
import type { UserRecord, UserRepository } from '../store/types.js';
import type { Secret } from '../util/secret.js';
import { hashPassword, verifyPassword } from './password.js';

export interface PasswordPolicy {
  readonly minLength: number;
  readonly minClasses: number;
  /** Estimated bits of entropy (passwordEntropyBits) a password must reach; 0: no rule. */
  readonly minEntropyBits: number;
  readonly history: number;
  readonly maxAgeDays: number;
}

export const NO_PASSWORD_POLICY: PasswordPolicy = {
  minLength: 0,
  minClasses: 0,
  minEntropyBits: 0,
  history: 0,
  maxAgeDays: 0,
};

const CLASSES: readonly RegExp[] = [/\p{Ll}/u, /\p{Lu}/u, /\p{Nd}/u, /[^\p{Ll}\p{Lu}\p{Nd}]/u];
/** Characters a guesser tries per class present: lower, upper, digits, the rest (printable ASCII punctuation and space). */
const CLASS_SIZES = [26, 26, 10, 33] as const;

/**
 * A guesser's estimate of a password's strength, in bits: (characters, a run of one repeated character counted
 * once) × log2(the sizes of the character classes it uses, added). "aaaaaaaaaaaa" is 4.7 bits, "Tr0ub4dor&3"
 * about 72, a 20-letter lower-case passphrase 94. An estimate, not a measure: it cannot see dictionary words.
 */
export function passwordEntropyBits(password: string): number {
  const chars = [...password];
  const pool = CLASSES.reduce((sum, c, i) => sum + (c.test(password) ? CLASS_SIZES[i]! : 0), 0);
  if (pool === 0) return 0;
  const counted = chars.filter((c, i) => i === 0 || c !== chars[i - 1]).length;
  return counted * Math.log2(pool);
}

/** A refusal naming the rule: one line, shown as it is by the CLI, the REST API, the console and SSH. */
export class PasswordPolicyError extends InvalidArgumentError {}

/** The first rule `password` breaks, as a sentence naming it; undefined when it meets them all. */
export function passwordRuleBroken(password: string, policy: PasswordPolicy): string | undefined {
  if ([...password].length < policy.minLength)
    return `password refused: it must have at least ${policy.minLength} characters (passwordPolicy.minLength)`;
  const classes = CLASSES.filter((c) => c.test(password)).length;
  if (classes < policy.minClasses)
    return `password refused: it must mix at least ${policy.minClasses} of lower case, upper case, digits and other characters (passwordPolicy.minClasses)`;
  if (policy.minEntropyBits > 0) {
    const bits = passwordEntropyBits(password);
    if (bits < policy.minEntropyBits)
      return `password refused: it is too easy to guess (about ${Math.floor(bits)} bits, at least ${policy.minEntropyBits} needed: make it longer or mix more kinds of characters) (passwordPolicy.minEntropyBits)`;
  }
  return undefined;
}

/**
 * Checks a new password against the rules and the user's last `history` passwords, then stores its argon2id hash,
 * records it in the history and restarts its age (a forced change is then done). Throws PasswordPolicyError.
 */
export async function changePassword(
  users: UserRepository,
  user: UserRecord,
  password: Secret<string>,
  policy: PasswordPolicy,
  now = new Date(),
): Promise<void> {
  const broken = passwordRuleBroken(password.reveal(), policy);
  if (broken) throw new PasswordPolicyError(broken);
  if (policy.history > 0) {
    // The current one counts as the first of the last N even if it was set before the history was kept.
    const recent = await users.recentPasswordHashes(user.name, policy.history);
    const hashes = [...new Set([user.passwordHash, ...recent].filter((h): h is string => h !== null))].slice(
      0,
      policy.history,
    );
    for (const hash of hashes) {
      if (await verifyPassword(hash, password))
        throw new PasswordPolicyError(
          `password refused: it is one of the last ${policy.history} passwords of ${user.name} (passwordPolicy.history)`,
        );
    }
  }
  const hash = await hashPassword(password);
  await users.update(user.name, { passwordHash: hash, passwordChangedAt: now, mustChangePassword: false });
  await users.rememberPasswordHash(user.name, hash, policy.history);
}

/** Why the user must change their password before using the account, or undefined when they need not. */
export function passwordChangeDue(
  user: Pick<UserRecord, 'mustChangePassword' | 'passwordChangedAt' | 'createdAt' | 'authSource'>,
  policy: PasswordPolicy,
  now = new Date(),
): 'flagged' | 'expired' | undefined {
  // The directory keeps a directory account's password and its rules.
  if (user.authSource) return undefined;
  if (user.mustChangePassword) return 'flagged';
  if (policy.maxAgeDays <= 0) return undefined;
  const since = user.passwordChangedAt ?? user.createdAt;
  return now.getTime() - since.getTime() > policy.maxAgeDays * 86_400_000 ? 'expired' : undefined;
}
