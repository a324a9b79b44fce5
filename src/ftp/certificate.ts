// The FTPS certificate: a Key Manager certificate (ftps.tlsKeyName), configured PEM files, or a self-signed ECDSA certificate generated on first start and kept
// in the data dir (key mode 0600, like master.key), so clients can pin the fingerprint printed at start.
import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
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
  // The key first, then the certificate, each complete or not at all: a process that finds the certificate finds
  // its key, and one that lost the race for the key reads the pair its winner is finishing.
  if (!(await createComplete(keyPath, made.key, 0o600))) return waitForPair(certPath, keyPath);
  if (!(await createComplete(certPath, made.cert, 0o644))) return readPair(certPath, keyPath);
  return { cert: made.cert, key: made.key, fingerprint: made.fingerprint, generated: true };
}

/**
 * Creates `path` holding `content` unless something is there already (false then). Written under a temporary name
 * and linked into place: a process starting beside this one (a worker, a cluster node on a shared data dir) never
 * reads a half-written file, which a plain exclusive create allowed ("not a PEM certificate", seen in CI).
 */
async function createComplete(path: string, content: string, mode: number): Promise<boolean> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temp, content, { mode, flag: 'wx' });
  try {
    await link(temp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return false;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/** How long a process waits for the certificate whose key another one has just made. */
const PAIR_WAIT_MS = 10_000;

async function waitForPair(certPath: string, keyPath: string): Promise<FtpsCertificate> {
  const deadline = Date.now() + PAIR_WAIT_MS;
  for (;;) {
    try {
      return await readPair(certPath, keyPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (Date.now() > deadline) {
        throw new ConfigError(
          `${keyPath} exists without ${certPath}: remove it and start again to have a new pair made`,
        );
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
