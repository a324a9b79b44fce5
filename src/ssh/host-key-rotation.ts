// OpenSSH host key rotation (PROTOCOL §2.5): announce all host keys; prove possession of the ones a client asks about.
import type { Connection } from 'ssh2';
import type { HostKeyMaterial } from '../key-manager/host-keys.js';
import { plainAlgorithm } from '../keys/ssh-certificate.js';
import type { Logger } from '../logger.js';

/** ssh2's internals reached through our patch (patches/ssh2+1.17.0.patch): the protocol object and session id. */
interface ProtocolInternals {
  _protocol: { openssh_hostKeys(blobs: Buffer[]): void; _kex: { sessionID: Buffer } };
}

function sshString(data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

export function announceHostKeys(client: Connection, keys: readonly HostKeyMaterial[], log: Logger): void {
  try {
    (client as unknown as ProtocolInternals)._protocol.openssh_hostKeys(keys.map((k) => k.publicBlob));
  } catch (err) {
    log.warn({ err }, 'could not announce host keys');
  }
}

/** Reads the requested key blobs (a sequence of SSH strings), bounds-checked. */
function requestedBlobs(data: Buffer): Buffer[] | undefined {
  const blobs: Buffer[] = [];
  let pos = 0;
  while (pos < data.length) {
    if (pos + 4 > data.length) return undefined;
    const len = data.readUInt32BE(pos);
    pos += 4;
    if (pos + len > data.length) return undefined;
    blobs.push(data.subarray(pos, pos + len));
    pos += len;
  }
  return blobs;
}

/**
 * The REQUEST_SUCCESS payload for hostkeys-prove-00@openssh.com: one signature per requested key over
 * (string "hostkeys-prove-00@openssh.com", string session id, string key). Undefined when a key is not ours.
 */
export function proveHostKeys(
  client: Connection,
  keys: readonly HostKeyMaterial[],
  data: Buffer,
  negotiatedHostKey: string,
): Buffer | undefined {
  const blobs = Buffer.isBuffer(data) ? requestedBlobs(data) : undefined;
  if (!blobs || blobs.length === 0) return undefined;
  const sessionId = (client as unknown as ProtocolInternals)._protocol._kex.sessionID;
  // OpenSSH verifies RSA proofs with the RSA algorithm negotiated for the key exchange, else rsa-sha2-512.
  // A host certificate's algorithm (rsa-sha2-256-cert-v01@openssh.com) signs as its plain one.
  const rsaAlgorithm = plainAlgorithm(negotiatedHostKey) === 'rsa-sha2-256' ? 'rsa-sha2-256' : 'rsa-sha2-512';
  const signatures: Buffer[] = [];
  for (const blob of blobs) {
    const key = keys.find((k) => k.publicBlob.equals(blob));
    if (!key) return undefined;
    const signed = Buffer.concat([
      sshString('hostkeys-prove-00@openssh.com'),
      sshString(sessionId),
      sshString(blob),
    ]);
    signatures.push(sshString(key.sign(signed, rsaAlgorithm)));
  }
  return Buffer.concat(signatures);
}
