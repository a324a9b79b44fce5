import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { generateSshKeyPair, type SshKeyPair } from './private-keys.js';
import { CERT_HOST, certificateSignatureValid, parseSshCertificate } from './ssh-certificate.js';
import { encodeHostCertificate } from './ssh-certificate-writer.js';
import { wireMpint, wireString } from './ssh-wire.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-certw-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** An SSH signature by `ca` (what the server's host key signer makes; written out here, below key-manager/). */
function signer(ca: SshKeyPair) {
  const key = createPrivateKey({ key: ca.privateKey.reveal(), format: 'der', type: 'pkcs8' });
  return (data: Buffer): Buffer => {
    if (ca.algorithm === 'ssh-ed25519')
      return Buffer.concat([wireString('ssh-ed25519'), wireString(sign(null, data, key))]);
    if (ca.algorithm === 'ssh-rsa')
      return Buffer.concat([wireString('rsa-sha2-512'), wireString(sign('sha512', data, key))]);
    const raw = sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
    const rs = Buffer.concat([wireMpint(raw.subarray(0, 32)), wireMpint(raw.subarray(32))]);
    return Buffer.concat([wireString(ca.algorithm), wireString(rs)]);
  };
}

for (const [caType, hostType] of [
  ['ed25519', 'ed25519'],
  ['rsa', 'ecdsa'],
  ['ecdsa', 'rsa'],
] as const) {
  test(`a ${hostType} host certificate signed by a ${caType} CA reads back, and ssh-keygen -L reads it the same`, () => {
    const ca = generateSshKeyPair(caType);
    const host = generateSshKeyPair(hostType);
    const blob = encodeHostCertificate(
      {
        publicBlob: host.publicBlob,
        keyId: 'ferry',
        principals: ['sftp.example.com', '192.0.2.10'],
        serial: 42n,
        validAfter: 1_700_000_000n,
        validBefore: 0xffffffffffffffffn,
      },
      ca.publicBlob,
      signer(ca),
    );
    const cert = parseSshCertificate(blob);
    assert.equal(cert.certType, CERT_HOST);
    assert.ok(cert.publicKey.equals(host.publicBlob));
    assert.deepEqual(cert.principals, ['sftp.example.com', '192.0.2.10']);
    assert.equal(certificateSignatureValid(cert), true);
    const file = join(dir, `${caType}-${hostType}-cert.pub`);
    writeFileSync(file, `${cert.type} ${blob.toString('base64')}\n`);
    const listed = execFileSync('ssh-keygen', ['-L', '-f', file]).toString();
    assert.match(listed, new RegExp(`Type: ${cert.type} host certificate`));
    assert.ok(listed.includes(`${ca.sha256} (using `), listed);
    assert.match(listed, /Serial: 42/);
    assert.match(listed, /Valid: after 2023-11-14/);
    assert.match(listed, /Principals: \n\s+sftp\.example\.com\n\s+192\.0\.2\.10/);
  });
}
