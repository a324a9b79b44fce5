// FTPS partners: how their certificate is trusted (a pinned SHA-256, or a CA file), the one-line refusal when it
// changed, the certificate fetch for `partners trust`, and `partners test` over FTPS.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { FerryError, InvalidArgumentError } from '../errors.js';
import type { PartnerRecord } from '../store/types.js';
import type { Secret } from '../util/secret.js';
import type { PresentedHostKey } from './connection.js';
import {
  type CertificatePolicy,
  CertificateRejectedError,
  connectFtps,
  type FtpsConnection,
} from './ftps-connection.js';

/** The presented certificate is not the pinned one: refused before the password is sent, nothing transferred. */
export class CertificateChangedError extends FerryError {
  readonly expected: string;
  readonly presented: string;
  constructor(partner: PartnerRecord, presented: PresentedHostKey) {
    super(
      'ERR_PERMISSION_DENIED',
      `partner ${partner.name} (${partner.host}:${partner.port}) presented TLS certificate SHA-256 ${presented.sha256}, not the trusted ${partner.hostKeySha256}; nothing was transferred (check with the partner, then: ferry partners trust ${partner.name} --fingerprint <verified SHA-256>)`,
    );
    this.expected = partner.hostKeySha256 ?? '';
    this.presented = presented.sha256;
  }
}

export const isFtps = (p: Pick<PartnerRecord, 'protocol'>): boolean => p.protocol !== 'sftp';

/** Reads a CA bundle and checks it holds at least one certificate (at add time, not at 3 a.m.). */
export async function readCaFile(path: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`cannot read --ca-file ${path}: ${(err as Error).message}`);
  }
  const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
  try {
    if (!first) throw new Error('no PEM certificate');
    new X509Certificate(first[0]);
  } catch {
    throw new InvalidArgumentError(`--ca-file ${path} holds no PEM certificate`);
  }
  return pem;
}

/** The certificate policy of a partner's runs: its CA file when it has one, else the pinned fingerprint. */
async function policyOf(partner: PartnerRecord): Promise<CertificatePolicy | undefined> {
  if (partner.tlsCaFile) return { kind: 'ca', ca: await readCaFile(partner.tlsCaFile) };
  if (partner.hostKeySha256) return { kind: 'pin', sha256: partner.hostKeySha256 };
  return undefined;
}

export async function connectFtpsPartner(
  partner: PartnerRecord,
  password: Secret<string> | undefined,
  timeoutMs: number | undefined,
  notTrusted: () => Error,
): Promise<FtpsConnection> {
  const certificate = await policyOf(partner);
  if (!certificate) throw notTrusted();
  return connectFtps({
    host: partner.host,
    port: partner.port,
    implicit: partner.protocol === 'ftps-implicit',
    username: partner.username,
    password,
    certificate,
    onMismatch: (presented) => new CertificateChangedError(partner, presented),
    timeoutMs,
  });
}

/** Connects as far as the TLS handshake and returns the certificate the server presents (no login). */
export async function fetchCertificate(
  partner: PartnerRecord,
  timeoutMs?: number,
): Promise<PresentedHostKey> {
  try {
    const conn = await connectFtps({
      host: partner.host,
      port: partner.port,
      implicit: partner.protocol === 'ftps-implicit',
      username: partner.username,
      certificate: { kind: 'fetch' },
      timeoutMs,
    });
    await conn.close();
  } catch (err) {
    if (err instanceof CertificateRejectedError) return err.presented;
    throw err;
  }
  throw new FerryError('ERR_PROTOCOL', 'the connection went on without a certificate check');
}

/** `partners test` over FTPS: the same report as SFTP's, with TLS in place of the SSH algorithms. */
export async function testFtps(conn: FtpsConnection) {
  try {
    const t = performance.now();
    const home = await conn.client.pwd();
    const requestMs = performance.now() - t;
    const entries = await conn.client.list();
    return {
      protocol: 'ftps' as const,
      hostKey: conn.certificate,
      kex: conn.tls.version,
      cipher: conn.tls.cipher,
      mac: '',
      serverBanner: conn.welcome.replace(/^\d{3}[ -]/, '').trim(),
      connectMs: conn.timings.connectMs,
      loginMs: conn.timings.loginMs,
      requestMs,
      home,
      entries: entries.length,
      extensions: [...conn.features.keys()],
      chunk: 0,
      serverHash: conn.canHash,
    };
  } finally {
    await conn.close();
  }
}
