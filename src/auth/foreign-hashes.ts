// Password hashes made by other servers, kept as they were imported (`ferry users import`, e.g. from SFTPGo) so
// their users log in with the passwords they have: bcrypt (`$2a$`, `$2b$`, `$2y$`) and SFTPGo's PBKDF2
// (`$pbkdf2-sha256$<iterations>$<salt>$<base64 hash>`, the salt used as written). A login that verifies one is
// re-hashed with argon2id (auth/authenticator.ts). Their cost is bounded at import: a hash an attacker-supplied
// file makes arbitrarily expensive would turn every login attempt into a CPU burner.
import { pbkdf2, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { InvalidArgumentError } from '../errors.js';
import type { Secret } from '../util/secret.js';

const pbkdf2Async = promisify(pbkdf2);

const BCRYPT = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;
const PBKDF2 = /^\$pbkdf2-(sha1|sha256|sha512)\$(\d{1,9})\$([^$]{1,128})\$([A-Za-z0-9+/]+={0,2})$/;
const DIGEST_BYTES = { sha1: 20, sha256: 32, sha512: 64 } as const;
/** bcrypt costs up to 2^15 rounds (SFTPGo's default is 10); PBKDF2 up to 2 million iterations. */
const MAX_BCRYPT_COST = 15;
const MAX_PBKDF2_ITERATIONS = 2_000_000;
const MIN_PBKDF2_ITERATIONS = 1000;

export type ForeignScheme = 'bcrypt' | 'pbkdf2';

/** The scheme of a hash Ferry verifies but did not make, or undefined (argon2id, or not a known hash). */
export function foreignScheme(hash: string | null | undefined): ForeignScheme | undefined {
  if (!hash) return undefined;
  if (BCRYPT.test(hash)) return 'bcrypt';
  if (PBKDF2.test(hash)) return 'pbkdf2';
  return undefined;
}

/**
 * Checks an imported hash: argon2id (Ferry's own) or a supported foreign one within the cost bounds; returns it.
 * Anything else (md5crypt, sha512crypt, plain text, a cost above the bound) is refused with one line.
 */
export function checkImportedHash(hash: string, who: string): string {
  if (hash.startsWith('$argon2id$')) return hash;
  const bcrypt = BCRYPT.exec(hash);
  if (bcrypt) {
    const cost = Number(bcrypt[1]);
    if (cost < 4 || cost > MAX_BCRYPT_COST)
      throw new InvalidArgumentError(`${who}: bcrypt cost ${cost} is outside 4..${MAX_BCRYPT_COST}`);
    return hash;
  }
  const pbkdf = PBKDF2.exec(hash);
  if (pbkdf) {
    const iterations = Number(pbkdf[2]);
    if (iterations < MIN_PBKDF2_ITERATIONS || iterations > MAX_PBKDF2_ITERATIONS)
      throw new InvalidArgumentError(
        `${who}: PBKDF2 with ${iterations} iterations is outside ${MIN_PBKDF2_ITERATIONS}..${MAX_PBKDF2_ITERATIONS}`,
      );
    const digest = pbkdf[1] as keyof typeof DIGEST_BYTES;
    if (Buffer.from(pbkdf[4]!, 'base64').length !== DIGEST_BYTES[digest])
      throw new InvalidArgumentError(`${who}: the PBKDF2 hash is not a ${digest} digest`);
    return hash;
  }
  const scheme = /^\$([a-z0-9-]{1,20})\$/i.exec(hash)?.[1];
  throw new InvalidArgumentError(
    scheme
      ? `${who}: password hashes of scheme '${scheme}' are not supported (argon2id, bcrypt, pbkdf2-sha1/256/512 are)`
      : `${who}: the password is not a hash Ferry knows (argon2id, bcrypt, pbkdf2-sha1/256/512)`,
  );
}

/** Verifies `password` against a foreign hash; false for anything malformed. */
export async function verifyForeign(hash: string, password: Secret<string>): Promise<boolean> {
  const scheme = foreignScheme(hash);
  if (scheme === 'bcrypt') {
    const { default: bcrypt } = await import('bcryptjs');
    try {
      return await bcrypt.compare(password.reveal(), hash);
    } catch {
      return false;
    }
  }
  const m = scheme === 'pbkdf2' ? PBKDF2.exec(hash) : null;
  if (!m) return false;
  const digest = m[1] as keyof typeof DIGEST_BYTES;
  const iterations = Number(m[2]);
  if (iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS) return false;
  const expected = Buffer.from(m[4]!, 'base64');
  if (expected.length !== DIGEST_BYTES[digest]) return false;
  const actual = await pbkdf2Async(password.reveal(), m[3]!, iterations, expected.length, digest);
  return timingSafeEqual(actual, expected);
}
