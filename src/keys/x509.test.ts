import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { certificateFingerprint, selfSignedCertificate } from './x509.js';

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
