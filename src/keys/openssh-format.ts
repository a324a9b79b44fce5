// OpenSSH's own private key file (`openssh-key-v1`, see OpenSSH PROTOCOL.key): read, and write with aes256-ctr + bcrypt.
import { createCipheriv, createDecipheriv, type DecipherGCM, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Secret } from '../util/secret.js';
import { DSA_UNSUPPORTED, KeyParseError, PASSPHRASE_REQUIRED, WRONG_PASSPHRASE } from './key-errors.js';
import { isEcdsaCurve, publicBlob, type SshKeyMaterial, sshAlgorithm } from './key-material.js';
import { WireReader, wireMpint, wireString, wireUint32 } from './ssh-wire.js';

// bcrypt-pbkdf is the CommonJS implementation ssh2 already depends on; it ships no types, so it is typed here.
interface BcryptPbkdf {
  pbkdf(
    pass: Uint8Array,
    passlen: number,
    salt: Uint8Array,
    saltlen: number,
    key: Uint8Array,
    keylen: number,
    rounds: number,
  ): number;
}
const bcrypt = createRequire(import.meta.url)('bcrypt-pbkdf') as BcryptPbkdf;

const MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');
const BEGIN = '-----BEGIN OPENSSH PRIVATE KEY-----';
const END = '-----END OPENSSH PRIVATE KEY-----';
/** ssh-keygen's default KDF work factor (`-a 16`). */
const DEFAULT_ROUNDS = 16;
// A file may ask for any number of rounds; past this it is more likely an attack on our CPU than a real key.
const MAX_ROUNDS = 10_000;

interface CipherSpec {
  readonly node: string;
  readonly keyLen: number;
  readonly ivLen: number;
  readonly blockLen: number;
  /** Bytes of AEAD tag that follow the encrypted string. */
  readonly tagLen: number;
}

const CIPHERS: Readonly<Record<string, CipherSpec>> = {
  none: { node: '', keyLen: 0, ivLen: 0, blockLen: 8, tagLen: 0 },
  'aes128-ctr': { node: 'aes-128-ctr', keyLen: 16, ivLen: 16, blockLen: 16, tagLen: 0 },
  'aes192-ctr': { node: 'aes-192-ctr', keyLen: 24, ivLen: 16, blockLen: 16, tagLen: 0 },
  'aes256-ctr': { node: 'aes-256-ctr', keyLen: 32, ivLen: 16, blockLen: 16, tagLen: 0 },
  'aes128-cbc': { node: 'aes-128-cbc', keyLen: 16, ivLen: 16, blockLen: 16, tagLen: 0 },
  'aes192-cbc': { node: 'aes-192-cbc', keyLen: 24, ivLen: 16, blockLen: 16, tagLen: 0 },
  'aes256-cbc': { node: 'aes-256-cbc', keyLen: 32, ivLen: 16, blockLen: 16, tagLen: 0 },
  'aes128-gcm@openssh.com': { node: 'aes-128-gcm', keyLen: 16, ivLen: 12, blockLen: 16, tagLen: 16 },
  'aes256-gcm@openssh.com': { node: 'aes-256-gcm', keyLen: 32, ivLen: 12, blockLen: 16, tagLen: 16 },
};

export function isOpenSshPrivateKey(text: string): boolean {
  return text.includes(BEGIN);
}

function unarmor(text: string): Buffer {
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END, start);
  if (end === -1) throw new KeyParseError('truncated', 'truncated key: no END OPENSSH PRIVATE KEY line');
  const body = text.slice(start + BEGIN.length, end).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body))
    throw new KeyParseError('malformed', 'malformed key: body is not base64');
  return Buffer.from(body, 'base64');
}

function refuseType(type: string): never {
  if (type === 'ssh-dss') throw new KeyParseError('unsupported-type', DSA_UNSUPPORTED);
  if (type.startsWith('sk-'))
    throw new KeyParseError('unsupported-type', 'FIDO security-key (sk-) keys are not supported');
  throw new KeyParseError('unsupported-type', `unsupported key type '${type.slice(0, 60)}'`);
}

function deriveKeyIv(passphrase: string, salt: Buffer, rounds: number, len: number): Buffer {
  const pass = Buffer.from(passphrase, 'utf8');
  const out = Buffer.alloc(len);
  if (bcrypt.pbkdf(pass, pass.length, salt, salt.length, out, len, rounds) !== 0) {
    throw new KeyParseError('malformed', 'malformed key: bcrypt KDF refused its parameters');
  }
  return out;
}

function readPrivateFields(r: WireReader): SshKeyMaterial {
  const type = r.text();
  if (type === 'ssh-ed25519') {
    const publicKey = r.string();
    const secret = r.string();
    // OpenSSH stores seed ‖ public key; the copy of the public key must agree.
    if (secret.length !== 64 || !secret.subarray(32).equals(publicKey)) {
      throw new KeyParseError('malformed', 'malformed key: bad Ed25519 private key');
    }
    return { kind: 'ed25519', seed: Buffer.from(secret.subarray(0, 32)), publicKey: Buffer.from(publicKey) };
  }
  if (type.startsWith('ecdsa-sha2-')) {
    const curve = r.text();
    if (!isEcdsaCurve(curve) || type !== `ecdsa-sha2-${curve}`) refuseType(type);
    const q = Buffer.from(r.string());
    const d = Buffer.from(r.mpint());
    return { kind: 'ecdsa', curve, q, d };
  }
  if (type === 'ssh-rsa') {
    const [n, e, d, iqmp, p, q] = [r.mpint(), r.mpint(), r.mpint(), r.mpint(), r.mpint(), r.mpint()].map(
      (b) => Buffer.from(b),
    ) as [Buffer, Buffer, Buffer, Buffer, Buffer, Buffer];
    return { kind: 'rsa', n, e, d, iqmp, p, q };
  }
  refuseType(type);
}

function writePrivateFields(m: SshKeyMaterial): Buffer {
  const type = wireString(sshAlgorithm(m));
  if (m.kind === 'ed25519') {
    return Buffer.concat([type, wireString(m.publicKey), wireString(Buffer.concat([m.seed, m.publicKey]))]);
  }
  if (m.kind === 'ecdsa') return Buffer.concat([type, wireString(m.curve), wireString(m.q), wireMpint(m.d)]);
  return Buffer.concat([type, ...[m.n, m.e, m.d, m.iqmp, m.p, m.q].map(wireMpint)]);
}

export interface OpenSshKeyFile {
  readonly material: SshKeyMaterial;
  readonly comment: string;
}

/** Reads a `-----BEGIN OPENSSH PRIVATE KEY-----` file holding one key, decrypting it with `passphrase` if needed. */
export function readOpenSshPrivateKey(text: string, passphrase?: Secret<string>): OpenSshKeyFile {
  const raw = unarmor(text);
  if (raw.length < MAGIC.length || !raw.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new KeyParseError(
      raw.length < MAGIC.length ? 'truncated' : 'malformed',
      'malformed key: not an openssh-key-v1 file',
    );
  }
  const r = new WireReader(raw.subarray(MAGIC.length), 'OpenSSH key file');
  const cipherName = r.text();
  const kdfName = r.text();
  const kdfOptions = r.string();
  const count = r.uint32();
  if (count !== 1)
    throw new KeyParseError('unsupported-format', `key file holds ${count} keys; exactly one is supported`);
  const headerBlob = Buffer.from(r.string());
  const headerType = new WireReader(headerBlob, 'public key').text();
  if (!['ssh-ed25519', 'ssh-rsa'].includes(headerType) && !headerType.startsWith('ecdsa-sha2-nistp'))
    refuseType(headerType);
  const cipher = CIPHERS[cipherName];
  if (!cipher)
    throw new KeyParseError(
      'unsupported-format',
      `key is encrypted with unsupported cipher '${cipherName.slice(0, 60)}'`,
    );
  let secret = r.string();
  const tag = r.bytes(cipher.tagLen);
  if (secret.length % cipher.blockLen !== 0)
    throw new KeyParseError('malformed', 'malformed key: private section is not block-aligned');

  const encrypted = cipherName !== 'none';
  if (encrypted) {
    if (kdfName !== 'bcrypt')
      throw new KeyParseError('unsupported-format', `unsupported key derivation '${kdfName.slice(0, 60)}'`);
    if (!passphrase) throw new KeyParseError('passphrase-required', PASSPHRASE_REQUIRED);
    const kr = new WireReader(kdfOptions, 'bcrypt options');
    const salt = Buffer.from(kr.string());
    const rounds = kr.uint32();
    if (rounds < 1 || rounds > MAX_ROUNDS)
      throw new KeyParseError('malformed', `malformed key: bcrypt rounds ${rounds} out of range`);
    const keyIv = deriveKeyIv(passphrase.reveal(), salt, rounds, cipher.keyLen + cipher.ivLen);
    const decipher = createDecipheriv(
      cipher.node,
      keyIv.subarray(0, cipher.keyLen),
      keyIv.subarray(cipher.keyLen),
    );
    decipher.setAutoPadding(false);
    if (cipher.tagLen > 0) (decipher as DecipherGCM).setAuthTag(tag);
    try {
      secret = Buffer.concat([decipher.update(secret), decipher.final()]);
    } catch (err) {
      // Only an AEAD tag check fails here, and for a well-formed file that means the passphrase is wrong.
      throw new KeyParseError('wrong-passphrase', WRONG_PASSPHRASE, { cause: err });
    }
  } else if (kdfName !== 'none') {
    throw new KeyParseError('malformed', 'malformed key: unencrypted key names a KDF');
  }

  const pr = new WireReader(secret, 'private section');
  const check1 = pr.uint32();
  const check2 = pr.uint32();
  if (check1 !== check2) {
    throw encrypted
      ? new KeyParseError('wrong-passphrase', WRONG_PASSPHRASE)
      : new KeyParseError('malformed', 'malformed key: check bytes differ');
  }
  const material = readPrivateFields(pr);
  const comment = pr.text();
  const padding = pr.rest();
  if (!padding.every((b, i) => b === ((i + 1) & 0xff)))
    throw new KeyParseError('malformed', 'malformed key: bad padding');
  if (!publicBlob(material).equals(headerBlob)) {
    throw new KeyParseError(
      'malformed',
      'malformed key: public key in the header does not match the private key',
    );
  }
  return { material, comment };
}

export interface OpenSshWriteOptions {
  readonly comment?: string;
  readonly passphrase?: Secret<string>;
  /** bcrypt rounds when a passphrase is given (ssh-keygen `-a`); default 16. */
  readonly rounds?: number;
}

/** Writes an OpenSSH private key file: aes256-ctr + bcrypt when a passphrase is given, else none/none. */
export function writeOpenSshPrivateKey(m: SshKeyMaterial, options: OpenSshWriteOptions = {}): string {
  const pass = options.passphrase?.reveal();
  const encrypted = pass !== undefined && pass !== '';
  const cipherName = encrypted ? 'aes256-ctr' : 'none';
  const cipher = CIPHERS[cipherName]!;
  const rounds = options.rounds ?? DEFAULT_ROUNDS;
  const salt = randomBytes(16);
  const kdfOptions = encrypted ? Buffer.concat([wireString(salt), wireUint32(rounds)]) : Buffer.alloc(0);

  const check = randomBytes(4);
  const body = Buffer.concat([check, check, writePrivateFields(m), wireString(options.comment ?? '')]);
  const padLen = (cipher.blockLen - (body.length % cipher.blockLen)) % cipher.blockLen;
  let secret = Buffer.concat([body, Buffer.from(Array.from({ length: padLen }, (_, i) => i + 1))]);
  if (encrypted) {
    const keyIv = deriveKeyIv(pass, salt, rounds, cipher.keyLen + cipher.ivLen);
    const c = createCipheriv(cipher.node, keyIv.subarray(0, cipher.keyLen), keyIv.subarray(cipher.keyLen));
    secret = Buffer.concat([c.update(secret), c.final()]);
  }
  const raw = Buffer.concat([
    MAGIC,
    wireString(cipherName),
    wireString(encrypted ? 'bcrypt' : 'none'),
    wireString(kdfOptions),
    wireUint32(1),
    wireString(publicBlob(m)),
    wireString(secret),
  ]);
  const lines = raw.toString('base64').match(/.{1,70}/g) ?? [];
  return `${BEGIN}\n${lines.join('\n')}\n${END}\n`;
}
