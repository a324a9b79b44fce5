// OpenSSH certificates (PROTOCOL.certkeys): a bounds-checked parser and the check of the CA's signature over them.
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { KeyParseError } from './key-errors.js';
import { ECDSA_CURVES, isEcdsaCurve } from './key-material.js';
import { WireReader, wireString } from './ssh-wire.js';

export const CERT_USER = 1;
export const CERT_HOST = 2;

const CERT_SUFFIX = '-cert-v01@openssh.com';

/** The certificate blob types Ferry reads, with the plain key type each certifies. */
const CERT_TYPES: Readonly<Record<string, string>> = {
  'ssh-ed25519-cert-v01@openssh.com': 'ssh-ed25519',
  'ecdsa-sha2-nistp256-cert-v01@openssh.com': 'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384-cert-v01@openssh.com': 'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521-cert-v01@openssh.com': 'ecdsa-sha2-nistp521',
  'ssh-rsa-cert-v01@openssh.com': 'ssh-rsa',
};

/** Whether an algorithm name (blob type or signature-algorithm name such as rsa-sha2-512-cert-v01@…) is a certificate. */
export function isCertificateAlgorithm(name: string): boolean {
  return name.endsWith(CERT_SUFFIX);
}

/** The plain algorithm a certificate algorithm signs with: rsa-sha2-512-cert-v01@openssh.com → rsa-sha2-512. */
export function plainAlgorithm(name: string): string {
  return isCertificateAlgorithm(name) ? name.slice(0, -CERT_SUFFIX.length) : name;
}

export interface SshCertificate {
  /** The blob's type name, e.g. ssh-ed25519-cert-v01@openssh.com. */
  readonly type: string;
  /** The certified key as a plain public key blob (ssh-ed25519 …), what the holder signs with. */
  readonly publicKey: Buffer;
  readonly keyAlgorithm: string;
  readonly serial: bigint;
  /** CERT_USER or CERT_HOST. */
  readonly certType: number;
  readonly keyId: string;
  readonly principals: readonly string[];
  /** Seconds since the epoch; validBefore 2^64-1 means forever. */
  readonly validAfter: bigint;
  readonly validBefore: bigint;
  /** Name → data (the option's own payload, e.g. source-address's list as text). */
  readonly criticalOptions: ReadonlyMap<string, string>;
  readonly extensions: ReadonlyMap<string, string>;
  /** The CA's public key blob. */
  readonly signatureKey: Buffer;
  readonly signature: Buffer;
  /** Everything the CA signed: the blob up to its signature field. */
  readonly signedData: Buffer;
}

const bad = (message: string) => new KeyParseError('malformed', `malformed certificate: ${message}`);

function uint64(r: WireReader): bigint {
  return r.bytes(8).readBigUInt64BE();
}

/** Strings packed back to back inside one string (principals). */
function packedStrings(data: Buffer, what: string): string[] {
  const r = new WireReader(data, `certificate ${what}`);
  const out: string[] = [];
  while (r.remaining > 0) out.push(r.text());
  return out;
}

/**
 * Name/data pairs inside one string (critical options, extensions): names must be unique and sorted as
 * OpenSSH writes them; an option's data is itself a string (empty for flags).
 */
function packedOptions(data: Buffer, what: string): Map<string, string> {
  const r = new WireReader(data, `certificate ${what}`);
  const out = new Map<string, string>();
  let last = '';
  while (r.remaining > 0) {
    const name = r.text();
    const value = r.string();
    if (out.has(name)) throw bad(`${what} lists ${name} twice`);
    if (out.size > 0 && name < last) throw bad(`${what} are not in order`);
    last = name;
    let text = '';
    if (value.length > 0) {
      const inner = new WireReader(value, `certificate ${what} ${name}`);
      text = inner.text();
      if (inner.remaining !== 0) throw bad(`${what} ${name} has trailing bytes`);
    }
    out.set(name, text);
  }
  return out;
}

/** The certified key's fields, re-encoded as the plain key blob they form. */
function certifiedKey(r: WireReader, keyAlgorithm: string): Buffer {
  if (keyAlgorithm === 'ssh-ed25519') {
    const pk = r.string();
    if (pk.length !== 32) throw bad('Ed25519 key is not 32 bytes');
    return Buffer.concat([wireString(keyAlgorithm), wireString(pk)]);
  }
  if (keyAlgorithm === 'ssh-rsa') {
    const e = r.string();
    const n = r.string();
    return Buffer.concat([wireString(keyAlgorithm), wireString(e), wireString(n)]);
  }
  const curve = r.text();
  const q = r.string();
  if (`ecdsa-sha2-${curve}` !== keyAlgorithm)
    throw bad(`curve ${curve.slice(0, 20)} does not match the type`);
  return Buffer.concat([wireString(keyAlgorithm), wireString(curve), wireString(q)]);
}

/** Parses a certificate blob (the base64 of a `*-cert.pub` line, decoded); any defect is one KeyParseError line. */
export function parseSshCertificate(blob: Buffer): SshCertificate {
  const r = new WireReader(blob, 'certificate');
  const type = r.text();
  const keyAlgorithm = CERT_TYPES[type];
  if (!keyAlgorithm) {
    throw new KeyParseError(
      'unsupported-type',
      `not a supported OpenSSH certificate type: '${type.slice(0, 60)}' (ed25519, ecdsa or rsa certificates)`,
    );
  }
  r.string(); // nonce: only makes the signed data unpredictable
  const publicKey = certifiedKey(r, keyAlgorithm);
  const serial = uint64(r);
  const certType = r.uint32();
  if (certType !== CERT_USER && certType !== CERT_HOST) throw bad(`unknown certificate type ${certType}`);
  const keyId = r.text();
  const principals = packedStrings(r.string(), 'principals');
  const validAfter = uint64(r);
  const validBefore = uint64(r);
  const criticalOptions = packedOptions(r.string(), 'critical options');
  const extensions = packedOptions(r.string(), 'extensions');
  r.string(); // reserved
  const signatureKey = r.string();
  const signedLength = blob.length - r.remaining;
  const signature = r.string();
  if (r.remaining !== 0) throw bad(`${r.remaining} trailing bytes after the signature`);
  if (signatureKey.length === 0) throw bad('no signature key');
  const caType = new WireReader(signatureKey, 'certificate signature key').text();
  // A CA key that is itself a certificate would let a chain stand in for a trusted key (OpenSSH refuses too).
  if (isCertificateAlgorithm(caType)) throw bad('the signature key is itself a certificate');
  return {
    type,
    publicKey,
    keyAlgorithm,
    serial,
    certType,
    keyId,
    principals,
    validAfter,
    validBefore,
    criticalOptions,
    extensions,
    signatureKey,
    signature,
    signedData: blob.subarray(0, signedLength),
  };
}

/** A certificate from a `*-cert.pub` file's text (`type base64 [comment]`). */
export function parseSshCertificateLine(text: string): { certificate: SshCertificate; blob: Buffer } {
  const [type = '', b64 = ''] = text.trim().split(/\s+/);
  if (!isCertificateAlgorithm(type))
    throw new KeyParseError(
      'unsupported-type',
      `not an OpenSSH certificate file (type '${type.slice(0, 60)}')`,
    );
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw bad('data is not base64');
  const blob = Buffer.from(b64, 'base64');
  const certificate = parseSshCertificate(blob);
  if (certificate.type !== type) throw bad(`the line says ${type} but the data is ${certificate.type}`);
  return { certificate, blob };
}

/** A node:crypto public key from an SSH public key blob (ed25519, ecdsa, rsa). */
export function publicKeyObject(blob: Buffer): KeyObject {
  const r = new WireReader(blob, 'public key');
  const type = r.text();
  try {
    if (type === 'ssh-ed25519') {
      const pk = r.string();
      if (pk.length !== 32 || r.remaining !== 0) throw bad('bad Ed25519 key');
      return createPublicKey({
        key: { kty: 'OKP', crv: 'Ed25519', x: pk.toString('base64url') },
        format: 'jwk',
      });
    }
    if (type === 'ssh-rsa') {
      const e = r.mpint();
      const n = r.mpint();
      if (r.remaining !== 0) throw bad('trailing bytes in RSA key');
      return createPublicKey({
        key: { kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') },
        format: 'jwk',
      });
    }
    const curve = r.text();
    const q = r.string();
    if (type !== `ecdsa-sha2-${curve}` || !isEcdsaCurve(curve) || r.remaining !== 0)
      throw bad('bad ECDSA key');
    const info = ECDSA_CURVES[curve];
    if (q.length !== 1 + 2 * info.bytes || q[0] !== 4) throw bad('ECDSA point is not uncompressed');
    return createPublicKey({
      key: {
        kty: 'EC',
        crv: info.jwk,
        x: q.subarray(1, 1 + info.bytes).toString('base64url'),
        y: q.subarray(1 + info.bytes).toString('base64url'),
      },
      format: 'jwk',
    });
  } catch (err) {
    if (err instanceof KeyParseError) throw err;
    throw new KeyParseError('malformed', `malformed public key: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** An ECDSA signature's (mpint r, mpint s) as the fixed-width r‖s node:crypto verifies. */
function ecdsaP1363(raw: Buffer, bytes: number): Buffer {
  const r = new WireReader(raw, 'ECDSA signature');
  const parts = [r.mpint(), r.mpint()];
  if (r.remaining !== 0) throw bad('trailing bytes in ECDSA signature');
  return Buffer.concat(
    parts.map((p) => {
      if (p.length > bytes) throw bad('ECDSA signature value too long');
      return Buffer.concat([Buffer.alloc(bytes - p.length), p]);
    }),
  );
}

/**
 * Whether `signature` (an SSH signature blob: string algorithm, string bytes) by the key `keyBlob` is valid
 * over `data`. SHA-1 RSA (`ssh-rsa`) signatures are refused, and the algorithm must suit the key.
 */
export function verifySshSignature(keyBlob: Buffer, data: Buffer, signature: Buffer): boolean {
  let algorithm: string;
  let raw: Buffer;
  try {
    const r = new WireReader(signature, 'signature');
    algorithm = r.text();
    raw = r.string();
    if (r.remaining !== 0) return false;
  } catch {
    return false;
  }
  let key: KeyObject;
  let keyType: string;
  try {
    key = publicKeyObject(keyBlob);
    keyType = new WireReader(keyBlob, 'public key').text();
  } catch {
    return false;
  }
  try {
    if (keyType === 'ssh-ed25519')
      return algorithm === 'ssh-ed25519' && raw.length === 64 && verify(null, data, key, raw);
    if (keyType === 'ssh-rsa') {
      const hash =
        algorithm === 'rsa-sha2-256' ? 'sha256' : algorithm === 'rsa-sha2-512' ? 'sha512' : undefined;
      return hash !== undefined && verify(hash, data, key, raw);
    }
    if (algorithm !== keyType) return false;
    const curve = keyType.slice('ecdsa-sha2-'.length);
    if (!isEcdsaCurve(curve)) return false;
    const info = ECDSA_CURVES[curve];
    const hash = info.bits === 256 ? 'sha256' : info.bits === 384 ? 'sha384' : 'sha512';
    return verify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, ecdsaP1363(raw, info.bytes));
  } catch {
    return false;
  }
}

/** Whether the certificate's CA signature (by its signatureKey) is valid. */
export function certificateSignatureValid(cert: SshCertificate): boolean {
  return verifySshSignature(cert.signatureKey, cert.signedData, cert.signature);
}
