// Encrypting a whole stored file into another (a push job's OpenPGP step): streamed, published by rename when complete.
import { randomBytes } from 'node:crypto';
import posix from 'node:path/posix';
import { ReadableStream } from 'node:stream/web';
import type { Fs } from '../types.js';
import type { PgpKeyMaterial } from './decrypt-arrival.js';

const READ_CHUNK = 256 * 1024;

export interface EncryptFileOptions {
  /** Recipient fingerprints. */
  readonly encryptTo: readonly string[];
  readonly signWith?: string;
  readonly armor?: boolean;
}

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
  const { encryptStream } = await import('../../keys/pgp-stream-crypt.js');
  const recipients = await keys.publicKeys(options.encryptTo);
  const signer = options.signWith ? await keys.privateKey(options.signWith) : undefined;
  const temporary = posix.join(posix.dirname(to), `.ferry-part.pgp-${randomBytes(8).toString('hex')}`);
  const source = await fs.open(from, { read: true, write: false, noFollow: true });
  try {
    let position = 0;
    const plain = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const chunk = await source.read(position, READ_CHUNK);
          if (chunk.length === 0) controller.close();
          else {
            position += chunk.length;
            controller.enqueue(chunk);
          }
        },
      },
      { highWaterMark: 0 },
    );
    const cipher = await encryptStream(plain, {
      recipients,
      ...(signer ? { signer } : {}),
      ...(options.armor ? { armor: true } : {}),
    });
    const out = await fs.open(
      temporary,
      { read: false, write: true, create: true, exclusive: true, noFollow: true },
      0o600,
    );
    try {
      const reader = cipher.getReader();
      let at = 0;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        await out.write(at, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
        at += value.byteLength;
      }
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
