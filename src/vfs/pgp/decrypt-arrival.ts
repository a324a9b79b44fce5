// An encrypted file that arrived in a decrypt folder: decrypted beside it (verified), or moved to quarantine.
import { randomBytes } from 'node:crypto';
import posix from 'node:path/posix';
import { ReadableStream } from 'node:stream/web';
import { toFerryError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import {
  DEFAULT_QUARANTINE,
  ENCRYPTED_NAME,
  type PgpDecryptPolicy,
  type PgpPolicies,
} from '../../util/pgp-policy.js';
import type { Secret } from '../../util/secret.js';
import type { Fs, FsFile } from '../types.js';

const READ_CHUNK = 256 * 1024;
/** The core's prefix for files in progress: hidden from listings and unreachable by name. */
const IN_PROGRESS_PREFIX = '.ferry-part.';

/** Key material from the Key Manager, looked up by fingerprint when a file needs it. */
export interface PgpKeyMaterial {
  /** Armored public keys for these fingerprints. */
  publicKeys(fingerprints: readonly string[]): Promise<string[]>;
  /** Unprotected armored private key of this fingerprint. */
  privateKey(fingerprint: string): Promise<Secret<string>>;
  /** Private keys that may decrypt: these fingerprints', or (none given) every key with a private half. */
  decryptionKeys(fingerprints?: readonly string[]): Promise<Secret<string>[]>;
}

/** Keys and the user's folder policies, as a session's decorator needs them. */
export interface PgpKeySource extends PgpKeyMaterial {
  /** The user's folder policies (read once per session). */
  policies(): Promise<PgpPolicies>;
}

/** What became of a file in an encrypt or decrypt folder (reported as a `pgp` event). */
export type PgpOutcome =
  | { readonly phase: 'encrypted'; readonly path: string; readonly target: string }
  | { readonly phase: 'decrypted'; readonly path: string; readonly target: string; readonly signer?: string }
  | {
      readonly phase: 'quarantined';
      readonly path: string;
      readonly target: string;
      /** malformed, not-for-us, integrity, unsigned, bad-signature, no-key (a key the policy names is gone), or io. */
      readonly reason: string;
      readonly error: string;
    };

function readStream(file: FsFile): ReadableStream<Uint8Array> {
  let position = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const chunk = await file.read(position, READ_CHUNK);
        if (chunk.length === 0) controller.close();
        else {
          position += chunk.length;
          controller.enqueue(chunk);
        }
      },
    },
    { highWaterMark: 0 },
  );
}

/** The decrypted file's name: the arrived name without .pgp/.gpg/.asc. */
export function plaintextName(path: string): string {
  const stripped = path.replace(ENCRYPTED_NAME, '');
  return posix.basename(stripped) === '' || stripped.endsWith('/') ? `${stripped}decrypted` : stripped;
}

/**
 * Decrypts `path` (on `fs`, the user's storage) into a hidden temporary file beside it, checks integrity and
 * (when the policy says so) the signature, and only then renames it to the plain name and removes the
 * ciphertext. On any failure the temporary file is removed and the ciphertext moved to the quarantine folder.
 */
export async function decryptArrival(
  fs: Fs,
  path: string,
  policy: PgpDecryptPolicy,
  keys: PgpKeyMaterial,
  log: Logger,
): Promise<PgpOutcome> {
  const target = plaintextName(path);
  const temporary = posix.join(
    posix.dirname(path),
    `${IN_PROGRESS_PREFIX}pgp-${randomBytes(8).toString('hex')}`,
  );
  let wroteTemporary = false;
  let decryptionKeys: Secret<string>[];
  let verificationKeys: string[] | undefined;
  try {
    decryptionKeys = await keys.decryptionKeys(policy.decryptWith);
    verificationKeys = policy.verifyWith ? await keys.publicKeys(policy.verifyWith) : undefined;
  } catch (err) {
    // A key removed since the policy was set: the file cannot be checked, so it is not published either.
    log.error({ err, path }, 'the OpenPGP policy of this folder names a key Ferry no longer has');
    const error = toFerryError(err).message;
    return {
      phase: 'quarantined',
      path,
      target: await quarantine(fs, path, policy, log),
      reason: 'no-key',
      error,
    };
  }
  try {
    const { decryptStream } = await import('../../keys/pgp-stream-crypt.js');
    const cipher = await fs.open(path, { read: true, write: false, noFollow: true });
    let signer: string | undefined;
    try {
      const decrypted = await decryptStream(readStream(cipher), {
        decryptionKeys,
        ...(verificationKeys ? { verificationKeys } : {}),
      });
      const out = await fs.open(
        temporary,
        { read: false, write: true, create: true, exclusive: true, noFollow: true },
        0o666,
      );
      wroteTemporary = true;
      try {
        const reader = decrypted.data.getReader();
        let position = 0;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          await out.write(position, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
          position += value.byteLength;
        }
        ({ signer } = await decrypted.done());
        await out.sync();
      } finally {
        await out.close();
      }
    } finally {
      await cipher.close();
    }
    await fs.rename(temporary, target);
    wroteTemporary = false;
    await fs.unlink(path);
    return { phase: 'decrypted', path, target, ...(signer ? { signer } : {}) };
  } catch (err) {
    if (wroteTemporary)
      await fs
        .unlink(temporary)
        .catch((e: unknown) => log.warn({ err: e, path }, 'could not remove a failed decryption'));
    const reason =
      typeof (err as { reason?: unknown }).reason === 'string' ? (err as { reason: string }).reason : 'io';
    const error = toFerryError(err).message;
    return { phase: 'quarantined', path, target: await quarantine(fs, path, policy, log), reason, error };
  }
}

/** Moves a refused file into the quarantine folder under a name no earlier file there has. */
async function quarantine(fs: Fs, path: string, policy: PgpDecryptPolicy, log: Logger): Promise<string> {
  const folder = policy.quarantine ?? DEFAULT_QUARANTINE;
  await fs.mkdir(folder, { recursive: true });
  const name = posix.basename(path);
  for (let attempt = 0; ; attempt++) {
    const target = posix.join(folder, attempt === 0 ? name : `${name}.${Date.now()}-${attempt}`);
    try {
      await fs.rename(path, target, { noReplace: true });
      return target;
    } catch (err) {
      if (toFerryError(err).code !== 'ERR_ALREADY_EXISTS' || attempt > 20) {
        log.error({ err, path }, 'could not move a refused encrypted file to quarantine');
        throw err;
      }
    }
  }
}
