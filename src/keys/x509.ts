// A self-signed X.509 certificate for a TLS listener (FTPS, the HTTP API), built as DER here: node:crypto parses and verifies
// certificates but cannot make one, and shelling out to openssl for the first start would add a runtime tool.
import {
  createHash,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';
import { isIP } from 'node:net';
import { InvalidArgumentError } from '../errors.js';

function der(tag: number, body: Buffer): Buffer {
  const n = body.length;
  let length: Buffer;
  if (n < 0x80) length = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    length = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), length, body]);
}

const seq = (...items: Buffer[]) => der(0x30, Buffer.concat(items));

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes: number[] = [40 * parts[0]! + parts[1]!];
  for (const part of parts.slice(2)) {
    const group: number[] = [part & 0x7f];
    for (let v = Math.floor(part / 128); v > 0; v = Math.floor(v / 128)) group.unshift((v & 0x7f) | 0x80);
    bytes.push(...group);
  }
  return der(0x06, Buffer.from(bytes));
}

/** A positive INTEGER from unsigned big-endian bytes (a leading zero keeps the sign bit clear). */
function positiveInteger(bytes: Buffer): Buffer {
  let body = bytes;
  while (body.length > 1 && body[0] === 0 && body[1]! < 0x80) body = body.subarray(1);
  if (body[0]! >= 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return der(0x02, body);
}

/** UTCTime until 2049, GeneralizedTime after (RFC 5280 §4.1.2.5). */
function time(at: Date): Buffer {
  const iso = at.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return at.getUTCFullYear() < 2050
    ? der(0x17, Buffer.from(`${iso.slice(2)}Z`))
    : der(0x18, Buffer.from(`${iso}Z`));
}

const commonName = (cn: string) => seq(der(0x31, seq(oid('2.5.4.3'), der(0x0c, Buffer.from(cn, 'utf8')))));

/** A subjectAltName entry: a DNS name or an IP address (IPv4 or IPv6 text). */
export type SubjectAltName = { readonly type: 'dns' | 'ip'; readonly value: string };

export type CertificateKeyType = 'ecdsa' | 'rsa';

export interface SelfSignedCertificate {
  /** PEM of the certificate. */
  readonly cert: string;
  /** PKCS#8 PEM of the private key. */
  readonly key: string;
  /** SHA-256 of the DER certificate, colon-separated upper-case hex (as openssl and browsers show it). */
  readonly fingerprint: string;
}

export interface CertificateOptions {
  readonly cn: string;
  readonly altNames?: readonly SubjectAltName[];
  readonly days?: number;
  /** ECDSA P-256 (default) or RSA (`bits`, default 3072). */
  readonly type?: CertificateKeyType;
  readonly bits?: number;
  readonly now?: Date;
}

/**
 * An ECDSA P-256 certificate signed by its own key, valid from an hour ago for `days` days, naming `cn` as
 * subject and issuer and, for clients that check names, `dnsNames` as subjectAltName.
 */
export function selfSignedCertificate(
  cn: string,
  dnsNames: readonly string[] = [],
  days = 3650,
  now = new Date(),
): SelfSignedCertificate {
  return generateCertificate({ cn, altNames: dnsNames.map((value) => ({ type: 'dns', value })), days, now });
}

/** A new key pair of `type` and a self-signed server certificate for it. */
export function generateCertificate(o: CertificateOptions): SelfSignedCertificate {
  const pair =
    o.type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: o.bits ?? 3072 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return buildCertificate(o, pair.privateKey, pair.publicKey);
}

/** IPv4 as 4 bytes, IPv6 as 16 (RFC 5280 iPAddress); undefined when `text` is neither. */
export function ipAddressBytes(text: string): Buffer | undefined {
  const version = isIP(text);
  if (version === 4) return Buffer.from(text.split('.').map(Number));
  if (version !== 6) return undefined;
  let address = text;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    address = `${address.slice(0, v4.index)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head = '', tail] = address.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => {
    out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  });
  return out;
}

function buildCertificate(
  o: CertificateOptions,
  privateKey: KeyObject,
  publicKey: KeyObject,
): SelfSignedCertificate {
  const now = o.now ?? new Date();
  const days = o.days ?? 3650;
  // ecdsa-with-SHA256 has no parameters; sha256WithRSAEncryption has an explicit NULL (RFC 4055).
  const algorithm =
    o.type === 'rsa'
      ? seq(oid('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00]))
      : seq(oid('1.2.840.10045.4.3.2'));
  const name = commonName(o.cn);
  const notBefore = new Date(now.getTime() - 3600_000);
  const notAfter = new Date(now.getTime() + days * 86_400_000);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // RSA keys also encipher (TLS 1.2 RSA key exchange); ECDSA keys only sign.
  const usage = o.type === 'rsa' ? Buffer.from([0x05, 0xa0]) : Buffer.from([0x07, 0x80]);
  const extensions: Buffer[] = [
    // basicConstraints, critical: not a CA.
    seq(oid('2.5.29.19'), der(0x01, Buffer.from([0xff])), der(0x04, seq())),
    // keyUsage, critical.
    seq(oid('2.5.29.15'), der(0x01, Buffer.from([0xff])), der(0x04, der(0x03, usage))),
    // extKeyUsage serverAuth.
    seq(oid('2.5.29.37'), der(0x04, seq(oid('1.3.6.1.5.5.7.3.1')))),
  ];
  const altNames = o.altNames ?? [];
  if (altNames.length > 0) {
    const names = altNames.map((n) => {
      if (n.type === 'dns') return der(0x82, Buffer.from(n.value, 'ascii'));
      const bytes = ipAddressBytes(n.value);
      if (!bytes) throw new InvalidArgumentError(`not an IP address: ${n.value.slice(0, 60)}`);
      return der(0x87, bytes);
    });
    extensions.push(seq(oid('2.5.29.17'), der(0x04, seq(...names))));
  }
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))),
    positiveInteger(randomBytes(16)),
    algorithm,
    name,
    seq(time(notBefore), time(notAfter)),
    name,
    spki,
    der(0xa3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, privateKey);
  const certDer = seq(tbs, algorithm, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const b64 = certDer.toString('base64').replace(/.{64}/g, '$&\n');
  const cert = `-----BEGIN CERTIFICATE-----\n${b64.replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
  return {
    cert,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    fingerprint: certificateFingerprint(cert),
  };
}

/** SHA-256 fingerprint of a PEM certificate (the first one of a chain), AA:BB:… form; throws on a bad PEM. */
export function certificateFingerprint(pem: string): string {
  const cert = new X509Certificate(pem);
  return createHash('sha256')
    .update(cert.raw)
    .digest('hex')
    .toUpperCase()
    .replace(/(..)(?!$)/g, '$1:');
}
