import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { KeyParseError } from './key-errors.js';
import {
  CERT_HOST,
  CERT_USER,
  certificateSignatureValid,
  parseSshCertificate,
  parseSshCertificateLine,
} from './ssh-certificate.js';
import { sha256Fingerprint } from './ssh-keys.js';
import { wireString, wireUint32 } from './ssh-wire.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-cert-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function keygen(type: string): string {
  const file = join(dir, `k${n++}`);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', '', '-f', file]);
  return file;
}

/** Signs `key`.pub with `ca` through ssh-keygen; returns the certificate's base64 blob. */
function sign(ca: string, key: string, args: string[]): Buffer {
  execFileSync('ssh-keygen', ['-q', '-s', ca, ...args, `${key}.pub`], { stdio: 'ignore' });
  const line = readFileSync(`${key}-cert.pub`, 'utf8');
  return Buffer.from(line.split(' ')[1]!, 'base64');
}

const caEd = keygen('ed25519');

for (const [caType, keyType] of [
  ['ed25519', 'ed25519'],
  ['ecdsa', 'ecdsa'],
  ['rsa', 'rsa'],
  ['ed25519', 'rsa'],
] as const) {
  test(`a ${keyType} certificate signed by a ${caType} CA parses with what ssh-keygen -L shows, and its signature checks`, () => {
    const ca = caType === 'ed25519' ? caEd : keygen(caType);
    const key = keygen(keyType);
    const blob = sign(ca, key, [
      '-I',
      'alice@laptop',
      '-n',
      'alice,backup',
      '-z',
      '4711',
      '-V',
      '20200101000000:20400101000000',
      '-O',
      'source-address=10.0.0.0/8,192.168.1.1',
    ]);
    const cert = parseSshCertificate(blob);
    assert.equal(cert.certType, CERT_USER);
    assert.equal(cert.keyId, 'alice@laptop');
    assert.equal(cert.serial, 4711n);
    assert.deepEqual(cert.principals, ['alice', 'backup']);
    assert.equal(cert.criticalOptions.get('source-address'), '10.0.0.0/8,192.168.1.1');
    assert.ok(cert.extensions.has('permit-pty'));
    assert.equal(new Date(Number(cert.validAfter) * 1000).getUTCFullYear(), 2020);
    const pub = readFileSync(`${key}.pub`, 'utf8').split(' ')[1]!;
    assert.equal(cert.publicKey.toString('base64'), pub);
    const caPub = readFileSync(`${ca}.pub`, 'utf8').split(' ')[1]!;
    assert.equal(sha256Fingerprint(cert.signatureKey), sha256Fingerprint(Buffer.from(caPub, 'base64')));
    assert.equal(certificateSignatureValid(cert), true);
  });
}

test('a host certificate says so', () => {
  const key = keygen('ed25519');
  const cert = parseSshCertificate(sign(caEd, key, ['-h', '-I', 'host', '-n', 'localhost']));
  assert.equal(cert.certType, CERT_HOST);
});

test('a changed byte anywhere in the signed part breaks the signature', () => {
  const key = keygen('ed25519');
  const blob = sign(caEd, key, ['-I', 'id', '-n', 'alice']);
  const cert = parseSshCertificate(blob);
  // The key id's last byte: still a well-formed certificate, no longer the one the CA signed.
  const at = blob.indexOf(Buffer.from('id')) + 1;
  const forged = Buffer.from(blob);
  forged[at] = 'X'.charCodeAt(0);
  const parsed = parseSshCertificate(forged);
  assert.equal(parsed.keyId, 'iX');
  assert.equal(certificateSignatureValid(parsed), false);
  assert.equal(certificateSignatureValid(cert), true);
});

/** A one-line KeyParseError, and nothing else. */
function refuses(blob: Buffer, pattern: RegExp): void {
  assert.throws(
    () => parseSshCertificate(blob),
    (err: unknown) =>
      err instanceof KeyParseError && !err.message.includes('\n') && pattern.test(err.message),
  );
}

test('malformed certificates are one-line errors: truncated, wrong type, trailing bytes, empty', () => {
  const key = keygen('ed25519');
  const blob = sign(caEd, key, ['-I', 'id', '-n', 'alice']);
  for (const cut of [0, 3, 10, 60, blob.length - 1]) refuses(blob.subarray(0, cut), /truncated/);
  refuses(Buffer.concat([blob, Buffer.from([0])]), /trailing bytes/);
  const plain = Buffer.from(readFileSync(`${key}.pub`, 'utf8').split(' ')[1]!, 'base64');
  refuses(plain, /not a supported OpenSSH certificate type: 'ssh-ed25519'/);
  const dsa = Buffer.concat([wireString('ssh-dss-cert-v01@openssh.com'), blob.subarray(36)]);
  refuses(dsa, /not a supported/);
  // A length field claiming 4 GiB.
  refuses(Buffer.concat([wireUint32(0xffffffff), Buffer.from('x')]), /truncated/);
});

test('a certificate whose signature key is itself a certificate is refused', () => {
  const key = keygen('ed25519');
  const inner = sign(caEd, keygen('ed25519'), ['-I', 'ca', '-n', 'x']);
  const blob = sign(caEd, key, ['-I', 'id', '-n', 'alice']);
  const cert = parseSshCertificate(blob);
  // Rebuild the blob with the certificate as its signature key (the signature no longer matters).
  const head = cert.signedData.subarray(0, cert.signedData.length - 4 - cert.signatureKey.length);
  const forged = Buffer.concat([head, wireString(inner), wireString(cert.signature)]);
  refuses(forged, /signature key is itself a certificate/);
});

test('a certificate file line must match its data', () => {
  const key = keygen('ed25519');
  sign(caEd, key, ['-I', 'id', '-n', 'alice']);
  const line = readFileSync(`${key}-cert.pub`, 'utf8');
  assert.equal(parseSshCertificateLine(line).certificate.keyId, 'id');
  assert.throws(
    () => parseSshCertificateLine(readFileSync(`${key}.pub`, 'utf8')),
    /not an OpenSSH certificate file/,
  );
  assert.throws(
    () => parseSshCertificateLine(line.replace('ssh-ed25519-cert', 'ecdsa-sha2-nistp256-cert')),
    /the line says ecdsa-sha2-nistp256-cert-v01@openssh.com but the data is ssh-ed25519/,
  );
  assert.throws(() => parseSshCertificateLine('ssh-ed25519-cert-v01@openssh.com !!!'), /not base64/);
});

/** A user certificate blob built by hand around `critical` (the signature is not checked by the parser). */
function withCriticalOptions(critical: Buffer): Buffer {
  const u64 = (n: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(n);
    return b;
  };
  const caBlob = Buffer.concat([wireString('ssh-ed25519'), wireString(Buffer.alloc(32, 7))]);
  return Buffer.concat([
    wireString('ssh-ed25519-cert-v01@openssh.com'),
    wireString(Buffer.alloc(32)),
    wireString(Buffer.alloc(32, 1)),
    u64(1n),
    wireUint32(CERT_USER),
    wireString('id'),
    wireString(wireString('alice')),
    u64(0n),
    u64(0xffffffffffffffffn),
    wireString(critical),
    wireString(''),
    wireString(''),
    wireString(caBlob),
    wireString(Buffer.concat([wireString('ssh-ed25519'), wireString(Buffer.alloc(64))])),
  ]);
}

test('critical options must be unique, in order, and each a single string', () => {
  const option = (name: string, value: Buffer) => Buffer.concat([wireString(name), wireString(value)]);
  const fc = option('force-command', wireString('internal-sftp'));
  const sa = option('source-address', wireString('10.0.0.0/8'));
  assert.equal(parseSshCertificate(withCriticalOptions(Buffer.concat([fc, sa]))).criticalOptions.size, 2);
  refuses(withCriticalOptions(Buffer.concat([sa, sa])), /critical options lists source-address twice/);
  refuses(withCriticalOptions(Buffer.concat([sa, fc])), /critical options are not in order/);
  refuses(
    withCriticalOptions(
      option('source-address', Buffer.concat([wireString('10.0.0.0/8'), Buffer.from([1])])),
    ),
    /critical options source-address has trailing bytes/,
  );
});
