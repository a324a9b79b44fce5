// Encrypting a whole stored file into another (a push job's OpenPGP step): streamed, published by rename when complete.
import { randomBytes } from 'node:crypto';
import posix from 'node:path/posix';
import type { Fs } from '../types.js';
import type { PgpKeyMaterial } from './decrypt-arrival.js';
import { type EncryptOptions, encryptInto } from './pgp-transform.js';

export type EncryptFileOptions = EncryptOptions;

/**
 * Writes `to` as an OpenPGP message of `from`'s content. The message is written under a temporary name beside
 * `to` and renamed when complete, so `to` is either absent or a whole message (a retry may reuse it).
 */
export async function encryptFile(
  fs: Fs,
  from: string,
  to: string,
  keys: PgpKeyMaterial,
  options: EncryptFileOptions,
): Promise<void> {
  const temporary = posix.join(posix.dirname(to), `.ferry-part.pgp-${randomBytes(8).toString('hex')}`);
  const source = await fs.open(from, { read: true, write: false, noFollow: true });
  try {
    const out = await fs.open(
      temporary,
      { read: false, write: true, create: true, exclusive: true, noFollow: true },
      0o600,
    );
    try {
      await encryptInto(source, out, keys, options);
      await out.sync();
    } finally {
      await out.close();
    }
    await fs.rename(temporary, to);
  } catch (err) {
    // The temporary file may not exist yet (a key or the source failed first); the error that matters is `err`.
    await fs.unlink(temporary).catch(() => undefined);
    throw err;
  } finally {
    await source.close();
  }
}
