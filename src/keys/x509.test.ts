import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { promisify } from 'node:util';
import {
  certificateFingerprint,
  generateCertificate,
  ipAddressBytes,
  selfSignedCertificate,
} from './x509.js';

test('a self-signed certificate verifies with its own key, names its subject and SAN, and matches its key', () => {
  const made = selfSignedCertificate('Ferry FTPS', ['localhost'], 30, new Date('2026-01-01T00:00:00Z'));
  const cert = new X509Certificate(made.cert);
  assert.equal(cert.subject, 'CN=Ferry FTPS');
  assert.equal(cert.issuer, 'CN=Ferry FTPS');
  assert.equal(cert.subjectAltName, 'DNS:localhost');
  assert.ok(cert.verify(cert.publicKey));
  assert.ok(cert.checkPrivateKey(createPrivateKey(made.key)));
  assert.equal(cert.ca, false);
  assert.equal(new Date(cert.validTo).toISOString(), '2026-01-31T00:00:00.000Z');
  assert.equal(made.fingerprint, cert.fingerprint256);
  assert.equal(certificateFingerprint(made.cert), cert.fingerprint256);
});

test('dates from 2050 on are GeneralizedTime, and openssl accepts the certificate', async () => {
  const made = selfSignedCertificate('far', [], 365, new Date('2060-06-01T00:00:00Z'));
  assert.equal(new Date(new X509Certificate(made.cert).validTo).getUTCFullYear(), 2061);
  const child = promisify(execFile)('openssl', ['x509', '-noout', '-text']);
  child.child.stdin!.end(made.cert);
  const { stdout } = await child;
  assert.match(stdout, /ecdsa-with-SHA256/);
  assert.match(stdout, /CA:FALSE/);
});

test('an RSA certificate with DNS and IP names: openssl reads the names, and its fingerprint is ours', async () => {
  const made = generateCertificate({
    cn: 'ferry.example',
    type: 'rsa',
    bits: 2048,
    days: 10,
    altNames: [
      { type: 'dns', value: 'ferry.example' },
      { type: 'ip', value: '127.0.0.1' },
      { type: 'ip', value: '::1' },
      { type: 'ip', value: '2001:db8::10.0.0.1' },
    ],
  });
  const cert = new X509Certificate(made.cert);
  assert.ok(cert.verify(cert.publicKey));
  assert.ok(cert.checkPrivateKey(createPrivateKey(made.key)));
  assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  const text = promisify(execFile)('openssl', ['x509', '-noout', '-text', '-fingerprint', '-sha256']);
  text.child.stdin!.end(made.cert);
  const { stdout } = await text;
  assert.match(stdout, /sha256WithRSAEncryption/);
  assert.match(
    stdout,
    /DNS:ferry\.example, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1, IP Address:2001:DB8:0:0:0:0:A00:1/,
  );
  assert.match(stdout, new RegExp(`Fingerprint=${made.fingerprint}`, 'i'));
});

test('IP addresses become 4 or 16 bytes; anything else is refused', () => {
  assert.equal(ipAddressBytes('10.1.2.3')?.toString('hex'), '0a010203');
  assert.equal(ipAddressBytes('fe80::1')?.toString('hex'), 'fe800000000000000000000000000001');
  assert.equal(ipAddressBytes('::')?.toString('hex'), '0'.repeat(32));
  assert.equal(ipAddressBytes('host.example'), undefined);
  assert.throws(
    () => generateCertificate({ cn: 'x', altNames: [{ type: 'ip', value: '999.1.1.1' }] }),
    /not an IP address: 999\.1\.1\.1/,
  );
});
