// The FTPS certificate: a Key Manager certificate (ftps.tlsKeyName), configured PEM files, or a self-signed ECDSA certificate generated on first start and kept
// in the data dir (key mode 0600, like master.key), so clients can pin the fingerprint printed at start.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { certificateFingerprint, selfSignedCertificate } from '../keys/x509.js';

export interface FtpsCertificate {
  readonly cert: string;
  readonly key: string;
  readonly fingerprint: string;
  readonly generated: boolean;
  /** The Key Manager certificate's name (ftps.tlsKeyName), for the start line. */
  readonly name?: string;
}

/** What of the Key Manager serves a named certificate (admin.keys.x509, as the API's http.tlsKeyName uses it). */
export interface CertificateSource {
  tlsMaterial(name: string): Promise<{ cert: string; key: { reveal(): string }; fingerprint: string }>;
}

/** A certificate of the Key Manager; a missing one is a one-line configuration error naming the setting. */
async function fromKeyManager(source: CertificateSource, name: string): Promise<FtpsCertificate> {
  let material: Awaited<ReturnType<CertificateSource['tlsMaterial']>>;
  try {
    material = await source.tlsMaterial(name);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_NOT_FOUND') throw err;
    throw new ConfigError(
      `ftps.tlsKeyName: no certificate named ${name} in the Key Manager (ferry keys x509 list)`,
      {
        cause: err,
      },
    );
  }
  return {
    cert: material.cert,
    key: material.key.reveal(),
    fingerprint: material.fingerprint,
    generated: false,
    name,
  };
}

async function readPair(certPath: string, keyPath: string): Promise<FtpsCertificate> {
  const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new ConfigError(`${certPath} is not a PEM certificate`);
  }
  if (!x509.checkPrivateKey(createPrivateKey(key))) {
    throw new ConfigError(`${keyPath} is not the private key of ${certPath}`);
  }
  return { cert, key, fingerprint: certificateFingerprint(cert), generated: false };
}

/**
 * The Key Manager's named certificate, else the configured pair, else the data dir's
 * `ftps-cert.pem`/`ftps-key.pem`, generated when missing.
 */
export async function loadFtpsCertificate(
  dataDir: string,
  configured: { tlsCert?: string | undefined; tlsKey?: string | undefined; tlsKeyName?: string | undefined },
  keyManager: CertificateSource,
): Promise<FtpsCertificate> {
  if (configured.tlsKeyName !== undefined) return fromKeyManager(keyManager, configured.tlsKeyName);
  if (configured.tlsCert && configured.tlsKey) return readPair(configured.tlsCert, configured.tlsKey);
  const certPath = join(dataDir, 'ftps-cert.pem');
  const keyPath = join(dataDir, 'ftps-key.pem');
  try {
    return await readPair(certPath, keyPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const made = selfSignedCertificate('Ferry FTPS', ['localhost']);
  try {
    // 'wx': never over a pair another worker (--workers) wrote at the same moment; theirs is read instead.
    await writeFile(keyPath, made.key, { mode: 0o600, flag: 'wx' });
    await writeFile(certPath, made.cert, { mode: 0o644, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    await new Promise((resolve) => setTimeout(resolve, 200));
    return readPair(certPath, keyPath);
  }
  return { cert: made.cert, key: made.key, fingerprint: made.fingerprint, generated: true };
}
