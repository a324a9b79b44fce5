// Writes OpenSSH host certificates (PROTOCOL.certkeys) for Ferry's own host keys, signed by a CA key it is given.
import { randomBytes } from 'node:crypto';
import { CERT_HOST } from './ssh-certificate.js';
import { WireReader, wireString, wireUint32 } from './ssh-wire.js';

export interface HostCertificateFields {
  /** The host key's public blob (ssh-ed25519 …, ecdsa-sha2-…, ssh-rsa …). */
  readonly publicBlob: Buffer;
  readonly keyId: string;
  /** Host names clients connect with; OpenSSH refuses a host certificate without one. */
  readonly principals: readonly string[];
  readonly serial: bigint;
  /** Seconds since the epoch. */
  readonly validAfter: bigint;
  readonly validBefore: bigint;
}

function uint64(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
}

/**
 * The certificate blob: the host key's fields after its type, the certificate fields, the CA's public blob and
 * the CA's SSH signature (made by `sign`) over all of that.
 */
export function encodeHostCertificate(
  fields: HostCertificateFields,
  caPublicBlob: Buffer,
  sign: (data: Buffer) => Buffer,
): Buffer {
  const key = new WireReader(fields.publicBlob, 'host key');
  const type = key.text();
  const signed = Buffer.concat([
    wireString(`${type}-cert-v01@openssh.com`),
    wireString(randomBytes(32)),
    key.rest(),
    uint64(fields.serial),
    wireUint32(CERT_HOST),
    wireString(fields.keyId),
    wireString(Buffer.concat(fields.principals.map((p) => wireString(p)))),
    uint64(fields.validAfter),
    uint64(fields.validBefore),
    wireString(''), // critical options: none are defined for host certificates
    wireString(''), // extensions: none are defined for host certificates
    wireString(''), // reserved
    wireString(caPublicBlob),
  ]);
  return Buffer.concat([signed, wireString(sign(signed))]);
}
