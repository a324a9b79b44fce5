import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { inspect } from 'node:util';
import { InvalidArgumentError } from '../errors.js';
import { Secret } from '../util/secret.js';
import {
  exportPrivateKey,
  generateSshKeyPair,
  KeyParseError,
  parsePrivateKey,
  type SshKeyType,
} from './private-keys.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-private-keys-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
const tempPath = (name: string): string => join(dir, `${counter++}-${name}`);

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

/** Writes a key with ssh-keygen and returns its file text and the fingerprints ssh-keygen lists for it. */
function sshKeygen(type: string, opts: { bits?: number; pass?: string; format?: 'PEM' | 'PKCS8' } = {}) {
  const file = tempPath(`keygen-${type}`);
  run('ssh-keygen', [
    '-q',
    '-t',
    type,
    ...(opts.bits ? ['-b', String(opts.bits)] : []),
    ...(opts.format ? ['-m', opts.format] : []),
    '-N',
    opts.pass ?? '',
    '-C',
    'alice@example.test',
    '-f',
    file,
  ]);
  const sha256 = run('ssh-keygen', ['-lf', `${file}.pub`]).split(' ')[1];
  const md5 = run('ssh-keygen', ['-E', 'md5', '-lf', `${file}.pub`]).split(' ')[1];
  return { file, text: readFileSync(file, 'utf8'), pub: readFileSync(`${file}.pub`, 'utf8'), sha256, md5 };
}

/** What `ssh-keygen -y` derives from a private key file we wrote: `type base64` (comment dropped). */
function sshKeygenPublic(text: string, pass = ''): string {
  const file = tempPath('ours');
  writeFileSync(file, text, { mode: 0o600 });
  return run('ssh-keygen', ['-y', '-P', pass, '-f', file]).trim().split(' ').slice(0, 2).join(' ');
}

const typeAndBase64 = (line: string): string => line.trim().split(' ').slice(0, 2).join(' ');

/** A failure a user can read: one line, the shared error class, the given reason and text. */
function assertKeyError(fn: () => unknown, reason: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KeyParseError, `expected KeyParseError, got ${String(err)}`);
    assert.ok(err instanceof InvalidArgumentError);
    assert.equal(err.code, 'ERR_INVALID_ARGUMENT');
    assert.equal(err.reason, reason, err.message);
    assert.match(err.message, message);
    assert.ok(!err.message.includes('\n'), 'message is one line');
    return true;
  });
}

const KEYGEN_CASES: Array<[string, number | undefined]> = [
  ['ed25519', undefined],
  ['ecdsa', 256],
  ['ecdsa', 384],
  ['ecdsa', 521],
  ['rsa', 3072],
];

for (const [type, bits] of KEYGEN_CASES) {
  const label = `${type}${bits ? `-${bits}` : ''}`;

  test(`${label} keys written by ssh-keygen are read with the fingerprints ssh-keygen lists`, () => {
    const variants = [
      sshKeygen(type, { bits }),
      sshKeygen(type, { bits, pass: 'correct horse' }),
      // ssh-keygen writes Ed25519 in its own format whatever -m says; RSA and ECDSA get real PEM / PKCS#8.
      sshKeygen(type, { bits, format: 'PEM' }),
      sshKeygen(type, { bits, format: 'PEM', pass: 'correct horse' }),
      sshKeygen(type, { bits, format: 'PKCS8' }),
      sshKeygen(type, { bits, format: 'PKCS8', pass: 'correct horse' }),
    ];
    for (const [i, v] of variants.entries()) {
      const pass = i % 2 === 1 ? new Secret('correct horse') : undefined;
      const pair = parsePrivateKey(readFileSync(v.file), pass);
      assert.equal(pair.sha256, v.sha256, `variant ${i}`);
      assert.equal(pair.md5, v.md5, `variant ${i}`);
      assert.equal(typeAndBase64(pair.publicLine), typeAndBase64(v.pub));
      if (type !== 'ed25519') assert.equal(pair.bits, bits);
      if (v.text.includes('OPENSSH PRIVATE KEY')) assert.equal(pair.comment, 'alice@example.test');
    }
    if (type !== 'ed25519') {
      assert.match(variants[3]!.text, /Proc-Type: 4,ENCRYPTED/);
      assert.match(variants[5]!.text, /BEGIN ENCRYPTED PRIVATE KEY/);
    }
  });
}

const OUR_CASES: Array<[SshKeyType, number | undefined]> = [
  ['ed25519', undefined],
  ['ecdsa', 256],
  ['ecdsa', 384],
  ['ecdsa', 521],
  ['rsa', 2048],
];

for (const [type, bits] of OUR_CASES) {
  const label = `${type}${bits ? `-${bits}` : ''}`;

  test(`${label} keys we generate are read back by ssh-keygen as OpenSSH files, plain and with a passphrase`, () => {
    const pair = generateSshKeyPair(type, bits, 'ferry@partner');
    assert.equal(pair.bits, bits ?? 256);
    const plain = exportPrivateKey(pair, 'openssh');
    assert.match(plain, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    const file = tempPath('plain');
    writeFileSync(file, plain, { mode: 0o600 });
    // ssh-keygen -y also prints the comment stored inside the private section.
    assert.equal(run('ssh-keygen', ['-y', '-f', file]).trim(), pair.publicLine);
    assert.equal(run('ssh-keygen', ['-lf', file]).split(' ')[1], pair.sha256);

    const locked = exportPrivateKey(pair, 'openssh', { passphrase: new Secret('s3cret pass') });
    assert.equal(sshKeygenPublic(locked, 's3cret pass'), typeAndBase64(pair.publicLine));
    assert.throws(() => sshKeygenPublic(locked, 'not it'));
    assert.equal(parsePrivateKey(locked, new Secret('s3cret pass')).sha256, pair.sha256);
    assert.equal(parsePrivateKey(plain).comment, 'ferry@partner');
  });

  test(`${label} PEM exports are read by ${type === 'ed25519' ? 'OpenSSL (ssh-keygen 9.2 has no PEM Ed25519)' : 'ssh-keygen'}`, () => {
    const pair = generateSshKeyPair(type, bits);
    const pem = exportPrivateKey(pair, 'pem');
    const label = { rsa: 'RSA PRIVATE KEY', ecdsa: 'EC PRIVATE KEY', ed25519: 'PRIVATE KEY' }[type];
    assert.match(pem, new RegExp(`^-----BEGIN ${label}-----\n`));
    const locked = exportPrivateKey(pair, 'pem', { passphrase: new Secret('pem pass') });
    assert.match(locked, /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    if (type === 'ed25519') {
      const file = tempPath('ed.pem');
      writeFileSync(file, locked, { mode: 0o600 });
      assert.match(
        run('openssl', ['pkey', '-in', file, '-passin', 'pass:pem pass', '-noout', '-text']),
        /ED25519 Private-Key/,
      );
    } else {
      assert.equal(sshKeygenPublic(pem), typeAndBase64(pair.publicLine));
      assert.equal(sshKeygenPublic(locked, 'pem pass'), typeAndBase64(pair.publicLine));
    }
    assert.equal(parsePrivateKey(pem).sha256, pair.sha256);
    assert.equal(parsePrivateKey(locked, new Secret('pem pass')).sha256, pair.sha256);
  });
}

test('generation refuses sizes ssh-keygen would not make and defaults to rsa-3072 and ecdsa-256', () => {
  assert.equal(generateSshKeyPair('ecdsa').algorithm, 'ecdsa-sha2-nistp256');
  assert.equal(generateSshKeyPair('rsa').bits, 3072);
  assertKeyError(() => generateSshKeyPair('rsa', 1024), 'unsupported-type', /2048 to 16384/);
  assertKeyError(() => generateSshKeyPair('rsa', 20000), 'unsupported-type', /2048 to 16384/);
  assertKeyError(() => generateSshKeyPair('ecdsa', 512), 'unsupported-type', /256, 384 or 521/);
  assertKeyError(() => generateSshKeyPair('dsa' as SshKeyType), 'unsupported-type', /unsupported key type/);
});

test('the private key never shows up when a key pair is logged or serialised', () => {
  const pair = generateSshKeyPair('ed25519');
  const secretHex = pair.privateKey.reveal().toString('hex');
  assert.ok(!inspect(pair, { depth: 5 }).includes(secretHex));
  assert.ok(!JSON.stringify(pair).includes(secretHex));
  assert.match(JSON.stringify(pair), /"privateKey":"\[secret\]"/);
});

test('ssh-keygen keys encrypted with more bcrypt rounds and re-encrypted by ssh-keygen -p still read', () => {
  const k = sshKeygen('ed25519', { pass: 'one' });
  run('ssh-keygen', ['-q', '-p', '-a', '64', '-P', 'one', '-N', 'two', '-f', k.file]);
  assert.equal(parsePrivateKey(readFileSync(k.file), new Secret('two')).sha256, k.sha256);
  // And a key of ours that ssh-keygen re-encrypts comes back to us intact.
  const pair = generateSshKeyPair('rsa', 2048);
  const file = tempPath('ours-rekeyed');
  writeFileSync(file, exportPrivateKey(pair, 'openssh', { passphrase: new Secret('a') }), { mode: 0o600 });
  run('ssh-keygen', ['-q', '-p', '-P', 'a', '-N', 'b', '-f', file]);
  assert.equal(parsePrivateKey(readFileSync(file), new Secret('b')).sha256, pair.sha256);
});

test('an encrypted key without a passphrase, or with the wrong one, is refused by name', () => {
  const openssh = sshKeygen('ed25519', { pass: 'right' }).text;
  const pem = sshKeygen('rsa', { bits: 2048, format: 'PEM', pass: 'right' }).text;
  const pkcs8 = sshKeygen('ecdsa', { format: 'PKCS8', pass: 'right' }).text;
  const ours = exportPrivateKey(generateSshKeyPair('ecdsa'), 'openssh', { passphrase: new Secret('right') });
  for (const text of [openssh, pem, pkcs8, ours]) {
    assertKeyError(
      () => parsePrivateKey(text),
      'passphrase-required',
      /^key is encrypted: passphrase required$/,
    );
    assertKeyError(
      () => parsePrivateKey(text, new Secret('wrong')),
      'wrong-passphrase',
      /^wrong passphrase$/,
    );
  }
});

test('DSA keys are refused in every file format', () => {
  const openssh = sshKeygen('dsa').text;
  const pem = sshKeygen('dsa', { format: 'PEM' }).text;
  const { privateKey } = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 });
  const pkcs8 = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const encryptedOpenssh = sshKeygen('dsa', { pass: 'x' }).text;
  for (const text of [openssh, pem, pkcs8]) {
    assertKeyError(() => parsePrivateKey(text), 'unsupported-type', /^DSA keys are not supported$/);
  }
  // The type is in the clear part of an OpenSSH file, so no passphrase is asked for first.
  assertKeyError(() => parsePrivateKey(encryptedOpenssh), 'unsupported-type', /^DSA keys are not supported$/);
});

test('a public key given where a private one is needed is named as such', () => {
  const k = sshKeygen('ed25519');
  const rsa = sshKeygen('rsa', { bits: 2048 });
  const pkcs8Public = run('ssh-keygen', ['-e', '-m', 'PKCS8', '-f', `${rsa.file}.pub`]);
  const rfc4716 = run('ssh-keygen', ['-e', '-f', `${k.file}.pub`]);
  const pkcs1Public = run('ssh-keygen', ['-e', '-m', 'PEM', '-f', `${rsa.file}.pub`]);
  for (const text of [k.pub, pkcs8Public, rfc4716, pkcs1Public]) {
    assertKeyError(
      () => parsePrivateKey(text),
      'public-key',
      /^this is a public key; a private key is needed$/,
    );
  }
});

test('truncated, damaged and foreign files give a one-line error', () => {
  const openssh = sshKeygen('ed25519').text;
  const pem = sshKeygen('rsa', { bits: 2048, format: 'PEM' }).text;
  // Cut in half: the END line is gone.
  assertKeyError(() => parsePrivateKey(openssh.slice(0, openssh.length / 2)), 'truncated', /^truncated key/);
  assertKeyError(() => parsePrivateKey(pem.slice(0, pem.length / 2)), 'truncated', /^truncated key/);
  // Body shortened but the armour intact.
  const lines = openssh.trim().split('\n');
  const shortened = [lines[0], lines[1], lines[2], lines.at(-1)].join('\n');
  assertKeyError(() => parsePrivateKey(shortened), 'truncated', /^truncated key/);
  const pemLines = pem.trim().split('\n');
  assertKeyError(
    () => parsePrivateKey([...pemLines.slice(0, 5), pemLines.at(-1)].join('\n')),
    'malformed',
    /^malformed PEM key/,
  );
  // A flipped byte in the public half of an OpenSSH file no longer matches the private half.
  const raw = Buffer.from(lines.slice(1, -1).join(''), 'base64');
  raw[70] = (raw[70] ?? 0) ^ 1;
  const b64 = raw
    .toString('base64')
    .match(/.{1,70}/g)!
    .join('\n');
  assertKeyError(
    () => parsePrivateKey(`${lines[0]}\n${b64}\n${lines.at(-1)}\n`),
    'malformed',
    /^malformed key/,
  );
  assertKeyError(() => parsePrivateKey(''), 'truncated', /empty key file/);
  assertKeyError(() => parsePrivateKey('hello world'), 'unsupported-format', /not a private key file/);
  assertKeyError(
    () => parsePrivateKey(Buffer.from([0x30, 0x82, 0x01, 0xff, 0x00, 0x80])),
    'unsupported-format',
    /not a private key/,
  );
  assertKeyError(
    () => parsePrivateKey('-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxyz\n-----END PGP PUBLIC KEY BLOCK-----'),
    'unsupported-format',
    /OpenPGP key/,
  );
});

test('RSA keys under 2048 bits are refused as too weak', () => {
  const weak = sshKeygen('rsa', { bits: 1024 }).text;
  assertKeyError(() => parsePrivateKey(weak), 'weak-key', /RSA key of 1024 bits is too weak/);
});

test('binary DER private keys (PKCS#8 and PKCS#1) are read too', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const fromPkcs8 = parsePrivateKey(privateKey.export({ format: 'der', type: 'pkcs8' }));
  const fromPkcs1 = parsePrivateKey(privateKey.export({ format: 'der', type: 'pkcs1' }));
  assert.equal(fromPkcs8.sha256, fromPkcs1.sha256);
  assert.equal(fromPkcs8.algorithm, 'ssh-rsa');
});
