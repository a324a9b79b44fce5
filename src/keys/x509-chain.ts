// Reads a PEM certificate chain and its private key and checks they make a usable TLS server identity.
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { certificateFingerprint } from './x509.js';

/** A chain longer than this is not a server's chain (and bounds the work an import does). */
const MAX_CERTIFICATES = 10;
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END CERTIFICATE-----/g;

/** What a store keeps of a certificate besides its PEM: the leaf's names, dates and fingerprint. */
export interface CertificateSummary {
  /** The leaf's subject, as node:crypto prints it (`CN=host`). */
  readonly subject: string;
  readonly issuer: string;
  /** `DNS:a, IP Address:127.0.0.1`, or empty. */
  readonly altNames: string;
  /** `ecdsa-p256`, `rsa-3072`, `ed25519`. */
  readonly algorithm: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SHA-256 of the leaf's DER, AA:BB:… (what `openssl x509 -fingerprint -sha256` prints). */
  readonly fingerprint: string;
  /** How many certificates the chain holds (leaf first). */
  readonly length: number;
}

export interface VerifiedChain extends CertificateSummary {
  /** The chain, normalized: each certificate's PEM, leaf first, newline-terminated. */
  readonly chainPem: string;
  /** The private key as PKCS#8 PEM. */
  readonly keyPem: string;
}

/** The certificates of a PEM text, leaf first; refuses text holding none or too many. */
export function parseCertificateChain(pem: string): X509Certificate[] {
  const blocks = pem.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) throw new InvalidArgumentError('certificate: no PEM certificate found');
  if (blocks.length > MAX_CERTIFICATES)
    throw new InvalidArgumentError(
      `certificate: ${blocks.length} certificates (at most ${MAX_CERTIFICATES})`,
    );
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new InvalidArgumentError(`certificate ${i + 1} of the chain does not parse`);
    }
  });
}

const CURVES: Readonly<Record<string, string>> = { prime256v1: 'p256', secp384r1: 'p384', secp521r1: 'p521' };

function keyAlgorithm(key: KeyObject): string {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') return `ecdsa-${CURVES[d?.namedCurve ?? ''] ?? d?.namedCurve}`;
  if (key.asymmetricKeyType === 'rsa') return `rsa-${d?.modulusLength ?? 0}`;
  return key.asymmetricKeyType ?? 'unknown';
}

/** The leaf's names, dates and fingerprint. */
export function summarizeChain(chain: readonly X509Certificate[], pem: string): CertificateSummary {
  const leaf = chain[0]!;
  return {
    subject: leaf.subject.replaceAll('\n', ', '),
    issuer: leaf.issuer.replaceAll('\n', ', '),
    altNames: leaf.subjectAltName ?? '',
    algorithm: keyAlgorithm(leaf.publicKey),
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
    fingerprint: certificateFingerprint(pem),
    length: chain.length,
  };
}

function readPrivateKey(keyPem: string): KeyObject {
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(keyPem))
    throw new InvalidArgumentError(
      'private key: encrypted; give it unencrypted (Ferry seals it in the store)',
    );
  try {
    const key = createPrivateKey(keyPem);
    if (key.type !== 'private') throw new Error('not private');
    return key;
  } catch {
    throw new InvalidArgumentError('private key: not a PEM private key (PKCS#8, PKCS#1 or SEC1)');
  }
}

/**
 * A chain and key a TLS server can present: every certificate parses and is valid at `now`, each one is
 * signed by the next (when the next is given), and the key is the leaf's. One-line errors otherwise.
 */
export function verifyChainAndKey(chainText: string, keyText: string, now = new Date()): VerifiedChain {
  const chain = parseCertificateChain(chainText);
  const key = readPrivateKey(keyText);
  const leaf = chain[0]!;
  if (!leaf.checkPrivateKey(key))
    throw new InvalidArgumentError("private key: it is not the key of the chain's first certificate");
  chain.forEach((cert, i) => {
    const which = i === 0 ? 'the certificate' : `certificate ${i + 1} of the chain`;
    if (new Date(cert.validTo) <= now)
      throw new InvalidArgumentError(`${which} expired on ${new Date(cert.validTo).toISOString()}`);
    if (new Date(cert.validFrom) > now)
      throw new InvalidArgumentError(
        `${which} is not valid before ${new Date(cert.validFrom).toISOString()}`,
      );
    const issuer = chain[i + 1];
    if (issuer && !(cert.checkIssued(issuer) && cert.verify(issuer.publicKey)))
      throw new InvalidArgumentError(
        `certificate ${i + 1} of the chain is not signed by certificate ${i + 2} (give the chain leaf first)`,
      );
  });
  const chainPem = chain
    .map((c) => (c.toString().endsWith('\n') ? c.toString() : `${c.toString()}\n`))
    .join('');
  return {
    ...summarizeChain(chain, chainPem),
    chainPem,
    keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}
