// A job's OpenPGP step: encrypt each file before a push, decrypt (and verify) each encrypted file after a pull.
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { JobPgpOptions } from '../store/types.js';
import { ENCRYPTED_NAME } from '../util/pgp-policy.js';
import { decryptArrival, type PgpKeyMaterial, type PgpOutcome } from '../vfs/pgp/decrypt-arrival.js';
import { encryptFile } from '../vfs/pgp/encrypt-file.js';
import type { Fs } from '../vfs/types.js';

export type { PgpKeyMaterial } from '../vfs/pgp/decrypt-arrival.js';

/** Where a pull job's refused files go, inside its local directory. */
export const JOB_QUARANTINE = '/quarantine';

export interface PushSource {
  /** The file to send, inside the job's Fs. */
  readonly path: string;
  /** The name it gets on the partner. */
  readonly remoteName: string;
  /** Removes what was staged for the push, once it was delivered. */
  cleanup(): Promise<void>;
}

/**
 * The file a push sends: the source itself, or (with encryptTo) an OpenPGP message of it staged beside it under
 * a hidden name. A staged message newer than its source is reused, so a retried push resumes the same bytes.
 */
export async function pushSource(
  fs: Fs,
  name: string,
  pgp: JobPgpOptions | null | undefined,
  keys: PgpKeyMaterial | undefined,
): Promise<PushSource> {
  const plain = `/${name}`;
  if (!pgp?.encryptTo?.length) return { path: plain, remoteName: name, cleanup: async () => {} };
  if (!keys) throw new ConfigError('OpenPGP keys are not available to this job runner');
  const suffix = pgp.armor ? '.asc' : '.pgp';
  const staged = `/.ferry-part.${name}${suffix}`;
  const [source, existing] = await Promise.all([fs.stat(plain), fs.stat(staged).catch(() => undefined)]);
  if (!existing || existing.mtimeMs < source.mtimeMs) {
    await encryptFile(fs, plain, staged, keys, {
      encryptTo: pgp.encryptTo,
      ...(pgp.signWith ? { signWith: pgp.signWith } : {}),
      ...(pgp.armor ? { armor: true } : {}),
    });
  }
  return { path: staged, remoteName: `${name}${suffix}`, cleanup: () => fs.unlink(staged) };
}

/** After a pull: decrypts `name` when the job decrypts and the name ends in .pgp/.gpg/.asc; undefined otherwise. */
export async function decryptPulled(
  fs: Fs,
  name: string,
  pgp: JobPgpOptions | null | undefined,
  keys: PgpKeyMaterial | undefined,
  log: Logger,
): Promise<PgpOutcome | undefined> {
  if (!pgp?.decrypt || !ENCRYPTED_NAME.test(name)) return undefined;
  if (!keys) throw new ConfigError('OpenPGP keys are not available to this job runner');
  return decryptArrival(
    fs,
    `/${name}`,
    {
      mode: 'decrypt',
      quarantine: JOB_QUARANTINE,
      ...(pgp.verifyWith ? { verifyWith: pgp.verifyWith } : {}),
    },
    keys,
    log,
  );
}
