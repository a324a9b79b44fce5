// Password hashing with argon2id; verification of unknown users costs the same as of known ones.
import type { Options } from '@node-rs/argon2';
import type { Secret } from '../util/secret.js';
import { foreignScheme, verifyForeign } from './foreign-hashes.js';

/** OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane. */
// `Algorithm` is an ambient const enum (unusable under verbatimModuleSyntax); 2 is its Argon2id member.
const ARGON2_OPTIONS: Options = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

/** The binding is loaded on first use: commands that hash nothing (`ferry users list`) start faster without it. */
let argon2: Promise<typeof import('@node-rs/argon2')> | undefined;
const loadArgon2 = () => {
  argon2 ??= import('@node-rs/argon2');
  return argon2;
};

/**
 * argon2id verifications this process has run: what makes a wrong password, an unknown user and a disabled one
 * cost the same (each is one), checked by a test that counts instead of timing a shared machine.
 */
let argon2Verifications = 0;
export const argon2VerificationCount = (): number => argon2Verifications;

export async function hashPassword(password: Secret<string>): Promise<string> {
  return (await loadArgon2()).hash(password.reveal(), ARGON2_OPTIONS);
}

let dummyHash: Promise<string> | undefined;

/** A hash of a random password, verified against when the user does not exist, so timing tells nothing. */
function getDummyHash(): Promise<string> {
  dummyHash ??= loadArgon2().then(({ hash }) => hash(`no-such-user-${Math.random()}`, ARGON2_OPTIONS));
  return dummyHash;
}

/** Verifies `password` against `storedHash`; a null hash (no password set) costs a full verification too. */
export async function verifyPassword(
  storedHash: string | null | undefined,
  password: Secret<string>,
): Promise<boolean> {
  // An imported hash of another server (bcrypt, PBKDF2): verified as it is; the caller re-hashes it on success.
  if (storedHash && foreignScheme(storedHash)) return verifyForeign(storedHash, password);
  const target = storedHash ?? (await getDummyHash());
  let ok: boolean;
  try {
    argon2Verifications++;
    ok = await (await loadArgon2()).verify(target, password.reveal());
  } catch {
    // A corrupt stored hash must not become a crash or an oracle: it simply does not verify.
    ok = false;
  }
  return ok && storedHash != null;
}

/** Warms the dummy hash so the first unknown-user attempt is not faster than later ones. */
export async function warmPasswordVerifier(): Promise<void> {
  await getDummyHash();
}

const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** A random password of `length` characters from an unambiguous alphabet (for generated one-time passwords). */
export function generatePassword(length = 20): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length * 2));
  let out = '';
  for (const b of bytes) {
    // Rejection sampling keeps every character equally likely.
    if (b < 256 - (256 % PASSWORD_ALPHABET.length)) out += PASSWORD_ALPHABET[b % PASSWORD_ALPHABET.length];
    if (out.length === length) break;
  }
  return out.length === length ? out : generatePassword(length);
}
