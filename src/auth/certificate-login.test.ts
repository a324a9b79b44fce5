import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { keyObjectFromMaterial } from '../keys/key-material.js';
import { readOpenSshPrivateKey } from '../keys/openssh-format.js';
import { parseSshCertificate } from '../keys/ssh-certificate.js';
import { sha256Fingerprint } from '../keys/ssh-keys.js';
import { wireString } from '../keys/ssh-wire.js';
import type { UserCaRecord } from '../store/types.js';
import { type CertificateTrust, holderSignatureValid, judgeUserCertificate } from './certificate-login.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-certlogin-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function keygen(): string {
  const file = join(dir, `k${n++}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', file]);
  return file;
}
const blobOf = (file: string) => Buffer.from(readFileSync(file, 'utf8').split(' ')[1]!, 'base64');

const ca = keygen();
const caRecord: UserCaRecord = {
  id: 1,
  name: 'corp',
  algorithm: 'ssh-ed25519',
  publicBlob: blobOf(`${ca}.pub`),
  fingerprint: sha256Fingerprint(blobOf(`${ca}.pub`)),
  createdAt: new Date(),
};
const trust: CertificateTrust = {
  cas: { list: async () => [caRecord] },
  revocations: { isRevoked: async () => false },
};

function certify(args: string[]): { key: string; blob: Buffer } {
  const key = keygen();
  execFileSync('ssh-keygen', ['-q', '-s', ca, ...args, `${key}.pub`], { stdio: 'ignore' });
  return { key, blob: blobOf(`${key}-cert.pub`) };
}

const ED = 'ssh-ed25519-cert-v01@openssh.com';
const judge = (blob: Buffer, algorithm = ED, user = 'alice', address = '127.0.0.1') =>
  judgeUserCertificate(trust, algorithm, blob, user, address, new Date());

test('a valid user certificate names its key id, serial and CA', async () => {
  const { blob } = certify(['-I', 'id', '-n', 'alice', '-z', '5']);
  const v = await judge(blob);
  assert.ok(v.ok);
  assert.deepEqual(v.login, {
    keyId: 'id',
    serial: '5',
    caName: 'corp',
    caFingerprint: caRecord.fingerprint,
  });
});

test('a host certificate does not log in a user', async () => {
  const { blob } = certify(['-h', '-I', 'host', '-n', 'alice']);
  assert.deepEqual(await judge(blob), { ok: false, reason: 'not a user certificate' });
});

test('the algorithm the client names must be the certificate type', async () => {
  const { blob } = certify(['-I', 'id', '-n', 'alice']);
  const v = await judge(blob, 'ecdsa-sha2-nistp256-cert-v01@openssh.com');
  assert.equal(v.ok, false);
  assert.match(!v.ok ? v.reason : '', /does not match certificate/);
});

test('a malformed certificate is refused with its one-line reason', async () => {
  const { blob } = certify(['-I', 'id', '-n', 'alice']);
  const v = await judge(blob.subarray(0, 100));
  assert.equal(!v.ok && /^truncated key/.test(v.reason), true);
});

test('a certificate with a changed principal no longer carries the CA signature', async () => {
  const { blob } = certify(['-I', 'id', '-n', 'alicf']);
  const forged = Buffer.from(blob);
  forged[forged.indexOf(Buffer.from('alicf')) + 4] = 'e'.charCodeAt(0);
  assert.deepEqual(await judge(forged), { ok: false, reason: 'certificate signature invalid' });
});

test('a revoked certificate is refused', async () => {
  const { blob } = certify(['-I', 'id', '-n', 'alice', '-z', '5']);
  const revoked: CertificateTrust = { ...trust, revocations: { isRevoked: async (c) => c.serial === '5' } };
  const v = await judgeUserCertificate(revoked, ED, blob, 'alice', '127.0.0.1', new Date());
  assert.equal(!v.ok && v.reason.startsWith('certificate revoked'), true);
});

test("the holder's signature must be by the certified key, with the named algorithm", async () => {
  const { key, blob } = certify(['-I', 'id', '-n', 'alice']);
  const cert = parseSshCertificate(blob);
  const data = Buffer.from('session data');
  const priv = keyObjectFromMaterial(readOpenSshPrivateKey(readFileSync(key, 'utf8')).material);
  const signature = Buffer.concat([wireString('ssh-ed25519'), wireString(sign(null, data, priv))]);
  assert.equal(holderSignatureValid(cert, ED, data, signature), true);
  // Signed right, but the client named an RSA certificate algorithm.
  assert.equal(holderSignatureValid(cert, 'rsa-sha2-512-cert-v01@openssh.com', data, signature), false);
  assert.equal(holderSignatureValid(cert, ED, Buffer.from('other data'), signature), false);
  const other = parseSshCertificate(certify(['-I', 'x', '-n', 'alice']).blob);
  assert.equal(holderSignatureValid(other, ED, data, signature), false);
});
