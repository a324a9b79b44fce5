// SSH key pairs: generate, parse any common private key file (OpenSSH, PEM, PKCS#8, PuTTY), export as OpenSSH, PEM or .ppk.
import {
  createPrivateKey,
  type ED25519KeyPairOptions,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { Secret } from '../util/secret.js';
import {
  DSA_UNSUPPORTED,
  KeyParseError,
  PASSPHRASE_REQUIRED,
  PUBLIC_NOT_PRIVATE,
  WRONG_PASSPHRASE,
} from './key-errors.js';
import {
  ECDSA_CURVES,
  type EcdsaCurve,
  keyObjectFromMaterial,
  materialFromKeyObject,
  oneLine,
  publicBlob,
  type SshKeyMaterial,
  sshAlgorithm,
} from './key-material.js';
import { isOpenSshPrivateKey, readOpenSshPrivateKey, writeOpenSshPrivateKey } from './openssh-format.js';
import { isPpk, readPpk, writePpk } from './ppk.js';
import { keyBits, md5Fingerprint, sha256Fingerprint } from './ssh-keys.js';

export type { KeyErrorReason } from './key-errors.js';
export { KeyParseError } from './key-errors.js';

export type SshKeyType = 'ed25519' | 'ecdsa' | 'rsa';
export type SshKeyAlgorithm =
  | 'ssh-ed25519'
  | 'ecdsa-sha2-nistp256'
  | 'ecdsa-sha2-nistp384'
  | 'ecdsa-sha2-nistp521'
  | 'ssh-rsa';
export type PrivateKeyFormat = 'openssh' | 'pem' | 'ppk';

export interface SshKeyPair {
  readonly type: SshKeyType;
  readonly algorithm: SshKeyAlgorithm;
  readonly bits: number;
  /** Public key in SSH wire format. */
  readonly publicBlob: Buffer;
  /** `type base64 comment` (no comment part when the comment is empty), as authorized_keys takes it. */
  readonly publicLine: string;
  /** Comment from the key file, or the one given at generation; may be empty. */
  readonly comment: string;
  /** `SHA256:...` as `ssh-keygen -lf` prints it. */
  readonly sha256: string;
  /** `MD5:aa:bb:...` as `ssh-keygen -E md5 -lf` prints it. */
  readonly md5: string;
  /** The private key as unencrypted PKCS#8 DER: one canonical form whatever file it came from. */
  readonly privateKey: Secret<Buffer>;
}

export const RSA_MIN_BITS = 2048;
export const RSA_MAX_BITS = 16384;
export const RSA_DEFAULT_BITS = 3072;
const ECDSA_BITS: Readonly<Record<number, EcdsaCurve>> = {
  256: 'nistp256',
  384: 'nistp384',
  521: 'nistp521',
};

function typeOf(m: SshKeyMaterial): SshKeyType {
  return m.kind;
}

function pairFromKeyObject(
  key: KeyObject,
  comment: string,
  material = materialFromKeyObject(key),
): SshKeyPair {
  const blob = publicBlob(material);
  const algorithm = sshAlgorithm(material) as SshKeyAlgorithm;
  const bits = keyBits(algorithm, blob);
  if (material.kind === 'rsa' && bits < RSA_MIN_BITS) {
    throw new KeyParseError('weak-key', `RSA key of ${bits} bits is too weak (minimum ${RSA_MIN_BITS})`);
  }
  const safeComment = comment.replace(/[\r\n]/g, ' ').trim();
  const b64 = blob.toString('base64');
  return {
    type: typeOf(material),
    algorithm,
    bits,
    publicBlob: blob,
    publicLine: safeComment ? `${algorithm} ${b64} ${safeComment}` : `${algorithm} ${b64}`,
    comment: safeComment,
    sha256: sha256Fingerprint(blob),
    md5: md5Fingerprint(blob),
    privateKey: new Secret(key.export({ format: 'der', type: 'pkcs8' })),
  };
}

/**
 * A new private key that shares nothing with the native job that generated it. Node 20 hands out the generated
 * key object with the job's key (and its lock); a garbage collection during the JWK export below once destroyed
 * that job while the export held the lock, and `ferry keys host generate` deadlocked. Encoding inside the job and
 * importing the bytes gives a key object of its own.
 */
const DER: ED25519KeyPairOptions<'der', 'der'> = {
  publicKeyEncoding: { type: 'spki', format: 'der' },
  privateKeyEncoding: { type: 'pkcs8', format: 'der' },
};

function ownKey(pkcs8: Buffer): KeyObject {
  return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
}

/** Generates a new key pair: ed25519; ecdsa with bits 256 (default), 384 or 521; rsa with 2048..16384 bits (default 3072). */
export function generateSshKeyPair(type: SshKeyType, bits?: number, comment = ''): SshKeyPair {
  if (type === 'ed25519') {
    if (bits !== undefined && bits !== 256)
      throw new KeyParseError('unsupported-type', 'ed25519 keys are always 256 bits');
    return pairFromKeyObject(ownKey(generateKeyPairSync('ed25519', DER).privateKey), comment);
  }
  if (type === 'ecdsa') {
    const curve = ECDSA_BITS[bits ?? 256];
    if (!curve) throw new KeyParseError('unsupported-type', 'ecdsa keys are 256, 384 or 521 bits');
    return pairFromKeyObject(
      ownKey(generateKeyPairSync('ec', { namedCurve: ECDSA_CURVES[curve].jwk, ...DER }).privateKey),
      comment,
    );
  }
  if (type === 'rsa') {
    const size = bits ?? RSA_DEFAULT_BITS;
    if (!Number.isInteger(size) || size < RSA_MIN_BITS || size > RSA_MAX_BITS) {
      throw new KeyParseError('unsupported-type', `rsa keys are ${RSA_MIN_BITS} to ${RSA_MAX_BITS} bits`);
    }
    return pairFromKeyObject(
      ownKey(generateKeyPairSync('rsa', { modulusLength: size, publicExponent: 65537, ...DER }).privateKey),
      comment,
    );
  }
  throw new KeyParseError(
    'unsupported-type',
    `unsupported key type '${String(type).slice(0, 40)}' (use ed25519, ecdsa or rsa)`,
  );
}

// Recognised PEM labels. Anything public, or a certificate, is named as such instead of "unrecognised".
const PEM_PRIVATE_RE = /-----BEGIN (RSA |EC |DSA |ENCRYPTED |)PRIVATE KEY-----/;
const PUBLIC_KEY_RE =
  /-----BEGIN (RSA )?PUBLIC KEY-----|---- BEGIN SSH2 PUBLIC KEY ----|^\s*(ssh-(rsa|dss|ed25519|ed448)|ecdsa-sha2-\S+|sk-\S+)\s+[A-Za-z0-9+/]/m;

function looksLikeText(data: Buffer): boolean {
  // Key files are ASCII; DER starts with 0x30 (SEQUENCE) and holds bytes outside printable ASCII.
  return !data.subarray(0, 512).some((b) => b === 0 || (b > 0x7e && b < 0xa0));
}

/** Reads a PEM (PKCS#1, SEC1, PKCS#8, encrypted or not) through OpenSSL, naming the common failures in one line. */
function readPem(text: string, passphrase: Secret<string> | undefined): KeyObject {
  const match = PEM_PRIVATE_RE.exec(text);
  const label = match?.[1] ?? '';
  if (label === 'DSA ') throw new KeyParseError('unsupported-type', DSA_UNSUPPORTED);
  const endLabel = `-----END ${label}PRIVATE KEY-----`;
  if (!text.includes(endLabel))
    throw new KeyParseError('truncated', `truncated key: no END ${label}PRIVATE KEY line`);
  const encrypted = label === 'ENCRYPTED ' || /Proc-Type:\s*4,\s*ENCRYPTED/.test(text);
  if (encrypted && !passphrase) throw new KeyParseError('passphrase-required', PASSPHRASE_REQUIRED);
  try {
    // An empty string passphrase makes OpenSSL fail cleanly on encrypted input instead of prompting.
    return createPrivateKey({ key: text, format: 'pem', passphrase: encrypted ? passphrase!.reveal() : '' });
  } catch (err) {
    // With a wrong passphrase OpenSSL reports "bad decrypt", or (when the garbage happens to unpad) a decoder error.
    if (encrypted) throw new KeyParseError('wrong-passphrase', WRONG_PASSPHRASE, { cause: err });
    throw new KeyParseError('malformed', `malformed PEM key: ${oneLine(err)}`, { cause: err });
  }
}

/** Reads binary DER: PKCS#8, then PKCS#1 RSA, then SEC1 EC. */
function readDer(data: Buffer): KeyObject {
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try {
      return createPrivateKey({ key: data, format: 'der', type });
    } catch {
      // Not this layout; the next one is tried and the final failure is reported below.
    }
  }
  throw new KeyParseError('unsupported-format', 'not a private key file (unrecognised format)');
}

/**
 * Parses a private key in OpenSSH, PEM (PKCS#1, SEC1, PKCS#8, legacy encrypted PEM), DER or PuTTY .ppk form.
 * Every failure is a `KeyParseError` with a one-line message and a `reason`.
 */
export function parsePrivateKey(data: Buffer | string, passphrase?: Secret<string>): SshKeyPair {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  if (buf.length === 0) throw new KeyParseError('truncated', 'empty key file');
  if (!looksLikeText(buf)) return pairFromKeyObject(readDer(buf), '');
  const text = buf.toString('utf8');
  if (isOpenSshPrivateKey(text)) {
    const { material, comment } = readOpenSshPrivateKey(text, passphrase);
    return pairFromKeyObject(keyObjectFromMaterial(material), comment, material);
  }
  if (isPpk(text)) {
    const { material, comment } = readPpk(text, passphrase);
    return pairFromKeyObject(keyObjectFromMaterial(material), comment, material);
  }
  if (PEM_PRIVATE_RE.test(text)) return pairFromKeyObject(readPem(text, passphrase), '');
  if (PUBLIC_KEY_RE.test(text)) throw new KeyParseError('public-key', PUBLIC_NOT_PRIVATE);
  if (/-----BEGIN PGP (PUBLIC|PRIVATE) KEY BLOCK-----/.test(text)) {
    throw new KeyParseError('unsupported-format', 'this is an OpenPGP key, not an SSH key');
  }
  if (/-----BEGIN CERTIFICATE-----/.test(text))
    throw new KeyParseError('public-key', 'this is an X.509 certificate; a private key is needed');
  if (/-----BEGIN [A-Z0-9 ]+-----/.test(text) && !/-----END [A-Z0-9 ]+-----/.test(text)) {
    throw new KeyParseError('truncated', 'truncated key: no END line');
  }
  throw new KeyParseError('unsupported-format', 'not a private key file (unrecognised format)');
}

function keyObjectOf(pair: SshKeyPair): KeyObject {
  return createPrivateKey({ key: pair.privateKey.reveal(), format: 'der', type: 'pkcs8' });
}

export interface ExportPrivateKeyOptions {
  /** Encrypts the file: OpenSSH aes256-ctr+bcrypt, PEM as encrypted PKCS#8 (AES-256-CBC, PBKDF2), .ppk aes256-cbc+Argon2id. */
  readonly passphrase?: Secret<string>;
  /** Defaults to the pair's comment (OpenSSH and .ppk only; PEM has no comment). */
  readonly comment?: string;
}

/**
 * Writes the private key as a file `ssh-keygen`, OpenSSL or PuTTY reads.
 * 'pem' is PKCS#1 for RSA, SEC1 for ECDSA and PKCS#8 for Ed25519; with a passphrase it is always encrypted PKCS#8,
 * because legacy PEM encryption derives its key with a single MD5 round.
 */
export function exportPrivateKey(
  pair: SshKeyPair,
  format: PrivateKeyFormat,
  options: ExportPrivateKeyOptions = {},
): string {
  const key = keyObjectOf(pair);
  const comment = options.comment ?? pair.comment;
  const pass = options.passphrase?.reveal();
  if (format === 'openssh') {
    return writeOpenSshPrivateKey(materialFromKeyObject(key), { comment, passphrase: options.passphrase });
  }
  if (format === 'ppk')
    return writePpk(materialFromKeyObject(key), { comment, passphrase: options.passphrase });
  if (format === 'pem') {
    if (pass)
      return key.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: pass }).toString();
    const type = pair.type === 'rsa' ? 'pkcs1' : pair.type === 'ecdsa' ? 'sec1' : 'pkcs8';
    return key.export({ format: 'pem', type }).toString();
  }
  throw new KeyParseError(
    'unsupported-format',
    `unknown private key format '${String(format).slice(0, 40)}' (openssh, pem or ppk)`,
  );
}
