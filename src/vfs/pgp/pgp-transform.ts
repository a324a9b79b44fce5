// Encrypting or decrypting everything one file holds into another, over anything with positional reads and
// writes (a backend file for push jobs, a core file handle for rule actions). Memory stays bounded.
import { ReadableStream } from 'node:stream/web';
import type { ByteChunks } from '../../util/byte-chunks.js';
import type { PgpKeyMaterial } from './decrypt-arrival.js';

const READ_CHUNK = 256 * 1024;

export interface ByteSource {
  read(position: number, length: number): Promise<Buffer>;
}

export interface ByteSink {
  write(position: number, data: ByteChunks): Promise<void>;
}

export interface EncryptOptions {
  /** Recipient fingerprints. */
  readonly encryptTo: readonly string[];
  readonly signWith?: string;
  readonly armor?: boolean;
}

export interface DecryptOptions {
  /** Keys that may decrypt (fingerprints); none: every key with a private half. */
  readonly decryptWith?: readonly string[];
  /** When given, a valid signature by one of these (fingerprints) is required. */
  readonly verifyWith?: readonly string[];
}

function readStream(source: ByteSource): ReadableStream<Uint8Array> {
  let position = 0;
  return new ReadableStream<Uint8Array>(
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
}

async function drain(stream: ReadableStream<Uint8Array>, sink: ByteSink): Promise<number> {
  const reader = stream.getReader();
  let at = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return at;
    await sink.write(at, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    at += value.byteLength;
  }
}

/**
 * Writes an OpenPGP message of all of `source` into `sink` from 0; returns the bytes written. Unsigned binary
 * messages go through SeipdWriter (no stream stages); signed or armored ones through openpgp.js.
 */
export async function encryptInto(
  source: ByteSource,
  sink: ByteSink,
  keys: PgpKeyMaterial,
  options: EncryptOptions,
): Promise<number> {
  const recipients = await keys.publicKeys(options.encryptTo);
  if (!options.signWith && !options.armor) {
    const { SeipdWriter } = await import('../../keys/pgp-seipd-writer.js');
    const { head, writer } = await SeipdWriter.start(recipients);
    await sink.write(0, head);
    let at = head.length;
    const emit = async (pieces: Buffer[]) => {
      if (pieces.length === 0) return;
      await sink.write(at, pieces);
      for (const piece of pieces) at += piece.length;
    };
    for (let position = 0; ; ) {
      const chunk = await source.read(position, READ_CHUNK);
      if (chunk.length === 0) break;
      position += chunk.length;
      await emit(writer.push(chunk));
    }
    await emit(writer.finish());
    return at;
  }
  const { encryptStream } = await import('../../keys/pgp-stream-crypt.js');
  const signer = options.signWith ? await keys.privateKey(options.signWith) : undefined;
  const cipher = await encryptStream(readStream(source), {
    recipients,
    ...(signer ? { signer } : {}),
    ...(options.armor ? { armor: true } : {}),
  });
  return drain(cipher, sink);
}

/**
 * Decrypts all of `source` into `sink` from 0. The plaintext is written before the integrity check at the
 * message's end: on a rejection (a PgpMessageError with its reason, or an I/O error) what `sink` holds must
 * be thrown away, never published. Resolves with the signer's fingerprint when verifying.
 */
export async function decryptInto(
  source: ByteSource,
  sink: ByteSink,
  keys: PgpKeyMaterial,
  options: DecryptOptions,
): Promise<{ signer?: string }> {
  const { decryptStream } = await import('../../keys/pgp-stream-crypt.js');
  const decryptionKeys = await keys.decryptionKeys(options.decryptWith);
  const verificationKeys = options.verifyWith ? await keys.publicKeys(options.verifyWith) : undefined;
  const decrypted = await decryptStream(readStream(source), {
    decryptionKeys,
    ...(verificationKeys ? { verificationKeys } : {}),
  });
  await drain(decrypted.data, sink);
  return decrypted.done();
}
