// Streamed OpenPGP encryption (optionally signed) and decryption with signature checks, in bounded memory.
import {
  TextDecoderStream,
  TextEncoderStream,
  type ReadableStream as WebReadableStream,
} from 'node:stream/web';
import * as openpgp from 'openpgp';
import { InvalidArgumentError } from '../errors.js';
import type { Secret } from '../util/secret.js';
import { KeyParseError } from './key-errors.js';
import { decryptFailure, GNUPG22_COMPATIBLE, readKeyObjects } from './pgp.js';
import { peek } from './pgp-streams.js';

/** Why a message was refused: each is a different thing for an operator to act on. */
export type PgpFailureReason = 'malformed' | 'not-for-us' | 'integrity' | 'unsigned' | 'bad-signature';

export class PgpMessageError extends InvalidArgumentError {
  readonly reason: PgpFailureReason;
  constructor(reason: PgpFailureReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }
}

async function oneKey(armored: string, what: string): Promise<openpgp.Key> {
  const keys = await readKeyObjects(armored);
  if (keys.length !== 1 || !keys[0])
    throw new KeyParseError('unsupported-format', `${what}: expected one key`);
  return keys[0];
}

async function privateKey(armored: Secret<string>): Promise<openpgp.PrivateKey> {
  const key = await oneKey(armored.reveal(), 'private key');
  if (!key.isPrivate() || !key.isDecrypted())
    throw new KeyParseError('public-key', 'an unprotected private OpenPGP key is needed');
  return key;
}

export interface EncryptStreamOptions {
  /** Armored public keys of the recipients. */
  readonly recipients: readonly string[];
  /** Armored private key to sign with (one-pass signature inside the encrypted message). */
  readonly signer?: Secret<string>;
  readonly armor?: boolean;
}

/**
 * Encrypts a stream as a SEIPDv1 (MDC) message GnuPG 2.2 reads, signed when a signer is given. Ciphertext is
 * produced as plaintext is pulled, so memory stays bounded by the streams' queues, not by the file.
 */
export async function encryptStream(
  input: WebReadableStream<Uint8Array>,
  options: EncryptStreamOptions,
): Promise<WebReadableStream<Uint8Array>> {
  if (options.recipients.length === 0) throw new InvalidArgumentError('at least one recipient key is needed');
  const encryptionKeys = await Promise.all(
    options.recipients.map(async (a, i) => (await oneKey(a, `recipient ${i + 1}`)).toPublic()),
  );
  const signingKeys = options.signer ? [await privateKey(options.signer)] : undefined;
  // `as never`: the openpgp stream typings resolve to a package that is not installed.
  const message = await openpgp.createMessage({ binary: input as never, format: 'binary' });
  try {
    const common = {
      message,
      encryptionKeys,
      ...(signingKeys ? { signingKeys } : {}),
      config: GNUPG22_COMPATIBLE,
    };
    if (options.armor) {
      const text = (await openpgp.encrypt({ ...common, format: 'armored' })) as unknown;
      return (text as WebReadableStream<string>).pipeThrough(new TextEncoderStream());
    }
    return (await openpgp.encrypt({
      ...common,
      format: 'binary',
    })) as unknown as WebReadableStream<Uint8Array>;
  } catch (err) {
    throw new InvalidArgumentError(
      `cannot encrypt: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
      { cause: err },
    );
  }
}

export interface DecryptStreamOptions {
  /** Unprotected armored private keys; the message's recipients pick the one that fits. */
  readonly decryptionKeys: readonly Secret<string>[];
  /** When given, the message must carry a valid signature by one of these (armored public keys). */
  readonly verificationKeys?: readonly string[];
}

export interface DecryptedStream {
  /**
   * The plaintext, released before the integrity check (so memory stays bounded): the stream errors at its
   * end when the check fails. Never publish what it yields before `done` resolved.
   */
  readonly data: WebReadableStream<Uint8Array>;
  /** After `data` was read to its end: resolves with the signer's fingerprint (when verifying), or rejects. */
  readonly done: () => Promise<{ signer?: string }>;
}

function classify(err: unknown): PgpMessageError {
  if (err instanceof PgpMessageError) return err;
  const mapped = decryptFailure(err);
  const reason: PgpFailureReason = /not encrypted to this key/.test(mapped.message)
    ? 'not-for-us'
    : /integrity/.test(mapped.message)
      ? 'integrity'
      : 'malformed';
  return new PgpMessageError(reason, mapped.message, { cause: err });
}

/** Decrypts an armored or binary message as a stream; see DecryptedStream for when its bytes may be trusted. */
export async function decryptStream(
  input: WebReadableStream<Uint8Array>,
  options: DecryptStreamOptions,
): Promise<DecryptedStream> {
  const decryptionKeys = await Promise.all(options.decryptionKeys.map(privateKey));
  const verificationKeys = options.verificationKeys
    ? await Promise.all(options.verificationKeys.map(async (a) => (await oneKey(a, 'signer')).toPublic()))
    : undefined;
  let message: openpgp.Message<never>;
  try {
    const [head, stream] = await peek(input, 64);
    message = (
      head.toString('latin1').includes('-----BEGIN PGP')
        ? await openpgp.readMessage({ armoredMessage: stream.pipeThrough(new TextDecoderStream()) as never })
        : await openpgp.readMessage({ binaryMessage: stream as never })
    ) as openpgp.Message<never>;
  } catch (err) {
    const first = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new PgpMessageError('malformed', `not an OpenPGP message: ${first}`, { cause: err });
  }
  let result: Awaited<ReturnType<typeof openpgp.decrypt>>;
  try {
    result = await openpgp.decrypt({
      message,
      decryptionKeys,
      ...(verificationKeys ? { verificationKeys } : {}),
      format: 'binary',
      // Plaintext flows before the MDC is checked; the caller writes it to a temporary file and publishes
      // it only once the stream ended cleanly (the check failing errors the stream at its end).
      config: { allowUnauthenticatedStream: true },
    });
  } catch (err) {
    throw classify(err);
  }
  const data = result.data as unknown as WebReadableStream<Uint8Array>;
  const reader = data.getReader();
  const mapped = new (data.constructor as typeof WebReadableStream<Uint8Array>)({
    async pull(controller) {
      try {
        const { value, done } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        controller.error(classify(err));
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  const done = async (): Promise<{ signer?: string }> => {
    if (!verificationKeys) return {};
    const signatures = result.signatures;
    if (signatures.length === 0) throw new PgpMessageError('unsigned', 'the message is not signed');
    for (const signature of signatures) {
      const ok = await signature.verified.catch(() => false);
      if (ok) {
        const signer = verificationKeys.find((k) => k.getKeys(signature.keyID).length > 0);
        return { signer: signer?.getFingerprint().toUpperCase() };
      }
    }
    throw new PgpMessageError('bad-signature', 'the signature is not by an expected key, or does not verify');
  };
  return { data: mapped, done };
}
