// Encryption of secrets at rest (private keys, partner passwords) with the master key: AES-256-GCM, bound to a label.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { ConfigError, FerryError } from '../errors.js';
import { Secret } from '../util/secret.js';

const VERSION = 'v1';
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export class SealError extends FerryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_INVALID_ARGUMENT', message, options);
  }
}

/** Accepts 32 bytes as 64 hex digits or base64 (with or without padding). */
function decodeMasterKey(text: string, origin: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== KEY_BYTES) {
    throw new ConfigError(
      `master key from ${origin} must be 32 bytes, as 64 hex digits or base64 (got ${key.length} bytes)`,
    );
  }
  return key;
}

export class MasterKey {
  readonly #key: Secret<Buffer>;

  private constructor(key: Buffer) {
    this.#key = new Secret(key);
  }

  /**
   * The key from `configured` (FERRY_MASTER_KEY / config masterKey) when set; otherwise from `file`, generated
   * there (mode 0600) when missing and `generate` allows it. A key file others can read is refused.
   * `generate` is false when the store already holds data sealed with a key: a new key could never open it,
   * so the caller says what it found in `sealedData` and the error explains how to restore the key.
   */
  static load(
    configured: Secret<string> | undefined,
    file: string,
    options: { generate: boolean; sealedData?: string } = { generate: true },
  ): MasterKey {
    if (configured)
      return new MasterKey(decodeMasterKey(configured.reveal(), 'FERRY_MASTER_KEY / masterKey'));
    if (!existsSync(file)) {
      if (!options.generate) {
        throw new ConfigError(
          options.sealedData
            ? `master key ${file} is missing, but the store holds ${options.sealedData} sealed with it; restore master.key from your backup (mode 0600) or set FERRY_MASTER_KEY to its value. A new key cannot open them, so none is generated`
            : `master key ${file} is missing; restore master.key from your backup (mode 0600) or set FERRY_MASTER_KEY`,
        );
      }
      try {
        writeFileSync(file, `${randomBytes(KEY_BYTES).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
      } catch (err) {
        throw new ConfigError(`cannot create master key ${file}: ${(err as Error).message}`, { cause: err });
      }
      chmodSync(file, 0o600);
    }
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new ConfigError(
        `master key file ${file} is readable by group or others (mode ${mode.toString(8)}); run chmod 600 ${file}`,
      );
    }
    return new MasterKey(decodeMasterKey(readFileSync(file, 'utf8'), file));
  }

  /**
   * A 32-byte key for one use derived from the master key (HKDF-SHA256, `label` as info), e.g. the key that
   * wraps stored files' data keys: that use never sees the master key itself, and keys of other labels stay apart.
   */
  deriveKey(label: string): Secret<Buffer> {
    return new Secret(
      Buffer.from(hkdfSync('sha256', this.#key.reveal(), Buffer.alloc(0), `ferry:${label}`, KEY_BYTES)),
    );
  }

  /** Encrypts `plaintext`; `label` (e.g. 'host-key') is authenticated, so a sealed value cannot be moved to another use. */
  seal(plaintext: Buffer, label: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key.reveal(), nonce);
    cipher.setAAD(Buffer.from(`ferry:${VERSION}:${label}`));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return `${VERSION}:${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64')}`;
  }

  open(sealed: string, label: string): Secret<Buffer> {
    const [version, data] = sealed.split(':');
    if (version !== VERSION || !data) throw new SealError('sealed secret has an unknown format');
    const raw = Buffer.from(data, 'base64');
    if (raw.length < NONCE_BYTES + TAG_BYTES) throw new SealError('sealed secret is truncated');
    const decipher = createDecipheriv('aes-256-gcm', this.#key.reveal(), raw.subarray(0, NONCE_BYTES));
    decipher.setAAD(Buffer.from(`ferry:${VERSION}:${label}`));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    try {
      return new Secret(
        Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), decipher.final()]),
      );
    } catch (err) {
      throw new SealError('cannot decrypt a sealed secret: wrong master key or tampered data', {
        cause: err,
      });
    }
  }
}
