// OpenPGP keys and messages with openpgp v6, kept to what GnuPG 2.2 reads: v4 keys, SEIPDv1 (MDC) messages, iterated S2K.
import {
  TextDecoderStream,
  TextEncoderStream,
  type ReadableStream as WebReadableStream,
} from 'node:stream/web';
import * as openpgp from 'openpgp';
import { InvalidArgumentError } from '../errors.js';
import { Secret } from '../util/secret.js';
import { KeyParseError, PASSPHRASE_REQUIRED, WRONG_PASSPHRASE } from './key-errors.js';
import { fromWeb, mapStreamErrors, type PgpData, peek, type Same, toWeb } from './pgp-streams.js';

export type { PgpData } from './pgp-streams.js';

/**
 * Settings for everything written here. GnuPG 2.2 (Debian 12) reads neither v6 keys, SEIPDv2/AEAD messages nor
 * Argon2 S2K, so all three are pinned off even if openpgp's defaults change.
 */
export const GNUPG22_COMPATIBLE: openpgp.PartialConfig = {
  v6Keys: false,
  aeadProtect: false,
  s2kType: openpgp.enums.s2k.iterated,
  preferredSymmetricAlgorithm: openpgp.enums.symmetric.aes256,
  preferredCompressionAlgorithm: openpgp.enums.compression.uncompressed,
};

export type PgpKeyType = 'curve25519' | 'rsa4096';

export interface PgpSubkeyInfo {
  readonly fingerprint: string;
  readonly keyId: string;
  readonly algorithm: string;
  readonly created: Date;
  readonly expires: Date | null;
}

export interface PgpKeyInfo {
  /** 40 upper-case hex digits, as `gpg --with-colons` prints it. */
  readonly fingerprint: string;
  /** Long key id: the last 16 hex digits of the fingerprint. */
  readonly keyId: string;
  /** `Name <email>` strings. */
  readonly userIds: readonly string[];
  /** GnuPG's name for the primary key algorithm: `ed25519`, `rsa4096`, ... */
  readonly algorithm: string;
  readonly created: Date;
  /** When the primary key expires; null when it never does. */
  readonly expires: Date | null;
  readonly subkeys: readonly PgpSubkeyInfo[];
  readonly publicArmored: string;
}

export interface GeneratedPgpKey extends PgpKeyInfo {
  /** Armored private key, protected with the passphrase when one was given. */
  readonly privateArmored: Secret<string>;
}

export interface ReadPgpKeyResult extends PgpKeyInfo {
  readonly hasPrivate: boolean;
  /**
   * The armored private key (null for a public key). Decrypted (unprotected) when the passphrase was given,
   * so it can be sealed with the master key and used unattended; otherwise exactly as imported.
   */
  readonly privateArmored: Secret<string> | null;
  /** False for a private key that is still passphrase-protected. */
  readonly decrypted: boolean;
}

export interface GeneratePgpKeyOptions {
  readonly name: string;
  readonly email: string;
  readonly type?: PgpKeyType;
  readonly passphrase?: Secret<string>;
  /** Days until the key expires; omitted or 0 means never. */
  readonly expiresInDays?: number;
}

function gnupgAlgorithmName(info: openpgp.AlgorithmInfo): string {
  const curveNames: Record<string, string> = {
    ed25519Legacy: 'ed25519',
    curve25519Legacy: 'cv25519',
    nistP256: 'nistp256',
    nistP384: 'nistp384',
    nistP521: 'nistp521',
  };
  if (info.curve) return curveNames[info.curve] ?? info.curve;
  if (info.algorithm === 'ed25519' || info.algorithm === 'x25519')
    return info.algorithm === 'x25519' ? 'cv25519' : 'ed25519';
  if (info.algorithm.startsWith('rsa')) return `rsa${info.bits ?? ''}`;
  if (info.algorithm === 'dsa' || info.algorithm === 'elgamal') return `${info.algorithm}${info.bits ?? ''}`;
  return info.algorithm;
}

function expiryOf(value: Date | number | null): Date | null {
  return value instanceof Date ? value : null;
}

async function describeKeyObject(key: openpgp.Key): Promise<PgpKeyInfo> {
  const fingerprint = key.getFingerprint().toUpperCase();
  const subkeys = await Promise.all(
    key.getSubkeys().map(async (s) => ({
      fingerprint: s.getFingerprint().toUpperCase(),
      keyId: s.getKeyID().toHex().toUpperCase(),
      algorithm: gnupgAlgorithmName(s.getAlgorithmInfo()),
      created: s.getCreationTime(),
      expires: expiryOf(await s.getExpirationTime().catch(() => null)),
    })),
  );
  return {
    fingerprint,
    keyId: key.getKeyID().toHex().toUpperCase(),
    userIds: key.getUserIDs(),
    algorithm: gnupgAlgorithmName(key.getAlgorithmInfo()),
    created: key.getCreationTime(),
    // A key without a valid self-signature has no computable expiry; report it as unknown (null) rather than fail.
    expires: expiryOf(await key.getExpirationTime().catch(() => null)),
    subkeys,
    publicArmored: key.toPublic().armor(),
  };
}

/** Generates a v4 OpenPGP key GnuPG 2.2 imports: ed25519 + cv25519 subkey (default) or RSA-4096 + RSA-4096 subkey. */
export async function generatePgpKey(options: GeneratePgpKeyOptions): Promise<GeneratedPgpKey> {
  const name = options.name.trim();
  const email = options.email.trim();
  if (!name && !email) throw new InvalidArgumentError('a PGP key needs a name or an e-mail address');
  if (email && !/^[^\s@<>]+@[^\s@<>]+$/.test(email))
    throw new InvalidArgumentError(`invalid e-mail address '${email.slice(0, 80)}'`);
  if (/[<>\r\n]/.test(name))
    throw new InvalidArgumentError('a PGP key name may not contain <, > or line breaks');
  const days = options.expiresInDays ?? 0;
  if (!Number.isInteger(days) || days < 0)
    throw new InvalidArgumentError('expiresInDays must be a whole number of days, 0 for never');
  const type = options.type ?? 'curve25519';
  const algorithm =
    type === 'curve25519'
      ? { type: 'ecc' as const, curve: 'curve25519Legacy' as const }
      : type === 'rsa4096'
        ? { type: 'rsa' as const, rsaBits: 4096 }
        : undefined;
  if (!algorithm)
    throw new InvalidArgumentError(
      `unsupported PGP key type '${String(type).slice(0, 40)}' (curve25519 or rsa4096)`,
    );
  const pass = options.passphrase?.reveal();
  const { privateKey } = await openpgp.generateKey({
    ...algorithm,
    userIDs: [{ ...(name ? { name } : {}), ...(email ? { email } : {}) }],
    ...(pass ? { passphrase: pass } : {}),
    keyExpirationTime: days * 86_400,
    format: 'object',
    config: GNUPG22_COMPATIBLE,
  });
  return { ...(await describeKeyObject(privateKey)), privateArmored: new Secret(privateKey.armor()) };
}

export async function readKeyObjects(data: string | Uint8Array): Promise<openpgp.Key[]> {
  const text = typeof data === 'string' ? data : undefined;
  const armored = text ?? (looksArmored(data as Uint8Array) ? Buffer.from(data).toString('utf8') : undefined);
  try {
    return armored !== undefined
      ? await openpgp.readKeys({ armoredKeys: armored })
      : await openpgp.readKeys({ binaryKeys: data as Uint8Array });
  } catch (err) {
    if (armored !== undefined && !armored.includes('-----BEGIN PGP')) {
      throw new KeyParseError('unsupported-format', 'not an OpenPGP key (no BEGIN PGP ... KEY BLOCK line)', {
        cause: err,
      });
    }
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new KeyParseError('malformed', `malformed OpenPGP key: ${msg}`, { cause: err });
  }
}

export function looksArmored(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.subarray(0, 64)).toString('latin1').includes('-----BEGIN PGP');
}

async function unlock(key: openpgp.PrivateKey, passphrase: Secret<string>): Promise<openpgp.PrivateKey> {
  try {
    return await openpgp.decryptKey({ privateKey: key, passphrase: passphrase.reveal() });
  } catch (err) {
    const msg = err instanceof Error ? err.message : '';
    if (/passphrase/i.test(msg))
      throw new KeyParseError('wrong-passphrase', WRONG_PASSPHRASE, { cause: err });
    throw new KeyParseError('malformed', `cannot decrypt the private key: ${msg.split('\n')[0]}`, {
      cause: err,
    });
  }
}

/**
 * Reads one armored or binary OpenPGP key (public or private, as GnuPG exports them). With a passphrase,
 * a protected private key is decrypted; a wrong passphrase is an error.
 */
export async function readPgpKey(
  data: string | Uint8Array,
  passphrase?: Secret<string>,
): Promise<ReadPgpKeyResult> {
  const keys = await readKeyObjects(data);
  if (keys.length !== 1)
    throw new KeyParseError(
      'unsupported-format',
      `the file holds ${keys.length} keys; import them one at a time`,
    );
  let key = keys[0]!;
  if (!key.isPrivate()) {
    return { ...(await describeKeyObject(key)), hasPrivate: false, privateArmored: null, decrypted: false };
  }
  if (passphrase && !key.isDecrypted()) key = await unlock(key, passphrase);
  const priv = key as openpgp.PrivateKey;
  return {
    ...(await describeKeyObject(priv)),
    hasPrivate: true,
    privateArmored: new Secret(priv.armor()),
    decrypted: priv.isDecrypted(),
  };
}

/** One line in the shape of `gpg --list-keys`: `ed25519/KEYID 2024-05-01 [expires: 2026-05-01] Name <mail>`. */
export function describePgpKey(info: PgpKeyInfo & { hasPrivate?: boolean }): string {
  const day = (d: Date): string => d.toISOString().slice(0, 10);
  const kind = info.hasPrivate ? 'sec' : 'pub';
  const expiry = info.expires ? ` [expires: ${day(info.expires)}]` : '';
  return `${kind} ${info.algorithm}/${info.keyId} ${day(info.created)}${expiry} ${info.userIds.join(', ')}`.trim();
}

async function readPublicKeys(armored: readonly string[]): Promise<openpgp.PublicKey[]> {
  if (armored.length === 0) throw new InvalidArgumentError('at least one recipient key is needed');
  return Promise.all(
    armored.map(async (a, i) => {
      const keys = await readKeyObjects(a);
      const key = keys[0];
      if (!key || keys.length !== 1)
        throw new KeyParseError('unsupported-format', `recipient ${i + 1}: expected one key`);
      return key.toPublic();
    }),
  );
}

/**
 * Encrypts for every recipient as a binary (or armored) SEIPDv1 message GnuPG 2.2 decrypts.
 * Streams in, streams out: the output is produced while the input is read.
 */
export async function encryptForRecipients<T extends PgpData>(
  data: T,
  publicKeysArmored: readonly string[],
  options: { armor?: boolean } = {},
): Promise<Same<T>> {
  const encryptionKeys = await readPublicKeys(publicKeysArmored);
  const input = data instanceof Uint8Array ? data : toWeb(data);
  // The openpgp typings reference a stream package that is not installed, so stream inputs type as any there.
  const message = await openpgp.createMessage({ binary: input as Uint8Array, format: 'binary' });
  let encrypted: unknown;
  try {
    const common = { message, encryptionKeys, config: GNUPG22_COMPATIBLE };
    encrypted = options.armor
      ? await openpgp.encrypt({ ...common, format: 'armored' })
      : await openpgp.encrypt({ ...common, format: 'binary' });
  } catch (err) {
    throw new InvalidArgumentError(
      `cannot encrypt: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
      { cause: err },
    );
  }
  if (typeof encrypted === 'string') return new Uint8Array(Buffer.from(encrypted)) as unknown as Same<T>;
  if (options.armor && !(data instanceof Uint8Array)) {
    const text = encrypted as WebReadableStream<string>;
    return fromWeb(data, text.pipeThrough(new TextEncoderStream()));
  }
  return fromWeb(data, encrypted);
}

export function decryptFailure(err: unknown): InvalidArgumentError {
  const msg = (err instanceof Error ? err.message.split('\n')[0]! : String(err)).replace(
    /^Error decrypting message: /,
    '',
  );
  if (/session key|no decryption key packets/i.test(msg)) {
    return new InvalidArgumentError('the message is not encrypted to this key', { cause: err });
  }
  if (/modification detected|mdc|authentic/i.test(msg)) {
    return new InvalidArgumentError('the message was modified or is damaged (integrity check failed)', {
      cause: err,
    });
  }
  return new InvalidArgumentError(`cannot decrypt the message: ${msg}`, { cause: err });
}

/**
 * Decrypts an armored or binary message (as `gpg --encrypt` writes it) with a private key.
 * With a stream in, a stream comes out. openpgp holds back plaintext of SEIPDv1 messages until their
 * integrity check has passed, so such a message is buffered whole before the first byte is released.
 */
export async function decryptWithKey<T extends PgpData>(
  message: T,
  privateArmored: Secret<string>,
  passphrase?: Secret<string>,
): Promise<Same<T>> {
  const keys = await readKeyObjects(privateArmored.reveal());
  const first = keys[0];
  if (!first?.isPrivate() || keys.length !== 1)
    throw new KeyParseError('public-key', 'a private OpenPGP key is needed to decrypt');
  let key: openpgp.PrivateKey = first;
  if (!key.isDecrypted()) {
    if (!passphrase) throw new KeyParseError('passphrase-required', PASSPHRASE_REQUIRED);
    key = await unlock(key, passphrase);
  }
  let parsed: openpgp.Message<unknown>;
  try {
    if (message instanceof Uint8Array) {
      parsed = looksArmored(message)
        ? await openpgp.readMessage({ armoredMessage: Buffer.from(message).toString('utf8') })
        : await openpgp.readMessage({ binaryMessage: message });
    } else {
      const [head, stream] = await peek(toWeb(message), 64);
      // `as never`: the openpgp stream typings resolve to a package that is not installed (see encryptForRecipients).
      parsed = head.toString('latin1').includes('-----BEGIN PGP')
        ? await openpgp.readMessage({ armoredMessage: stream.pipeThrough(new TextDecoderStream()) as never })
        : await openpgp.readMessage({ binaryMessage: stream as never });
    }
  } catch (err) {
    throw new InvalidArgumentError(
      `not an OpenPGP message: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
      {
        cause: err,
      },
    );
  }
  try {
    const { data } = await openpgp.decrypt({
      message: parsed as openpgp.Message<Uint8Array>,
      decryptionKeys: key,
      format: 'binary',
    });
    if (message instanceof Uint8Array) return data as Same<T>;
    return fromWeb(
      message,
      mapStreamErrors(data as unknown as WebReadableStream<Uint8Array>, decryptFailure),
    );
  } catch (err) {
    throw decryptFailure(err);
  }
}
