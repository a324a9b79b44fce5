import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { generateCertificate } from './x509.js';
import { parseCertificateChain, verifyChainAndKey } from './x509-chain.js';

const run = promisify(execFile);
let dir: string;
/** A CA-signed leaf made by openssl: leaf.pem, ca.pem, leaf.key. */
let leafPem: string;
let caPem: string;
let leafKey: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-x509-chain-'));
  const o = (...args: string[]) => run('openssl', args, { cwd: dir });
  await o(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '5',
    '-subj',
    '/CN=Test CA',
  );
  await o(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'leaf.key',
    '-out',
    'leaf.csr',
    '-subj',
    '/CN=leaf.example',
  );
  await o(
    'x509',
    '-req',
    '-in',
    'leaf.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'leaf.pem',
    '-days',
    '3',
  );
  const read = (f: string) => readFile(join(dir, f), 'utf8');
  [leafPem, caPem, leafKey] = [await read('leaf.pem'), await read('ca.pem'), await read('leaf.key')];
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('an openssl-made chain (leaf, CA) and its key verify; the summary is the leaf', async () => {
  const v = verifyChainAndKey(`${leafPem}${caPem}`, leafKey);
  assert.equal(v.length, 2);
  assert.equal(v.subject, 'CN=leaf.example');
  assert.equal(v.issuer, 'CN=Test CA');
  assert.equal(v.algorithm, 'rsa-2048');
  const { stdout } = await run('openssl', [
    'x509',
    '-noout',
    '-fingerprint',
    '-sha256',
    '-in',
    join(dir, 'leaf.pem'),
  ]);
  assert.equal(stdout.trim().replace(/^.*Fingerprint=/i, ''), v.fingerprint);
  assert.match(v.keyPem, /^-----BEGIN PRIVATE KEY-----/);
  assert.equal(parseCertificateChain(v.chainPem).length, 2);
});

test('each bad import is one line: a mismatched key, garbage, an expired or future certificate, a wrong order', () => {
  const other = generateCertificate({ cn: 'other' });
  const oneLine = (fn: () => unknown, pattern: RegExp) =>
    assert.throws(fn, (err: Error) => {
      assert.match(err.message, pattern);
      assert.doesNotMatch(err.message, /\n/);
      assert.equal((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
      return true;
    });
  oneLine(() => verifyChainAndKey(leafPem, other.key), /not the key of the chain's first certificate/);
  oneLine(() => verifyChainAndKey('garbage', leafKey), /no PEM certificate found/);
  oneLine(
    () => verifyChainAndKey('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', leafKey),
    /certificate 1 of the chain does not parse/,
  );
  oneLine(() => verifyChainAndKey(leafPem, 'not a key'), /not a PEM private key/);
  const expired = generateCertificate({ cn: 'old', days: 1, now: new Date('2020-01-01T00:00:00Z') });
  oneLine(() => verifyChainAndKey(expired.cert, expired.key), /the certificate expired on 2020-01-02/);
  const future = generateCertificate({ cn: 'new', days: 1, now: new Date('2090-01-01T00:00:00Z') });
  oneLine(() => verifyChainAndKey(future.cert, future.key), /is not valid before 2089/);
  oneLine(() => verifyChainAndKey(`${leafPem}${other.cert}`, leafKey), /not signed by certificate 2/);
  oneLine(
    () =>
      verifyChainAndKey(
        leafPem,
        '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n',
      ),
    /encrypted/,
  );
  oneLine(() => verifyChainAndKey(leafPem.repeat(11), leafKey), /11 certificates \(at most 10\)/);
});
