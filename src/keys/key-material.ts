// SSH private key components (what OpenSSH and PuTTY files hold) and their checked conversion to and from node:crypto keys.
import { createECDH, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { DSA_UNSUPPORTED, KeyParseError } from './key-errors.js';
import { wireMpint, wireString } from './ssh-wire.js';

export type EcdsaCurve = 'nistp256' | 'nistp384' | 'nistp521';

export type SshKeyMaterial =
  | { readonly kind: 'ed25519'; readonly seed: Buffer; readonly publicKey: Buffer }
  | { readonly kind: 'ecdsa'; readonly curve: EcdsaCurve; readonly d: Buffer; readonly q: Buffer }
  | {
      readonly kind: 'rsa';
      readonly n: Buffer;
      readonly e: Buffer;
      readonly d: Buffer;
      readonly p: Buffer;
      readonly q: Buffer;
      /** q⁻¹ mod p, as both OpenSSH and PuTTY store it. */
      readonly iqmp: Buffer;
    };

interface CurveInfo {
  readonly jwk: string;
  readonly openssl: string;
  readonly bytes: number;
  readonly bits: number;
}

export const ECDSA_CURVES: Readonly<Record<EcdsaCurve, CurveInfo>> = {
  nistp256: { jwk: 'P-256', openssl: 'prime256v1', bytes: 32, bits: 256 },
  nistp384: { jwk: 'P-384', openssl: 'secp384r1', bytes: 48, bits: 384 },
  nistp521: { jwk: 'P-521', openssl: 'secp521r1', bytes: 66, bits: 521 },
};

export function isEcdsaCurve(name: string): name is EcdsaCurve {
  return Object.hasOwn(ECDSA_CURVES, name);
}

// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410): a fixed 16-byte prefix.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

const b64u = (b: Buffer): string => b.toString('base64url');
const unb64u = (s: string | undefined, what: string): Buffer => {
  if (s === undefined) throw new KeyParseError('malformed', `malformed key: ${what} missing`);
  return Buffer.from(s, 'base64url');
};

function toBigInt(b: Buffer): bigint {
  return b.length === 0 ? 0n : BigInt(`0x${b.toString('hex')}`);
}

function fromBigInt(v: bigint): Buffer {
  if (v === 0n) return Buffer.alloc(0);
  const hex = v.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
}

function stripZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.subarray(i);
}

/** Left-pads a big-endian magnitude to `len` bytes; longer values are malformed. */
function fixedLength(b: Buffer, len: number, what: string): Buffer {
  const m = stripZeros(b);
  if (m.length > len) throw new KeyParseError('malformed', `malformed key: ${what} is too long`);
  return Buffer.concat([Buffer.alloc(len - m.length), m]);
}

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [((a % m) + m) % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new KeyParseError('malformed', 'malformed key: RSA primes are not coprime');
  return ((oldS % m) + m) % m;
}

export function sshAlgorithm(m: SshKeyMaterial): string {
  if (m.kind === 'ed25519') return 'ssh-ed25519';
  if (m.kind === 'ecdsa') return `ecdsa-sha2-${m.curve}`;
  return 'ssh-rsa';
}

/** The public key in SSH wire format (RFC 4253 §6.6, RFC 5656 §3.1, RFC 8709). */
export function publicBlob(m: SshKeyMaterial): Buffer {
  const alg = sshAlgorithm(m);
  if (m.kind === 'ed25519') return Buffer.concat([wireString(alg), wireString(m.publicKey)]);
  if (m.kind === 'ecdsa') return Buffer.concat([wireString(alg), wireString(m.curve), wireString(m.q)]);
  return Buffer.concat([wireString(alg), wireMpint(m.e), wireMpint(m.n)]);
}

/** Reads the components of a node:crypto private key; DSA and other non-SSH types are refused. */
export function materialFromKeyObject(key: KeyObject): SshKeyMaterial {
  if (key.type !== 'private')
    throw new KeyParseError('public-key', 'this is a public key; a private key is needed');
  const type = key.asymmetricKeyType;
  if (type === 'dsa') throw new KeyParseError('unsupported-type', DSA_UNSUPPORTED);
  if (type !== 'ed25519' && type !== 'ec' && type !== 'rsa') {
    throw new KeyParseError(
      'unsupported-type',
      `${type ?? 'unknown'} keys are not supported (use ed25519, ecdsa or rsa)`,
    );
  }
  const jwk: JsonWebKey = key.export({ format: 'jwk' });
  if (type === 'ed25519') return { kind: 'ed25519', seed: unb64u(jwk.d, 'd'), publicKey: unb64u(jwk.x, 'x') };
  if (type === 'ec') {
    const entry = Object.entries(ECDSA_CURVES).find(([, c]) => c.jwk === jwk.crv);
    if (!entry)
      throw new KeyParseError(
        'unsupported-type',
        `ECDSA curve ${jwk.crv ?? '?'} is not supported (use P-256, P-384 or P-521)`,
      );
    const [curve, info] = entry as [EcdsaCurve, CurveInfo];
    const q = Buffer.concat([
      Buffer.from([4]),
      fixedLength(unb64u(jwk.x, 'x'), info.bytes, 'x'),
      fixedLength(unb64u(jwk.y, 'y'), info.bytes, 'y'),
    ]);
    return { kind: 'ecdsa', curve, d: fixedLength(unb64u(jwk.d, 'd'), info.bytes, 'd'), q };
  }
  return {
    kind: 'rsa',
    n: stripZeros(unb64u(jwk.n, 'n')),
    e: stripZeros(unb64u(jwk.e, 'e')),
    d: stripZeros(unb64u(jwk.d, 'd')),
    p: stripZeros(unb64u(jwk.p, 'p')),
    q: stripZeros(unb64u(jwk.q, 'q')),
    iqmp: stripZeros(unb64u(jwk.qi, 'qi')),
  };
}

function mismatch(): KeyParseError {
  return new KeyParseError('malformed', 'malformed key: private and public halves do not match');
}

/**
 * Builds a node:crypto private key from file components, checking that the halves belong together
 * (a file whose public part was edited must not be accepted as that identity).
 */
export function keyObjectFromMaterial(m: SshKeyMaterial): KeyObject {
  try {
    if (m.kind === 'ed25519') {
      if (m.seed.length !== 32 || m.publicKey.length !== 32)
        throw new KeyParseError('malformed', 'malformed key: bad Ed25519 key length');
      const key = createPrivateKey({
        key: Buffer.concat([ED25519_PKCS8_PREFIX, m.seed]),
        format: 'der',
        type: 'pkcs8',
      });
      const x = createPublicKey(key).export({ format: 'jwk' }).x;
      if (x !== b64u(m.publicKey)) throw mismatch();
      return key;
    }
    if (m.kind === 'ecdsa') {
      const info = ECDSA_CURVES[m.curve];
      const d = fixedLength(m.d, info.bytes, 'private scalar');
      const ecdh = createECDH(info.openssl);
      ecdh.setPrivateKey(d);
      const q = ecdh.getPublicKey();
      if (!q.equals(m.q)) throw mismatch();
      return createPrivateKey({
        key: {
          kty: 'EC',
          crv: info.jwk,
          d: b64u(d),
          x: b64u(q.subarray(1, 1 + info.bytes)),
          y: b64u(q.subarray(1 + info.bytes)),
        },
        format: 'jwk',
      });
    }
    const [n, e, d, p, q] = [m.n, m.e, m.d, m.p, m.q].map(toBigInt) as [
      bigint,
      bigint,
      bigint,
      bigint,
      bigint,
    ];
    if (p < 2n || q < 2n || p * q !== n) throw mismatch();
    return createPrivateKey({
      key: {
        kty: 'RSA',
        n: b64u(fromBigInt(n)),
        e: b64u(fromBigInt(e)),
        d: b64u(fromBigInt(d)),
        p: b64u(fromBigInt(p)),
        q: b64u(fromBigInt(q)),
        dp: b64u(fromBigInt(d % (p - 1n))),
        dq: b64u(fromBigInt(d % (q - 1n))),
        // Recomputed rather than trusted: a wrong iqmp in a file would make every signature invalid.
        qi: b64u(fromBigInt(modInverse(q, p))),
      },
      format: 'jwk',
    });
  } catch (err) {
    if (err instanceof KeyParseError) throw err;
    throw new KeyParseError('malformed', `malformed key: ${oneLine(err)}`, { cause: err });
  }
}

/** First line of an error message without OpenSSL's `error:1E08010C:DECODER routines::` prefixes. */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return (msg.split('\n')[0] ?? '').replace(/^error:[0-9A-F]+:[^:]*::/i, '').trim();
}
