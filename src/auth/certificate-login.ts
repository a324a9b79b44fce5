// Publickey logins with OpenSSH user certificates: trusted CA, validity, principals, critical options, revocation.
import { isIP } from 'node:net';
import {
  CERT_USER,
  certificateSignatureValid,
  parseSshCertificate,
  plainAlgorithm,
  type SshCertificate,
  verifySshSignature,
} from '../keys/ssh-certificate.js';
import { sha256Fingerprint } from '../keys/ssh-keys.js';
import { WireReader } from '../keys/ssh-wire.js';
import type { CertRevocationRepository, UserCaRepository } from '../store/types.js';
import { cidrBlockList, matchesCidrs } from './defender.js';

/** Where trusted CAs and revocations are read from: the store, at every login, so changes apply at once. */
export interface CertificateTrust {
  readonly cas: Pick<UserCaRepository, 'list'>;
  readonly revocations: Pick<CertRevocationRepository, 'isRevoked'>;
}

/** What a certificate login is recorded with. */
export interface CertificateLogin {
  readonly keyId: string;
  readonly serial: string;
  readonly caName: string;
  readonly caFingerprint: string;
  /** Set when the certificate forces internal-sftp: the session may then open SFTP only (no SCP, no exec). */
  readonly forceCommand?: 'internal-sftp';
}

export type CertificateVerdict =
  | { readonly ok: true; readonly login: CertificateLogin; readonly certificate: SshCertificate }
  | { readonly ok: false; readonly reason: string };

/** The one force-command a file-transfer server can honour: it is what it does anyway. */
const HARMLESS_FORCE_COMMAND = 'internal-sftp' as const;

/** A source-address option's list matched against the client's address (malformed lists refuse, like OpenSSH). */
function sourceAddressAllows(list: string, address: string | undefined): boolean {
  const cidrs = list.split(',').map((s) => s.trim());
  for (const cidr of cidrs) {
    const [ip = '', prefix, extra] = cidr.split('/');
    const version = isIP(ip);
    if (version === 0 || extra !== undefined) return false;
    if (prefix !== undefined && (!/^\d+$/.test(prefix) || Number(prefix) > (version === 4 ? 32 : 128)))
      return false;
  }
  return address !== undefined && address !== '' && matchesCidrs(cidrBlockList(cidrs), address);
}

/** Why the critical options refuse this login, or undefined when each is understood and satisfied. */
function criticalOptionRefusal(cert: SshCertificate, address: string | undefined): string | undefined {
  for (const [name, value] of cert.criticalOptions) {
    if (name === 'source-address') {
      if (!sourceAddressAllows(value, address))
        return `certificate source-address ${value.slice(0, 80)} does not include ${address ?? 'this client'}`;
    } else if (name === 'force-command') {
      // Ferry has no shell to force a command into: anything but internal-sftp would widen what the CA allowed.
      if (value !== HARMLESS_FORCE_COMMAND)
        return `certificate force-command ${value.slice(0, 80)} cannot be honoured`;
    } else {
      return `certificate has unknown critical option ${name.slice(0, 60)}`;
    }
  }
  return undefined;
}

/**
 * Judges a user certificate offered for `username` (everything but the holder's signature over the session,
 * which `signatureValid` checks). `algorithm` is the publickey algorithm the client named.
 */
export async function judgeUserCertificate(
  trust: CertificateTrust,
  algorithm: string,
  blob: Buffer,
  username: string,
  remoteAddress: string | undefined,
  now: Date,
): Promise<CertificateVerdict> {
  let cert: SshCertificate;
  try {
    cert = parseSshCertificate(blob);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  // rsa-sha2-256/512-cert-v01 name an ssh-rsa-cert-v01 blob; every other name is the blob's own type.
  const rsaNames = ['rsa-sha2-256-cert-v01@openssh.com', 'rsa-sha2-512-cert-v01@openssh.com'];
  const named =
    cert.type === 'ssh-rsa-cert-v01@openssh.com' ? rsaNames.includes(algorithm) : algorithm === cert.type;
  if (!named)
    return {
      ok: false,
      reason: `algorithm ${algorithm.slice(0, 60)} does not match certificate ${cert.type}`,
    };
  if (cert.certType !== CERT_USER) return { ok: false, reason: 'not a user certificate' };
  const caFingerprint = sha256Fingerprint(cert.signatureKey);
  const ca = (await trust.cas.list()).find((c) => c.publicBlob.equals(cert.signatureKey));
  if (!ca) return { ok: false, reason: `certificate signed by untrusted CA ${caFingerprint}` };
  if (!certificateSignatureValid(cert)) return { ok: false, reason: 'certificate signature invalid' };
  const seconds = BigInt(Math.floor(now.getTime() / 1000));
  if (seconds < cert.validAfter) return { ok: false, reason: 'certificate not yet valid' };
  if (seconds >= cert.validBefore) return { ok: false, reason: 'certificate expired' };
  // OpenSSH lets a certificate without principals stand for anyone; here it stands for no one.
  if (cert.principals.length === 0) return { ok: false, reason: 'certificate names no principals' };
  if (!cert.principals.includes(username))
    return { ok: false, reason: `certificate principals do not include ${username.slice(0, 60)}` };
  const refusal = criticalOptionRefusal(cert, remoteAddress);
  if (refusal) return { ok: false, reason: refusal };
  const login: CertificateLogin = {
    keyId: cert.keyId,
    serial: cert.serial.toString(),
    caName: ca.name,
    caFingerprint,
    ...(cert.criticalOptions.has('force-command') ? { forceCommand: HARMLESS_FORCE_COMMAND } : {}),
  };
  const revoked = await trust.revocations.isRevoked({
    serial: login.serial,
    caFingerprint,
    keyId: cert.keyId,
    keyFingerprint: sha256Fingerprint(cert.publicKey),
  });
  if (revoked)
    return {
      ok: false,
      reason: `certificate revoked (serial ${login.serial}, key id ${cert.keyId.slice(0, 60)})`,
    };
  return { ok: true, login, certificate: cert };
}

/** The holder's signature over the session: made by the certified key, with the algorithm the client named. */
export function holderSignatureValid(
  cert: SshCertificate,
  algorithm: string,
  data: Buffer,
  signature: Buffer,
): boolean {
  let signedWith: string;
  try {
    signedWith = new WireReader(signature, 'signature').text();
  } catch {
    return false;
  }
  return signedWith === plainAlgorithm(algorithm) && verifySshSignature(cert.publicKey, data, signature);
}
